//! The consensus rules: what makes a block valid on top of its ancestors.
//!
//! One function, [`check_block`], holds every rule, and every path that takes in a block runs
//! it: appending to the tip, evaluating a branch from a peer, and loading from disk. The seed
//! this project grew from checked validity in one place and forgot to in another; a real node
//! cannot afford two definitions of "valid".
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
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// How many recent blocks the median time past looks at (as Bitcoin).
pub const MEDIAN_TIME_SPAN: usize = 11;

/// Why a block or a branch was refused. Each consensus rule has its own variants, and every
/// message names the block height, the rule and the values involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// Rule 1: the version is not 1.
    BadVersion { height: u64, version: u32 },
    /// Rule 2: the height is not the parent's plus one.
    BadHeight { height: u64, expected: u64 },
    /// Rule 2: `previous_hash` is not the parent's hash.
    BadPreviousHash {
        height: u64,
        previous_hash: Hash,
        expected: Hash,
    },
    /// Rule 3: `hash` is not SHA-256 of the header bytes.
    BadHash {
        height: u64,
        claimed: Hash,
        computed: Hash,
    },
    /// Rule 3: the hash does not have `difficulty` leading zero bits.
    InsufficientWork {
        height: u64,
        hash: Hash,
        difficulty: u32,
    },
    /// Rule 4: `merkle_root` does not match the data.
    BadMerkleRoot {
        height: u64,
        claimed: Hash,
        computed: Hash,
    },
    /// Rule 4: more data items than a block may carry.
    TooManyItems {
        height: u64,
        count: usize,
        max: usize,
    },
    /// Rule 4: more data bytes than a block may carry.
    TooManyBytes {
        height: u64,
        bytes: usize,
        max: usize,
    },
    /// Rule 5: the difficulty is not what the retarget rule expects.
    BadDifficulty {
        height: u64,
        difficulty: u32,
        expected: u32,
    },
    /// Rule 6: the timestamp is not after the median time past of the parent.
    TimestampNotAfterMedian {
        height: u64,
        timestamp: u64,
        median: u64,
    },
    /// Rule 6: the timestamp is too far ahead of our clock.
    TimestampTooFarAhead {
        height: u64,
        timestamp: u64,
        max: u64,
    },
    /// A branch whose first new block's parent is not on our chain.
    UnknownParent { height: u64, previous_hash: Hash },
    /// A chain whose first block is not this network's genesis.
    WrongGenesis { found: Hash, expected: Hash },
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
                "block {height}: merkle_root {claimed} does not match its data, {computed} (rule 4)"
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
/// (when loading our own old blocks from disk). Cheap checks run first, so junk costs little.
///
/// Sync checks the same rules in two halves, so the half that needs no chain state runs
/// outside the chain lock: [`check_header_alone`] and [`check_header_in_context`] on a header,
/// then [`check_body`] on its block. Together they are exactly this function.
pub fn check_block(
    block: &Block,
    view: &ChainView,
    params: &Params,
    now: Option<u64>,
) -> Result<(), ChainError> {
    let header = block.header();
    check_version(&header)?;
    check_link(&header, view)?;
    check_sizes(block, params)?;
    check_difficulty(&header, view, params)?;
    check_median(&header, view)?;
    check_clock(&header, params, now)?;
    check_hash(&header)?;
    check_merkle(block)
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

/// Rule 4, the body: the data within the size limits, and the merkle root its header commits
/// to. Needs no ancestor.
pub fn check_body(block: &Block, params: &Params) -> Result<(), ChainError> {
    check_sizes(block, params)?;
    check_merkle(block)
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

/// Rule 4, the commitment half: the merkle root matches the data.
fn check_merkle(block: &Block) -> Result<(), ChainError> {
    let computed = crate::merkle::merkle_root(&block.data);
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
