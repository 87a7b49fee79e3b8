//! A selfish pool's mind (Eyal and Sirer 2014, Algorithm 1), around an unmodified node.
//!
//! The pool's node mines and follows the most-work chain like any node; its [`Gate`] keeps the
//! blocks it mines from leaving it. This module decides when to let them out, each time the
//! pool's node first hears of an honest block, from how far the pool was ahead before it:
//!
//! | pool's lead before | what the pool does | why |
//! |---|---|---|
//! | 0 | nothing; its node switches to the honest block by itself | it has nothing to race with |
//! | 1 | publishes its block: a tie | a part γ of the honest miners may build on it |
//! | 2 | publishes both: its branch wins outright | one ahead is too close to keep |
//! | more | publishes up to the honest block's height | keeps the honest miners racing a tie while it stays ahead |
//!
//! And when the pool finds a block during a tie, it publishes it at once: its branch wins.
//!
//! [`Gate`]: crate::lab::link::Gate

use crate::block::Block;
use crate::hash::Hash;
use crate::lab::net::Net;

/// The pool's state between events.
#[derive(Debug, Default)]
pub struct Pool {
    /// The member that is the pool.
    pub member: usize,
    /// Its blocks not yet published, lowest first.
    withheld: Vec<Block>,
    /// Honest blocks the pool has not heard of yet: (hash, height).
    pending: Vec<(Hash, u64)>,
    /// The tie in progress: the pool's block and the honest one at the same height.
    tie: Option<(Hash, Hash, u64)>,
    /// Ties where the next honest block built on the pool's block / on the honest one.
    pub gamma_hits: usize,
    /// See `gamma_hits`.
    pub gamma_misses: usize,
    /// Blocks published so far.
    pub published: usize,
}

impl Pool {
    /// A pool around member `member`, which from now holds back every block it mines.
    pub fn new(net: &Net, member: usize) -> Pool {
        if let Some(gate) = &net.members[member].gate {
            let height = net.node(member).map(|n| n.summary().height).unwrap_or(0);
            gate.hold_above(height);
        }
        Pool {
            member,
            ..Pool::default()
        }
    }

    /// The pool found `block`.
    pub fn mined(&mut self, net: &Net, block: Block) {
        let tie = self.tie.take();
        self.withheld.push(block);
        if tie.is_some() {
            // Won the tie: the new block on top of its own settles it.
            self.publish_all(net);
        }
    }

    /// An honest miner found `block`.
    pub fn honest_found(&mut self, block: &Block) {
        if let Some((ours, theirs, height)) = self.tie {
            if block.height == height + 1 {
                if block.previous_hash == ours {
                    self.gamma_hits += 1;
                } else if block.previous_hash == theirs {
                    self.gamma_misses += 1;
                }
                self.tie = None;
            }
        }
        self.pending.push((block.hash, block.height));
    }

    /// Acts on honest blocks the pool's node has heard of since the last call.
    pub fn poll(&mut self, net: &Net) {
        let Some(node) = net.node(self.member) else {
            return;
        };
        let heard: Vec<(Hash, u64)> = self
            .pending
            .iter()
            .filter(|(h, _)| node.first_seen(h).is_some())
            .copied()
            .collect();
        self.pending.retain(|p| !heard.contains(p));
        for (hash, height) in heard {
            self.heard(net, hash, height);
        }
    }

    fn heard(&mut self, net: &Net, hash: Hash, height: u64) {
        let Some(top) = self.withheld.last().map(|b| b.height) else {
            return; // lead 0: its node adopts the honest block on its own
        };
        if height > top {
            // The honest chain got ahead before the pool acted: its node adopts it.
            self.withheld.clear();
            return;
        }
        let lead_before = top + 1 - height;
        match lead_before {
            1 => {
                let ours = self.withheld[self.withheld.len() - 1].hash;
                self.publish_all(net);
                self.tie = Some((ours, hash, height));
            }
            2 => self.publish_all(net),
            _ => {
                let upto = self
                    .withheld
                    .iter()
                    .take_while(|b| b.height <= height)
                    .count();
                self.publish(net, upto);
            }
        }
    }

    /// Publishes every withheld block (at the end of a run, too).
    pub fn publish_all(&mut self, net: &Net) {
        let all = self.withheld.len();
        self.publish(net, all);
    }

    fn publish(&mut self, net: &Net, count: usize) {
        if count == 0 {
            return;
        }
        let released: Vec<Block> = self.withheld.drain(..count).collect();
        if let Some(gate) = &net.members[self.member].gate {
            gate.publish(released.iter().map(|b| b.hash));
        }
        if let Some(last) = released.last() {
            net.announce(self.member, last);
        }
        self.published += released.len();
    }

    /// The measured γ: the part of ties in which the next honest block built on the pool's.
    pub fn gamma(&self) -> Option<f64> {
        let ties = self.gamma_hits + self.gamma_misses;
        (ties > 0).then(|| self.gamma_hits as f64 / ties as f64)
    }
}
