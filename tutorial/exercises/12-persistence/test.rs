//! Exercise 12: keep the replaced chain as `blocks.jsonl.old` when a reorganization rewrites
//! the file, so a student can compare the two.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::store::{self, Change, Store};
use peerchain::testing::mine_blocks;
use peerchain::Network;

/// After a reorg, `blocks.jsonl.old` holds the file as it was, and the new file loads.
#[test]
fn reorg_keeps_the_old_file() {
    let dir = TempDir::new();
    let old = regtest_chain(6);
    write_store(&dir, &old);
    let before = std::fs::read(dir.blocks_file(Network::Regtest)).unwrap();
    let mut branch = fork_at(&old, 2);
    mine_blocks(&mut branch, 8, T, "branch");
    let (mut store, _) = Store::open(&dir.0, Network::Regtest).unwrap();
    store
        .apply(&Change::Reorg {
            fork_height: 2,
            blocks: above(&branch, 2),
        })
        .unwrap();
    let kept = std::fs::read(dir.0.join("regtest/blocks.jsonl.old"))
        .expect("blocks.jsonl.old should exist after a reorg");
    assert_eq!(kept, before);
    let loaded = store::read(&dir.0, Network::Regtest).unwrap();
    assert_eq!(loaded.chain.tip(), branch.tip());
}
