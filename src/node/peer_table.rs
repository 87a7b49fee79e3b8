//! The peer table: every open connection, its writer, and the rules for who may stay.
//!
//! Three rules keep one bad peer, or a crowd of them, from pushing honest peers out:
//!
//! - **Handshakes have their own slots.** At most `max_handshakes` inbound connections may be
//!   waiting for their `hello` (each has `handshake_timeout` to finish). A new connection past
//!   that pushes out the one that has waited longest. A crowd of connections that send a byte a
//!   second therefore churns through those slots, while an honest node, whose `hello` arrives
//!   within a round trip, gets through. They never touch the `max_peers` slots of real peers.
//! - **A full table evicts, it does not refuse.** When an inbound peer completes its handshake
//!   and all `max_peers` slots are taken, the table looks for an inbound peer to evict, as
//!   Bitcoin Core does: outbound peers are protected (we chose them), and so are the
//!   [`PROTECT_BLOCK_GIVERS`] peers that most recently gave us a new block and the
//!   [`PROTECT_LONGEST`] longest-connected ones. Of the rest, the one we heard from least
//!   recently goes. Only when every slot is protected is the newcomer told "too many peers".
//!   We do not cap connections per IP address, which Bitcoin Core does by network group: a
//!   classroom runs many honest nodes on one loopback address, and such a cap would break its
//!   demos.
//! - **A duplicate does not evict a working link.** Two nodes that dial each other at the same
//!   moment end up with two links, and both sides must drop the same one: the link dialed by
//!   the node with the smaller id stays. Ids are proven in the handshake (see
//!   [`identity`](crate::identity)), so only the node itself can make a second link under its
//!   id; even so the rule applies only when both links come from the same IP address and
//!   finished their handshakes within `duplicate_window` of each other, as a simultaneous dial
//!   does. Otherwise the established link stays and the newcomer is refused.
//!
//! See `tutorial/10-relay-and-discovery.md` and `tutorial/11-defending-the-node.md`.

use crate::hash::Hash;
use crate::node::connection::MessageWriter;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many of the peers that most recently gave us a new block are never evicted.
pub const PROTECT_BLOCK_GIVERS: usize = 4;
/// How many of the longest-connected peers are never evicted.
pub const PROTECT_LONGEST: usize = 4;

/// A connected peer, as `peers` on the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The socket's remote address.
    pub addr: SocketAddr,
    /// The id from its `hello`.
    pub node_id: String,
    /// Where it accepts connections: its socket's host with its `listen_port`.
    pub listen_addr: Option<SocketAddr>,
    /// Did we dial it (rather than it us)?
    pub outbound: bool,
    /// The best block it has shown us, if any.
    pub tip: Option<PeerTip>,
    /// Where that block stands against our chain (filled in by [`crate::Node::peers`]).
    pub standing: Standing,
}

/// The best block a peer has shown us: its `block` announcements, its answers to
/// `latest_block`, the last of the `headers` it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTip {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: Hash,
    /// The last height its chain shares with ours, when we know it: the parent of a block or
    /// of the first header it sent, found on our chain.
    pub fork: Option<u64>,
}

/// Where a peer's tip stands against our chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// It has shown us no block yet.
    Unknown,
    /// Its tip is ours.
    SameTip,
    /// Its tip is on our chain, this many blocks below our tip.
    Behind(u64),
    /// Its tip extends our chain by this many blocks: we will catch up.
    Ahead(u64),
    /// Its chain left ours after this height (the last one both share).
    Fork {
        /// The last height both chains share.
        since: u64,
    },
    /// Its tip is not on our chain, and where it left ours is not known yet.
    Elsewhere,
}

impl std::fmt::Display for Standing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Standing::Unknown => write!(f, "tip not known yet"),
            Standing::SameTip => write!(f, "same tip"),
            Standing::Behind(n) => write!(f, "behind by {n}"),
            Standing::Ahead(n) => write!(f, "ahead by {n}"),
            Standing::Fork { since } => write!(f, "on a fork since height {since}"),
            Standing::Elsewhere => write!(f, "on another branch"),
        }
    }
}

