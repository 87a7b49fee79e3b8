//! The node: one program that is both a TCP server and a TCP client.
//!
//! A `TcpListener` accepts on one thread; every connection, accepted or dialed, gets a thread
//! of its own that runs a [`session`] (and a writer thread behind its send queue, see
//! [`connection`]). They share one `NodeState` (in [`state`]): the chain as
//! `Arc<Mutex<Blockchain>>` (in [`chain_state`]), the peer table, the address book and the
//! settings. A maintenance thread ticks once a second to keep the node connected: it dials from
//! the address book while the node has fewer outbound peers than its target, and now and then
//! asks a peer for more addresses.
//!
//! This module and its children are the only part of the crate with threads for peers,
//! sockets and shared state; the core below them ([`chain`](crate::chain),
//! [`consensus`](crate::consensus), ...) knows nothing of them.
//!
//! See `tutorial/07-client-and-server.md` and `tutorial/10-relay-and-discovery.md`.

pub mod address_book;
pub mod block_tree;
pub mod chain_state;
pub mod config;
pub mod connection;
pub mod discouraged;
pub mod peer_table;
pub mod session;
pub mod state;

use crate::block::Block;
use crate::chain::Blockchain;
use crate::consensus::{now_ms, ChainError};
use crate::crypto::keys::SecretKey;
use crate::hash::Hash;
use crate::log::Logger;
use crate::mempool::{Entry, Rejected};
use crate::message::Message;
use crate::miner;
use crate::store::{DiskWriter, Loaded, Store};
use crate::transaction::{Address, OutPoint, Transaction};
use crate::utxo::Coin;
use crate::wallet::{self, Balance, TxInfo, WalletError};
use address_book::AddressBook;
use chain_state::{lock, ChainState};
use peer_table::{Limits, PeerTable};
use state::{Batch, NodeState};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use chain_state::ChainSummary;
pub use config::{Config, MAX_HANDSHAKES, MAX_PEERS, TARGET_OUTBOUND};
pub use peer_table::PeerInfo;
pub use state::SyncStats;

/// Why a node operation failed. One enum for the node layer.
#[derive(Debug)]
pub enum NodeError {
    /// The chain refused a block.
    Chain(ChainError),
    /// The node is shutting down.
    ShuttingDown,
    /// A socket or the listener failed.
    Io(io::Error),
    /// `mine -n` was asked for no blocks, or for more than [`MAX_MINE_COUNT`].
    MineCount(u64),
    /// A batch of blocks is being mined already: this many of that many.
    AlreadyMining((u64, u64)),
    /// The batch was stopped before this block was found.
    Stopped,
}

/// A reorganization of our chain: when, how deep, from which tip to which, and whose chain
/// it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reorg {
    /// When it happened, in ms since 1970.
    pub at_ms: u64,
    /// How many of our blocks were taken off.
    pub depth: u64,
    /// How many blocks took their place.
    pub added: usize,
    /// Our tip before.
    pub old_tip: Hash,
    /// Our tip after.
    pub new_tip: Hash,
    /// The peer whose chain we switched to: its address and node id.
    pub peer: String,
}

/// At most this many reorganizations are remembered.
pub const MAX_REORGS: usize = 100;

/// A waiting transaction, in brief (see [`Node::mempool_lines`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolLine {
    /// Its txid.
    pub txid: Hash,
    /// Its fee, in base units.
    pub fee: u64,
    /// How many inputs it has.
    pub inputs: usize,
    /// How many outputs.
    pub outputs: usize,
    /// How long it has waited.
    pub age: Duration,
}

