//! Exercise 10: a `known` console command listing the addresses discovery has learned.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};

/// C, told only about B, learns A's address, and `known` lists it.
#[test]
fn known_command_lists_learned_addresses() {
    let mut discovering = config();
    discovering.target_outbound = 8;
    let a = start(discovering.clone());
    let b = start(discovering.clone());
    let c = start(discovering);
    b.connect(a.local_addr());
    wait_for("a-b link", || a.peers().len() == 1);
    c.connect(b.local_addr());
    wait_for("c to meet a", || c.peers().len() == 2);
    let Reply::Text(text) = execute(&c, "known") else {
        panic!("quit?")
    };
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(&a.local_addr().to_string().as_str()),
        "{text}"
    );
    assert!(
        lines.contains(&b.local_addr().to_string().as_str()),
        "{text}"
    );
    let lonely = start(config());
    let Reply::Text(none) = execute(&lonely, "known") else {
        panic!("quit?")
    };
    assert_eq!(none, "no known addresses");
}