impl Standing {
    /// Where `tip` stands against a chain whose tip is `our_tip` at `our_height`; `height_of`
    /// finds a hash on that chain.
    pub fn of(
        tip: Option<&PeerTip>,
        our_tip: &Hash,
        our_height: u64,
        height_of: impl Fn(&Hash) -> Option<u64>,
    ) -> Standing {
        let Some(tip) = tip else {
            return Standing::Unknown;
        };
        if tip.hash == *our_tip {
            return Standing::SameTip;
        }
        if let Some(height) = height_of(&tip.hash) {
            return Standing::Behind(our_height.saturating_sub(height));
        }
        match tip.fork {
            Some(fork) if fork >= our_height => {
                Standing::Ahead(tip.height.saturating_sub(our_height))
            }
            Some(fork) => Standing::Fork { since: fork },
            None => Standing::Elsewhere,
        }
    }
}

/// What a finished handshake told us.
struct Handshaken {
    node_id: String,
    listen: Option<SocketAddr>,
    at: Instant,
}

/// One connection in the table.
struct Slot {
    writer: Arc<MessageWriter>,
    /// For outbound connections: the address we dialed.
    dialed: Option<SocketAddr>,
    opened: Instant,
    /// Filled in once the handshake is done.
    hello: Option<Handshaken>,
    /// When its last complete message arrived.
    last_heard: Instant,
    /// When it last gave us a block that moved our tip.
    last_block: Option<Instant>,
    /// The best block it has shown us.
    tip: Option<PeerTip>,
}

impl Slot {
    fn outbound(&self) -> bool {
        self.dialed.is_some()
    }
}

/// The limits the table enforces (from the node's `Config`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Handshaken connections.
    pub max_peers: usize,
    /// Inbound connections still in their handshake.
    pub max_handshakes: usize,
    /// How close two handshakes must be to count as a simultaneous dial.
    pub duplicate_window: Duration,
}

/// Why a handshake was not accepted into the table; the string is the reason for `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// Every connection of a node. Each method takes the lock briefly and does no I/O: writers to
/// close are handed back to the caller, which closes them after the lock is released.
pub struct PeerTable {
    slots: Mutex<HashMap<u64, Slot>>,
    next_id: Mutex<u64>,
    limits: Limits,
    /// Our own node id, for the simultaneous-dial rule.
    our_id: String,
}

