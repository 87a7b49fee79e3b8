//! The chain state: the node's `Arc<Mutex<Blockchain>>`, and what must change with it.
//!
//! Two things must move in step with the chain, under the same lock: the disk writer's record
//! of changes (so the file sees them in the chain's order) and the miner's stop flag (so a
//! block mined on a stale tip is abandoned). Every method here takes the lock, does only quick
//! work (no I/O, no mining), and releases it before returning; callers get copies. This is
//! the lock discipline the whole node follows: copy out, release, and only then touch a
//! socket or mine. A lock held across a network write would let one slow peer stall every
//! other thread. `std::sync::Mutex` is right here, as in mini-redis: the critical sections are
//! short and never block. Bitcoin Core's `cs_main` is the same idea, with far more under it.
//!
//! See `tutorial/07-client-and-server.md` and `tutorial/12-persistence.md`.

use crate::block::Block;
use crate::branch::Branch;
use crate::chain::{Blockchain, Outcome};
use crate::consensus::{now_ms, verify_block, ChainError};
use crate::hash::Hash;
use crate::mempool::Rejected;
use crate::store::{Change, DiskWriter};
use crate::transaction::VerifiedTx;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The chain at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    /// Height of the tip.
    pub height: u64,
    /// Hash of the tip.
    pub tip: Hash,
    /// Sum of 2^difficulty over the chain.
    pub total_work: u128,
    /// Difficulty the next block needs.
    pub next_difficulty: u32,
    /// Transactions in the tip block, its coinbase included.
    pub tip_transactions: usize,
    /// Transactions waiting in the mempool.
    pub mempool: usize,
}

/// What became of a block a peer announced with `block` (or one mined here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announced {
    /// We have it already.
    Known,
    /// It extended our tip; change number `seq` records it.
    Appended { seq: u64 },
    /// It was meant for our tip but breaks a rule.
    Invalid(ChainError),
    /// It does not sit on our tip: an unknown parent, or a tip further ahead. Sync from the
    /// peer with this locator.
    NotOnOurTip { locator: Vec<Hash> },
}

/// Locks a mutex, recovering from poisoning. Our critical sections do not panic; if one ever
/// did, the data it guarded is still whole (every chain update validates first and then
/// mutates in steps that cannot fail), so carrying on beats taking the node down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The chain, the disk writer that follows it, and the miner's stop flag.
pub struct ChainState {
    /// The design's shared chain: every connection thread locks this one mutex.
    chain: Arc<Mutex<Blockchain>>,
    /// The disk writer, when the node keeps its chain (`--data-dir`).
    disk: Option<Arc<DiskWriter>>,
    /// The stop flag of the mining in progress, raised when the tip changes under it.
    miner_stop: Mutex<Option<Arc<AtomicBool>>>,
}

impl ChainState {
    /// Wraps `chain`; with `disk`, every change is written there too.
    pub fn new(chain: Blockchain, disk: Option<Arc<DiskWriter>>) -> Self {
        ChainState {
            chain: Arc::new(Mutex::new(chain)),
            disk,
            miner_stop: Mutex::new(None),
        }
    }

    /// Runs `f` on the chain, read-only, under the lock. Keep `f` quick: no I/O, no mining.
    pub fn read<R>(&self, f: impl FnOnce(&Blockchain) -> R) -> R {
        f(&lock(&self.chain))
    }

    /// Height, tip, work and next difficulty, copied out under the lock.
    pub fn summary(&self) -> ChainSummary {
        self.read(|chain| ChainSummary {
            height: chain.height(),
            tip: chain.tip().hash,
            total_work: chain.total_work(),
            next_difficulty: chain.next_difficulty(),
            tip_transactions: chain.tip().transactions.len(),
            mempool: chain.mempool().len(),
        })
    }

    /// Hands a change to the disk writer; call it with the chain lock held.
    fn record(&self, change: impl FnOnce() -> Change) -> u64 {
        self.disk.as_ref().map_or(0, |disk| disk.record(change()))
    }

    /// The number of the last change handed to the disk writer (0 without one).
    fn recorded(&self) -> u64 {
        self.disk.as_ref().map_or(0, |disk| disk.recorded())
    }

    /// Blocks until change `seq` is on disk; returns at once without a data directory.
    pub fn wait_durable(&self, seq: u64) {
        if let Some(disk) = &self.disk {
            disk.wait_durable(seq);
        }
    }

    /// Runs `f` on the chain and returns its result with the change number that covers every
    /// block `f` could see: wait for it before showing a peer what `f` copied out.
    pub fn read_durable<R>(&self, f: impl FnOnce(&Blockchain) -> R) -> (R, u64) {
        let chain = lock(&self.chain);
        (f(&chain), self.recorded())
    }

