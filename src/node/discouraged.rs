//! Discouraged peers: who broke a consensus rule lately, remembered across connections.
//!
//! Closing a connection that sent an invalid block is not enough: the sender dials again and
//! sends the same block, and each time we pay for the checks up to the rule it breaks. So a
//! peer whose block or transaction broke a rule is *discouraged* for a while (ten minutes by
//! default, [`DISCOURAGE_FOR`]): its next handshakes are refused with an `error` that says
//! why and for how long, before we sign anything for it. Protocol slips (bad JSON, a message
//! too long) close the connection but are not remembered: they cost us nothing to refuse. Nor
//! are what an honest peer can send: a body unlike the header it sent (it reorganized between
//! our requests), a block too far ahead of our clock (ours may be behind), a block we refused
//! before (it may only be passing it on).
//!
//! **Who is "the peer"?** On a LAN each classmate's machine has its own IP address, and an
//! address is what an attacker cannot change cheaply, so there we remember the address. In a
//! classroom on one machine everyone is `127.0.0.1`: discouraging the address would cut off
//! every classmate for one student's bug. So for loopback peers we remember the node id the
//! handshake proved instead. That one is a speed bump, not a wall: a new key is a new id, and a
//! hostile program on our own machine can make one per connection; but a classmate's buggy
//! node keeps its key (`wallet.key`), so its bug is refused at the handshake, once, not at
//! every block. Bitcoin Core's `m_discouraged` is the same idea, keyed by address always
//! (a rolling bloom filter, emptied at restart); it still lets discouraged peers in when it has
//! free slots, and evicts them first. This node refuses them outright: simpler to watch.
//!
//! The set is bounded ([`MAX_DISCOURAGED`] addresses and as many node ids, kept apart): when
//! one kind is full, its entry closest to expiry makes room, so a flood of fresh identities
//! cannot grow it, and a flood of fresh keys on loopback cannot push out the LAN addresses.
//! When a peer is discouraged, its other live connections are closed too.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a peer stays discouraged after breaking a rule, by default.
pub const DISCOURAGE_FOR: Duration = Duration::from_secs(600);

/// At most this many addresses, and as many node ids, are remembered at once.
pub const MAX_DISCOURAGED: usize = 1024;

/// Who a peer is, for discouragement: its address on a network, its node id on loopback.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Offender {
    /// A peer on another machine, by its IP address.
    Address(IpAddr),
    /// A peer on this machine, by the node id its handshake proved.
    Node(String),
}

impl Offender {
    /// The offender a peer at `ip` with `node_id` counts as (see the module docs).
    pub fn of(ip: IpAddr, node_id: &str) -> Offender {
        if ip.to_canonical().is_loopback() {
            Offender::Node(node_id.to_string())
        } else {
            Offender::Address(ip.to_canonical())
        }
    }
}

impl std::fmt::Display for Offender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Offender::Address(ip) => write!(f, "address {ip}"),
            Offender::Node(id) => write!(f, "node {id}"),
        }
    }
}

/// One discouraged peer: until when, and the rule it broke.
#[derive(Debug, Clone)]
struct Entry {
    until: Instant,
    reason: String,
}

/// The discouraged peers; every method takes its own lock briefly (a leaf lock).
#[derive(Debug)]
pub struct Discouraged {
    period: Duration,
    entries: Mutex<HashMap<Offender, Entry>>,
}

