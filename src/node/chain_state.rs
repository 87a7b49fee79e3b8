//! The chain state: the node's `Arc<Mutex<Blockchain>>`, and the duties that go with it.
//!
//! Three duties come with every change of the chain, and they live here so that no caller can
//! forget one:
//!
//! - **Record it for the disk**, under the chain lock, so the file sees changes in the chain's
//!   order ([`DiskWriter::record`]).
//! - **Stop the miner**: a block being mined on the old tip is stale. Every change raises the
//!   stop flag of the [`MiningRound`] in progress; only one round runs at a time.
//! - **Wait for the disk before a peer sees it**: the node relays or serves a block only once
//!   it is on disk, so a peer never holds a block we lose in a crash. The methods that change
//!   the chain return only once their change is written, and [`read_for_peers`] waits for
//!   every change made before its read, whoever made it. No change number leaves this type.
//!
//! The lock discipline the whole node follows: take the lock, do quick work (no I/O, no
//! mining, no signatures), copy out, release, and only then touch a socket or mine. Blocks are
//! checked outside the lock first ([`verify_block`], and [`Branch`] for a download), so what
//! happens under it is look-ups and updates. A lock held across a network write would let one
//! slow peer stall every other thread. `std::sync::Mutex` is right here, as in mini-redis: the
//! critical sections are short and never block. Bitcoin Core's `cs_main` is the same idea,
//! with far more under it.
//!
//! [`read_for_peers`]: ChainState::read_for_peers
//!
//! See `tutorial/07-client-and-server.md` and `tutorial/12-persistence.md`.

use crate::block::Block;
use crate::branch::Branch;
use crate::chain::{Blockchain, Outcome};
use crate::consensus::{check_body_shape, now_ms, verify_block, ChainError};
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

/// What became of a block a peer announced with `block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announced {
    /// We have it already.
    Known,
    /// It extended our tip, and it is on disk: relay it.
    Appended,
    /// It was meant for our tip but breaks a rule.
    Invalid(ChainError),
    /// It is a block we refused before, by its hash (see `InvalidBlocks`): refuse it again,
    /// but do not hold it against this sender, who may only be passing it on.
    KnownInvalid(ChainError),
    /// It does not sit on our tip: an unknown parent, or a tip further ahead. Sync from the
    /// peer with this locator.
    NotOnOurTip {
        /// Our locator, to send with `get_headers`.
        locator: Vec<Hash>,
    },
}

/// Locks a mutex, recovering from poisoning. Our critical sections do not panic; if one ever
/// did, the data it guarded is still whole (every chain update validates first and then
/// mutates in steps that cannot fail), so carrying on beats taking the node down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The chain, the disk writer that follows it, and the mining round it stops.
pub struct ChainState {
    /// The design's shared chain: every connection thread locks this one mutex.
    chain: Arc<Mutex<Blockchain>>,
    /// The disk writer, when the node keeps its chain (`--data-dir`).
    disk: Option<Arc<DiskWriter>>,
    /// Held by the [`MiningRound`] in progress: one round at a time.
    mining: Mutex<()>,
    /// The stop flag of the mining round in progress, raised when the tip changes under it.
    miner_stop: Mutex<Option<Arc<AtomicBool>>>,
    /// Blocks announced to us that broke a rule for good, by hash, with the reason.
    invalid: Mutex<InvalidBlocks>,
}

/// At most this many invalid blocks are remembered; the oldest is forgotten first.
pub const MAX_INVALID_BLOCKS: usize = 1_000;

/// Blocks that broke a rule for good, so that the same block sent again costs a look-up.
///
/// Discouraging a peer (see [`discouraged`](crate::node::discouraged)) stops one sender; a
/// program that makes itself a new key for every connection sends the same block again. A
/// block's hash commits to its header, the header's merkle root to its data and transactions,
/// so once a block is shown to *be* what its hash names, "this hash broke rule N" is true
/// forever, with one exception: a block too far ahead of our clock may be fine later, so that
/// rule is not remembered. Sending a *new* invalid block means mining a new proof of work.
///
/// The showing matters: a peer can take an honest block's hash and send it with a wrong
/// version, other data or a transaction whose `txid` field lies. Remembering *that* failure
/// under the honest hash would make us refuse the honest block, and discourage every peer
/// that relays it. So a failure is remembered only if the block's own header hashes to the
/// hash, each transaction's txid is its own, and the merkle root is the body's
/// ([`bound_to_its_hash`]). A block we hold already is never looked up here. Bitcoin Core
/// marks such blocks `BLOCK_FAILED_VALID` in its block index, which holds only blocks whose
/// header it checked.
#[derive(Debug, Default)]
struct InvalidBlocks {
    reasons: std::collections::HashMap<Hash, ChainError>,
    order: std::collections::VecDeque<Hash>,
}

