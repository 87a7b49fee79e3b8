//! What every thread of a node shares: the chain state, the peer table, the address book, the
//! log, and the node's settings. Each part has one job and its own lock.
//!
//! # Lock order
//!
//! A few locks nest, always in this order, outermost first: `sending` (one payment at a time)
//! → the mining round ([`ChainState::mining_round`]) → the chain → the disk writer's queue and
//! the miner's stop-flag slot. A thread that holds one may take a later one, never an earlier
//! one, so two threads can never each wait for the other. Every other lock (the peer table, the
//! address book, the discouraged peers, the invalid blocks, each connection's send queue, the
//! log, `stats`) is a leaf: taken last, and
//! released before any other is taken.
//!
//! # Which way data flows
//!
//! Requests flow down: the listener ([`node`](crate::node)) hands each connection
//! ([`connection`](crate::node::connection)) to a session ([`session`](crate::node::session)), which
//! decodes [`message`](crate::message)s and acts on this state, which in turn holds the
//! [`chain`](crate::chain). Nothing flows back up by a call: what goes out to peers (a relay,
//! a transaction) is put in their send queues, which the peer table holds, and each
//! connection's writer thread takes it from there. Nothing here knows about threads or
//! sockets beyond those queues.
//!
//! See `tutorial/07-client-and-server.md`.

use crate::block::Block;
use crate::crypto::keys::SecretKey;
use crate::log::Logger;
use crate::mempool::Rejected;
use crate::message::Message;
use crate::node::address_book::AddressBook;
use crate::node::chain_state::{lock, ChainState};
use crate::node::config::Config;
use crate::node::discouraged::Discouraged;
use crate::node::peer_table::PeerTable;
use crate::transaction::VerifiedTx;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

/// Counters about catching up, for tests and the sync benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// `get_headers` messages sent.
    pub get_headers_sent: u64,
    /// Headers received in `headers` messages we asked for.
    pub headers_received: u64,
    /// `get_blocks` messages sent.
    pub get_blocks_sent: u64,
    /// `blocks` messages received.
    pub batches_received: u64,
    /// Blocks received in `blocks` messages.
    pub blocks_received: u64,
    /// The longest line read from any peer, in bytes.
    pub largest_line: usize,
}

/// The node's shared state.
pub(super) struct NodeState {
    /// The node's settings, fixed at start.
    pub(super) config: Config,
    /// The id this node sends in `hello`: its key's short name (16 hex digits, see
    /// [`identity`](crate::identity)).
    pub(super) node_id: String,
    /// The address the listener is bound to.
    pub(super) listen_addr: SocketAddr,
    /// The chain, with the disk writer and the mining round that follow it.
    pub(super) chain: ChainState,
    /// The connections: handshakes, duplicates, eviction, relay targets.
    pub(super) peers: PeerTable,
    /// The addresses the node knows, for dialing.
    pub(super) book: AddressBook,
    /// Peers that broke a consensus rule lately, refused for a while.
    pub(super) discouraged: Discouraged,
    /// Log lines, through a bounded queue to the logger thread.
    pub(super) log: Logger,
    /// The node's key: its address receives what it mines (from the "Money" part on).
    pub(super) key: SecretKey,
    /// Held while the wallet builds and submits a payment, so two never pick the same coins.
    pub(super) sending: Mutex<()>,
    /// Counters about catching up.
    pub(super) stats: Mutex<SyncStats>,
    /// Set once shutdown begins: loops see it and end.
    pub(super) stopping: AtomicBool,
    /// The batch of blocks being mined (`mine -n`), if any.
    pub(super) batch: Mutex<Option<Batch>>,
    /// Our own payments that left the mempool without being mined, with why: the last 100.
    pub(super) dropped_payments: Mutex<std::collections::VecDeque<crate::mempool::Dropped>>,
    /// The last reorganizations of our chain (at most [`crate::node::MAX_REORGS`]).
    pub(super) reorgs: Mutex<std::collections::VecDeque<crate::node::Reorg>>,
    /// The blocks and headers seen near the tip, on our chain or not, and who gave them.
    pub(super) tree: Mutex<crate::node::block_tree::BlockTree>,
}

