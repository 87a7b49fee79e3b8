//! One peer session: the handshake, then a loop that reads a message and answers it.
//!
//! Every connection, accepted or dialed, runs [`run`] on its own thread. The loop is the heart
//! of the node: a `match` on [`Message`] against the node's state. Anything a peer does wrong
//! ends the session with an `error` naming the problem; nothing a peer sends can panic the node
//! or change the chain without passing full validation. Answers go into the peer's own send
//! queue (see [`connection`](crate::connection)), so a peer that does not read only hurts
//! itself.
//!
//! Catching up (the seed only handled a peer exactly one block ahead): when a `block` does not
//! fit on our tip we send `get_blocks` with our locator; the peer answers with up to 500 blocks
//! after the highest hash we share; we validate them as a branch, keep asking while batches come
//! back full and we have not reached the peer's tip, and switch to the branch when it has more
//! work than ours.
//!
//! See `tutorial/09-handshake-and-sync.md` and `tutorial/11-defending-the-node.md`.

use crate::block::Block;
use crate::chain::Outcome;
use crate::chain_state::Announced;
use crate::connection::{MessageReader, MessageWriter, NetError};
use crate::consensus::ChainError;
use crate::hash::Hash;
use crate::log::quote;
use crate::message::{
    encode_blocks_within_limit, GetBlocks, Hello, Message, Nonce, MAX_BLOCKS_PER_MESSAGE,
    MAX_LOCATOR_HASHES, MAX_PEER_ADDRESSES, PROTOCOL_VERSION,
};
use crate::state::{random_u64, NodeState};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A weaker-so-far branch is kept while more of it arrives, up to this many blocks. A branch
/// that is still behind after this many blocks is dropped rather than held in memory forever.
pub const MAX_PENDING_BLOCKS: usize = 10_000;

/// After sending `error`, read and discard the peer's input for this long at most (see
/// [`MessageReader::drain`]).
const DRAIN_WAIT: Duration = Duration::from_millis(500);
const DRAIN_BYTES: usize = 1 << 20;

/// How a session ends.
enum Close {
    /// The peer left, timed out or the node is stopping: nothing to tell it.
    Quiet(String),
    /// The peer broke the protocol: send `error` with this reason first.
    Violation(String),
}

/// Result of a message handler.
type Handled = Result<(), Close>;

/// Runs one connection's session to its end (connection `id` in the peer table, dialed at
/// `dialed` if we dialed it), then logs why it ended and removes it from the table.
pub(crate) fn run(
    state: &Arc<NodeState>,
    id: u64,
    reader: MessageReader,
    writer: Arc<MessageWriter>,
    dialed: Option<SocketAddr>,
) {
    let addr = writer.addr;
    let mut session = Session {
        state: Arc::clone(state),
        id,
        addr,
        dialed,
        reader,
        writer,
        handshaken: false,
        last_heard: Instant::now(),
        sync: SyncState::default(),
    };
    let outcome = session.run();
    let reason = match outcome {
        Ok(()) => unreachable!("a session only ends with a reason"),
        Err(Close::Quiet(reason)) => session.why_closed(reason),
        Err(Close::Violation(reason)) => {
            // Reasons can quote what the peer sent (serde names a bad value): keep them short.
            let reason = quote(&reason);
            state
                .log
                .log(format_args!("[!] Rejected input from {addr}: {reason}"));
            session.writer.send_error(&reason);
            session.reader.drain(DRAIN_WAIT, DRAIN_BYTES);
            reason
        }
    };
    session.writer.close_and_join();
    state.peers.remove(id);
    if let (Some(dialed), false) = (dialed, session.handshaken) {
        let _ = state.book.failed(dialed, Instant::now());
    }
    state
        .log
        .log(format_args!("[-] Connection from {addr} closed ({reason})"));
}

/// Where catching up from this peer stands.
#[derive(Default)]
struct SyncState {
    /// A `get_blocks` we sent and have no answer to yet, and when we sent it.
    in_flight: Option<Instant>,
    /// The `limit` of that request.
    requested: usize,
    /// The newest tip this peer announced with `block`.
    peer_tip: Option<Hash>,
    /// A valid branch that does not yet have more work than ours, while more of it arrives.
    pending: Vec<Block>,
}

struct Session {
    state: Arc<NodeState>,
    id: u64,
    addr: SocketAddr,
    dialed: Option<SocketAddr>,
    reader: MessageReader,
    writer: Arc<MessageWriter>,
    handshaken: bool,
    last_heard: Instant,
    sync: SyncState,
}