/// Is `block` what its hash names: its header hashes to `block.hash`, every transaction's
/// txid is its own, and the merkle root is the one its data and transactions give? A few
/// hashes; run only for a block that failed, before remembering the failure.
fn bound_to_its_hash(block: &Block) -> bool {
    block.compute_hash() == block.hash
        && block
            .transactions
            .iter()
            .all(|tx| tx.compute_txid() == tx.txid)
        && block.compute_merkle_root() == block.merkle_root
}

impl InvalidBlocks {
    fn remember(&mut self, block: &Block, error: &ChainError) {
        if matches!(error, ChainError::TimestampTooFarAhead { .. })
            || self.reasons.contains_key(&block.hash)
            || !bound_to_its_hash(block)
        {
            return;
        }
        if self.order.len() >= MAX_INVALID_BLOCKS {
            if let Some(oldest) = self.order.pop_front() {
                self.reasons.remove(&oldest);
            }
        }
        self.order.push_back(block.hash);
        self.reasons.insert(block.hash, error.clone());
    }
}

/// One round of mining: while it lives no other round can start, and any change of the chain
/// raises its stop flag. Made by [`ChainState::mining_round`]; dropping it ends the round.
///
/// Why a type: the console's `mine` and the API's `POST /api/mine` can both ask to mine at
/// once. With one stop flag slot and two rounds, the second round's flag replaced the first's,
/// and a new tip no longer stopped the first. Now the second waits for the first.
pub struct MiningRound<'a> {
    state: &'a ChainState,
    stop: Arc<AtomicBool>,
    _one_at_a_time: MutexGuard<'a, ()>,
}

impl MiningRound<'_> {
    /// The flag the miner watches: raised when the tip changes, or the node stops.
    pub fn stop_flag(&self) -> &AtomicBool {
        &self.stop
    }
}

impl Drop for MiningRound<'_> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        *lock(&self.state.miner_stop) = None;
    }
}

