//! Exercise 14: a `point <k>` console command that prints k·G, compressed.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};

fn run(node: &peerchain::Node, line: &str) -> String {
    let Reply::Text(text) = execute(node, line) else {
        panic!("quit?")
    };
    text
}

/// 1·G, 2·G and 3·G are the published multiples; 0 and junk are explained.
#[test]
fn point_command_prints_multiples_of_g() {
    let node = start(config());
    assert_eq!(
        run(&node, "point 1"),
        "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    );
    assert_eq!(
        run(&node, "point 2"),
        "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5"
    );
    assert_eq!(
        run(&node, "point 3"),
        "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
    );
    assert_eq!(
        run(&node, "point 0"),
        "0·G is the point at infinity, which has no compressed form"
    );
    assert_eq!(
        run(&node, "point g"),
        "usage: point <k>, where k is a number from 1 to 18446744073709551615"
    );
}
