//! The consensus rules: what makes a block valid on top of its ancestors.
//!
//! Every rule lives in one small function here, and [`check_block`] is exactly three calls:
//! [`check_header_alone`], [`check_header_in_context`] and [`check_body`]. The node's paths
//! (appending to the tip, downloading a branch, loading from disk) call those three halves,
//! at different times so the costly ones run outside the chain lock, and never anything
//! else. The seed this project grew from checked validity in one place and forgot to in
//! another; a real node cannot afford two definitions of "valid". One clause lives elsewhere:
//! rule 7's spending half (the coins a transaction spends exist, are mature and are its
//! signer's) needs the UTXO set, so it is [`UtxoView::connect`](crate::utxo::UtxoView::connect),
//! which every path runs under the chain lock once these rules have passed.
//!
//! A block is checked against a [`ChainView`]: the ancestors it would sit on. For a branch
//! that forks from our chain that is our blocks up to the fork point followed by the branch's
//! own earlier blocks, so difficulty and median time are computed from the branch's history,
//! not ours.
//!
//! See `tutorial/04-difficulty.md` and `tutorial/05-chain-rules.md`.

use crate::block::{Block, Header};
use crate::hash::Hash;
use crate::params::Params;
use crate::pow::meets_difficulty;
use crate::transaction::{Transaction, TxError};
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How many recent blocks the median time past looks at (as Bitcoin).
pub const MEDIAN_TIME_SPAN: usize = 11;

/// At most this many transactions in a block, the coinbase included.
pub const MAX_BLOCK_TRANSACTIONS: usize = 1_000;

/// At most this many inputs plus outputs over all of a block's transactions.
pub const MAX_BLOCK_IN_OUTS: usize = 4_000;

/// Below this many signatures per thread, checking them in parallel costs more in thread
/// starts than it saves.
const MIN_SIGNATURES_PER_THREAD: usize = 16;