impl Session {
    fn run(&mut self) -> Handled {
        if self.state.stopping.load(Ordering::SeqCst) {
            return Err(Close::Quiet("node shutting down".into()));
        }
        self.handshake()?;
        self.send(&Message::LatestBlock)?;
        self.send(&Message::GetPeers)?;
        loop {
            self.reader
                .set_wait(self.state.config.ping_interval)
                .map_err(|e| Close::Quiet(e.to_string()))?;
            match self.reader.read_message() {
                Ok(Some(message)) => {
                    self.last_heard = Instant::now();
                    self.state.peers.heard_from(self.id, self.last_heard);
                    self.handle(message)?;
                }
                Ok(None) => return Err(Close::Quiet("peer closed the connection".into())),
                Err(NetError::Timeout) => self.on_quiet()?,
                Err(e @ (NetError::Malformed(_) | NetError::LineTooLong { .. })) => {
                    return Err(Close::Violation(e.to_string()))
                }
                Err(e) => return Err(Close::Quiet(e.to_string())),
            }
        }
    }

    /// The reason to log for a quiet end: the reader only sees the end of the stream, but the
    /// cause may be ours (the writer gave up, the node evicted the peer or is stopping).
    fn why_closed(&self, seen: String) -> String {
        if self.state.stopping.load(Ordering::SeqCst) {
            "node shutting down".into()
        } else if let Some(failure) = self.writer.failure() {
            failure.to_string()
        } else if !self.state.peers.contains(self.id) {
            "closed to make room for another connection".into()
        } else {
            seen
        }
    }

    fn send(&self, message: &Message) -> Handled {
        self.writer
            .send(message)
            .map_err(|e| Close::Quiet(e.to_string()))
    }

    /// Both sides send `hello` at once, then each checks the other's.
    fn handshake(&mut self) -> Handled {
        let genesis = self.state.chain.read(|chain| chain.genesis().hash);
        self.send(&Message::Hello(Hello {
            version: PROTOCOL_VERSION,
            genesis,
            node_id: self.state.node_id.clone(),
            listen_port: Some(self.state.listen_addr.port()),
        }))?;
        let timeout = self.state.config.handshake_timeout;
        self.reader
            .set_wait(timeout)
            .map_err(|e| Close::Quiet(e.to_string()))?;
        let hello = match self.reader.read_message() {
            Ok(Some(Message::Hello(hello))) => hello,
            Ok(Some(other)) => {
                return Err(Close::Violation(format!(
                    "expected hello first, got {}",
                    other.name()
                )))
            }
            Ok(None) => return Err(Close::Quiet("peer closed before hello".into())),
            Err(NetError::Timeout) => {
                return Err(Close::Violation(format!(
                    "no hello within {} ms",
                    timeout.as_millis()
                )))
            }
            Err(e @ (NetError::Malformed(_) | NetError::LineTooLong { .. })) => {
                return Err(Close::Violation(e.to_string()))
            }
            Err(e) => return Err(Close::Quiet(e.to_string())),
        };
        if hello.version != PROTOCOL_VERSION {
            return Err(Close::Violation(format!(
                "unsupported protocol version {}, this node speaks {PROTOCOL_VERSION}",
                hello.version
            )));
        }
        if hello.genesis != genesis {
            return Err(Close::Violation(format!(
                "wrong genesis {}: this node follows {} with genesis {genesis}",
                hello.genesis, self.state.config.network
            )));
        }
        let id_ok = hello.node_id.len() == 16
            && hello
                .node_id
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !id_ok {
            return Err(Close::Violation(
                "node_id must be 16 lowercase hex digits".into(),
            ));
        }
        let listen = hello
            .listen_port
            .map(|port| SocketAddr::new(self.addr.ip(), port));
        if hello.node_id == self.state.node_id {
            // Copy the address out first: an `if let` on a locked value would keep the lock
            // through its whole body (chapter 07's trap).
            let dialed = self.state.peers.dialed(self.id);
            if let Some(dialed) = dialed {
                self.state.book.mark_as_us(dialed);
            }
            return Err(Close::Violation(
                "self-connection: that node_id is our own".into(),
            ));
        }
        let now = Instant::now();
        let made_room = self
            .state
            .peers
            .complete_handshake(self.id, &hello.node_id, listen, now)
            .map_err(|refused| Close::Violation(refused.0))?;
        if let Some(other) = made_room {
            self.state.log.log(format_args!(
                "[-] Closing {} to make room for {} (node {})",
                other.addr, self.addr, hello.node_id
            ));
            other.close();
        }
        self.handshaken = true;
        match self.dialed {
            Some(dialed) if self.state.book.succeeded(dialed, now).0 => self.state.save_peers(),
            Some(_) => {}
            None => self.state.book.learn(listen, now),
        }
        self.state.log.log(format_args!(
            "[+] Handshake with {} done (node {})",
            self.addr, hello.node_id
        ));
        Ok(())
    }

