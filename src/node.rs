//! The node: one program that is both a TCP server and a TCP client.
//!
//! A `TcpListener` accepts on one thread; every connection, accepted or dialed, gets one thread
//! of its own that runs a [`peer`](crate::peer) session. They share one `Shared` value: the
//! chain as `Arc<Mutex<Blockchain>>`, the table of peers, and the node's settings.
//!
//! The lock discipline, which the whole node follows: take the chain lock, copy out what you
//! need (a tip, a locator, a batch of blocks), release it, and only then touch a socket or
//! mine. A lock held across a network write would let one slow peer stall every other thread.
//! `std::sync::Mutex` is right here, as in mini-redis: the critical sections are short and
//! never block. Bitcoin Core's `cs_main` is the same idea, with far more under it.
//!
//! See `tutorial/07-client-and-server.md` and `tutorial/10-relay-and-discovery.md`.

use crate::block::Block;
use crate::chain::Blockchain;
use crate::connection::Sender;
use crate::consensus::{now_ms, ChainError};
use crate::hash::Hash;
use crate::message::{Message, MAX_PEER_ADDRESSES};
use crate::miner;
use crate::params::Network;
use crate::store::{Change, Loaded, Store};
use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Default limit on connections, inbound and outbound together.
pub const MAX_PEERS: usize = 32;
/// Default number of outbound connections discovery aims for.
pub const TARGET_OUTBOUND: usize = 8;
/// How many learned addresses a node remembers.
pub const MAX_KNOWN_ADDRESSES: usize = 1_000;

/// A node's settings. The timeouts are here so tests can shorten them.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which chain to follow.
    pub network: Network,
    /// The peer must send `hello` within this long (10 s).
    pub handshake_timeout: Duration,
    /// Send a `ping` after this long without a message (30 s).
    pub ping_interval: Duration,
    /// Close after this long without any message (90 s).
    pub idle_timeout: Duration,
    /// A write that takes longer than this fails and closes the connection (10 s).
    pub write_timeout: Duration,
    /// At most this many connections (32).
    pub max_peers: usize,
    /// Dial learned addresses until this many outbound connections (8).
    pub target_outbound: usize,
    /// How many blocks to ask for in one `get_blocks` (500, the protocol's maximum).
    pub sync_batch: usize,
    /// Print log lines to stdout.
    pub log: bool,
}

impl Config {
    /// Defaults for `network`.
    pub fn new(network: Network) -> Self {
        Config {
            network,
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            write_timeout: Duration::from_secs(10),
            max_peers: MAX_PEERS,
            target_outbound: TARGET_OUTBOUND,
            sync_batch: crate::message::MAX_BLOCKS_PER_MESSAGE,
            log: true,
        }
    }
}

/// Why a node operation failed. One enum for the node layer.
#[derive(Debug)]
pub enum NodeError {
    /// The chain refused a block.
    Chain(ChainError),
    /// The node is shutting down.
    ShuttingDown,
    /// A socket or the listener failed.
    Io(io::Error),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Chain(e) => write!(f, "{e}"),
            NodeError::ShuttingDown => write!(f, "the node is shutting down"),
            NodeError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for NodeError {}

impl From<ChainError> for NodeError {
    fn from(e: ChainError) -> Self {
        NodeError::Chain(e)
    }
}

impl From<io::Error> for NodeError {
    fn from(e: io::Error) -> Self {
        NodeError::Io(e)
    }
}

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
}

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
}

/// Counters about catching up, for tests and the sync benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// `get_blocks` messages sent.
    pub get_blocks_sent: u64,
    /// `blocks` messages received.
    pub batches_received: u64,
    /// Blocks received in `blocks` messages.
    pub blocks_received: u64,
    /// The longest line read from any peer, in bytes.
    pub largest_line: usize,
}

/// One connection in the peer table.
pub(crate) struct Slot {
    pub sender: Arc<Sender>,
    pub outbound: bool,
    /// For outbound connections: the address we dialed.
    pub dialed: Option<SocketAddr>,
    /// Filled in once the handshake is done.
    pub hello: Option<(String, Option<SocketAddr>)>,
}