/// Why a block or a branch was refused. Each consensus rule has its own variants, and every
/// message names the block height, the rule and the values involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// Rule 1: the version is not 1.
    BadVersion {
        /// Height of the block.
        height: u64,
        /// The version it has.
        version: u32,
    },
    /// Rule 2: the height is not the parent's plus one.
    BadHeight {
        /// Height of the block.
        height: u64,
        /// The parent's height + 1.
        expected: u64,
    },
    /// Rule 2: `previous_hash` is not the parent's hash.
    BadPreviousHash {
        /// Height of the block.
        height: u64,
        /// The `previous_hash` it names.
        previous_hash: Hash,
        /// The parent's hash.
        expected: Hash,
    },
    /// Rule 3: `hash` is not SHA-256 of the header bytes.
    BadHash {
        /// Height of the block.
        height: u64,
        /// The hash the block says it has.
        claimed: Hash,
        /// SHA-256 of its header bytes.
        computed: Hash,
    },
    /// Rule 3: the hash does not have `difficulty` leading zero bits.
    InsufficientWork {
        /// Height of the block.
        height: u64,
        /// The block's hash.
        hash: Hash,
        /// The leading zero bits it claims.
        difficulty: u32,
    },
    /// Rule 4: `merkle_root` does not match the data and the txids.
    BadMerkleRoot {
        /// Height of the block.
        height: u64,
        /// The root in the header.
        claimed: Hash,
        /// The root of its data and transactions.
        computed: Hash,
    },
    /// Rule 4: more data items than a block may carry.
    TooManyItems {
        /// Height of the block.
        height: u64,
        /// How many data items it has.
        count: usize,
        /// The most allowed.
        max: usize,
    },
    /// Rule 4: more data bytes than a block may carry.
    TooManyBytes {
        /// Height of the block.
        height: u64,
        /// How many data bytes it has.
        bytes: usize,
        /// The most allowed.
        max: usize,
    },
    /// Rule 5: the difficulty is not what the retarget rule expects.
    BadDifficulty {
        /// Height of the block.
        height: u64,
        /// The difficulty it has.
        difficulty: u32,
        /// The difficulty the retarget rule gives.
        expected: u32,
    },
    /// Rule 6: the timestamp is not after the median time past of the parent.
    TimestampNotAfterMedian {
        /// Height of the block.
        height: u64,
        /// Its timestamp, in ms.
        timestamp: u64,
        /// The median time past of its parent, in ms.
        median: u64,
    },
    /// Rule 6: the timestamp is too far ahead of our clock.
    TimestampTooFarAhead {
        /// Height of the block.
        height: u64,
        /// Its timestamp, in ms.
        timestamp: u64,
        /// Our clock plus the allowed drift, in ms.
        max: u64,
    },
    /// Rule 7: a transaction breaks a rule (see [`TxError`]; boxed, as it is the largest
    /// reason and would make every `Result` carrying a `ChainError` twice as big).
    Transaction {
        /// Height of the block.
        height: u64,
        /// The transaction's txid.
        txid: Hash,
        /// The rule it breaks.
        error: Box<TxError>,
    },
    /// Rule 7: a block above genesis without transactions (it needs a coinbase).
    NoCoinbase {
        /// Height of the block.
        height: u64,
    },
    /// Rule 7: more transactions than a block may carry.
    TooManyTransactions {
        /// Height of the block.
        height: u64,
        /// How many transactions it has, the coinbase included.
        count: usize,
        /// The most allowed.
        max: usize,
    },
    /// Rule 7: more inputs plus outputs than a block may carry.
    TooManyInOuts {
        /// Height of the block.
        height: u64,
        /// Inputs plus outputs over its transactions.
        count: usize,
        /// The most allowed.
        max: usize,
    },
    /// Rule 7: the coinbase pays more than the subsidy plus the fees.
    CoinbaseOverpays {
        /// Height of the block.
        height: u64,
        /// What the coinbase pays, in units.
        paid: u64,
        /// The subsidy at this height, in units.
        subsidy: u64,
        /// The block's fees, in units.
        fees: u64,
    },
    /// Rule 7: the fees, or the fees plus the subsidy, add up past 2^64 − 1.
    FeesOverflow {
        /// Height of the block.
        height: u64,
    },
    /// A branch whose first new block's parent is not on our chain.
    UnknownParent {
        /// Height of the first new block.
        height: u64,
        /// The parent it names.
        previous_hash: Hash,
    },
    /// A chain whose first block is not this network's genesis.
    WrongGenesis {
        /// The first block's hash.
        found: Hash,
        /// This network's genesis hash.
        expected: Hash,
    },
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ChainError::*;
        match self {
            BadVersion { height, version } => {
                write!(f, "block {height}: version {version} is not 1 (rule 1)")
            }
            BadHeight { height, expected } => {
                write!(f, "block {height}: height should be {expected}, parent height + 1 (rule 2)")
            }
            BadPreviousHash { height, previous_hash, expected } => write!(
                f,
                "block {height}: previous_hash {previous_hash} is not the parent's hash {expected} (rule 2)"
            ),
            BadHash { height, claimed, computed } => write!(
                f,
                "block {height}: hash {claimed} is not SHA-256 of its header, {computed} (rule 3)"
            ),
            InsufficientWork { height, hash, difficulty } => write!(
                f,
                "block {height}: hash {hash} does not have {difficulty} leading zero bits (rule 3)"
            ),
            BadMerkleRoot { height, claimed, computed } => write!(
                f,
                "block {height}: merkle_root {claimed} does not match its body, {computed} (rule 4)"
            ),
            TooManyItems { height, count, max } => {
                write!(f, "block {height}: {count} data items, more than {max} (rule 4)")
            }
            TooManyBytes { height, bytes, max } => {
                write!(f, "block {height}: {bytes} data bytes, more than {max} (rule 4)")
            }
            BadDifficulty { height, difficulty, expected } => write!(
                f,
                "block {height}: difficulty {difficulty} is not the expected {expected} (rule 5)"
            ),
            TimestampNotAfterMedian { height, timestamp, median } => write!(
                f,
                "block {height}: timestamp {timestamp} is not after median time past {median} (rule 6)"
            ),
            TimestampTooFarAhead { height, timestamp, max } => write!(
                f,
                "block {height}: timestamp {timestamp} is after local clock + drift, {max} (rule 6)"
            ),
            Transaction { height, txid, error } => {
                write!(f, "block {height}: tx {}…: {error} (rule 7)", txid.short())
            }
            NoCoinbase { height } => write!(
                f,
                "block {height}: no transactions, but the first must be a coinbase (rule 7)"
            ),
            TooManyTransactions { height, count, max } => {
                write!(f, "block {height}: {count} transactions, more than {max} (rule 7)")
            }
            TooManyInOuts { height, count, max } => write!(
                f,
                "block {height}: {count} inputs and outputs, more than {max} (rule 7)"
            ),
            CoinbaseOverpays { height, paid, subsidy, fees } => write!(
                f,
                "block {height}: the coinbase pays {paid}, more than subsidy {subsidy} + fees {fees} (rule 7)"
            ),
            FeesOverflow { height } => write!(
                f,
                "block {height}: the fees and subsidy add up to more than 2^64 - 1 units (rule 7)"
            ),
            UnknownParent { height, previous_hash } => write!(
                f,
                "block {height}: parent {previous_hash} is not on our chain"
            ),
            WrongGenesis { found, expected } => {
                write!(f, "genesis {found} is not this network's genesis {expected}")
            }
        }
    }
}

