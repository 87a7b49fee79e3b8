//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

use peerchain::{Block, Blockchain, Network};

/// Regtest's target block time: spacing blocks by this keeps the difficulty where it is.
pub const T: u64 = 1_000;

/// A regtest chain of `n` blocks above genesis, spaced by T.
pub fn regtest_chain(n: usize) -> Blockchain {
    let mut chain = Blockchain::new(Network::Regtest);
    peerchain::miner::mine_blocks(&mut chain, n, T, "main");
    chain
}

/// A chain that shares `chain`'s blocks up to and including `height`, ready to grow a fork.
pub fn fork_at(chain: &Blockchain, height: u64) -> Blockchain {
    let mut fork = Blockchain::new(chain.network());
    for block in &chain.blocks()[1..=height as usize] {
        fork.append_checked(block.clone(), None)
            .expect("copied from a valid chain");
    }
    fork
}

/// The blocks of `chain` above `height`.
pub fn above(chain: &Blockchain, height: u64) -> Vec<Block> {
    chain.blocks()[height as usize + 1..].to_vec()
}