/// What every thread of a node shares.
pub(crate) struct Shared {
    pub config: Config,
    pub node_id: String,
    pub listen_addr: SocketAddr,
    pub chain: Arc<Mutex<Blockchain>>,
    pub peers: Mutex<HashMap<u64, Slot>>,
    next_id: AtomicU64,
    /// Addresses learned from `peers` messages and the command line.
    known: Mutex<BTreeSet<SocketAddr>>,
    /// Addresses being dialed right now.
    dialing: Mutex<HashSet<SocketAddr>>,
    /// Addresses that turned out to be ourselves.
    is_us: Mutex<HashSet<SocketAddr>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    pub stopping: AtomicBool,
    /// The stop flag of the mining in progress, raised when the tip changes under it.
    miner_stop: Mutex<Option<Arc<AtomicBool>>>,
    pub stats: Mutex<SyncStats>,
    /// The disk writer, when the node keeps its chain (`--data-dir`).
    disk: Option<Disk>,
}

/// The hand-over to the thread that writes the data directory.
///
/// Chain changes get a sequence number and go down a channel while the chain lock is held, so
/// the file sees them in the chain's order; the writing and syncing happen on the writer thread,
/// with no lock held. Before a peer may see a block (a relay, a `latest_block` or `blocks`
/// answer), its thread waits until the writer has synced that far: a block a peer got from us is
/// never lost in a crash. Only that peer's thread waits, and only for one sync.
struct Disk {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// The number of the last change handed over.
    recorded: AtomicU64,
    /// The number of the last change on disk (`u64::MAX` once the writer has stopped).
    durable: Mutex<u64>,
    synced: Condvar,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Listen addresses of peers that completed a handshake, kept in `peers.txt`.
    good_peers: Mutex<BTreeSet<SocketAddr>>,
}

enum Job {
    Chain(u64, Change),
    Peers(Vec<SocketAddr>),
}

/// Locks a mutex, recovering from poisoning. Our critical sections do not panic; if one ever
/// did, the data it guarded is still whole (every chain update validates first and then
/// mutates in steps that cannot fail), so carrying on beats taking the node down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A random u64 from std's per-process hash seed (no `rand` crate): good enough for node ids
/// and ping nonces, not for keys.
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

impl Shared {
    /// Hands a chain change to the disk writer; call it with the chain lock held, right after
    /// the change. Returns the number to pass to [`wait_durable`](Self::wait_durable).
    pub fn record(&self, change: impl FnOnce() -> Change) -> u64 {
        let Some(disk) = &self.disk else { return 0 };
        let seq = disk.recorded.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(jobs) = lock(&disk.jobs).as_ref() {
            let _ = jobs.send(Job::Chain(seq, change()));
        }
        seq
    }

    /// Records the change an [`Outcome`](crate::chain::Outcome) made, with the chain lock held.
    pub fn record_outcome(&self, chain: &Blockchain, outcome: &crate::chain::Outcome) -> u64 {
        use crate::chain::Outcome;
        let (fork, reorg) = match *outcome {
            Outcome::Extended { added, height, .. } => (height - added as u64, false),
            Outcome::Reorganized { added, .. } => (chain.height() - added as u64, true),
            Outcome::Known | Outcome::NotMoreWork { .. } => return self.recorded(),
        };
        self.record(|| {
            let blocks = chain.blocks()[fork as usize + 1..].to_vec();
            if reorg {
                Change::Reorg {
                    fork_height: fork,
                    blocks,
                }
            } else {
                Change::Append(blocks)
            }
        })
    }

    /// The number of the last change handed to the writer (read it under the chain lock).
    pub fn recorded(&self) -> u64 {
        self.disk
            .as_ref()
            .map_or(0, |d| d.recorded.load(Ordering::SeqCst))
    }