impl PeerTable {
    /// An empty table.
    pub fn new(limits: Limits, our_id: String) -> Self {
        PeerTable {
            slots: Mutex::new(HashMap::new()),
            next_id: Mutex::new(1),
            limits,
            our_id,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a new connection (`dialed` says where we dialed it, for an outbound one) and
    /// returns its id. An inbound connection past `max_handshakes` pushes out the one that has
    /// waited longest for its hello: that one's writer is returned, to be closed.
    pub fn admit(
        &self,
        writer: Arc<MessageWriter>,
        dialed: Option<SocketAddr>,
        now: Instant,
    ) -> (u64, Option<Arc<MessageWriter>>) {
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let mut slots = self.lock();
        let mut pushed_out = None;
        if dialed.is_none() {
            let waiting = slots
                .iter()
                .filter(|(_, s)| s.hello.is_none() && !s.outbound());
            if waiting.clone().count() >= self.limits.max_handshakes {
                let oldest = waiting.min_by_key(|(_, s)| s.opened).map(|(id, _)| *id);
                pushed_out = oldest.and_then(|old| slots.remove(&old)).map(|s| s.writer);
            }
        }
        let slot = Slot {
            writer,
            dialed,
            opened: now,
            hello: None,
            last_heard: now,
            last_block: None,
            tip: None,
        };
        slots.insert(id, slot);
        (id, pushed_out)
    }

    /// Records connection `id`'s handshake with node `node_id`, which listens on `listen`.
    /// On success, returns the writer of a connection that had to make room (a peer evicted
    /// for this one, or the losing link of a simultaneous dial), to be closed.
    pub fn complete_handshake(
        &self,
        id: u64,
        node_id: &str,
        listen: Option<SocketAddr>,
        now: Instant,
    ) -> Result<Option<Arc<MessageWriter>>, Refused> {
        let mut slots = self.lock();
        let Some(new) = slots.get(&id) else {
            return Err(Refused("connection already closed".into()));
        };
        let (new_ip, new_outbound) = (new.writer.addr.ip(), new.outbound());
        let mut make_room = None;
        let existing = slots.iter().find(|(other, s)| {
            **other != id && s.hello.as_ref().is_some_and(|h| h.node_id == node_id)
        });
        if let Some((&old_id, old)) = existing {
            let old_at = old.hello.as_ref().map_or(now, |h| h.at);
            let simultaneous = now.saturating_duration_since(old_at)
                <= self.limits.duplicate_window
                && old.writer.addr.ip() == new_ip
                && old.outbound() != new_outbound;
            // Of two simultaneous links, keep the one dialed by the node with the smaller id.
            let keep_new = simultaneous && new_outbound == (self.our_id.as_str() < node_id);
            if !keep_new {
                return Err(Refused(format!("already connected to node {node_id}")));
            }
            make_room = slots.remove(&old_id).map(|s| s.writer);
        }
        let handshaken = slots.values().filter(|s| s.hello.is_some()).count();
        if make_room.is_none() && handshaken >= self.limits.max_peers {
            let victim = if new_outbound {
                None
            } else {
                eviction_candidate(&slots)
            };
            let Some(victim) = victim else {
                return Err(Refused("too many peers".into()));
            };
            make_room = slots.remove(&victim).map(|s| s.writer);
        }
        if let Some(slot) = slots.get_mut(&id) {
            slot.hello = Some(Handshaken {
                node_id: node_id.to_string(),
                listen,
                at: now,
            });
            slot.last_heard = now;
        }
        Ok(make_room)
    }

    /// Connection `id` sent a complete message.
    pub fn heard_from(&self, id: u64, now: Instant) {
        if let Some(slot) = self.lock().get_mut(&id) {
            slot.last_heard = now;
        }
    }

    /// Connection `id` gave us a block that moved our tip: it is useful, protect it.
    pub fn gave_block(&self, id: u64, now: Instant) {
        if let Some(slot) = self.lock().get_mut(&id) {
            slot.last_block = Some(now);
        }
    }

    /// Connection `id` showed us `tip`: its new best block. With `only_higher` (headers show
    /// blocks of its chain, not necessarily its tip), a different tip no higher than the one
    /// we hold is ignored; otherwise the newest news wins, since a peer relays only its new
    /// tips.
    pub fn saw_tip(&self, id: u64, tip: PeerTip, only_higher: bool) {
        if let Some(slot) = self.lock().get_mut(&id) {
            let keep = only_higher
                && slot
                    .tip
                    .as_ref()
                    .is_some_and(|t| t.height >= tip.height && t.hash != tip.hash);
            if !keep {
                slot.tip = Some(tip);
            }
        }
    }

    /// Removes connection `id` (its session has ended).
    pub fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Is connection `id` still in the table? (It is not once evicted or replaced.)
    pub fn contains(&self, id: u64) -> bool {
        self.lock().contains_key(&id)
    }

    /// The address connection `id` was dialed at, if we dialed it.
    pub fn dialed(&self, id: u64) -> Option<SocketAddr> {
        self.lock().get(&id).and_then(|s| s.dialed)
    }

    /// Writers of every handshaken peer except `except`: where a relay goes.
    pub fn relay_targets(&self, except: Option<u64>) -> Vec<Arc<MessageWriter>> {
        self.lock()
            .iter()
            .filter(|(id, s)| Some(**id) != except && s.hello.is_some())
            .map(|(_, s)| Arc::clone(&s.writer))
            .collect()
    }

    /// Writers of every connection, to close them all.
    pub fn all_writers(&self) -> Vec<Arc<MessageWriter>> {
        self.lock()
            .values()
            .map(|s| Arc::clone(&s.writer))
            .collect()
    }

    /// Writers of the connections to `addr`: its socket address, the address we dialed, or
    /// its listen address.
    pub fn writers_for(&self, addr: SocketAddr) -> Vec<Arc<MessageWriter>> {
        self.lock()
            .values()
            .filter(|s| {
                s.writer.addr == addr
                    || s.dialed == Some(addr)
                    || s.hello.as_ref().and_then(|h| h.listen) == Some(addr)
            })
            .map(|s| Arc::clone(&s.writer))
            .collect()
    }

    /// Writers of the handshaken connections that count as `offender` (its address on a LAN,
    /// its node id on loopback): when a peer is discouraged, its other sessions go too.
    pub fn writers_of(
        &self,
        offender: &crate::node::discouraged::Offender,
    ) -> Vec<Arc<MessageWriter>> {
        use crate::node::discouraged::Offender;
        self.lock()
            .values()
            .filter(|s| {
                let Some(hello) = &s.hello else { return false };
                Offender::of(s.writer.addr.ip(), &hello.node_id) == *offender
            })
            .map(|s| Arc::clone(&s.writer))
            .collect()
    }

    /// The handshaken peers, sorted by address.
    pub fn infos(&self) -> Vec<PeerInfo> {
        let mut infos: Vec<PeerInfo> = self
            .lock()
            .values()
            .filter_map(|s| {
                let hello = s.hello.as_ref()?;
                Some(PeerInfo {
                    addr: s.writer.addr,
                    node_id: hello.node_id.clone(),
                    listen_addr: hello.listen,
                    outbound: s.outbound(),
                    tip: s.tip.clone(),
                    standing: Standing::Unknown,
                })
            })
            .collect();
        infos.sort_by_key(|p| p.addr);
        infos
    }

    /// Dialable addresses to tell peer `asker` about: our other peers' listen addresses.
    pub fn addresses_for(&self, asker: u64, max: usize) -> Vec<SocketAddr> {
        self.lock()
            .iter()
            .filter(|(id, _)| **id != asker)
            .filter_map(|(_, s)| s.hello.as_ref()?.listen)
            .take(max)
            .collect()
    }

    /// Addresses we have a connection to: the ones we dialed and our peers' listen addresses.
    pub fn connected_addresses(&self) -> HashSet<SocketAddr> {
        self.lock()
            .values()
            .flat_map(|s| [s.dialed, s.hello.as_ref().and_then(|h| h.listen)])
            .flatten()
            .collect()
    }

    /// How many connections we dialed (handshaken or not).
    pub fn outbound_count(&self) -> usize {
        self.lock().values().filter(|s| s.outbound()).count()
    }
}

/// The inbound peer to evict for a newcomer, if any is not protected: see the module docs.
fn eviction_candidate(slots: &HashMap<u64, Slot>) -> Option<u64> {
    let mut candidates: Vec<(u64, &Slot)> = slots
        .iter()
        .filter(|(_, s)| s.hello.is_some() && !s.outbound())
        .map(|(id, s)| (*id, s))
        .collect();
    // Protect the most recent block givers...
    candidates.sort_by_key(|(_, s)| std::cmp::Reverse(s.last_block));
    let givers = candidates
        .iter()
        .take_while(|(_, s)| s.last_block.is_some())
        .count()
        .min(PROTECT_BLOCK_GIVERS);
    candidates.drain(..givers);
    // ...and the longest connected.
    candidates.sort_by_key(|(_, s)| s.hello.as_ref().map(|h| h.at));
    candidates.drain(..PROTECT_LONGEST.min(candidates.len()));
    candidates
        .into_iter()
        .min_by_key(|(_, s)| s.last_heard)
        .map(|(id, _)| id)
}