    /// Nothing arrived for a ping interval: give up if the peer has been silent too long,
    /// otherwise ping it (and forget a sync request it never answered).
    fn on_quiet(&mut self) -> Handled {
        let config = &self.state.config;
        if self.last_heard.elapsed() >= config.idle_timeout {
            return Err(Close::Quiet(format!(
                "no message for {} ms",
                config.idle_timeout.as_millis()
            )));
        }
        if self
            .sync
            .in_flight
            .is_some_and(|t| t.elapsed() >= config.ping_interval)
        {
            self.sync.in_flight = None;
        }
        self.send(&Message::Ping(Nonce {
            nonce: random_u64(),
        }))
    }

    /// The dispatch: one arm per message type.
    fn handle(&mut self, message: Message) -> Handled {
        match message {
            Message::Hello(_) => Err(Close::Violation("unexpected second hello".into())),
            Message::LatestBlock => {
                let (tip, seq) = self.state.chain.read_durable(|chain| chain.tip().clone());
                self.state.chain.wait_durable(seq);
                self.send(&Message::Block(tip))
            }
            Message::Block(block) => self.on_block(block),
            Message::GetBlocks(request) => self.on_get_blocks(request),
            Message::Blocks(batch) => self.on_blocks(batch),
            Message::GetPeers => {
                let addrs = self.state.peers.addresses_for(self.id, MAX_PEER_ADDRESSES);
                let addrs = addrs.iter().map(|a| a.to_string()).collect();
                self.send(&Message::Peers(addrs))
            }
            Message::Peers(addrs) => self.on_peers(addrs),
            Message::Ping(nonce) => self.send(&Message::Pong(nonce)),
            Message::Pong(_) => Ok(()),
            Message::Error(e) => Err(Close::Quiet(format!(
                "peer sent error: {}",
                quote(&e.reason)
            ))),
        }
    }

    /// A peer's tip, or a block it just accepted.
    fn on_block(&mut self, block: Block) -> Handled {
        self.sync.peer_tip = Some(block.hash);
        // Decide under the lock (inside `announced`), act after releasing it.
        match self.state.chain.announced(&block) {
            Announced::Known => Ok(()),
            Announced::Appended { seq } => {
                self.state.log.log(format_args!(
                    "[*] Accepted block {} {} from {}",
                    block.height,
                    block.hash.short(),
                    self.addr
                ));
                self.state.peers.gave_block(self.id, Instant::now());
                self.state.new_tip(&block, Some(self.id), seq);
                Ok(())
            }
            Announced::Invalid(e) => Err(Close::Violation(format!("invalid block: {e}"))),
            // Not on our tip: unknown parent, or a tip further ahead. Ask for what we miss.
            Announced::NotOnOurTip { locator } => self.request_blocks(locator),
        }
    }

    fn request_blocks(&mut self, locator: Vec<Hash>) -> Handled {
        if self.sync.in_flight.is_some() {
            return Ok(());
        }
        let limit = self
            .state
            .config
            .sync_batch
            .clamp(1, MAX_BLOCKS_PER_MESSAGE);
        self.sync.in_flight = Some(Instant::now());
        self.sync.requested = limit;
        self.state.count(|s| s.get_blocks_sent += 1);
        self.send(&Message::GetBlocks(GetBlocks { locator, limit }))
    }

    fn on_get_blocks(&mut self, request: GetBlocks) -> Handled {
        if request.locator.len() > MAX_LOCATOR_HASHES {
            return Err(Close::Violation(format!(
                "locator has {} hashes, more than {MAX_LOCATOR_HASHES}",
                request.locator.len()
            )));
        }
        let limit = request.limit.min(MAX_BLOCKS_PER_MESSAGE);
        // Copy the blocks out under the lock; encode them after releasing it.
        let (blocks, seq) = self
            .state
            .chain
            .read_durable(|chain| chain.blocks_after(&request.locator, limit).to_vec());
        let line = encode_blocks_within_limit(&blocks);
        self.state.chain.wait_durable(seq);
        self.writer
            .send_line(line.into())
            .map_err(|e| Close::Quiet(e.to_string()))
    }