impl std::error::Error for ChainError {}

/// The ancestors a block is checked against: `base` (our chain's headers from height `first`
/// up to a fork point) followed by `branch` (headers on top of it, heights in order). The last
/// header of the view is the parent of the block being checked.
///
/// A view need not reach back to genesis: the rules look back at most [`context_len`] headers,
/// so a branch is checked against a copy of just that many of our headers, taken out of the
/// chain lock once.
#[derive(Clone, Copy)]
pub struct ChainView<'a> {
    first: u64,
    base: &'a [Header],
    branch: &'a [Header],
}

/// How many headers, ending at a fork point, the rules need to check the blocks above it: the
/// retarget window and the median's span, plus the parent.
pub fn context_len(params: &Params) -> usize {
    (params.retarget_interval as usize).max(MEDIAN_TIME_SPAN) + 1
}

impl<'a> ChainView<'a> {
    /// A view of `base` (genesis first, never empty) followed by `branch`.
    pub fn new(base: &'a [Header], branch: &'a [Header]) -> Self {
        ChainView::starting_at(0, base, branch)
    }

    /// A view of `base`, whose first header is at height `first` (never empty), followed by
    /// `branch`. Heights below `first` are not in the view.
    pub fn starting_at(first: u64, base: &'a [Header], branch: &'a [Header]) -> Self {
        assert!(!base.is_empty(), "a chain view has a base");
        ChainView {
            first,
            base,
            branch,
        }
    }

    /// The header at `height` in this view.
    pub fn get(&self, height: u64) -> Option<&'a Header> {
        let h = usize::try_from(height.checked_sub(self.first)?).ok()?;
        match h.checked_sub(self.base.len()) {
            None => self.base.get(h),
            Some(i) => self.branch.get(i),
        }
    }

    /// The highest header of the view: the parent of the next block.
    pub fn tip(&self) -> &'a Header {
        self.branch
            .last()
            .unwrap_or_else(|| self.base.last().expect("non-empty"))
    }
}

/// The median time past of the view's tip: the middle of the last 11 timestamps (all of them
/// when there are fewer), sorted ascending, element at index ⌊n/2⌋. A new block must be later
/// than this; using a median rather than the parent's time tolerates a few wrong clocks.
pub fn median_time_past(view: &ChainView) -> u64 {
    // A fixed array, not a Vec: this runs for every block we validate.
    let mut times = [0u64; MEDIAN_TIME_SPAN];
    let mut n = 0;
    let tip = view.tip().height;
    for height in tip.saturating_sub(MEDIAN_TIME_SPAN as u64 - 1)..=tip {
        if let Some(block) = view.get(height) {
            times[n] = block.timestamp;
            n += 1;
        }
    }
    let times = &mut times[..n];
    times.sort_unstable();
    times[n / 2]
}

