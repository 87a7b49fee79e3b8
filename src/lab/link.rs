//! A lab link: the wire between two lab nodes, with a delay, a bandwidth, and a switch.
//!
//! Node A does not dial node B; it dials the link, which listens on a loopback port of its own
//! and dials B. Every line either side writes is read by the link, held for its delay, and
//! written on to the other side, in order (as Toxiproxy does for any TCP protocol). The nodes
//! cannot tell: their code has no lab path. Cutting a link (a partition) closes its
//! connections and refuses new ones until it heals, as a pulled cable eventually looks to TCP.
//!
//! What a real network adds that this does not: packet loss and TCP's own back-off,
//! asymmetric routes, and a delay per *packet* rather than per line. `tc netem` on a real
//! interface (what Warnet uses) gives those.
//!
//! A link may carry a [`Gate`]: the firewall of an attacker's node, which holds back the
//! blocks that node mines until the attacker releases them (see [`crate::lab::selfish`] and [`crate::lab::double_spend`]).

use crate::hash::Hash;
use crate::message::{Message, MAX_LINE_BYTES};
use crate::transaction::Address;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How a link delays what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSettings {
    /// One-way delay of every line toward the target.
    pub to_target: Duration,
    /// One-way delay of every line back toward the dialer.
    pub to_dialer: Duration,
    /// Up to this much more, drawn uniformly for each line (lines still arrive in order).
    pub jitter: Duration,
    /// Bytes a second, or `None` for no limit: a line of n bytes takes n / rate on the wire,
    /// and waits for the line before it.
    pub bytes_per_sec: Option<u64>,
}

impl LinkSettings {
    /// The delay `toward` one end.
    pub fn latency(&self, toward: Toward) -> Duration {
        match toward {
            Toward::Target => self.to_target,
            Toward::Dialer => self.to_dialer,
        }
    }
}

/// Which way a line travels on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// From the node that dialed the link to the node it leads to.
    Target,
    /// Back to the node that dialed.
    Dialer,
}

/// A line and when it may be written.
struct Due {
    at: Instant,
    line: Vec<u8>,
}

/// One connection through the link: its two sockets and the two queues feeding them.
struct Pipe {
    dialer: TcpStream,
    target: TcpStream,
    to_target: Sender<Due>,
    to_dialer: Sender<Due>,
}

impl Pipe {
    fn close(&self) {
        let _ = self.dialer.shutdown(Shutdown::Both);
        let _ = self.target.shutdown(Shutdown::Both);
    }
}

struct Shared {
    target: SocketAddr,
    settings: LinkSettings,
    /// The gates of the dialing node and of the target node, if they have one.
    dialer_gate: Option<Arc<Gate>>,
    target_gate: Option<Arc<Gate>>,
    cut: AtomicBool,
    closing: AtomicBool,
    pipes: Mutex<Vec<Pipe>>,
    /// State of the jitter's random numbers.
    seed: AtomicU64,
}