impl MempoolLine {
    /// Its fee rate, fee per input and output, with two decimals, computed in integers
    /// (money is never a float here, chapter 16).
    pub fn fee_rate(&self) -> String {
        let in_outs = (self.inputs + self.outputs).max(1) as u128;
        let hundredths = u128::from(self.fee) * 100 / in_outs;
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

/// At most this many blocks in one [`Node::mine_many`].
pub const MAX_MINE_COUNT: u64 = 100;

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Chain(e) => write!(f, "{e}"),
            NodeError::ShuttingDown => write!(f, "the node is shutting down"),
            NodeError::Io(e) => write!(f, "{e}"),
            NodeError::MineCount(n) => {
                write!(f, "a batch mines 1 to {MAX_MINE_COUNT} blocks, not {n}")
            }
            NodeError::AlreadyMining((done, count)) => write!(
                f,
                "already mining: {done} of {count} blocks so far (`mine stop` stops it)"
            ),
            NodeError::Stopped => write!(f, "mining was stopped"),
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

/// The node's state plus the threads it started, which shutdown joins: what the accept loop,
/// the maintenance tick and every connection's thread hold on to.
struct Threads {
    state: Arc<NodeState>,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Threads {
    /// Spawns a thread the node will join on shutdown.
    fn spawn(&self, work: impl FnOnce() + Send + 'static) {
        let handle = thread::spawn(work);
        let mut handles = lock(&self.handles);
        handles.retain(|t| !t.is_finished());
        handles.push(handle);
    }

    /// Runs a connection's session on the calling thread, from the peer table to its end.
    fn session(&self, stream: TcpStream, dialed: Option<SocketAddr>) {
        let state = &self.state;
        let opened = connection::open(stream, state.config.write_timeout);
        let admitted = opened.map(|(reader, writer)| {
            let (id, pushed_out) = state
                .peers
                .admit(Arc::clone(&writer), dialed, Instant::now());
            (reader, writer, id, pushed_out)
        });
        // A dial counts as in progress until its slot exists, so nobody dials it twice.
        if let Some(addr) = dialed {
            state.book.end_dial(addr);
        }
        let (reader, writer, id, pushed_out) = match admitted {
            Ok(admitted) => admitted,
            Err(e) => {
                state
                    .log
                    .log(format_args!("[!] Cannot use a connection: {e}"));
                return;
            }
        };
        if let Some(old) = pushed_out {
            state.log.log(format_args!(
                "[-] Closing {} (no hello yet) to make room for {}",
                old.addr, writer.addr
            ));
            old.close();
        }
        crate::node::session::run(state, id, reader, writer, dialed);
    }

    /// Dials `addr` on a new thread, which then runs the session: one thread per socket. Does
    /// nothing if that address is connected or being dialed already.
    fn dial(self: &Arc<Self>, addr: SocketAddr) {
        let state = &self.state;
        if state.stopping.load(Ordering::SeqCst)
            || addr == state.listen_addr
            || state.peers.connected_addresses().contains(&addr)
            || !state.book.start_dial(addr)
        {
            return;
        }
        let threads = Arc::clone(self);
        self.spawn(move || {
            let state = &threads.state;
            match TcpStream::connect_timeout(&addr, state.config.handshake_timeout) {
                Ok(stream) if !state.stopping.load(Ordering::SeqCst) => {
                    state.log.log(format_args!("[+] Connected to {addr}"));
                    threads.session(stream, Some(addr));
                }
                Ok(_) => state.book.end_dial(addr),
                Err(e) => {
                    state.book.end_dial(addr);
                    if state.book.failed(addr, Instant::now()).0 {
                        state.save_peers();
                    }
                    state
                        .log
                        .log(format_args!("[!] Could not connect to {addr}: {e}"));
                }
            }
        });
    }

    /// One maintenance tick: dial from the address book up to the outbound target, and, when
    /// `refresh` says so, ask one peer (a different one each time) for addresses.
    fn maintain(self: &Arc<Self>, refresh: Option<usize>) {
        let state = &self.state;
        state.note_dropped_payments();
        let have = state.peers.outbound_count() + state.book.dialing();
        let want = state.config.target_outbound.saturating_sub(have);
        if want > 0 {
            let connected = state.peers.connected_addresses();
            for addr in state.book.to_dial(want, &connected, Instant::now()) {
                self.dial(addr);
            }
        }
        if let Some(turn) = refresh {
            let writers = state.peers.relay_targets(None);
            if !writers.is_empty() {
                let _ = writers[turn % writers.len()].send(&Message::GetPeers);
            }
        }
    }
}

/// A running node. Dropping it shuts it down.
pub struct Node {
    threads: Arc<Threads>,
    accept: Option<JoinHandle<()>>,
    maintenance: Option<JoinHandle<()>>,
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
        Node::launch(
            listener,
            config,
            chain,
            None,
            Vec::new(),
            SecretKey::generate(),
        )
    }

    /// Starts a node like [`start_with_chain`](Self::start_with_chain), with `key` as its
    /// identity and wallet: the lab keeps its nodes' keys, to sign the payments its attackers
    /// double-spend and to bring a node back up as itself.
    pub fn start_with_key(
        listener: TcpListener,
        config: Config,
        chain: Blockchain,
        key: SecretKey,
    ) -> io::Result<Node> {
        Node::launch(listener, config, chain, None, Vec::new(), key)
    }

    /// Starts a node that keeps its chain in `store`, beginning with what was loaded from it
    /// (its chain, its peers to redial, and its key from `wallet.key`).
    pub fn start_with_store(
        listener: TcpListener,
        config: Config,
        store: Store,
        loaded: Loaded,
    ) -> io::Result<Node> {
        let peers = loaded.peers.clone();
        let key = match loaded.key {
            Some((key, _)) => key,
            None => SecretKey::generate(),
        };
        Node::launch(listener, config, loaded.chain, Some(store), peers, key)
    }

    fn launch(
        listener: TcpListener,
        config: Config,
        chain: Blockchain,
        store: Option<Store>,
        remembered: Vec<SocketAddr>,
        key: SecretKey,
    ) -> io::Result<Node> {
        let listen_addr = listener.local_addr()?;
        let log = if config.log {
            Logger::stdout()
        } else {
            Logger::off()
        };
        let disk = store.map(|store| DiskWriter::start(store, log.clone()));
        // Our id is our key's short name, proven in every handshake (see `identity`).
        let node_id = crate::identity::node_id(&key.public_key());
        let limits = Limits {
            max_peers: config.max_peers,
            max_handshakes: config.max_handshakes,
            duplicate_window: config.duplicate_window,
        };
        let book = AddressBook::new();
        book.learn_good(remembered, Instant::now());
        // The tree starts as the top of our chain (nothing of it is on disk): who gave those
        // blocks is not known, so a reorganization that takes them off still shows them stale.
        let mut tree = block_tree::BlockTree::default();
        let top = chain.headers().len();
        let kept = block_tree::KEEP_DEPTH as usize;
        for header in &chain.headers()[top.saturating_sub(kept)..] {
            tree.saw(header, "", 0, true);
        }
        let state = Arc::new(NodeState {
            peers: PeerTable::new(limits, node_id.clone()),
            node_id,
            listen_addr,
            chain: ChainState::new(chain, disk),
            book,
            discouraged: discouraged::Discouraged::new(config.discourage_for),
            log,
            key,
            sending: Mutex::new(()),
            stats: Mutex::new(SyncStats::default()),
            stopping: AtomicBool::new(false),
            batch: Mutex::new(None),
            dropped_payments: Mutex::new(Default::default()),
            reorgs: Mutex::new(Default::default()),
            tree: Mutex::new(tree),
            config,
        });
        let threads = Arc::new(Threads {
            state,
            handles: Mutex::new(Vec::new()),
        });
        let accept_threads = Arc::clone(&threads);
        let accept = thread::spawn(move || accept_loop(&accept_threads, listener));
        let tick_threads = Arc::clone(&threads);
        let maintenance = thread::spawn(move || maintenance_loop(&tick_threads));
        Ok(Node {
            threads,
            accept: Some(accept),
            maintenance: Some(maintenance),
        })
    }

    fn state(&self) -> &NodeState {
        &self.threads.state
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.state().listen_addr
    }

    /// The network this node follows.
    pub fn network(&self) -> crate::params::Network {
        self.state().config.network
    }

    /// This node's id, as sent in `hello`: the first 16 hex digits of its key's address.
    pub fn node_id(&self) -> &str {
        &self.state().node_id
    }

    /// Runs `f` on the chain, read-only, under the chain lock: keep it quick (no I/O, no
    /// mining). Changes go through [`submit_block`](Self::submit_block), which also writes them
    /// to disk and relays them.
    pub fn with_chain<R>(&self, f: impl FnOnce(&Blockchain) -> R) -> R {
        self.state().chain.read(f)
    }

    /// The node's address: the first 20 bytes of SHA-256 of its compressed public key.
    pub fn address(&self) -> String {
        self.state().key.public_key().address()
    }

    /// The address the node's coinbases pay, and its wallet's.
    fn payout(&self) -> Address {
        Address::of(&self.state().key.public_key())
    }

    /// The node's compressed public key, 66 hex digits.
    pub fn public_key(&self) -> String {
        self.state().key.public_key().to_hex()
    }

    /// Height, tip, work and next difficulty, copied out under the lock.
    pub fn summary(&self) -> ChainSummary {
        self.state().chain.summary()
    }

    /// The active block at `height`.
    pub fn block(&self, height: u64) -> Option<Block> {
        self.with_chain(|chain| chain.block(height).cloned())
    }

    /// The active block with this hash.
    pub fn block_by_hash(&self, hash: &Hash) -> Option<Block> {
        self.with_chain(|chain| chain.block(chain.height_of(hash)?).cloned())
    }

    /// Up to `count` active blocks from `height` down, newest first, as many as fit in
    /// `max_bytes` by their [`Block::size_estimate`] (always the first): copied under the lock,
    /// so the caller encodes them after it is released (encoding 100 full blocks takes far
    /// longer than copying them), and a page of heavy blocks costs a few megabytes, not
    /// hundreds.
    pub fn blocks_down_from(&self, height: u64, count: u64, max_bytes: usize) -> Vec<Block> {
        let lowest = (height + 1).saturating_sub(count);
        self.with_chain(|chain| {
            let mut bytes = 0;
            let mut blocks = Vec::new();
            for block in (lowest..=height).rev().filter_map(|h| chain.block(h)) {
                bytes += block.size_estimate();
                if bytes > max_bytes && !blocks.is_empty() {
                    break;
                }
                blocks.push(block.clone());
            }
            blocks
        })
    }

    /// The transactions that pay `address` or spend with its key: those in the mempool (height
    /// `None`), then those in the active blocks from `height` down to `lowest`, newest first;
    /// at most `max` of them.
    ///
    /// Finding them hashes every input's key, so the blocks are scanned a few at a time, each
    /// few under a lock of its own: other threads get the chain between them. (A reorganization
    /// meanwhile can make the list mix two chains; Bitcoin Core's address index, `-txindex` and
    /// the wallet's own records avoid the scan altogether.)
    pub fn history(
        &self,
        address: &Address,
        height: u64,
        lowest: u64,
        max: usize,
    ) -> Vec<(Hash, Option<u64>)> {
        const BLOCKS_PER_LOCK: u64 = 10;
        let mut found: Vec<(Hash, Option<u64>)> = self.with_chain(|chain| {
            let entries = chain.mempool().entries().into_iter();
            entries
                .filter(|e| wallet::touches(&e.tx, address))
                .map(|e| (e.tx.txid, None))
                .take(max)
                .collect()
        });
        let mut top = height;
        while top >= lowest && found.len() < max {
            let bottom = top.saturating_sub(BLOCKS_PER_LOCK - 1).max(lowest);
            self.with_chain(|chain| {
                for h in (bottom..=top).rev() {
                    let Some(block) = chain.block(h) else {
                        continue;
                    };
                    let txs = block.transactions.iter();
                    let touching = txs.filter(|tx| wallet::touches(tx, address));
                    found.extend(touching.map(|tx| (tx.txid, Some(h))));
                }
            });
            if bottom == 0 {
                break;
            }
            top = bottom - 1;
        }
        found.truncate(max);
        found
    }

    /// The handshaken peers, sorted by address.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let mut peers = self.state().peers.infos();
        // One look at the chain for all of them: each peer's tip against ours.
        self.with_chain(|chain| {
            let (tip, height) = (chain.tip().hash, chain.height());
            for peer in &mut peers {
                let standing = peer_table::Standing::of(peer.tip.as_ref(), &tip, height, |h| {
                    chain.height_of(h)
                });
                peer.standing = standing;
            }
        });
        peers
    }

    /// The block tree near the tip: every block of the last `depth` heights, on our chain or
    /// not, with its status and who gave it, lowest first (see
    /// [`block_tree`]). Blocks of our chain the tree never saw (loaded
    /// at start) come with an empty source.
    pub fn tree(&self, depth: u64) -> Vec<(block_tree::TreeEntry, block_tree::Status)> {
        self.with_chain(|chain| {
            let tip = chain.height();
            let from = (tip + 1).saturating_sub(depth.max(1));
            let tree = lock(&self.state().tree);
            let seen = tree.above(from);
            let mut all: Vec<(block_tree::TreeEntry, block_tree::Status)> = Vec::new();
            for height in from..=tip {
                let Some(header) = chain.headers().get(height as usize) else {
                    continue;
                };
                let entry = seen.iter().find(|e| e.hash == header.hash).cloned();
                let entry = entry.unwrap_or(block_tree::TreeEntry {
                    hash: header.hash,
                    parent: header.previous_hash,
                    height,
                    difficulty: header.difficulty,
                    first_seen_ms: 0,
                    source: String::new(),
                    was_active: true,
                    invalid: None,
                });
                all.push((entry, block_tree::Status::Active));
            }
            for entry in seen {
                if !chain.contains(&entry.hash) {
                    let status = entry.status(false);
                    all.push((entry, status));
                }
            }
            all.sort_by_key(|(e, status)| (e.height, *status != block_tree::Status::Active));
            all
        })
    }

    /// When this node first saw block `hash` (in ms since 1970), if its block tree still
    /// holds it: what the lab reads to measure propagation.
    pub fn first_seen(&self, hash: &Hash) -> Option<u64> {
        lock(&self.state().tree).first_seen(hash)
    }

    /// The last reorganizations (at most 100), oldest first.
    pub fn reorgs(&self) -> Vec<Reorg> {
        lock(&self.state().reorgs).iter().cloned().collect()
    }

    /// Every address in the node's address book, sorted.
    pub fn known_addresses(&self) -> Vec<SocketAddr> {
        self.state().book.known()
    }

    /// Sync counters.
    pub fn sync_stats(&self) -> SyncStats {
        lock(&self.state().stats).clone()
    }

    /// Dials `addr` now, and keeps it in the address book for good: the maintenance tick
    /// redials it whenever the link drops.
    pub fn connect(&self, addr: SocketAddr) {
        self.state().book.pin(addr, Instant::now());
        self.threads.dial(addr);
    }

    /// Mines a block with `data` on every core, appends it and relays it. If a peer's block
    /// moves the tip meanwhile, the work is abandoned and mining starts again on the new tip.
    pub fn mine(&self, data: Vec<String>) -> Result<Block, NodeError> {
        mine_one(self.state(), &data, None)
    }

    /// Starts mining `count` blocks (1 to [`MAX_MINE_COUNT`]) with `data`, one after another,
    /// on a thread of the node's own, and returns at once; each block logs a progress line
    /// (`[*] Mined block 7 … (3 of 11)`). One batch at a time; [`stop_mining`](Self::stop_mining)
    /// ends it, the block in progress included.
    ///
    /// Why a thread: at main's difficulty a dozen blocks take a while, and the console and the
    /// App must stay usable meanwhile, if only to say `mine stop`.
    pub fn mine_many(&self, count: u64, data: Vec<String>) -> Result<(), NodeError> {
        if !(1..=MAX_MINE_COUNT).contains(&count) {
            return Err(NodeError::MineCount(count));
        }
        let state = Arc::clone(&self.threads.state);
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        {
            let mut batch = lock(&state.batch);
            if let Some(running) = batch.as_ref() {
                return Err(NodeError::AlreadyMining(running.progress()));
            }
            *batch = Some(Batch {
                count,
                done: Arc::clone(&done),
                stop: Arc::clone(&stop),
            });
        }
        /// Frees the batch slot when the batch thread ends, however it ends.
        struct Finished(Arc<NodeState>);
        impl Drop for Finished {
            fn drop(&mut self) {
                *lock(&self.0.batch) = None;
            }
        }
        self.threads.spawn(move || {
            let _finished = Finished(Arc::clone(&state));
            for i in 1..=count {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                match mine_one(&state, &data, Some((&stop, i, count))) {
                    Ok(_) => done.store(i, Ordering::SeqCst),
                    Err(NodeError::ShuttingDown) => break,
                    Err(NodeError::Stopped) => {
                        state.log.log(format_args!(
                            "[*] Mining stopped after {} of {count} blocks",
                            i - 1
                        ));
                        break;
                    }
                    Err(e) => {
                        state.log.log(format_args!("[!] Could not mine: {e}"));
                        break;
                    }
                }
            }
        });
        Ok(())
    }

    /// Stops the batch of [`mine_many`](Self::mine_many) in progress, if any, and says how far
    /// it got; the block being mined is abandoned.
    pub fn stop_mining(&self) -> Option<(u64, u64)> {
        let state = self.state();
        let progress = lock(&state.batch).as_ref().map(|batch| {
            batch.stop.store(true, Ordering::SeqCst);
            batch.progress()
        })?;
        state.chain.tip_moved();
        Some(progress)
    }

    /// The batch in progress: blocks mined so far, and how many it will mine.
    pub fn mining(&self) -> Option<(u64, u64)> {
        lock(&self.state().batch).as_ref().map(Batch::progress)
    }

    /// Validates `block` as the next block on our tip, appends it and relays it to every peer:
    /// what a node does with a block mined here or handed to it by a local program.
    pub fn submit_block(&self, block: Block) -> Result<(), NodeError> {
        submit(self.state(), block, "")
    }

    /// `address`'s balance: spendable, immature, and pending in and out (see [`wallet`]).
    pub fn balance(&self, address: &Address) -> Balance {
        self.with_chain(|chain| wallet::balance(chain, address))
    }

    /// The node's own balance.
    pub fn own_balance(&self) -> Balance {
        self.balance(&self.payout())
    }

    /// The unspent outputs of `address`, oldest first.
    pub fn utxos(&self, address: &Address) -> Vec<(OutPoint, Coin)> {
        self.with_chain(|chain| chain.utxo().coins_of(address))
    }

    /// A page of them: up to `limit` after the coin `after` (its height and outpoint), and
    /// how many the address has (see [`crate::utxo::UtxoSet::coins_page`]).
    pub fn utxos_page(
        &self,
        address: &Address,
        after: Option<(u64, OutPoint)>,
        limit: usize,
    ) -> (Vec<(OutPoint, Coin)>, usize) {
        self.with_chain(|chain| chain.utxo().coins_page(address, after, limit))
    }

    /// One line for each waiting transaction, in arrival order: what the console and the
    /// explorer list. Copying these, not whole transactions, keeps a reader's cost at a few
    /// bytes a transaction (a full pool is 32 MiB of transactions).
    pub fn mempool_lines(&self) -> Vec<MempoolLine> {
        self.with_chain(|chain| {
            let entries = chain.mempool().entries().into_iter();
            entries
                .map(|e| MempoolLine {
                    txid: e.tx.txid,
                    fee: e.fee,
                    inputs: e.tx.inputs.len(),
                    outputs: e.tx.outputs.len(),
                    age: e.arrived.elapsed(),
                })
                .collect()
        })
    }

    /// The mempool's transactions with their fees, in arrival order.
    pub fn mempool(&self) -> Vec<Entry> {
        self.with_chain(|chain| chain.mempool().entries().into_iter().cloned().collect())
    }

    /// Where transaction `txid` is: the mempool, or a block of the active chain.
    pub fn transaction(&self, txid: &Hash) -> Option<TxInfo> {
        self.with_chain(|chain| wallet::find_transaction(chain, txid))
    }

    /// Why our own payment `txid` left the mempool without being mined, if it did (one of the
    /// last 100 such; noticed within a second, by the maintenance tick).
    pub fn dropped_payment(&self, txid: &Hash) -> Option<String> {
        let kept = lock(&self.state().dropped_payments);
        let found = kept.iter().rev().find(|d| d.txid == *txid);
        found.map(|d| d.reason.clone())
    }

    /// Pays `amount` base units to `to` with `fee`, from the node's spendable coins, change
    /// back to its address: builds the transaction under the chain lock, signs it after
    /// releasing it, and submits it. Returns the txid.
    pub fn send(&self, to: Address, amount: u64, fee: u64) -> Result<Hash, WalletError> {
        let state = self.state();
        // One payment at a time, so two never pick the same coins.
        let _one_at_a_time = lock(&state.sending);
        let mut tx =
            self.with_chain(|chain| wallet::build_payment(chain, &state.key, to, amount, fee))?;
        tx.sign(&state.key);
        let txid = tx.txid;
        self.submit_transaction(tx).map_err(WalletError::Rejected)?;
        Ok(txid)
    }

    /// Checks `tx` (signatures outside the chain lock), puts it in the mempool and relays it
    /// to every peer: what a node does with a transaction from its own wallet or a local
    /// program. Returns its fee.
    pub fn submit_transaction(&self, tx: Transaction) -> Result<u64, Rejected> {
        let verified = tx.verify().map_err(Rejected::Invalid)?;
        self.state().accept_transaction(verified, None)
    }

    /// Stops accepting, closes every connection and joins every thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let state = &self.threads.state;
        if state.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        state.chain.tip_moved();
        // `accept` blocks; a connection to ourselves wakes it to see the flag. If that dial
        // fails (a firewall, no free port), we do not wait for the accept thread: it is left
        // behind, and ends with the process.
        let mut wake = state.listen_addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        match TcpStream::connect_timeout(&wake, Duration::from_secs(1)) {
            Ok(_) => {
                if let Some(accept) = self.accept.take() {
                    let _ = accept.join();
                }
            }
            Err(e) => state.log.log(format_args!(
                "[!] Could not wake the accept thread ({e}); not waiting for it"
            )),
        }
        if let Some(maintenance) = self.maintenance.take() {
            maintenance.thread().unpark();
            let _ = maintenance.join();
        }
        loop {
            for writer in state.peers.all_writers() {
                writer.close();
            }
            let threads: Vec<JoinHandle<()>> = lock(&self.threads.handles).drain(..).collect();
            if threads.is_empty() {
                break;
            }
            for t in threads {
                let _ = t.join();
            }
        }
        // Every thread that could change the chain has ended: let the writer finish its queue.
        state.chain.finish();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Mines one block with `data` on every core, appends it and relays it. If a peer's block moves
/// the tip meanwhile, the work is abandoned and mining starts again on the new tip. In a batch,
/// `batch` is its stop flag and this block's place (`i` of `count`, for the log line); when the
/// flag is raised, it ends with [`NodeError::Stopped`].
fn mine_one(
    state: &NodeState,
    data: &[String],
    batch: Option<(&AtomicBool, u64, u64)>,
) -> Result<Block, NodeError> {
    let payout = Address::of(&state.key.public_key());
    loop {
        // The round first (it waits for one in progress), then the stop checks and the
        // template: a tip that moves or a shutdown after this point raises its flag.
        let round = state.chain.mining_round();
        if state.stopping.load(Ordering::SeqCst) {
            return Err(NodeError::ShuttingDown);
        }
        if batch.is_some_and(|(stop, _, _)| stop.load(Ordering::SeqCst)) {
            return Err(NodeError::Stopped);
        }
        let template = state
            .chain
            .read(|chain| chain.template(data.to_vec(), payout, now_ms()))?;
        let mined = miner::mine(template, round.stop_flag());
        drop(round);
        let Some(block) = mined else { continue };
        let place = batch.map(|(_, i, count)| format!("; {i} of {count}"));
        match submit(state, block.clone(), place.as_deref().unwrap_or("")) {
            Ok(()) => return Ok(block),
            // The tip moved between mining and appending: mine again on the new one.
            Err(NodeError::Chain(
                ChainError::BadHeight { .. } | ChainError::BadPreviousHash { .. },
            )) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What [`Node::submit_block`] does; `place` ends the log line's parentheses (a batch's
/// progress).
fn submit(state: &NodeState, block: Block, place: &str) -> Result<(), NodeError> {
    state.chain.append(&block)?;
    state.saw_header(&block.header(), "this node", true);
    state.log.log(format_args!(
        "[*] Mined block {} {} (difficulty {}, {}{place})",
        block.height,
        block.hash.short(),
        block.difficulty,
        crate::log::plural(block.transactions.len(), "transaction")
    ));
    state.relay(&block, None);
    Ok(())
}

fn accept_loop(threads: &Arc<Threads>, listener: TcpListener) {
    let state = &threads.state;
    loop {
        let accepted = listener.accept();
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, addr)) => {
                state
                    .log
                    .log(format_args!("[+] New connection from {addr}"));
                let session_threads = Arc::clone(threads);
                threads.spawn(move || session_threads.session(stream, None));
            }
            Err(e) => {
                // Running out of file descriptors, say. Back off instead of spinning.
                state.log.log(format_args!("[!] accept failed: {e}"));
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// The maintenance tick, until the node stops (shutdown unparks this thread).
fn maintenance_loop(threads: &Arc<Threads>) {
    let state = &threads.state;
    let mut last_refresh = Instant::now();
    let mut turn = 0;
    loop {
        thread::park_timeout(state.config.maintenance_interval);
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        let refresh = last_refresh.elapsed() >= state.config.address_refresh_interval;
        if refresh {
            last_refresh = Instant::now();
            turn += 1;
        }
        threads.maintain(refresh.then_some(turn));
    }
}