/// The difficulty the next block on top of `view` must have (rule 5).
///
/// Only at heights that are multiples of R (and at least R) may it change: compare how long
/// the last R−1 intervals took with how long they should have taken, (R−1)·T, and move one bit
/// when they were more than twice as fast or slow. Bitcoin scales its target by the ratio
/// instead (clamped to 4×), which reacts faster but is harder to see.
pub fn expected_difficulty(view: &ChainView, params: &Params) -> u32 {
    let parent = view.tip();
    let height = parent.height + 1;
    let r = params.retarget_interval;
    if !height.is_multiple_of(r) || height < r {
        return parent.difficulty;
    }
    let ancestor = view
        .get(height - r)
        .expect("a view holds context_len headers below its branch");
    // Timestamps may step backwards a little (only the median must rise), so saturate: a
    // negative span just means "very fast".
    let span = parent.timestamp.saturating_sub(ancestor.timestamp);
    let goal = (r - 1) * params.target_block_ms;
    if span < goal / 2 {
        (parent.difficulty + 1).min(params.max_difficulty)
    } else if span > goal * 2 {
        parent
            .difficulty
            .saturating_sub(1)
            .max(params.min_difficulty)
    } else {
        parent.difficulty
    }
}

/// Checks `block` against every consensus rule, as the next block on top of `view`.
///
/// `now` is our clock in milliseconds for the future-drift rule; `None` skips that one rule
/// (when loading our own old blocks from disk). Cheap checks run first, so junk costs little:
/// the header alone (one hash), then the header against its ancestors, then the body (the
/// merkle root, the transactions, and last the signatures, most of the cost).
///
/// The node's paths run the same three halves at different times, so that the ones that need
/// no chain state run outside the chain lock: a header as it arrives, its body when it comes.
/// This function is those three calls and nothing else, so "every path runs every rule" holds
/// by construction. (Rule 7's spending half needs the coins: see the module docs.)
pub fn check_block(
    block: &Block,
    view: &ChainView,
    params: &Params,
    now: Option<u64>,
) -> Result<(), ChainError> {
    let header = block.header();
    check_header_alone(&header, params, now)?;
    check_header_in_context(&header, view, params)?;
    check_body(block, params)
}

/// A block that passed every rule it can be checked against alone: the header's
/// ([`check_header_alone`]) and the body's ([`check_body`]: sizes, merkle root, transaction
/// shapes and every signature). Only [`verify_block`] makes one (and, for the blocks this node
/// checked before it wrote them, the store's loader, see `verify_own_block`), and
/// [`Blockchain::append_verified`](crate::chain::Blockchain::append_verified) takes only this,
/// so the costly checks are sure to have run, outside the chain lock, before it is taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBlock(Block);

impl VerifiedBlock {
    /// The block.
    pub fn block(&self) -> &Block {
        &self.0
    }

    /// The block, unwrapped.
    pub fn into_inner(self) -> Block {
        self.0
    }
}

/// Checks what `block` can show alone (see [`VerifiedBlock`]); `now` as in [`check_block`].
pub fn verify_block(
    block: Block,
    params: &Params,
    now: Option<u64>,
) -> Result<VerifiedBlock, ChainError> {
    check_header_alone(&block.header(), params, now)?;
    check_body(&block, params)?;
    Ok(VerifiedBlock(block))
}

/// [`verify_block`] without the signatures, for a block this node checked in full before it
/// wrote it to its own data directory: only the store's loader may call it, and only below a
/// mark this node's key made (see `store/mark.rs`). Everything else, the proof of work, the
/// merkle root and the txids that commit to those signatures included, is checked again.
pub(crate) fn verify_own_block(block: Block, params: &Params) -> Result<VerifiedBlock, ChainError> {
    check_header_alone(&block.header(), params, None)?;
    check_body_shape(&block, params)?;
    Ok(VerifiedBlock(block))
}

/// The rules a header alone can show, with no ancestor in sight: rule 1 (version), rule 3
/// (an honest hash that meets its difficulty) and the clock half of rule 6.
pub fn check_header_alone(
    header: &Header,
    params: &Params,
    now: Option<u64>,
) -> Result<(), ChainError> {
    check_version(header)?;
    check_clock(header, params, now)?;
    check_hash(header)
}

/// The rules that need the ancestors in `view`: rule 2 (it sits on its parent), rule 5 (the
/// expected difficulty) and the median half of rule 6.
pub fn check_header_in_context(
    header: &Header,
    view: &ChainView,
    params: &Params,
) -> Result<(), ChainError> {
    check_link(header, view)?;
    check_difficulty(header, view, params)?;
    check_median(header, view)
}