impl Discouraged {
    /// An empty set whose entries last `period`; a zero period discourages nobody.
    pub fn new(period: Duration) -> Discouraged {
        Discouraged {
            period,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers that `offender` broke a rule (`reason`) at `now`.
    pub fn add(&self, offender: Offender, reason: &str, now: Instant) {
        if self.period.is_zero() {
            return;
        }
        let mut entries = crate::node::chain_state::lock(&self.entries);
        entries.retain(|_, e| e.until > now);
        let same_kind = |o: &Offender| {
            matches!(
                (o, &offender),
                (Offender::Address(_), Offender::Address(_))
                    | (Offender::Node(_), Offender::Node(_))
            )
        };
        let of_its_kind = entries.keys().filter(|o| same_kind(o)).count();
        if of_its_kind >= MAX_DISCOURAGED && !entries.contains_key(&offender) {
            let soonest = entries
                .iter()
                .filter(|(o, _)| same_kind(o))
                .min_by_key(|(_, e)| e.until)
                .map(|(o, _)| o.clone());
            if let Some(soonest) = soonest {
                entries.remove(&soonest);
            }
        }
        let entry = Entry {
            until: now + self.period,
            reason: reason.to_string(),
        };
        entries.insert(offender, entry);
    }

    /// If `offender` is discouraged at `now`: for how much longer, and why.
    pub fn check(&self, offender: &Offender, now: Instant) -> Option<(Duration, String)> {
        let entries = crate::node::chain_state::lock(&self.entries);
        let entry = entries.get(offender).filter(|e| e.until > now)?;
        Some((entry.until - now, entry.reason.clone()))
    }

    /// How many peers are discouraged now.
    pub fn len(&self, now: Instant) -> usize {
        let entries = crate::node::chain_state::lock(&self.entries);
        entries.values().filter(|e| e.until > now).count()
    }

    /// Whether nobody is discouraged now.
    pub fn is_empty(&self, now: Instant) -> bool {
        self.len(now) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const LAN: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 20));

    /// On loopback a peer is its node id; elsewhere, its address (whatever id it claims), and
    /// an IPv4 address written as IPv6 is the same address.
    #[test]
    fn who_counts_as_the_peer() {
        assert_eq!(
            Offender::of(LOOPBACK, "00aa"),
            Offender::Node("00aa".into())
        );
        assert_eq!(
            Offender::of("::ffff:127.0.0.1".parse().unwrap(), "00aa"),
            Offender::Node("00aa".into())
        );
        assert_eq!(Offender::of(LAN, "00aa"), Offender::Address(LAN));
        assert_eq!(
            Offender::of("::ffff:192.168.1.20".parse().unwrap(), "00bb"),
            Offender::Address(LAN)
        );
    }

    /// An entry lasts its period and says why; a zero period remembers nothing.
    #[test]
    fn entries_expire() {
        let set = Discouraged::new(Duration::from_secs(10));
        let now = Instant::now();
        let lan = Offender::Address(LAN);
        set.add(lan.clone(), "invalid block", now);
        let (left, why) = set.check(&lan, now + Duration::from_secs(4)).unwrap();
        assert_eq!(
            (left, why.as_str()),
            (Duration::from_secs(6), "invalid block")
        );
        assert!(set.check(&lan, now + Duration::from_secs(10)).is_none());
        assert!(set.check(&Offender::Node("00aa".into()), now).is_none());
        let off = Discouraged::new(Duration::ZERO);
        off.add(lan.clone(), "invalid block", now);
        assert!(off.check(&lan, now).is_none());
    }

    /// A flood of fresh identities cannot grow the set past its cap: the entry closest to
    /// expiry makes room, and the newest is kept.
    #[test]
    fn the_set_is_bounded() {
        let set = Discouraged::new(Duration::from_secs(600));
        let start = Instant::now();
        for i in 0..MAX_DISCOURAGED + 10 {
            let at = start + Duration::from_millis(i as u64);
            set.add(Offender::Node(format!("{i:016x}")), "bad", at);
        }
        let now = start + Duration::from_secs(1);
        assert_eq!(set.len(now), MAX_DISCOURAGED);
        assert!(set
            .check(&Offender::Node(format!("{:016x}", 0)), now)
            .is_none());
        let newest = format!("{:016x}", MAX_DISCOURAGED + 9);
        assert!(set.check(&Offender::Node(newest), now).is_some());
        // A LAN address is not pushed out by a flood of node ids, nor the other way round.
        let lan = Offender::Address(LAN);
        set.add(lan.clone(), "bad", now);
        for i in 0..MAX_DISCOURAGED {
            set.add(Offender::Node(format!("{:016x}", 5_000 + i)), "bad", now);
        }
        assert!(set.check(&lan, now).is_some());
        assert_eq!(set.len(now), MAX_DISCOURAGED + 1);
    }
}
