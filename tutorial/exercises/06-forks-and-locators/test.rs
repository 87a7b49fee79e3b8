//! Exercise 06: a `locator` console command that shows which heights our locator names.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};

/// Fifteen blocks: ten one by one, then gaps of 2 and 4, ending at genesis.
#[test]
fn locator_command_lists_heights() {
    let node = start_with(config(), regtest_chain(15));
    let Reply::Text(text) = execute(&node, "locator") else {
        panic!("quit?")
    };
    assert_eq!(text, "locator heights: 15 14 13 12 11 10 9 8 7 6 4 0");
}