    /// Blocks until change `seq` is on disk.
    pub fn wait_durable(&self, seq: u64) {
        let Some(disk) = &self.disk else { return };
        let mut durable = lock(&disk.durable);
        while *durable < seq {
            durable = disk.synced.wait(durable).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Adds a peer's listen address to `peers.txt`.
    fn remember_peer(&self, addr: SocketAddr) {
        let Some(disk) = &self.disk else { return };
        let peers: Vec<SocketAddr> = {
            let mut good = lock(&disk.good_peers);
            if !good.insert(addr) || good.len() > MAX_KNOWN_ADDRESSES {
                return;
            }
            good.iter().copied().collect()
        };
        if let Some(jobs) = lock(&disk.jobs).as_ref() {
            let _ = jobs.send(Job::Peers(peers));
        }
    }

    /// Prints a log line, unless logging is off.
    pub fn log(&self, line: impl fmt::Display) {
        if self.config.log {
            // Not `println!`, which panics when stdout is gone (`peerchain 8555 | head`): a log
            // line must never take a thread down.
            let _ = writeln!(io::stdout().lock(), "{line}");
        }
    }

    /// The chain lock.
    pub fn chain(&self) -> MutexGuard<'_, Blockchain> {
        lock(&self.chain)
    }

    /// Registers a new connection and runs its session on a thread of its own. When the node
    /// is full the thread only says "too many peers" and closes.
    fn start_session(self: &Arc<Self>, stream: TcpStream) {
        let shared = Arc::clone(self);
        self.spawn(move || shared.session(stream, None));
    }

    /// Runs a connection's session on the calling thread, from registration to removal.
    fn session(self: &Arc<Self>, stream: TcpStream, dialed: Option<SocketAddr>) {
        let registered = self.register(&stream, dialed);
        // A dial counts as in progress until its slot exists, so nobody dials it twice.
        if let Some(addr) = dialed {
            lock(&self.dialing).remove(&addr);
        }
        let Some((id, sender)) = registered else {
            crate::peer::refuse(self, stream, "too many peers");
            return;
        };
        crate::peer::run(self, id, sender, stream);
        lock(&self.peers).remove(&id);
    }

    /// Spawns a thread the node will join on shutdown.
    fn spawn(&self, work: impl FnOnce() + Send + 'static) {
        let handle = thread::spawn(work);
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
    }

    /// Adds a slot for a connection, unless the table is full.
    fn register(
        &self,
        stream: &TcpStream,
        dialed: Option<SocketAddr>,
    ) -> Option<(u64, Arc<Sender>)> {
        let sender =
            Arc::new(Sender::new(stream.try_clone().ok()?, self.config.write_timeout).ok()?);
        let mut peers = lock(&self.peers);
        if peers.len() >= self.config.max_peers {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Slot {
            sender: Arc::clone(&sender),
            outbound: dialed.is_some(),
            dialed,
            hello: None,
        };
        peers.insert(id, slot);
        Some((id, sender))
    }

    /// Dials `addr` on a new thread, which then runs the session.
    /// Dials `addr` on a new thread, which then runs the session: one thread per socket. Does
    /// nothing if that address is connected or being dialed already.
    pub fn dial(self: &Arc<Self>, addr: SocketAddr) {
        {
            let mut dialing = lock(&self.dialing);
            if self.stopping.load(Ordering::SeqCst)
                || dialing.contains(&addr)
                || self.connected_addresses().contains(&addr)
            {
                return;
            }
            dialing.insert(addr);
        }
        let shared = Arc::clone(self);
        self.spawn(move || {
            match TcpStream::connect_timeout(&addr, shared.config.handshake_timeout) {
                Ok(stream) if !shared.stopping.load(Ordering::SeqCst) => {
                    shared.log(format_args!("[+] Connected to {addr}"));
                    shared.session(stream, Some(addr));
                }
                Ok(_) => {}
                Err(e) => shared.log(format_args!("[!] Could not connect to {addr}: {e}")),
            }
            lock(&shared.dialing).remove(&addr);
        });
    }

    /// Addresses we have a connection to: the ones we dialed and our peers' listen addresses.
    fn connected_addresses(&self) -> HashSet<SocketAddr> {
        lock(&self.peers)
            .values()
            .flat_map(|s| [s.dialed, s.hello.as_ref().and_then(|h| h.1)])
            .flatten()
            .collect()
    }

    /// Records the result of a handshake. Fails if that node is already connected.
    ///
    /// Two nodes that dial each other at the same moment end up with two connections, and each
    /// side sees a duplicate. Both must drop the *same* one, or both links die: so when the two
    /// go in opposite directions we keep the one dialed by the node with the smaller id, a rule
    /// both sides compute alike. Otherwise the newer connection is refused.
    pub fn complete_handshake(&self, id: u64, node_id: &str, listen: Option<SocketAddr>) -> bool {
        let mut peers = lock(&self.peers);
        let existing = peers
            .iter()
            .find(|(other, s)| **other != id && s.hello.as_ref().is_some_and(|(n, _)| n == node_id))
            .map(|(other, s)| (*other, s.outbound, Arc::clone(&s.sender)));
        if let Some((old_id, old_outbound, old_sender)) = existing {
            let new_outbound = peers.get(&id).is_some_and(|s| s.outbound);
            // The new connection is the one we dialed iff the smaller id is ours.
            let keep_new =
                old_outbound != new_outbound && new_outbound == (self.node_id.as_str() < node_id);
            if !keep_new {
                return false;
            }
            peers.remove(&old_id);
            old_sender.close();
        }
        if let Some(slot) = peers.get_mut(&id) {
            slot.hello = Some((node_id.to_string(), listen));
        }
        drop(peers);
        if let Some(addr) = listen {
            self.remember_peer(addr);
        }
        true
    }

    /// Remembers that `addr` leads back to us, so discovery never dials it again.
    pub fn mark_as_us(&self, addr: SocketAddr) {
        lock(&self.is_us).insert(addr);
    }

    /// The handshaken peers.
    pub fn peer_infos(&self) -> Vec<PeerInfo> {
        let peers = lock(&self.peers);
        let mut infos: Vec<PeerInfo> = peers
            .values()
            .filter_map(|s| {
                let (node_id, listen_addr) = s.hello.clone()?;
                Some(PeerInfo {
                    addr: s.sender.addr,
                    node_id,
                    listen_addr,
                    outbound: s.outbound,
                })
            })
            .collect();
        infos.sort_by_key(|p| p.addr);
        infos
    }

    /// Dialable addresses to tell peer `asker` about: our other peers' listen addresses.
    pub fn addresses_for(&self, asker: u64) -> Vec<String> {
        let peers = lock(&self.peers);
        peers
            .iter()
            .filter(|(id, _)| **id != asker)
            .filter_map(|(_, s)| s.hello.as_ref()?.1)
            .take(MAX_PEER_ADDRESSES)
            .map(|a| a.to_string())
            .collect()
    }

    /// Adds addresses to the known set and dials until we have enough outbound peers.
    pub fn learn(self: &Arc<Self>, addrs: impl IntoIterator<Item = SocketAddr>) {
        {
            let mut known = lock(&self.known);
            for addr in addrs {
                if known.len() < MAX_KNOWN_ADDRESSES {
                    known.insert(addr);
                }
            }
        }
        self.dial_more();
    }

    /// Dials known addresses that are not connected, not ourselves and not being dialed, until
    /// the outbound target is met.
    pub fn dial_more(self: &Arc<Self>) {
        let mut outbound = lock(&self.peers).values().filter(|s| s.outbound).count();
        let connected = self.connected_addresses();
        outbound += lock(&self.dialing).len();
        let is_us = lock(&self.is_us).clone();
        let candidates: Vec<SocketAddr> = lock(&self.known)
            .iter()
            .filter(|a| !connected.contains(a) && !is_us.contains(a) && **a != self.listen_addr)
            .copied()
            .collect();
        for addr in candidates {
            if outbound >= self.config.target_outbound {
                break;
            }
            outbound += 1;
            self.dial(addr);
        }
    }

    /// Sends `block` to every handshaken peer except `except`: how a new tip spreads.
    pub fn relay(&self, block: &Block, except: Option<u64>) {
        let line = Message::Block(block.clone()).encode();
        let senders: Vec<Arc<Sender>> = lock(&self.peers)
            .iter()
            .filter(|(id, s)| Some(**id) != except && s.hello.is_some())
            .map(|(_, s)| Arc::clone(&s.sender))
            .collect();
        for sender in senders {
            if let Err(e) = sender.send_line(&line) {
                self.log(format_args!("[!] Relay to {} failed: {e}", sender.addr));
            }
        }
    }

    /// Our tip changed to `tip` (change number `seq`) because of a block from peer `source`
    /// (or mined here, `None`): abandon stale mining work and, once the change is on disk, tell
    /// the other peers.
    pub fn new_tip(&self, tip: &Block, source: Option<u64>, seq: u64) {
        if let Some(stop) = lock(&self.miner_stop).as_ref() {
            stop.store(true, Ordering::Relaxed);
        }
        self.wait_durable(seq);
        self.relay(tip, source);
    }
}

/// A running node. Dropping it shuts it down.
pub struct Node {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Node {
    /// Starts a node with a fresh chain on `listener`, which the caller has bound (tests bind
    /// `127.0.0.1:0` and read the port back with [`local_addr`](Self::local_addr)). The chain
    /// is kept in memory only.
    pub fn start(listener: TcpListener, config: Config) -> io::Result<Node> {
        let chain = Blockchain::new(config.network);
        Node::start_with_chain(listener, config, chain)
    }

    /// Starts a node on `listener` with an existing chain, kept in memory only.
    pub fn start_with_chain(
        listener: TcpListener,
        config: Config,
        chain: Blockchain,
    ) -> io::Result<Node> {
        Node::launch(listener, config, chain, None)
    }

    /// Starts a node that keeps its chain in `store`, beginning with what was loaded from it,
    /// and redials the peers it remembered.
    pub fn start_with_store(
        listener: TcpListener,
        config: Config,
        store: Store,
        loaded: Loaded,
    ) -> io::Result<Node> {
        let peers = loaded.peers.clone();
        let node = Node::launch(listener, config, loaded.chain, Some(store))?;
        if let Some(disk) = &node.shared.disk {
            lock(&disk.good_peers).extend(peers.iter().copied());
        }
        node.shared.learn(peers);
        Ok(node)
    }

    fn launch(
        listener: TcpListener,
        config: Config,
        chain: Blockchain,
        store: Option<Store>,
    ) -> io::Result<Node> {
        let listen_addr = listener.local_addr()?;
        let (disk, jobs) = match store {
            Some(store) => {
                let (tx, rx) = mpsc::channel();
                let disk = Disk {
                    jobs: Mutex::new(Some(tx)),
                    recorded: AtomicU64::new(0),
                    durable: Mutex::new(0),
                    synced: Condvar::new(),
                    writer: Mutex::new(None),
                    good_peers: Mutex::new(BTreeSet::new()),
                };
                (Some(disk), Some((store, rx)))
            }
            None => (None, None),
        };
        let shared = Arc::new(Shared {
            config,
            node_id: format!("{:016x}", random_u64()),
            listen_addr,
            chain: Arc::new(Mutex::new(chain)),
            peers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            known: Mutex::new(BTreeSet::new()),
            dialing: Mutex::new(HashSet::new()),
            is_us: Mutex::new(HashSet::new()),
            threads: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            miner_stop: Mutex::new(None),
            stats: Mutex::new(SyncStats::default()),
            disk,
        });
        if let Some((store, rx)) = jobs {
            let writer_shared = Arc::clone(&shared);
            let writer = thread::spawn(move || write_loop(&writer_shared, store, rx));
            if let Some(disk) = &shared.disk {
                *lock(&disk.writer) = Some(writer);
            }
        }
        let accept_shared = Arc::clone(&shared);
        let accept = thread::spawn(move || accept_loop(&accept_shared, listener));
        Ok(Node {
            shared,
            accept: Some(accept),
        })
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.listen_addr
    }

    /// This node's random id, as sent in `hello`.
    pub fn node_id(&self) -> &str {
        &self.shared.node_id
    }

    /// The shared chain. Lock it briefly; never across I/O.
    pub fn chain(&self) -> Arc<Mutex<Blockchain>> {
        Arc::clone(&self.shared.chain)
    }

    /// Height, tip, work and next difficulty, copied out under the lock.
    pub fn summary(&self) -> ChainSummary {
        let chain = self.shared.chain();
        ChainSummary {
            height: chain.height(),
            tip: chain.tip().hash,
            total_work: chain.total_work(),
            next_difficulty: chain.next_difficulty(),
        }
    }

    /// The active block at `height`.
    pub fn block(&self, height: u64) -> Option<Block> {
        self.shared.chain().block(height).cloned()
    }

    /// The handshaken peers, sorted by address.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.shared.peer_infos()
    }

    /// Sync counters.
    pub fn sync_stats(&self) -> SyncStats {
        lock(&self.shared.stats).clone()
    }

    /// Dials `addr` in the background; the handshake follows on the connection's thread.
    pub fn connect(&self, addr: SocketAddr) {
        lock(&self.shared.known).insert(addr);
        self.shared.dial(addr);
    }

    /// Mines a block with `data` on every core, appends it and relays it. If a peer's block
    /// moves the tip meanwhile, the work is abandoned and mining starts again on the new tip.
    pub fn mine(&self, data: Vec<String>) -> Result<Block, NodeError> {
        let shared = &self.shared;
        loop {
            if shared.stopping.load(Ordering::SeqCst) {
                return Err(NodeError::ShuttingDown);
            }
            let template = shared.chain().template(data.clone(), now_ms())?;
            let stop = Arc::new(AtomicBool::new(false));
            *lock(&shared.miner_stop) = Some(Arc::clone(&stop));
            let mined = miner::mine(template, &stop);
            *lock(&shared.miner_stop) = None;
            let Some(block) = mined else { continue };
            match self.submit_block(block.clone()) {
                Ok(()) => return Ok(block),
                // The tip moved between mining and appending: mine again on the new one.
                Err(NodeError::Chain(
                    ChainError::BadHeight { .. } | ChainError::BadPreviousHash { .. },
                )) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Validates `block` as the next block on our tip, appends it and relays it to every peer:
    /// what a node does with a block mined here or handed to it by a local program.
    pub fn submit_block(&self, block: Block) -> Result<(), NodeError> {
        let shared = &self.shared;
        let seq = {
            let mut chain = shared.chain();
            chain.append(block.clone())?;
            shared.record(|| Change::Append(vec![block.clone()]))
        };
        shared.log(format_args!(
            "[*] Mined block {} {} (difficulty {})",
            block.height,
            block.hash.short(),
            block.difficulty
        ));
        shared.new_tip(&block, None, seq);
        Ok(())
    }

    /// Stops accepting, closes every connection and joins every thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let shared = &self.shared;
        if shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(stop) = lock(&shared.miner_stop).as_ref() {
            stop.store(true, Ordering::Relaxed);
        }
        // `accept` blocks; a connection to ourselves wakes it to see the flag.
        let mut wake = shared.listen_addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        loop {
            for slot in lock(&shared.peers).values() {
                slot.sender.close();
            }
            let threads: Vec<JoinHandle<()>> = lock(&shared.threads).drain(..).collect();
            if threads.is_empty() {
                break;
            }
            for t in threads {
                let _ = t.join();
            }
        }
        // Every thread that could change the chain has ended: let the writer finish its queue.
        if let Some(disk) = &shared.disk {
            lock(&disk.jobs).take();
            if let Some(writer) = lock(&disk.writer).take() {
                let _ = writer.join();
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The disk writer: applies chain changes in order, syncing each, and wakes whoever waits.
fn write_loop(shared: &Shared, mut store: Store, jobs: mpsc::Receiver<Job>) {
    let disk = shared.disk.as_ref().expect("a writer has a disk");
    let mut failed = false;
    for job in jobs {
        match job {
            Job::Chain(seq, change) => {
                if !failed {
                    if let Err(e) = store.apply(&change) {
                        // A production node would stop here; we say so loudly and carry on in
                        // memory, so a classroom demo survives a full disk.
                        shared.log(format_args!(
                            "[!] Cannot write {}: {e}; the chain is kept in memory only from now on",
                            store.blocks_path().display()
                        ));
                        failed = true;
                    }
                }
                *lock(&disk.durable) = seq;
                disk.synced.notify_all();
            }
            Job::Peers(peers) => {
                if let Err(e) = store.save_peers(&peers) {
                    shared.log(format_args!("[!] Cannot save peers: {e}"));
                }
            }
        }
    }
    *lock(&disk.durable) = u64::MAX;
    disk.synced.notify_all();
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, addr)) => {
                shared.log(format_args!("[+] New connection from {addr}"));
                shared.start_session(stream);
            }
            Err(e) => {
                // Running out of file descriptors, say. Back off instead of spinning.
                shared.log(format_args!("[!] accept failed: {e}"));
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
