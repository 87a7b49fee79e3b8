//! The miner: try nonces until the block's hash meets its difficulty.
//!
//! Two things make it fast, and both are worth seeing:
//!
//! 1. **Midstate.** SHA-256 works through its input in 64-byte chunks. The header's first 64
//!    bytes never change while we vary the nonce (bytes 88..96), so we feed them to the hasher
//!    once and, per nonce, clone that state and hash only the last 32 bytes. Each try costs one
//!    compression instead of two, and never touches JSON.
//! 2. **Threads.** Nonces are split by stride: thread `i` of `n` tries `i, i+n, i+2n, ...`.
//!    A shared stop flag lets every thread give up as soon as one finds a solution, or as soon
//!    as the node's tip changes and the work is stale.
//!
//! A production miner goes further (SHA-256 hardware, dedicated chips, varying the timestamp or
//! an extra nonce when 2^64 nonces run out); ours only needs to out-run a classroom.
//!
//! See `tutorial/03-proof-of-work.md`.

use crate::block::{Block, HEADER_LEN};
use crate::hash::Hash;
use crate::pow::meets_difficulty;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};

/// How many nonces a thread tries between looks at the stop flag. Small enough to stop within
/// a millisecond, large enough that the atomic load costs nothing.
const STOP_CHECK_EVERY: u64 = 4096;

/// A header with its constant first 64 bytes already hashed.
#[derive(Clone)]
pub struct Midstate {
    prefix: Sha256,
    /// Header bytes 64..96; the nonce is the last 8.
    tail: [u8; HEADER_LEN - 64],
    difficulty: u32,
}

impl Midstate {
    /// Prepares `block`'s header for nonce search.
    pub fn new(block: &Block) -> Self {
        let header = block.header_bytes();
        let mut prefix = Sha256::new();
        prefix.update(&header[..64]);
        let mut tail = [0u8; HEADER_LEN - 64];
        tail.copy_from_slice(&header[64..]);
        Midstate {
            prefix,
            tail,
            difficulty: block.difficulty,
        }
    }

    /// The block hash with `nonce` in place of the template's nonce.
    pub fn hash_with_nonce(&self, nonce: u64) -> Hash {
        let mut tail = self.tail;
        tail[24..].copy_from_slice(&nonce.to_le_bytes());
        let mut h = self.prefix.clone();
        h.update(tail);
        Hash(h.finalize().into())
    }

    /// Tries `count` nonces `first, first+step, ...`; returns the first that meets the
    /// difficulty, or `None` when they run out or `stop` is set.
    pub fn search(&self, first: u64, step: u64, count: u64, stop: &AtomicBool) -> Option<u64> {
        let mut nonce = first;
        for i in 0..count {
            if i % STOP_CHECK_EVERY == 0 && stop.load(Ordering::Relaxed) {
                return None;
            }
            if meets_difficulty(&self.hash_with_nonce(nonce), self.difficulty) {
                return Some(nonce);
            }
            nonce = nonce.wrapping_add(step);
        }
        None
    }
}

/// Searches with `threads` threads, each trying up to `count_per_thread` nonces; returns the
/// first solution found, or `None` if none was found or `stop` was set. Sets `stop` itself when
/// a thread succeeds, so the caller's flag says "this work is over" either way.
pub fn search_parallel(
    midstate: &Midstate,
    threads: usize,
    count_per_thread: u64,
    stop: &AtomicBool,
) -> Option<u64> {
    let threads = threads.max(1) as u64;
    if threads == 1 {
        // No thread to spawn for one: tests mine thousands of easy blocks this way.
        return midstate.search(0, 1, count_per_thread, stop);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                scope.spawn(move || {
                    let found = midstate.search(i, threads, count_per_thread, stop);
                    if found.is_some() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    found
                })
            })
            .collect();
        // `join` only fails if a thread panicked, and `search` does not panic.
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .next()
    })
}

/// Mines `template` on every core. Returns the solved block, or `None` if `stop` was set
/// first (for instance because a peer's block moved our tip).
pub fn mine(template: Block, stop: &AtomicBool) -> Option<Block> {
    mine_with_threads(template, crate::cores::count(), stop)
}

/// As [`mine`] with a chosen number of threads.
pub fn mine_with_threads(mut template: Block, threads: usize, stop: &AtomicBool) -> Option<Block> {
    let midstate = Midstate::new(&template);
    let nonce = search_parallel(&midstate, threads, u64::MAX / threads.max(1) as u64, stop)?;
    template.nonce = nonce;
    template.hash = template.compute_hash();
    Some(template)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Network;

    /// The midstate shortcut gives the same hash as hashing the whole header.
    #[test]
    fn midstate_matches_full_hash() {
        let mut block = Network::Main.genesis();
        let mid = Midstate::new(&block);
        for nonce in [0, 1, 1_194_660, u64::MAX] {
            block.nonce = nonce;
            assert_eq!(mid.hash_with_nonce(nonce), block.compute_hash());
        }
    }

    /// Mining regtest's genesis again at difficulty 12, from nonce 0 on all cores, finds a valid
    /// solution.
    #[test]
    fn mines_a_valid_block() {
        let mut template = Network::Regtest.genesis();
        template.difficulty = 12;
        template.nonce = 0;
        let block = mine(template, &AtomicBool::new(false)).expect("not stopped");
        assert_eq!(block.hash, block.compute_hash());
        assert!(meets_difficulty(&block.hash, 12));
    }

    /// A set stop flag ends the search without a result.
    #[test]
    fn stop_flag_abandons_work() {
        let mut template = Network::Regtest.genesis();
        template.difficulty = 200;
        assert!(mine(template, &AtomicBool::new(true)).is_none());
    }
}