/// A batch of blocks being mined, one after another ([`crate::Node::mine_many`]).
pub(super) struct Batch {
    /// How many blocks it mines.
    pub(super) count: u64,
    /// How many it has mined so far.
    pub(super) done: Arc<AtomicU64>,
    /// Raised to stop it.
    pub(super) stop: Arc<AtomicBool>,
}

impl Batch {
    /// Mined so far, of how many.
    pub(super) fn progress(&self) -> (u64, u64) {
        (
            self.done.load(std::sync::atomic::Ordering::SeqCst),
            self.count,
        )
    }
}

/// A random u64 from std's per-process hash seed (no `rand` crate): good enough for node ids
/// and ping nonces, not for keys.
pub(super) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

impl NodeState {
    /// Queues `block` for every handshaken peer except `except`: how a new tip spreads. It
    /// only fills queues, so it returns at once however slow any peer is; a peer whose queue
    /// is full is closed, and its session logs why.
    pub fn relay(&self, block: &Block, except: Option<u64>) {
        let line: Arc<[u8]> = Message::Block(block.clone()).encode().into();
        for writer in self.peers.relay_targets(except) {
            let _ = writer.send_line(Arc::clone(&line));
        }
    }

    /// Offers a checked transaction to the mempool (from connection `source`, or `None` for
    /// our own wallet) and, if it enters, relays it to every other peer and logs it.
    pub fn accept_transaction(&self, tx: VerifiedTx, source: Option<u64>) -> Result<u64, Rejected> {
        let line: Arc<[u8]> = Message::Tx(tx.tx().clone()).encode().into();
        let txid = tx.tx().txid;
        let fee = self.chain.add_to_mempool(tx)?;
        self.log.log(format_args!(
            "[*] Mempool: accepted tx {} (fee {})",
            txid.short(),
            crate::wallet::format_coins(fee)
        ));
        for writer in self.peers.relay_targets(source) {
            let _ = writer.send_line(Arc::clone(&line));
        }
        Ok(fee)
    }

    /// Writes the good addresses to `peers.txt` (when the node keeps a data directory).
    pub fn save_peers(&self) {
        if let Some(disk) = self.chain.disk() {
            disk.save_peers(self.book.good());
        }
    }

    /// Picks our own payments out of what left the mempool without being mined, logs each
    /// with its reason and keeps it for `tx`. The maintenance tick calls this once a second:
    /// the drops happen under the chain lock, in whichever thread changed the chain, and one
    /// caller here is simpler than every changer remembering to do it.
    pub fn note_dropped_payments(&self) {
        let ours = self.key.public_key().to_hex();
        for dropped in self.chain.take_dropped() {
            if dropped.payer_key != ours {
                continue;
            }
            self.log.log(format_args!(
                "[!] Your payment tx {}… left the mempool without being mined: {}",
                dropped.txid.short(),
                dropped.reason
            ));
            let mut kept = lock(&self.dropped_payments);
            if kept.len() >= 100 {
                kept.pop_front();
            }
            kept.push_back(dropped);
        }
    }

    /// Remembers a reorganization (the oldest goes once there are [`crate::node::MAX_REORGS`]).
    pub fn note_reorg(&self, reorg: crate::node::Reorg) {
        let mut reorgs = lock(&self.reorgs);
        if reorgs.len() >= crate::node::MAX_REORGS {
            reorgs.pop_front();
        }
        reorgs.push_back(reorg);
    }

    /// Notes in the block tree that `header` came from `source`: `active` if it just joined
    /// our chain (then entries far below the tip are pruned).
    pub fn saw_header(&self, header: &crate::block::Header, source: &str, active: bool) {
        let mut tree = lock(&self.tree);
        tree.saw(header, source, crate::consensus::now_ms(), active);
        // A sweep of the whole tree now and then, not at every block: a catch-up of 100 000
        // blocks would sweep it 100 000 times.
        if active && header.height.is_multiple_of(64) {
            tree.prune(header.height);
        }
    }

    /// Adds to the sync counters.
    pub fn count(&self, update: impl FnOnce(&mut SyncStats)) {
        update(&mut lock(&self.stats));
    }
}