/// The body: rule 4 (the data within the size limits, and the merkle root its header commits
/// to) and rule 7 as far as it needs no coins (the transactions' shapes, limits, txids and
/// signatures, the signatures on every core). Needs no ancestor, so it runs outside the chain
/// lock; the coins are checked under it, by [`UtxoView::connect`](crate::utxo::UtxoView::connect).
pub fn check_body(block: &Block, params: &Params) -> Result<(), ChainError> {
    check_body_shape(block, params)?;
    check_signatures(block)
}

/// The body without its signatures: rule 4 and rule 7's shapes and limits. A few hashes, so
/// the announce path runs it, and then the spends, before paying for any signature.
pub fn check_body_shape(block: &Block, params: &Params) -> Result<(), ChainError> {
    check_sizes(block, params)?;
    check_merkle(block)?;
    check_transactions(block, params)
}

/// Rule 7, the part that needs no coins: from height 1 a coinbase comes first and only there,
/// the block's limits hold, every transaction is well formed with its true txid, and no output
/// is spent twice in the block.
pub fn check_transactions(block: &Block, params: &Params) -> Result<(), ChainError> {
    let height = block.height;
    let count = block.transactions.len();
    if count > MAX_BLOCK_TRANSACTIONS {
        return Err(ChainError::TooManyTransactions {
            height,
            count,
            max: MAX_BLOCK_TRANSACTIONS,
        });
    }
    let in_outs = block.in_outs();
    if in_outs > MAX_BLOCK_IN_OUTS {
        return Err(ChainError::TooManyInOuts {
            height,
            count: in_outs,
            max: MAX_BLOCK_IN_OUTS,
        });
    }
    let Some((coinbase, rest)) = block.transactions.split_first() else {
        return Err(ChainError::NoCoinbase { height });
    };
    let at = |tx: &Transaction| {
        let txid = tx.txid;
        move |error| ChainError::Transaction {
            height,
            txid,
            error: Box::new(error),
        }
    };
    coinbase
        .check_coinbase(height, params.subsidy(height))
        .map_err(at(coinbase))?;
    let mut spent = HashSet::with_capacity(in_outs);
    for tx in rest {
        tx.check_alone().map_err(at(tx))?;
        for (input, i) in tx.inputs.iter().enumerate().map(|(n, i)| (n, i.outpoint())) {
            if !spent.insert(i) {
                return Err(at(tx)(TxError::SpentTwiceInBlock { input, outpoint: i }));
            }
        }
    }
    Ok(())
}

/// Rule 7's signatures: every input after the coinbase signs its txid. This is most of the
/// cost of checking a block (about 30 µs a signature), so it runs on every core: the inputs
/// are split into one run per thread, with scoped threads as the miner uses. A failure stops
/// the work after it early, and the reason is the first failing input in block order, so it
/// does not depend on which thread got there first. Bitcoin Core keeps a pool of script-check
/// threads for the same job (`-par`).
pub fn check_signatures(block: &Block) -> Result<(), ChainError> {
    check_signatures_on(block, crate::cores::count())
}

