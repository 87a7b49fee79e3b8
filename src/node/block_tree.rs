//! The block tree: the blocks and headers this node has seen near its tip, on its chain or not,
//! and who gave each one. What `tree` and `GET /api/tree` draw.
//!
//! The active chain knows only the winning branch. Forks, races and reorganizations leave a
//! log line and vanish from it: the block that lost a race, the branch a peer offered that
//! never won, the block a peer sent that broke a rule. This tree keeps them, in memory, so a
//! classroom can see which node is on which branch and which block lost.
//!
//! An entry's status is worked out when the tree is read, against the chain at that moment:
//! **active** if the chain holds it; otherwise **invalid** if it broke a rule, **stale** if it
//! was on our chain once (a reorganization took it off), **side** if it never was (headers of
//! a branch a peer offered, a block that lost a race before we took it).
//!
//! Bounded: entries more than [`KEEP_DEPTH`] below the tip are pruned (by a sweep every 64
//! blocks, so a few dozen more heights may be held for a moment), and at most
//! [`MAX_OFF_CHAIN`] entries are kept that were never on our chain, the oldest going first, so
//! a peer feeding endless side headers cannot grow it. Nothing is written to disk: after a
//! restart the tree is the active chain alone. Bitcoin Core's block index keeps every header it
//! ever accepted, on disk, with a status per block much like this one.

use crate::block::Header;
use crate::hash::Hash;
use std::collections::{HashMap, VecDeque};

/// Entries this far below the tip are pruned.
pub const KEEP_DEPTH: u64 = 1_000;

/// At most this many entries that were never on our chain.
pub const MAX_OFF_CHAIN: usize = 10_000;

/// One block (or header) of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Its hash.
    pub hash: Hash,
    /// Its parent's hash.
    pub parent: Hash,
    /// Its height.
    pub height: u64,
    /// Its difficulty (its work is 2^difficulty).
    pub difficulty: u32,
    /// When we first saw it, in ms since 1970.
    pub first_seen_ms: u64,
    /// Who gave it: a peer's address and node id, or "this node" (mined or submitted here).
    pub source: String,
    /// Was it ever on our active chain?
    pub was_active: bool,
    /// The rule it broke, if it broke one.
    pub invalid: Option<String>,
}

/// An entry's place, against the chain at the moment it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// On our active chain.
    Active,
    /// Was on our chain; a reorganization took it off.
    Stale,
    /// Never on our chain: a branch a peer offered, a block that lost a race.
    Side,
    /// It broke this rule.
    Invalid(String),
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Active => write!(f, "active"),
            Status::Stale => write!(f, "stale"),
            Status::Side => write!(f, "side"),
            Status::Invalid(rule) => write!(f, "invalid: {rule}"),
        }
    }
}

impl TreeEntry {
    /// Its status, given whether our active chain holds it.
    pub fn status(&self, on_chain: bool) -> Status {
        match (&self.invalid, on_chain) {
            (_, true) => Status::Active,
            (Some(rule), false) => Status::Invalid(rule.clone()),
            (None, false) if self.was_active => Status::Stale,
            (None, false) => Status::Side,
        }
    }
}

/// The tree. Its owner holds it under a lock of its own (a leaf lock).
#[derive(Debug, Default)]
pub struct BlockTree {
    entries: HashMap<Hash, TreeEntry>,
    /// Entries never on our chain, oldest first: the first to go past [`MAX_OFF_CHAIN`].
    off_chain: VecDeque<Hash>,
}

impl BlockTree {
    /// Notes `header`, from `source` at `now_ms`; `active` if it just joined our chain.
    /// A header seen before keeps its first sighting and source; it only gains `active`.
    pub fn saw(&mut self, header: &Header, source: &str, now_ms: u64, active: bool) {
        if let Some(entry) = self.entries.get_mut(&header.hash) {
            entry.was_active |= active;
            return;
        }
        self.entries.insert(
            header.hash,
            TreeEntry {
                hash: header.hash,
                parent: header.previous_hash,
                height: header.height,
                difficulty: header.difficulty,
                first_seen_ms: now_ms,
                source: source.to_string(),
                was_active: active,
                invalid: None,
            },
        );
        if !active {
            self.off_chain.push_back(header.hash);
            while self.off_chain.len() > MAX_OFF_CHAIN {
                if let Some(oldest) = self.off_chain.pop_front() {
                    if self.entries.get(&oldest).is_some_and(|e| !e.was_active) {
                        self.entries.remove(&oldest);
                    }
                }
            }
        }
    }