impl ChainState {
    /// Wraps `chain`; with `disk`, every change is written there too.
    pub fn new(chain: Blockchain, disk: Option<Arc<DiskWriter>>) -> Self {
        ChainState {
            chain: Arc::new(Mutex::new(chain)),
            disk,
            mining: Mutex::new(()),
            miner_stop: Mutex::new(None),
            invalid: Mutex::new(InvalidBlocks::default()),
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

    /// Runs `f` on the chain under the lock and returns its result once every change made
    /// before the read is on disk: for whatever a peer will see (a relay, `latest_block`, a
    /// `blocks` answer). Returns at once without a data directory. Keep `f` quick.
    pub fn read_for_peers<R>(&self, f: impl FnOnce(&Blockchain) -> R) -> R {
        let (result, seq) = {
            let chain = lock(&self.chain);
            (f(&chain), self.recorded())
        };
        self.wait_durable(seq);
        result
    }

    /// Blocks until change `seq` is on disk; returns at once without a data directory.
    fn wait_durable(&self, seq: u64) {
        if let Some(disk) = &self.disk {
            disk.wait_durable(seq);
        }
    }

    /// The chain changed (change number `seq`), and the lock is released: stop the miner at
    /// once, then wait for the disk, so what the caller shows a peer next is written.
    fn changed(&self, seq: u64) {
        self.tip_moved();
        self.wait_durable(seq);
    }

    /// Takes in a block announced by a peer: appended if it extends our tip and passes every
    /// rule (and then on disk when this returns); otherwise says what to do instead.
    ///
    /// A block that broke a rule for good before is refused again at once, by its hash (see
    /// `InvalidBlocks`), whoever sends it. Otherwise, cheap before costly, and stateless before
    /// stateful, so that junk costs us little:
    ///
    /// 1. under the lock, the header alone (its hash and the proof of work it claims) and
    ///    against our tip (its parent, the expected difficulty, the median time): a block that
    ///    claims too little work, or none, goes no further;
    /// 2. outside the lock, the body's shape: sizes, merkle root, transactions' limits;
    /// 3. under the lock again, its spends, as look-ups in our coins (nothing changes);
    /// 4. outside the lock, the signatures, on every core: most of the cost, paid last;
    /// 5. under the lock, the append (the tip may have moved meanwhile: it is checked again).
    pub fn announced(&self, block: &Block) -> Announced {
        if self.read(|chain| chain.contains(&block.hash)) {
            return Announced::Known;
        }
        if let Some(known) = lock(&self.invalid).reasons.get(&block.hash) {
            return Announced::KnownInvalid(known.clone());
        }
        match self.check_announced(block) {
            Announced::Invalid(e) => {
                lock(&self.invalid).remember(block, &e);
                Announced::Invalid(e)
            }
            other => other,
        }
    }

    /// [`announced`](Self::announced) for a block not known to be invalid.
    fn check_announced(&self, block: &Block) -> Announced {
        let params = {
            let chain = lock(&self.chain);
            if let Some(not_for_tip) = Self::not_for_tip(&chain, block) {
                return not_for_tip;
            }
            if let Err(e) = chain.check_header_on_tip(&block.header(), Some(now_ms())) {
                return Announced::Invalid(e);
            }
            chain.params()
        };
        if let Err(e) = check_body_shape(block, params) {
            return Announced::Invalid(e);
        }
        {
            let chain = lock(&self.chain);
            if let Some(not_for_tip) = Self::not_for_tip(&chain, block) {
                return not_for_tip;
            }
            if let Err(e) = chain.check_spends_on_tip(block) {
                return Announced::Invalid(e);
            }
        }
        let verified = match verify_block(block.clone(), params, Some(now_ms())) {
            Ok(verified) => verified,
            Err(e) => return Announced::Invalid(e),
        };
        let mut chain = lock(&self.chain);
        // Our tip may have moved while the lock was free.
        if let Some(not_for_tip) = Self::not_for_tip(&chain, block) {
            return not_for_tip;
        }
        if let Err(e) = chain.append_verified(verified) {
            return Announced::Invalid(e);
        }
        let seq = self.record(|| Change::Append(vec![block.clone()]));
        drop(chain);
        self.changed(seq);
        Announced::Appended
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

    /// Validates `block` as the next block on our tip and appends it; once this returns, it
    /// is on disk. The checks that need no chain run first, outside the lock.
    pub fn append(&self, block: &Block) -> Result<(), ChainError> {
        let params = self.read(|chain| chain.params());
        let verified = verify_block(block.clone(), params, Some(now_ms()))?;
        let seq = {
            let mut chain = lock(&self.chain);
            chain.append_verified(verified)?;
            self.record(|| Change::Append(vec![block.clone()]))
        };
        self.changed(seq);
        Ok(())
    }

    /// The transactions that left the mempool without being mined since the last call.
    pub fn take_dropped(&self) -> Vec<crate::mempool::Dropped> {
        lock(&self.chain).take_dropped()
    }

    /// Offers `tx` to the mempool; its signatures were checked already, outside the lock.
    pub fn add_to_mempool(&self, tx: VerifiedTx) -> Result<u64, Rejected> {
        lock(&self.chain).add_to_mempool(tx)
    }

    /// Connects what `branch` has downloaded, if it now carries more work (see
    /// [`Blockchain::connect_branch`]), and returns what happened; a change is on disk when
    /// this returns. Everything else about the branch was checked before, outside the lock.
    pub fn connect_branch(&self, branch: &mut Branch) -> Result<Outcome, ChainError> {
        let mut chain = lock(&self.chain);
        let outcome = chain.connect_branch(branch)?;
        let (fork, reorg) = match outcome {
            Outcome::Extended { added, height, .. } => (height - added as u64, false),
            Outcome::Reorganized { added, .. } => (chain.height() - added as u64, true),
            Outcome::Known | Outcome::NotMoreWork { .. } => return Ok(outcome),
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
        drop(chain);
        self.changed(seq);
        Ok(outcome)
    }

    /// Starts a round of mining, once the round in progress (if any) is over. Build the block
    /// to mine after this returns, so a tip that moves meanwhile stops the round.
    pub fn mining_round(&self) -> MiningRound<'_> {
        let one_at_a_time = lock(&self.mining);
        let stop = Arc::new(AtomicBool::new(false));
        *lock(&self.miner_stop) = Some(Arc::clone(&stop));
        MiningRound {
            state: self,
            stop,
            _one_at_a_time: one_at_a_time,
        }
    }

    /// Whatever is being mined is stale: the tip changed, or the node is stopping.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Network;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// Two mining rounds never run at once: a second waits for the first, and a new tip stops
    /// the round in progress whoever started it (before, the second round's flag replaced the
    /// first's, and the first mined on a stale tip).
    #[test]
    fn one_mining_round_at_a_time() {
        let state = Arc::new(ChainState::new(Blockchain::new(Network::Regtest), None));
        let first = state.mining_round();
        let (started, second_started) = mpsc::channel();
        let second = {
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                let round = state.mining_round();
                started.send(()).expect("the test waits");
                let deadline = Instant::now() + Duration::from_secs(20);
                while !round.stop_flag().load(Ordering::Relaxed) && Instant::now() < deadline {
                    std::thread::yield_now();
                }
                round.stop_flag().load(Ordering::Relaxed)
            })
        };
        assert!(
            second_started
                .recv_timeout(Duration::from_millis(300))
                .is_err(),
            "a second round started while the first ran"
        );
        state.tip_moved();
        assert!(
            first.stop_flag().load(Ordering::Relaxed),
            "a new tip stops the first round"
        );
        drop(first);
        second_started
            .recv_timeout(Duration::from_secs(20))
            .expect("the second round starts once the first is over");
        state.tip_moved();
        assert!(second.join().unwrap(), "a new tip stops the second round");
    }
}
