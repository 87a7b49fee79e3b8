//! Exercise 21: `tree -o [N]` lists only the blocks off our chain.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};
use peerchain::message::Message;
use peerchain::transaction::{OutPoint, Output, Transaction, COIN};

fn text(node: &peerchain::Node, line: &str) -> String {
    match execute(node, line) {
        Reply::Text(t) => t,
        Reply::Quit => panic!("{line} quit"),
    }
}

/// With nothing off the chain, `tree -o` says so; after a peer sends a block that breaks a
/// rule, `tree -o` shows that block alone, invalid, and none of our chain's.
#[test]
fn tree_lists_only_what_is_off_our_chain() {
    let node = start_with(config(), regtest_chain(12));
    assert_eq!(
        text(&node, "tree -o"),
        "nothing off our chain in the last 10 heights"
    );
    let tip = node.block(12).unwrap();
    let coinbase = Transaction::coinbase(
        13,
        vec![Output {
            address: miner_address(),
            amount: 50 * COIN,
        }],
    );
    let mut forged = Transaction::new(
        &[OutPoint {
            txid: peerchain::Hash([9; 32]),
            index: 0,
        }],
        vec![Output {
            address: miner_address(),
            amount: 1,
        }],
    );
    forged.sign(&peerchain::testing::miner_key());
    let block = peerchain::testing::mine_here(peerchain::Block::new(
        13,
        tip.timestamp + T,
        tip.hash,
        node.summary().next_difficulty,
        0,
        vec![],
        vec![coinbase, forged],
    ));
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Block(block.clone()));
    peer.expect_error_and_close();

    let off = text(&node, "tree -o 5");
    let lines: Vec<&str> = off.lines().collect();
    assert_eq!(lines.len(), 1, "{off}");
    assert!(lines[0].trim_start().starts_with("13  o "), "{off}");
    assert!(lines[0].contains(&block.hash.short()), "{off}");
    assert!(lines[0].contains(" invalid: "), "{off}");
    assert!(!off.contains(&tip.hash.short()), "{off}");
    assert!(text(&node, "tree 5").contains(&tip.hash.short()));
}