    /// Takes in a block announced by a peer: appended if it extends our tip and passes every
    /// rule; otherwise says what to do instead.
    ///
    /// The lock is taken twice: once to see whether the block is for our tip at all, and once
    /// to append it. Between the two, outside the lock, the block is checked on its own
    /// (signatures on every core), so other threads are not kept waiting meanwhile.
    pub fn announced(&self, block: &Block) -> Announced {
        let params = {
            let chain = lock(&self.chain);
            if let Some(not_for_tip) = Self::not_for_tip(&chain, block) {
                return not_for_tip;
            }
            chain.params()
        };
        let verified = match verify_block(block.clone(), params, Some(now_ms())) {
            Ok(verified) => verified,
            Err(e) => return Announced::Invalid(e),
        };
        let mut chain = lock(&self.chain);
        // Our tip may have moved while the lock was free.
        if let Some(not_for_tip) = Self::not_for_tip(&chain, block) {
            return not_for_tip;
        }
        match chain.append_verified(verified) {
            Ok(()) => Announced::Appended {
                seq: self.record(|| Change::Append(vec![block.clone()])),
            },
            Err(e) => Announced::Invalid(e),
        }
    }

    /// `Known` or `NotOnOurTip` for a block that does not extend our tip; `None` if it does.
    fn not_for_tip(chain: &Blockchain, block: &Block) -> Option<Announced> {
        if chain.contains(&block.hash) {
            Some(Announced::Known)
        } else if block.previous_hash != chain.tip().hash {
            Some(Announced::NotOnOurTip {
                locator: chain.locator(),
            })
        } else {
            None
        }
    }

    /// Validates `block` as the next block on our tip and appends it; returns the change
    /// number. The checks that need no chain run first, outside the lock.
    pub fn append(&self, block: &Block) -> Result<u64, ChainError> {
        let params = self.read(|chain| chain.params());
        let verified = verify_block(block.clone(), params, Some(now_ms()))?;
        let mut chain = lock(&self.chain);
        chain.append_verified(verified)?;
        Ok(self.record(|| Change::Append(vec![block.clone()])))
    }

    /// Offers `tx` to the mempool; its signatures were checked already, outside the lock.
    pub fn accept_transaction(&self, tx: VerifiedTx) -> Result<u64, Rejected> {
        lock(&self.chain).accept_transaction(tx)
    }

    /// Connects what `branch` has downloaded, if it now carries more work (see
    /// [`Blockchain::connect_branch`]); returns what happened and the change number that
    /// records it. Everything else about the branch was checked before, outside the lock.
    pub fn connect_branch(&self, branch: &mut Branch) -> Result<(Outcome, u64), ChainError> {
        let mut chain = lock(&self.chain);
        let outcome = chain.connect_branch(branch)?;
        let (fork, reorg) = match outcome {
            Outcome::Extended { added, height, .. } => (height - added as u64, false),
            Outcome::Reorganized { added, .. } => (chain.height() - added as u64, true),
            Outcome::Known | Outcome::NotMoreWork { .. } => return Ok((outcome, self.recorded())),
        };
        let seq = self.record(|| {
            let blocks = chain.blocks()[fork as usize + 1..].to_vec();
            if reorg {
                Change::Reorg {
                    fork_height: fork,
                    blocks,
                }
            } else {
                Change::Append(blocks)
            }
        });
        Ok((outcome, seq))
    }

    /// Starts a round of mining: returns a fresh stop flag that [`tip_moved`](Self::tip_moved)
    /// will raise.
    pub fn start_mining(&self) -> Arc<AtomicBool> {
        let stop = Arc::new(AtomicBool::new(false));
        *lock(&self.miner_stop) = Some(Arc::clone(&stop));
        stop
    }

    /// The round of mining is over.
    pub fn stop_mining(&self) {
        if let Some(stop) = lock(&self.miner_stop).take() {
            stop.store(true, Ordering::Relaxed);
        }
    }

    /// The tip changed: whatever is being mined is stale.
    pub fn tip_moved(&self) {
        if let Some(stop) = lock(&self.miner_stop).as_ref() {
            stop.store(true, Ordering::Relaxed);
        }
    }

    /// Lets the disk writer finish; call once nothing can change the chain any more.
    pub fn finish(&self) {
        if let Some(disk) = &self.disk {
            disk.finish();
        }
    }

    /// The disk writer, if the chain is kept.
    pub fn disk(&self) -> Option<&DiskWriter> {
        self.disk.as_deref()
    }
}
