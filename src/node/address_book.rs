//! The address book: the nodes we know of, and which of them to dial next.
//!
//! Addresses come from the command line, the console's `connect`, `peers.txt` and other nodes'
//! `peers` messages. The node's maintenance tick asks the book for addresses to dial whenever
//! it has fewer outbound peers than its target, so a restart of a classmate's node, or of our
//! own, heals by itself instead of splitting the network until somebody types `connect`.
//!
//! Each address remembers how its dials went:
//!
//! - a dial that fails (or a connection that never finishes its handshake) backs the address
//!   off: the next try waits [`BACKOFF_START`], doubling with each failure up to
//!   [`BACKOFF_MAX`];
//! - after [`MAX_FAILURES`] failures in a row the address is forgotten, unless a person typed
//!   it (command line or `connect`), in which case it is tried again at the longest back-off
//!   for as long as the node runs;
//! - a handshake resets the count, and marks the address as good: good addresses are what
//!   `peers.txt` keeps.
//!
//! The book holds at most [`MAX_KNOWN_ADDRESSES`]; when it is full, a new address takes the
//! place of the one that failed most, or is not kept if none has failed. Bitcoin Core's
//! `addrman` is the grown-up version: "new" and "tried" tables bucketed by network group, so
//! that one peer cannot fill the book with addresses it controls.
//!
//! See `tutorial/10-relay-and-discovery.md`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many addresses the book keeps.
pub const MAX_KNOWN_ADDRESSES: usize = 1_000;
/// Failures in a row after which a learned address is forgotten.
pub const MAX_FAILURES: u32 = 8;
/// The wait after a first failure; it doubles with each failure after that.
pub const BACKOFF_START: Duration = Duration::from_secs(1);
/// The longest wait between two tries of one address.
pub const BACKOFF_MAX: Duration = Duration::from_secs(120);

/// What the book knows about one address.
#[derive(Debug, Clone)]
struct Entry {
    /// Failed dials (or handshakes) since the last success.
    failures: u32,
    /// Not to be dialed before then.
    next_try: Instant,
    /// A person asked for it: never forgotten.
    pinned: bool,
    /// A handshake with it succeeded once: worth keeping in `peers.txt`.
    good: bool,
}

#[derive(Default)]
struct Book {
    entries: HashMap<SocketAddr, Entry>,
    /// Addresses being dialed right now.
    dialing: HashSet<SocketAddr>,
    /// Addresses that turned out to be ourselves.
    is_us: HashSet<SocketAddr>,
}

/// The node's address book. Every method takes its lock briefly and does no I/O.
#[derive(Default)]
pub struct AddressBook {
    book: Mutex<Book>,
}

/// Did a change alter the set of good addresses (which `peers.txt` keeps)?
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoodChanged(pub bool);