/// [`check_signatures`] with at most `cores` threads (tests pin the split on any machine).
fn check_signatures_on(block: &Block, cores: usize) -> Result<(), ChainError> {
    let jobs: Vec<(&Transaction, usize)> = block
        .transactions
        .iter()
        .skip(1)
        .flat_map(|tx| (0..tx.inputs.len()).map(move |i| (tx, i)))
        .collect();
    let check = |(tx, i): &(&Transaction, usize)| {
        tx.check_signature(*i)
            .map_err(|error| ChainError::Transaction {
                height: block.height,
                txid: tx.txid,
                error: Box::new(error),
            })
    };
    let threads = (jobs.len() / MIN_SIGNATURES_PER_THREAD).min(cores);
    if threads <= 1 {
        return jobs.iter().try_for_each(check);
    }
    // The lowest failing job found so far: runs skip every job after it, but still check the
    // ones before it, so the reported failure is the first in block order whatever the timing.
    let first_failure = AtomicUsize::new(usize::MAX);
    let per_thread = jobs.len().div_ceil(threads);
    let failures: Vec<(usize, ChainError)> = std::thread::scope(|scope| {
        let runs: Vec<_> = jobs
            .chunks(per_thread)
            .enumerate()
            .map(|(n, run)| {
                let (first_failure, check) = (&first_failure, &check);
                scope.spawn(move || {
                    for (k, job) in run.iter().enumerate() {
                        let index = n * per_thread + k;
                        if index > first_failure.load(Ordering::Relaxed) {
                            return None;
                        }
                        if let Err(e) = check(job) {
                            first_failure.fetch_min(index, Ordering::Relaxed);
                            return Some((index, e));
                        }
                    }
                    None
                })
            })
            .collect();
        runs.into_iter()
            .filter_map(|run| run.join().expect("signature checks do not panic"))
            .collect()
    });
    match failures.into_iter().min_by_key(|(index, _)| *index) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// [`check_body`] for a run of blocks, on every core, a block per job: what a batch of a
/// catch-up needs. Checking the blocks one after the other, each with its signatures split
/// over the cores, left a core idle through each block's shapes and merkle root and at each
/// block's end. Returns the first failing block in order (its index in `blocks` and why),
/// whatever the timing; every block before it was checked and passed.
pub fn check_bodies(blocks: &[Block], params: &Params) -> Result<(), (usize, ChainError)> {
    let cores = crate::cores::count();
    if blocks.len() < 2 || cores < 2 {
        return blocks
            .iter()
            .enumerate()
            .try_for_each(|(i, block)| check_body(block, params).map_err(|e| (i, e)));
    }
    // Jobs are handed out in order; the lowest failure found so far stops the hand-out
    // after it, and every block before it is still checked by whoever took it.
    let next = AtomicUsize::new(0);
    let first_failure = AtomicUsize::new(usize::MAX);
    let failures: Vec<(usize, ChainError)> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..cores.min(blocks.len()))
            .map(|_| {
                let (next, first_failure) = (&next, &first_failure);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= blocks.len() || i > first_failure.load(Ordering::Relaxed) {
                        return None;
                    }
                    let block = &blocks[i];
                    let checked = check_body_shape(block, params)
                        .and_then(|()| check_signatures_on(block, 1));
                    if let Err(e) = checked {
                        first_failure.fetch_min(i, Ordering::Relaxed);
                        return Some((i, e));
                    }
                })
            })
            .collect();
        runs.into_iter()
            .filter_map(|run| run.join().expect("body checks do not panic"))
            .collect()
    });
    match failures.into_iter().min_by_key(|(i, _)| *i) {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// Rule 1: version.
fn check_version(header: &Header) -> Result<(), ChainError> {
    if header.version != 1 {
        return Err(ChainError::BadVersion {
            height: header.height,
            version: header.version,
        });
    }
    Ok(())
}

/// Rule 2: it sits on its parent.
fn check_link(header: &Header, view: &ChainView) -> Result<(), ChainError> {
    let (height, parent) = (header.height, view.tip());
    if height != parent.height + 1 {
        return Err(ChainError::BadHeight {
            height,
            expected: parent.height + 1,
        });
    }
    if header.previous_hash != parent.hash {
        return Err(ChainError::BadPreviousHash {
            height,
            previous_hash: header.previous_hash,
            expected: parent.hash,
        });
    }
    Ok(())
}

/// Rule 4, the size half: before any hashing of data.
fn check_sizes(block: &Block, params: &Params) -> Result<(), ChainError> {
    let height = block.height;
    if block.data.len() > params.max_data_items {
        return Err(ChainError::TooManyItems {
            height,
            count: block.data.len(),
            max: params.max_data_items,
        });
    }
    let bytes = block.data_bytes();
    if bytes > params.max_data_bytes {
        return Err(ChainError::TooManyBytes {
            height,
            bytes,
            max: params.max_data_bytes,
        });
    }
    Ok(())
}

/// Rule 5: difficulty follows the retarget rule.
fn check_difficulty(header: &Header, view: &ChainView, params: &Params) -> Result<(), ChainError> {
    let expected = expected_difficulty(view, params);
    if header.difficulty != expected {
        return Err(ChainError::BadDifficulty {
            height: header.height,
            difficulty: header.difficulty,
            expected,
        });
    }
    Ok(())
}

/// Rule 6, first half: time moves forward, by the median.
fn check_median(header: &Header, view: &ChainView) -> Result<(), ChainError> {
    let median = median_time_past(view);
    if header.timestamp <= median {
        return Err(ChainError::TimestampNotAfterMedian {
            height: header.height,
            timestamp: header.timestamp,
            median,
        });
    }
    Ok(())
}

/// Rule 6, second half: not too far past our clock (skipped when `now` is `None`).
fn check_clock(header: &Header, params: &Params, now: Option<u64>) -> Result<(), ChainError> {
    if let Some(now) = now {
        let max = now.saturating_add(params.max_future_drift_ms);
        if header.timestamp > max {
            return Err(ChainError::TimestampTooFarAhead {
                height: header.height,
                timestamp: header.timestamp,
                max,
            });
        }
    }
    Ok(())
}

/// Rule 3: the hash is honest and meets the difficulty.
fn check_hash(header: &Header) -> Result<(), ChainError> {
    let computed = header.compute_hash();
    if header.hash != computed {
        return Err(ChainError::BadHash {
            height: header.height,
            claimed: header.hash,
            computed,
        });
    }
    if !meets_difficulty(&header.hash, header.difficulty) {
        return Err(ChainError::InsufficientWork {
            height: header.height,
            hash: header.hash,
            difficulty: header.difficulty,
        });
    }
    Ok(())
}

/// Rule 4, the commitment half: the merkle root matches the data and the txids.
fn check_merkle(block: &Block) -> Result<(), ChainError> {
    let computed = block.compute_merkle_root();
    if block.merkle_root != computed {
        return Err(ChainError::BadMerkleRoot {
            height: block.height,
            claimed: block.merkle_root,
            computed,
        });
    }
    Ok(())
}

/// Milliseconds since the Unix epoch by the local clock (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::SecretKey;
    use crate::transaction::{OutPoint, Output, Transaction};

    /// A block of 32 transactions of two inputs each (64 signatures), every one valid, after
    /// a coinbase: enough to split across threads.
    fn signed_block() -> Block {
        let key = SecretKey::from_bytes(&[7; 32]).expect("a valid key");
        let address = crate::transaction::Address::of(&key.public_key());
        let mut transactions = vec![Transaction::coinbase(1, vec![])];
        for n in 1..=32u8 {
            // (From 1: an input of txid zero would be a coinbase's.)
            let spends = [0, 1].map(|index| OutPoint {
                txid: Hash([n; 32]),
                index,
            });
            let mut tx = Transaction::new(&spends, vec![Output { address, amount: 1 }]);
            tx.sign(&key);
            transactions.push(tx);
        }
        Block::new(1, 0, Hash::ZERO, 0, 0, vec![], transactions)
    }

    /// Breaks signature job `job` (the inputs after the coinbase, in block order) by giving it
    /// another transaction's signature: well formed, but not of this txid.
    fn break_job(block: &mut Block, job: usize) {
        let other = block.transactions[1 + (job / 2 + 1) % 32].inputs[0]
            .signature
            .clone();
        block.transactions[1 + job / 2].inputs[job % 2].signature = other;
    }

    /// The txid and input of the failure a check reports.
    fn failure(block: &Block, cores: usize) -> Option<(Hash, usize)> {
        match check_signatures_on(block, cores) {
            Ok(()) => None,
            Err(ChainError::Transaction { txid, error, .. }) => match *error {
                TxError::BadSignature { input } => Some((txid, input)),
                other => panic!("not a bad signature: {other}"),
            },
            Err(other) => panic!("not a transaction error: {other}"),
        }
    }

    fn job(block: &Block, job: usize) -> Option<(Hash, usize)> {
        Some((block.transactions[1 + job / 2].txid, job % 2))
    }

    /// `check_block` is the three halves: it passes a valid block, and refuses a block that
    /// breaks a rule of each half with that half's reason.
    #[test]
    fn check_block_is_the_three_halves() {
        use crate::chain::Blockchain;
        use crate::params::Network;
        let mut chain = Blockchain::new(Network::Regtest);
        let spacing = chain.params().target_block_ms;
        crate::testing::mine_blocks(&mut chain, 3, spacing, "halves");
        let params = chain.params();
        let block = chain.block(3).unwrap().clone();
        let headers = chain.headers();
        let view = ChainView::new(&headers[..3], &[]);
        assert_eq!(check_block(&block, &view, params, None), Ok(()));
        let mut forged = block.clone();
        forged.nonce += 1; // alone: the hash no longer matches
        assert!(matches!(
            check_block(&forged, &view, params, None),
            Err(ChainError::BadHash { .. })
        ));
        let wrong_parent = ChainView::new(&headers[..2], &[]); // in context: not its parent
        assert!(matches!(
            check_block(&block, &wrong_parent, params, None),
            Err(ChainError::BadHeight { .. })
        ));
        let mut body = block.clone();
        body.data.push("not committed".into()); // the body: the merkle root
        assert!(matches!(
            check_block(&body, &view, params, None),
            Err(ChainError::BadMerkleRoot { .. })
        ));
    }

    /// Split across 1, 2, 3 or 4 threads, a bad signature is found wherever it is: first, at
    /// the end or the start of a thread's run, in the middle, last.
    #[test]
    fn a_bad_signature_is_found_in_every_run() {
        let good = signed_block();
        for cores in 1..=4 {
            assert_eq!(failure(&good, cores), None, "{cores} threads");
            for bad in [0, 15, 16, 21, 22, 31, 32, 33, 47, 48, 63] {
                let mut block = good.clone();
                break_job(&mut block, bad);
                assert_eq!(
                    failure(&block, cores),
                    job(&block, bad),
                    "job {bad} on {cores} threads"
                );
            }
        }
    }

    /// A batch checked on every core reports its first bad block in order, whatever the
    /// timing: here a bad signature in block 2 and in block 4, and a bad merkle root in block 5
    /// of 7 (each block's merkle root recomputed where only its signature is broken, so the
    /// signature is what fails).
    #[test]
    fn a_batch_reports_its_first_bad_block() {
        let params = crate::params::Network::Regtest.params();
        let mut good = signed_block();
        // A coinbase that pays something, as rule 7 wants of a whole body.
        let key = SecretKey::from_bytes(&[7; 32]).expect("a valid key");
        let address = crate::transaction::Address::of(&key.public_key());
        good.transactions[0] = Transaction::coinbase(1, vec![Output { address, amount: 1 }]);
        good.merkle_root = good.compute_merkle_root();
        let mut blocks = vec![good; 7];
        assert_eq!(check_bodies(&blocks, params), Ok(()));
        for (i, bad_job) in [(2, 40), (4, 3)] {
            break_job(&mut blocks[i], bad_job);
            blocks[i].merkle_root = blocks[i].compute_merkle_root();
        }
        blocks[5].data.push("not committed".into());
        for _ in 0..20 {
            let (index, error) = check_bodies(&blocks, params).expect_err("bad blocks");
            assert_eq!(index, 2);
            match error {
                ChainError::Transaction { txid, error, .. } => {
                    assert_eq!(Some((txid, 0)), job(&blocks[2], 40));
                    assert!(matches!(*error, TxError::BadSignature { input: 0 }));
                }
                other => panic!("not the signature of block 2: {other}"),
            }
        }
        assert!(matches!(
            check_bodies(&blocks[5..], params),
            Err((0, ChainError::BadMerkleRoot { .. }))
        ));
    }

    /// With several bad signatures in different threads' runs, the one reported is the first
    /// in block order, whichever thread finds its own first.
    #[test]
    fn the_first_bad_signature_in_block_order_is_reported() {
        for bads in [
            [5, 40, 60],
            [31, 32, 63],
            [17, 50, 33],
            [62, 63, 61],
            [48, 16, 32],
        ] {
            let mut block = signed_block();
            for bad in bads {
                break_job(&mut block, bad);
            }
            let first = *bads.iter().min().expect("three");
            for cores in 1..=4 {
                assert_eq!(
                    failure(&block, cores),
                    job(&block, first),
                    "bad jobs {bads:?} on {cores} threads"
                );
            }
        }
    }
}