/// A link between two lab nodes. Dropping it closes it.
pub struct Link {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Link {
    /// Opens a link to `target` on a fresh loopback port: dial [`addr`](Self::addr) to reach
    /// `target` through it. `dialer_gate` and `target_gate` are the two ends' firewalls.
    pub fn open(
        target: SocketAddr,
        settings: LinkSettings,
        dialer_gate: Option<Arc<Gate>>,
        target_gate: Option<Arc<Gate>>,
        seed: u64,
    ) -> std::io::Result<Link> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            settings,
            dialer_gate,
            target_gate,
            cut: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            pipes: Mutex::new(Vec::new()),
            seed: AtomicU64::new(seed | 1),
        });
        let accepting = Arc::clone(&shared);
        let accept = thread::spawn(move || accept_loop(&accepting, listener));
        Ok(Link {
            shared,
            addr,
            accept: Some(accept),
        })
    }

    /// The address to dial.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Is the link cut?
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::SeqCst)
    }

    /// Cuts the link: closes its connections and refuses new ones until [`heal`](Self::heal).
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        for pipe in lock(&self.shared.pipes).drain(..) {
            pipe.close();
        }
    }

    /// Lets connections through again (the dialer redials on its own, or when told to).
    pub fn heal(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }

    /// Is a connection open through the link?
    pub fn is_connected(&self) -> bool {
        let mut pipes = lock(&self.shared.pipes);
        pipes.retain(|p| p.dialer.peer_addr().is_ok() && p.target.peer_addr().is_ok());
        !pipes.is_empty()
    }

    /// Sends `message` on every open connection, `toward` one end, after the link's latency,
    /// as if the other end had written it. The lab uses this to release an attacker's blocks:
    /// a `block` message that makes the peer ask the attacker for the branch below it.
    pub fn inject(&self, toward: Toward, message: &Message) {
        let line = message.encode();
        let at = Instant::now() + self.shared.settings.latency(toward);
        for pipe in lock(&self.shared.pipes).iter() {
            let queue = match toward {
                Toward::Target => &pipe.to_target,
                Toward::Dialer => &pipe.to_dialer,
            };
            let _ = queue.send(Due {
                at,
                line: line.clone(),
            });
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.cut();
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    for stream in listener.incoming() {
        if shared.closing.load(Ordering::SeqCst) {
            return;
        }
        let Ok(dialer) = stream else { continue };
        if shared.cut.load(Ordering::SeqCst) {
            continue; // dropped: the dialer sees the connection close at once
        }
        let Ok(target) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(2)) else {
            continue;
        };
        let _ = dialer.set_nodelay(true);
        let _ = target.set_nodelay(true);
        let (to_target, target_queue) = channel();
        let (to_dialer, dialer_queue) = channel();
        let clones = (
            dialer.try_clone(),
            target.try_clone(),
            dialer.try_clone(),
            target.try_clone(),
        );
        let (Ok(dialer_read), Ok(target_read), Ok(dialer_write), Ok(target_write)) = clones else {
            continue;
        };
        pump(shared, dialer_read, Toward::Target, to_target.clone());
        pump(shared, target_read, Toward::Dialer, to_dialer.clone());
        deliver(target_write, target_queue);
        deliver(dialer_write, dialer_queue);
        let pipe = Pipe {
            dialer,
            target,
            to_target,
            to_dialer,
        };
        let mut pipes = lock(&shared.pipes);
        // A cut between the check above and here must still close this one.
        if shared.cut.load(Ordering::SeqCst) {
            pipe.close();
        } else {
            pipes.push(pipe);
        }
    }
}

/// Reads lines from `from`, passes them through the gates, and queues each with its due time.
fn pump(shared: &Arc<Shared>, from: TcpStream, toward: Toward, queue: Sender<Due>) {
    let shared = Arc::clone(shared);
    thread::spawn(move || {
        let (sender_gate, receiver_gate) = match toward {
            Toward::Target => (&shared.dialer_gate, &shared.target_gate),
            Toward::Dialer => (&shared.target_gate, &shared.dialer_gate),
        };
        let settings = shared.settings;
        let mut reader = BufReader::new(from);
        let mut wire_free = Instant::now();
        let mut last_due = Instant::now();
        loop {
            let mut line = Vec::new();
            let read =
                Read::take(&mut reader, MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line);
            match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let now = Instant::now();
            let mut line = Some(line);
            if let Some(gate) = sender_gate {
                line = line.and_then(|l| gate.outbound(l));
            }
            if let Some(gate) = receiver_gate {
                line = line.and_then(|l| gate.inbound(l));
            }
            let Some(line) = line else { continue };
            // Bandwidth: the line occupies the wire after the one before it.
            let start = now.max(wire_free);
            let on_wire = settings
                .bytes_per_sec
                .map(|rate| Duration::from_secs_f64(line.len() as f64 / rate.max(1) as f64))
                .unwrap_or_default();
            wire_free = start + on_wire;
            let jitter = if settings.jitter.is_zero() {
                Duration::ZERO
            } else {
                settings.jitter.mul_f64(next_unit(&shared.seed))
            };
            // Never before the line ahead of it: TCP keeps order.
            let at = (wire_free + settings.latency(toward) + jitter).max(last_due);
            last_due = at;
            if queue.send(Due { at, line }).is_err() {
                break;
            }
        }
        // The sender closed or failed: after the lines before it, the writer closes its side
        // (an empty line, which a real one never is, since it holds at least its `\n`). Not
        // by dropping the queue: the link keeps a copy of it to inject through.
        let _ = queue.send(Due {
            at: last_due,
            line: Vec::new(),
        });
    });
}