    /// When `hash` was first seen, if the tree holds it.
    pub fn first_seen(&self, hash: &Hash) -> Option<u64> {
        self.entries.get(hash).map(|e| e.first_seen_ms)
    }

    /// Notes `header`, from `source`, as a block that broke `rule`.
    pub fn refused(&mut self, header: &Header, source: &str, now_ms: u64, rule: &str) {
        self.saw(header, source, now_ms, false);
        if let Some(entry) = self.entries.get_mut(&header.hash) {
            entry.invalid = Some(rule.to_string());
        }
    }

    /// Forgets entries more than [`KEEP_DEPTH`] below `tip_height`.
    pub fn prune(&mut self, tip_height: u64) {
        let lowest = tip_height.saturating_sub(KEEP_DEPTH);
        self.entries.retain(|_, e| e.height >= lowest);
        let entries = &self.entries;
        self.off_chain.retain(|h| entries.contains_key(h));
    }

    /// The entries at heights `from` and above, lowest first.
    pub fn above(&self, from: u64) -> Vec<TreeEntry> {
        let mut found: Vec<TreeEntry> = self
            .entries
            .values()
            .filter(|e| e.height >= from)
            .cloned()
            .collect();
        found.sort_by_key(|e| (e.height, e.first_seen_ms));
        found
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(height: u64, tag: u8, parent: Hash) -> Header {
        Header {
            version: 1,
            height,
            timestamp: 0,
            previous_hash: parent,
            merkle_root: Hash([0; 32]),
            difficulty: 1,
            nonce: 0,
            hash: Hash([tag; 32]),
        }
    }

    /// Status follows the chain: on it, active; off it, stale if it was on it, side if never,
    /// invalid with its rule if refused.
    #[test]
    fn statuses() {
        let mut tree = BlockTree::default();
        let genesis = Hash([0; 32]);
        tree.saw(&header(1, 1, genesis), "mined here", 10, true);
        tree.saw(&header(1, 2, genesis), "peer b", 11, false);
        tree.refused(&header(1, 3, genesis), "peer c", 12, "rule 5");
        let entries = tree.above(0);
        let status = |tag: u8, on_chain: bool| {
            let entry = entries.iter().find(|e| e.hash == Hash([tag; 32])).unwrap();
            entry.status(on_chain)
        };
        assert_eq!(status(1, true), Status::Active);
        assert_eq!(status(1, false), Status::Stale);
        assert_eq!(status(2, false), Status::Side);
        assert_eq!(status(2, true), Status::Active);
        assert_eq!(status(3, false), Status::Invalid("rule 5".into()));
        assert_eq!(entries[0].source, "mined here");
    }

    /// A peer feeding 20 000 side headers leaves at most 10 000 of them; entries that were on
    /// our chain are never pushed out by them; pruning keeps the last 1 000 heights.
    #[test]
    fn the_tree_is_bounded() {
        let mut tree = BlockTree::default();
        let mut ours = Hash([0; 32]);
        for h in 1..=5u64 {
            let mut header = header(h, 0, ours);
            header.hash = Hash([h as u8; 32]);
            tree.saw(&header, "mined here", h, true);
            ours = header.hash;
        }
        for i in 0..20_000u32 {
            let mut side = header(6, 0, ours);
            side.hash.0[..4].copy_from_slice(&i.to_be_bytes());
            side.hash.0[31] = 0xff;
            tree.saw(&side, "flooder", 100, false);
        }
        assert_eq!(tree.len(), 5 + MAX_OFF_CHAIN);
        assert!(tree.above(0).iter().filter(|e| e.was_active).count() == 5);
        tree.prune(1 + KEEP_DEPTH);
        assert_eq!(tree.len(), 5 + MAX_OFF_CHAIN, "all within 1 000 of the tip");
        tree.prune(7 + KEEP_DEPTH);
        assert_eq!(tree.len(), 0);
        assert!(tree.is_empty());
    }
}
