//! Exercise 17: `supply` counts the coins in existence.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};
use peerchain::transaction::COIN;

fn run(node: &peerchain::Node, line: &str) -> String {
    let Reply::Text(text) = execute(node, line) else {
        panic!("quit?")
    };
    text
}

/// Every coin was created by a coinbase: after 13 blocks there are 650 coins, however they
/// moved, and fees do not change that (the miner collects them).
#[test]
fn supply_counts_unspent_outputs() {
    let node = start(config());
    assert_eq!(
        run(&node, "supply"),
        "0.00000000 coins in 0 unspent outputs; the subsidies so far allow 0.00000000"
    );
    for _ in 0..12 {
        node.mine(vec![]).unwrap();
    }
    let to = "b1c9938f01121e159887ac2c8d393a22e4476ff8".parse().unwrap();
    node.send(to, 7 * COIN, 25_000)
        .expect("block 1's reward is spendable");
    node.mine(vec![]).unwrap();
    assert_eq!(
        run(&node, "supply"),
        "650.00000000 coins in 14 unspent outputs; the subsidies so far allow 650.00000000"
    );
    assert!(run(&node, "help").contains("supply"));
}
