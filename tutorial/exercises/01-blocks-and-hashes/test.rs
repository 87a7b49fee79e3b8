//! Exercise 01: a `header <height>` console command that prints the block's 96 header bytes
//! in hex.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};

/// `header 0` prints the genesis header: version 1, height 0, the genesis time, and so on,
/// 192 hex digits in all.
#[test]
fn header_command_prints_the_96_bytes() {
    let node = start_with(config(), regtest_chain(1));
    let Reply::Text(text) = execute(&node, "header 0") else {
        panic!("quit?")
    };
    let genesis = node.block(0).unwrap();
    assert_eq!(
        text,
        hex::encode(genesis.header_bytes()),
        "did you add a `header` arm to console::execute?"
    );
    assert_eq!(text.len(), 192);
    assert!(
        text.starts_with("01000000"),
        "version 1, little-endian, comes first"
    );
    let Reply::Text(missing) = execute(&node, "header 7") else {
        panic!("quit?")
    };
    assert_eq!(missing, "no block at height 7 (the tip is at 1)");
}
