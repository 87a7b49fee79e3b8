//! Exercise 18: `undo <height>` shows what a block spent.

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

/// A block's undo record lists the coins it spent, where they came from and whose they were.
#[test]
fn undo_lists_spent_coins() {
    let node = start(config());
    for _ in 0..11 {
        node.mine(vec![]).unwrap();
    }
    let to = "b1c9938f01121e159887ac2c8d393a22e4476ff8".parse().unwrap();
    node.send(to, 60 * COIN, 10_000)
        .expect("rewards 1 and 2 are spendable");
    node.mine(vec![]).unwrap();
    let first = node.block(1).unwrap().transactions[0].txid;
    let second = node.block(2).unwrap().transactions[0].txid;
    let me = node.address();
    assert_eq!(
        run(&node, "undo 12"),
        format!(
            "block 12 spent 2 outputs:\n  {first}:0 50.00000000 of {me}, from block 1\n  {second}:0 50.00000000 of {me}, from block 2"
        )
    );
    assert_eq!(run(&node, "undo 5"), "block 5 spent 0 outputs");
    assert_eq!(
        run(&node, "undo 99"),
        "no block at height 99 (the tip is at 12)"
    );
    assert!(run(&node, "undo x").starts_with("usage: undo <height>"));
}