    /// A batch answering our `get_blocks`.
    fn on_blocks(&mut self, batch: Vec<Block>) -> Handled {
        if batch.len() > MAX_BLOCKS_PER_MESSAGE {
            return Err(Close::Violation(format!(
                "blocks message with {} blocks, more than {MAX_BLOCKS_PER_MESSAGE}",
                batch.len()
            )));
        }
        let largest_line = self.reader.largest_line;
        self.state.count(|stats| {
            stats.batches_received += 1;
            stats.blocks_received += batch.len() as u64;
            stats.largest_line = stats.largest_line.max(largest_line);
        });
        let was_requested = self.sync.in_flight.take().is_some();
        let full = batch.len() >= self.sync.requested;
        let Some(last) = batch.last().map(|b| b.hash) else {
            return Ok(());
        };

        // Ask for the next batch before validating this one, so the peer prepares it while we
        // check: sync then keeps both ends busy instead of taking turns. We keep asking until
        // we reach the tip the peer announced (a batch may be cut short by the line limit) or,
        // if it announced none, while batches come back full. If this batch turns out invalid
        // we close the connection and the answer goes nowhere.
        let peer_tip = self.sync.peer_tip;
        let (behind_peer_tip, locator) = self.state.chain.read(|chain| {
            let behind = peer_tip.map(|t| t != last && !chain.contains(&t));
            (behind, chain.locator())
        });
        if was_requested && behind_peer_tip.unwrap_or(full) {
            let mut next = vec![last];
            next.extend(locator.into_iter().filter(|h| *h != last));
            next.truncate(MAX_LOCATOR_HASHES);
            self.request_blocks(next)?;
        }

        // A batch that continues a pending weaker branch is judged together with it.
        let pending = &mut self.sync.pending;
        let continues = pending
            .last()
            .is_some_and(|p| p.hash == batch[0].previous_hash);
        if !continues {
            pending.clear();
        }
        pending.extend(batch);

        match self.state.chain.evaluate_branch(&self.sync.pending) {
            Ok((Outcome::Extended { height, tip, added }, seq)) => {
                self.state.log.log(format_args!(
                    "[*] Accepted {added} blocks from {}, now at {height} {}",
                    self.addr,
                    tip.short()
                ));
                self.adopt_pending(seq);
            }
            Ok((
                Outcome::Reorganized {
                    old_tip,
                    new_tip,
                    depth,
                    added,
                },
                seq,
            )) => {
                self.state.log.log(format_args!(
                    "[*] Reorganized to the chain of {}: {depth} blocks replaced by {added}, tip {} -> {}",
                    self.addr,
                    old_tip.short(),
                    new_tip.short()
                ));
                self.adopt_pending(seq);
            }
            Ok((Outcome::Known, _)) => self.sync.pending.clear(),
            Ok((Outcome::NotMoreWork { .. }, _))
                if self.sync.pending.len() > MAX_PENDING_BLOCKS =>
            {
                self.state.log.log(format_args!(
                    "[!] Dropped a branch of {} blocks from {}: still not more work than ours",
                    self.sync.pending.len(),
                    self.addr
                ));
                self.sync.pending.clear();
            }
            Ok((Outcome::NotMoreWork { .. }, _)) => {}
            // We moved since we asked (or the peer did); the next announcement restarts sync.
            Err(ChainError::UnknownParent { .. }) => self.sync.pending.clear(),
            Err(e) => {
                self.sync.pending.clear();
                return Err(Close::Violation(format!("invalid block: {e}")));
            }
        }
        Ok(())
    }

    /// The pending branch is now our chain: forget it and announce its tip.
    fn adopt_pending(&mut self, seq: u64) {
        let pending = std::mem::take(&mut self.sync.pending);
        if let Some(tip) = pending.last() {
            self.state.peers.gave_block(self.id, Instant::now());
            self.state.new_tip(tip, Some(self.id), seq);
        }
    }

    fn on_peers(&mut self, addrs: Vec<String>) -> Handled {
        if addrs.len() > MAX_PEER_ADDRESSES {
            return Err(Close::Violation(format!(
                "peers message with {} addresses, more than {MAX_PEER_ADDRESSES}",
                addrs.len()
            )));
        }
        // Only literal ip:port addresses: no name lookups on a peer's say-so. The maintenance
        // tick dials them when the node wants more outbound peers.
        let parsed = addrs.iter().filter_map(|a| a.parse().ok());
        self.state.book.learn(parsed, Instant::now());
        Ok(())
    }
}
