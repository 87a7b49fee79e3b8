//! Exercise 03: the `mine` command reports the nonce the miner found.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};

/// After mining, the reply names the hash, the difficulty and the winning nonce.
#[test]
fn mine_reports_the_nonce() {
    let node = start(config());
    let Reply::Text(text) = execute(&node, "mine hello") else {
        panic!("quit?")
    };
    let block = node.block(1).expect("a block was mined");
    assert_eq!(
        text,
        format!(
            "mined block 1 {} (difficulty {}, nonce {}, 1 transaction)",
            block.hash, block.difficulty, block.nonce
        ),
        "change the reply of the `mine` arm in console::execute"
    );
}