/// Writes each queued line to `to` when it is due; closes `to` at the empty line that says the
/// other side closed.
fn deliver(mut to: TcpStream, queue: Receiver<Due>) {
    thread::spawn(move || {
        for due in queue {
            if due.line.is_empty() {
                break;
            }
            let wait = due.at.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                thread::sleep(wait);
            }
            if to.write_all(&due.line).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// A uniform number in [0, 1) from a shared SplitMix64 state.
fn next_unit(state: &AtomicU64) -> f64 {
    let x = state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    (crate::lab::schedule::mix(x) >> 11) as f64 / (1u64 << 53) as f64
}

/// What an attacker's node may tell its peers: the firewall an attacker puts in front of an
/// unmodified node. While it *holds*, the blocks that node mines (its coinbase pays the
/// attacker) do not leave it, in `block`, `headers` or `blocks` messages, until the attacker
/// publishes them. *Deaf*, it also hears no block or transaction from its peers, so it keeps
/// mining its own branch however far behind it falls (a node would otherwise switch to the
/// longer chain, as it should). With `quiet_txs`, its transactions stay with it too.
#[derive(Debug)]
pub struct Gate {
    owner: Address,
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    /// Holding the node's blocks above this height, if holding.
    holding: Option<u64>,
    deaf: bool,
    quiet_txs: bool,
    own: HashSet<Hash>,
    published: HashSet<Hash>,
}

impl Gate {
    /// A gate for the node whose coinbases pay `owner`; open until told otherwise.
    pub fn new(owner: Address) -> Gate {
        Gate {
            owner,
            state: Mutex::new(GateState::default()),
        }
    }

    /// Holds back the blocks the node mines above `height` (those below are public already).
    pub fn hold_above(&self, height: u64) {
        lock(&self.state).holding = Some(height);
    }

    /// Lets every held block out, and holds nothing from now on.
    pub fn open(&self) {
        let mut state = lock(&self.state);
        state.holding = None;
        state.own.clear();
        state.published.clear();
    }

    /// Goes private, all three at once: holds the node's blocks above `height`, and the
    /// node hears and tells nothing (a `private` miner, a double-spend attacker).
    pub fn go_private(&self, height: u64) {
        let mut state = lock(&self.state);
        state.holding = Some(height);
        state.deaf = true;
        state.quiet_txs = true;
    }

    /// Goes public again: every held block may leave, and the node hears and tells as any
    /// node does.
    pub fn go_public(&self) {
        self.open();
        let mut state = lock(&self.state);
        state.deaf = false;
        state.quiet_txs = false;
    }

    /// Stops (or restarts) the node hearing blocks and transactions from its peers.
    pub fn deafen(&self, on: bool) {
        lock(&self.state).deaf = on;
    }

    /// Keeps (or stops keeping) the node's transactions to itself.
    pub fn quiet_txs(&self, on: bool) {
        lock(&self.state).quiet_txs = on;
    }

    /// Notes a block the node mined (so its header is held too).
    pub fn mined(&self, hash: Hash) {
        lock(&self.state).own.insert(hash);
    }

    /// Lets these held blocks out.
    pub fn publish(&self, hashes: impl IntoIterator<Item = Hash>) {
        lock(&self.state).published.extend(hashes);
    }

    /// Is `block` one the gate holds back?
    fn holds_block(&self, state: &GateState, block: &crate::block::Block) -> bool {
        state.holding.is_some_and(|above| block.height > above)
            && !state.published.contains(&block.hash)
            && (state.own.contains(&block.hash)
                || block
                    .transactions
                    .first()
                    .is_some_and(|cb| cb.outputs.iter().any(|o| o.address == self.owner)))
    }

    /// A header has no coinbase to show whose block it is, so only blocks the lab noted as
    /// the owner's ([`mined`](Self::mined)) are held. That is enough: peers ask for headers
    /// only after a release, which the lab's thread makes after noting every block it had
    /// the node mine.
    fn holds_header(state: &GateState, hash: &Hash) -> bool {
        state.holding.is_some() && state.own.contains(hash) && !state.published.contains(hash)
    }

    /// A line from the node to a peer: passed, trimmed of held blocks, or dropped.
    pub fn outbound(&self, line: Vec<u8>) -> Option<Vec<u8>> {
        let state = lock(&self.state);
        if state.holding.is_none() && !state.quiet_txs {
            return Some(line);
        }
        let Ok(message) = Message::decode(trim(&line)) else {
            return Some(line);
        };
        match message {
            Message::Block(block) if self.holds_block(&state, &block) => None,
            Message::Headers(headers) => {
                let keep = headers
                    .iter()
                    .take_while(|h| !Self::holds_header(&state, &h.hash))
                    .count();
                // Trimmed, never dropped, even to nothing: an answer the peer waits for must
                // come, or its sync from us stalls until the request expires.
                if keep == headers.len() {
                    Some(line)
                } else {
                    Some(Message::Headers(headers[..keep].to_vec()).encode())
                }
            }
            Message::Blocks(blocks) => {
                let keep = blocks
                    .iter()
                    .take_while(|b| !self.holds_block(&state, b))
                    .count();
                if keep == blocks.len() {
                    Some(line)
                } else {
                    Some(Message::Blocks(blocks[..keep].to_vec()).encode())
                }
            }
            Message::Tx(_) if state.quiet_txs => None,
            Message::Mempool(_) if state.quiet_txs => Some(Message::Mempool(Vec::new()).encode()),
            _ => Some(line),
        }
    }

    /// A line from a peer to the node: passed, or dropped while the node is deaf.
    pub fn inbound(&self, line: Vec<u8>) -> Option<Vec<u8>> {
        if !lock(&self.state).deaf {
            return Some(line);
        }
        match Message::decode(trim(&line)) {
            Ok(Message::Block(_) | Message::Tx(_)) => None,
            // Answers arrive, empty: the node's request is answered, with nothing.
            Ok(Message::Blocks(_)) => Some(Message::Blocks(Vec::new()).encode()),
            Ok(Message::Headers(_)) => Some(Message::Headers(Vec::new()).encode()),
            Ok(Message::Mempool(_)) => Some(Message::Mempool(Vec::new()).encode()),
            _ => Some(line),
        }
    }
}

fn trim(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Block;
    use crate::crypto::keys::SecretKey;
    use crate::params::Network;

    /// A target that answers each line with the same line.
    fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { return };
                        if writeln!(writer, "{line}").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn settings(ms: u64) -> LinkSettings {
        LinkSettings {
            to_target: Duration::from_millis(ms),
            to_dialer: Duration::from_millis(ms),
            jitter: Duration::ZERO,
            bytes_per_sec: None,
        }
    }

    /// A line takes the link's delay each way: an echo through a 40 ms link comes back after
    /// at least 80 ms, and in order.
    #[test]
    fn lines_wait_their_delay_in_order() {
        let link = Link::open(echo(), settings(40), None, None, 1).unwrap();
        let mut stream = TcpStream::connect(link.addr()).unwrap();
        let started = Instant::now();
        stream.write_all(b"one\ntwo\n").unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "one\n");
        assert!(
            started.elapsed() >= Duration::from_millis(80),
            "{:?}",
            started.elapsed()
        );
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "two\n");
    }

    /// A cut link closes its connection and refuses new ones until healed.
    #[test]
    fn a_cut_closes_and_refuses_until_healed() {
        let link = Link::open(echo(), settings(0), None, None, 1).unwrap();
        let stream = TcpStream::connect(link.addr()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !link.is_connected() {
            assert!(Instant::now() < deadline, "the link never connected");
            thread::sleep(Duration::from_millis(2));
        }
        link.cut();
        let mut line = String::new();
        let read = BufReader::new(&stream).read_line(&mut line);
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "the cut closed it: {read:?}"
        );
        let again = TcpStream::connect(link.addr()).unwrap();
        let read = BufReader::new(&again).read_line(&mut line);
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "refused while cut: {read:?}"
        );
        link.heal();
        let mut healed = TcpStream::connect(link.addr()).unwrap();
        healed.write_all(b"back\n").unwrap();
        BufReader::new(&healed).read_line(&mut line).unwrap();
        assert_eq!(line, "back\n");
    }

    /// A holding gate drops the owner's block, trims its header from an answer, and passes
    /// the block once published; a deaf gate empties answers rather than dropping them.
    #[test]
    fn a_gate_holds_the_owners_blocks() {
        let key = SecretKey::generate();
        let owner = Address::of(&key.public_key());
        let mut chain = crate::chain::Blockchain::new(Network::Lab);
        let template = chain
            .template(Vec::new(), owner, chain.tip().timestamp + 1)
            .unwrap();
        let block: Block = crate::miner::mine(template, &AtomicBool::new(false)).unwrap();
        chain.append(block.clone()).unwrap();
        let genesis = chain.block(0).unwrap().header();
        let gate = Gate::new(owner);
        let line = |m: Message| m.encode();
        // Open: everything passes.
        assert!(gate.outbound(line(Message::Block(block.clone()))).is_some());
        gate.hold_above(0);
        gate.mined(block.hash);
        assert_eq!(gate.outbound(line(Message::Block(block.clone()))), None);
        let headers = Message::Headers(vec![genesis, block.header()]);
        assert_eq!(
            gate.outbound(line(headers)),
            Some(Message::Headers(vec![genesis]).encode())
        );
        gate.publish([block.hash]);
        assert!(gate.outbound(line(Message::Block(block.clone()))).is_some());
        gate.deafen(true);
        assert_eq!(gate.inbound(line(Message::Block(block.clone()))), None);
        assert_eq!(
            gate.inbound(line(Message::Blocks(vec![block]))),
            Some(Message::Blocks(Vec::new()).encode())
        );
        assert!(gate.inbound(line(Message::GetPeers)).is_some());
    }
}