impl AddressBook {
    /// An empty book.
    pub fn new() -> Self {
        AddressBook::default()
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds addresses learned from a peer or a file. Known ones keep their history.
    pub fn learn(&self, addrs: impl IntoIterator<Item = SocketAddr>, now: Instant) {
        let mut book = self.lock();
        for addr in addrs {
            book.insert(addr, now, false, false);
        }
    }

    /// Adds addresses remembered in `peers.txt`: good ones.
    pub fn learn_good(&self, addrs: impl IntoIterator<Item = SocketAddr>, now: Instant) {
        let mut book = self.lock();
        for addr in addrs {
            book.insert(addr, now, false, true);
        }
    }

    /// Adds an address a person asked for, ready to dial now.
    pub fn pin(&self, addr: SocketAddr, now: Instant) {
        let mut book = self.lock();
        book.insert(addr, now, true, false);
        if let Some(entry) = book.entries.get_mut(&addr) {
            entry.pinned = true;
            entry.next_try = now;
        }
    }

    /// Marks `addr` as being dialed; false if it already is, or is ourselves.
    pub fn start_dial(&self, addr: SocketAddr) -> bool {
        let mut book = self.lock();
        !book.is_us.contains(&addr) && book.dialing.insert(addr)
    }

    /// The dial of `addr` is over (its connection is in the peer table, or it failed).
    pub fn end_dial(&self, addr: SocketAddr) {
        self.lock().dialing.remove(&addr);
    }

    /// How many dials are in progress.
    pub fn dialing(&self) -> usize {
        self.lock().dialing.len()
    }

    /// A dial of `addr` failed, or its connection ended before a handshake: back off, and
    /// forget a learned address that keeps failing.
    pub fn failed(&self, addr: SocketAddr, now: Instant) -> GoodChanged {
        let mut book = self.lock();
        let Some(entry) = book.entries.get_mut(&addr) else {
            return GoodChanged(false);
        };
        entry.failures = entry.failures.saturating_add(1);
        entry.next_try = now + backoff(entry.failures);
        if entry.failures >= MAX_FAILURES && !entry.pinned {
            let was_good = entry.good;
            book.entries.remove(&addr);
            return GoodChanged(was_good);
        }
        GoodChanged(false)
    }

    /// A handshake with `addr` succeeded.
    pub fn succeeded(&self, addr: SocketAddr, now: Instant) -> GoodChanged {
        let mut book = self.lock();
        book.insert(addr, now, false, false);
        let entry = book.entries.get_mut(&addr).expect("just inserted");
        entry.failures = 0;
        // A link that drops is redialed after a short pause, not in a tight loop.
        entry.next_try = now + BACKOFF_START;
        GoodChanged(!std::mem::replace(&mut entry.good, true))
    }

    /// Remembers that `addr` leads back to us, so it is never dialed again.
    pub fn mark_as_us(&self, addr: SocketAddr) {
        let mut book = self.lock();
        book.is_us.insert(addr);
        book.entries.remove(&addr);
    }

    /// Up to `count` addresses to dial now: due, not ourselves, not being dialed and not in
    /// `connected`; those with fewer failures first.
    pub fn to_dial(
        &self,
        count: usize,
        connected: &HashSet<SocketAddr>,
        now: Instant,
    ) -> Vec<SocketAddr> {
        let book = self.lock();
        let mut due: Vec<(u32, SocketAddr)> = book
            .entries
            .iter()
            .filter(|(addr, e)| {
                e.next_try <= now
                    && !book.dialing.contains(addr)
                    && !book.is_us.contains(addr)
                    && !connected.contains(addr)
            })
            .map(|(addr, e)| (e.failures, *addr))
            .collect();
        due.sort();
        due.into_iter().take(count).map(|(_, a)| a).collect()
    }

    /// Every address in the book, sorted.
    pub fn known(&self) -> Vec<SocketAddr> {
        let mut all: Vec<SocketAddr> = self.lock().entries.keys().copied().collect();
        all.sort();
        all
    }

    /// The good addresses, sorted: what `peers.txt` keeps.
    pub fn good(&self) -> Vec<SocketAddr> {
        let mut good: Vec<SocketAddr> = self
            .lock()
            .entries
            .iter()
            .filter(|(_, e)| e.good)
            .map(|(a, _)| *a)
            .collect();
        good.sort();
        good
    }
}

impl Book {
    /// Adds `addr` unless it is known or ourselves; when full, replaces the address that failed
    /// most, if any failed at all.
    fn insert(&mut self, addr: SocketAddr, now: Instant, pinned: bool, good: bool) {
        if self.is_us.contains(&addr) || self.entries.contains_key(&addr) {
            return;
        }
        if self.entries.len() >= MAX_KNOWN_ADDRESSES {
            let worst = self
                .entries
                .iter()
                .filter(|(_, e)| !e.pinned && e.failures > 0)
                .max_by_key(|(_, e)| e.failures)
                .map(|(a, _)| *a);
            match worst {
                Some(worst) => {
                    self.entries.remove(&worst);
                }
                None if pinned => {}
                None => return,
            }
        }
        let entry = Entry {
            failures: 0,
            next_try: now,
            pinned,
            good,
        };
        self.entries.insert(addr, entry);
    }
}

/// The wait after `failures` failures in a row: 1 s, 2 s, 4 s, ... up to [`BACKOFF_MAX`].
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (BACKOFF_START * 2u32.pow(doublings)).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A failing address waits 1 s, 2 s, 4 s ... before its next try, and is forgotten after
    /// MAX_FAILURES; a pinned one never is; a success resets the count.
    #[test]
    fn back_off_and_forget() {
        let book = AddressBook::new();
        let t0 = Instant::now();
        book.learn([addr(1)], t0);
        book.pin(addr(2), t0);
        let none = HashSet::new();
        assert_eq!(book.to_dial(10, &none, t0), [addr(1), addr(2)]);
        let _ = book.failed(addr(1), t0);
        assert_eq!(book.to_dial(10, &none, t0), [addr(2)]);
        assert_eq!(
            book.to_dial(10, &none, t0 + Duration::from_millis(999)),
            [addr(2)]
        );
        assert_eq!(
            book.to_dial(10, &none, t0 + BACKOFF_START),
            [addr(2), addr(1)]
        );
        let _ = book.failed(addr(1), t0);
        assert!(!book
            .to_dial(10, &none, t0 + Duration::from_millis(1_999))
            .contains(&addr(1)));
        assert!(book
            .to_dial(10, &none, t0 + Duration::from_secs(2))
            .contains(&addr(1)));
        for _ in 2..MAX_FAILURES {
            let _ = book.failed(addr(1), t0);
        }
        assert_eq!(book.known(), [addr(2)], "a learned address is forgotten");
        for _ in 0..2 * MAX_FAILURES {
            let _ = book.failed(addr(2), t0);
        }
        assert_eq!(book.known(), [addr(2)], "a pinned address is kept");
        assert_eq!(book.to_dial(10, &none, t0 + BACKOFF_MAX), [addr(2)]);
        assert_eq!(book.succeeded(addr(2), t0), GoodChanged(true));
        assert_eq!(book.good(), [addr(2)]);
        assert_eq!(book.to_dial(10, &none, t0 + BACKOFF_START), [addr(2)]);
    }

    /// A full book takes a new address in place of the one that failed most, and refuses it
    /// when nothing has failed; addresses that are us, dialing or connected are never offered.
    #[test]
    fn full_book_replaces_the_worst() {
        let book = AddressBook::new();
        let t0 = Instant::now();
        book.learn(
            (0..MAX_KNOWN_ADDRESSES as u16).map(|p| addr(10_000 + p)),
            t0,
        );
        book.learn([addr(1)], t0);
        assert!(!book.known().contains(&addr(1)));
        let _ = book.failed(addr(10_005), t0);
        book.learn([addr(1)], t0);
        assert!(book.known().contains(&addr(1)));
        assert!(!book.known().contains(&addr(10_005)));
        assert_eq!(book.known().len(), MAX_KNOWN_ADDRESSES);

        book.mark_as_us(addr(10_000));
        assert!(book.start_dial(addr(10_001)));
        assert!(!book.start_dial(addr(10_001)));
        let connected: HashSet<_> = [addr(10_002)].into();
        let offered = book.to_dial(MAX_KNOWN_ADDRESSES, &connected, t0);
        for skipped in [10_000, 10_001, 10_002] {
            assert!(!offered.contains(&addr(skipped)));
        }
        assert!(!book.start_dial(addr(10_000)), "never dial ourselves");
    }
}
