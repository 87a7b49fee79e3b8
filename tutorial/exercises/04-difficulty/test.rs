//! Exercise 04: a `retarget` console command that says when difficulty may change next.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};

fn reply(node: &peerchain::Node, line: &str) -> String {
    match execute(node, line) {
        Reply::Text(text) => text,
        Reply::Quit => panic!("{line} quit"),
    }
}

/// On regtest (R = 10), a chain at height 2 retargets at 10, eight blocks from now; one at
/// height 10 next retargets at 20.
#[test]
fn retarget_command() {
    let short = start_with(config(), regtest_chain(2));
    assert_eq!(
        reply(&short, "retarget"),
        "next retarget at height 10, 8 blocks from now"
    );
    let at_ten = start_with(config(), regtest_chain(10));
    assert_eq!(
        reply(&at_ten, "retarget"),
        "next retarget at height 20, 10 blocks from now"
    );
}
