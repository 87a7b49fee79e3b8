//! One peer session: the handshake, then a loop that reads a message and answers it.
//!
//! Every connection, accepted or dialed, runs `run` on its own thread. The loop is the heart
//! of the node: a `match` on [`Message`] against the node's state. Anything a peer does wrong
//! ends the session with an `error` naming the problem; nothing a peer sends can panic the node
//! or change the chain without passing full validation. Answers go into the peer's own send
//! queue (see [`connection`](crate::node::connection)), so a peer that does not read only hurts
//! itself.
//!
//! Catching up, headers first, lives in the child module `sync` (`src/node/session/sync.rs`).
//!
//! See `tutorial/09-handshake-and-sync.md` and `tutorial/11-defending-the-node.md`.

use crate::block::Block;
use crate::consensus::ChainError;
use crate::identity;
use crate::log::quote;
use crate::mempool::MAX_MEMPOOL_TXS;
use crate::message::{
    encode_blocks_within_limit, encode_mempool_within_limit, GetBlocks, GetHeaders, Hello, Message,
    Nonce, Proof, MAX_BLOCKS_PER_MESSAGE, MAX_HEADERS_PER_MESSAGE, MAX_LINE_BYTES,
    MAX_LOCATOR_HASHES, MAX_PEER_ADDRESSES, PROTOCOL_VERSION,
};
use crate::node::chain_state::Announced;
use crate::node::connection::{MessageReader, MessageWriter, NetError};
use crate::node::discouraged::Offender;
use crate::node::state::{random_u64, NodeState};
use crate::transaction::Transaction;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use sync::SyncState;

mod sync;

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
    /// The peer's block or transaction broke a consensus rule: as `Violation`, and the peer
    /// is discouraged for a while (see [`discouraged`](crate::node::discouraged)).
    Broke(String),
}

/// Result of a message handler.
type Handled = Result<(), Close>;

/// Runs one connection's session to its end (connection `id` in the peer table, dialed at
/// `dialed` if we dialed it), then logs why it ended and removes it from the table.
pub(super) fn run(
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
        peer_id: None,
        last_heard: Instant::now(),
        sync: SyncState::default(),
    };
    let reason = match session.run() {
        Ok(()) => unreachable!("a session only ends with a reason"),
        Err(Close::Quiet(reason)) => session.why_closed(reason),
        Err(Close::Violation(reason)) => session.refuse(&reason, false),
        Err(Close::Broke(reason)) => session.refuse(&reason, true),
    };
    session.writer.close_and_join();
    let handshaken = session.handshaken;
    // Free what the session holds (a branch can be megabytes) before its slot is free.
    drop(session);
    state.peers.remove(id);
    if let (Some(dialed), false) = (dialed, handshaken) {
        let _ = state.book.failed(dialed, Instant::now());
    }
    state
        .log
        .log(format_args!("[-] Connection from {addr} closed ({reason})"));
}

struct Session {
    state: Arc<NodeState>,
    id: u64,
    addr: SocketAddr,
    dialed: Option<SocketAddr>,
    reader: MessageReader,
    writer: Arc<MessageWriter>,
    handshaken: bool,
    /// The peer's node id, once its hello named one that matches its key.
    peer_id: Option<String>,
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
        self.send(&Message::GetMempool)?;
        loop {
            self.reader
                .set_wait(self.state.config.ping_interval)
                .map_err(|e| Close::Quiet(e.to_string()))?;
            match self.reader.read_message() {
                Ok(Some(message)) => {
                    self.last_heard = Instant::now();
                    self.state.peers.heard_from(self.id, self.last_heard);
                    // An answer that never came must not block sync from this peer for good.
                    // (One way: its answer was a single header of our own chain, which reads
                    // as a tip notice, appendix A.)
                    self.sync.expire_request(self.state.config.request_timeout);
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

    /// The peer as the block tree and the reorganization history name it.
    fn peer_label(&self) -> String {
        match &self.peer_id {
            Some(id) => format!("{} (node {id})", self.addr),
            None => self.addr.to_string(),
        }
    }

    /// Ends the session for a violation: logs it, discourages the peer if it `broke` a
    /// consensus rule, and sends `error` before the reader drains what is left. Returns the
    /// reason to log, quoted short.
    fn refuse(&mut self, reason: &str, broke: bool) -> String {
        let (state, addr) = (&self.state, self.addr);
        // Reasons can quote what the peer sent (serde names a bad value): keep them short.
        let reason = quote(reason);
        state
            .log
            .log(format_args!("[!] Rejected input from {addr}: {reason}"));
        if let (true, Some(peer_id)) = (broke, &self.peer_id) {
            let offender = Offender::of(addr.ip(), peer_id);
            state.log.log(format_args!(
                "[!] Discouraging {offender} for {} s",
                state.config.discourage_for.as_secs()
            ));
            state
                .discouraged
                .add(offender.clone(), &reason, Instant::now());
            // Its other connections go too (on a LAN, one address may hold several).
            for other in state.peers.writers_of(&offender) {
                if !Arc::ptr_eq(&other, &self.writer) {
                    other.close();
                }
            }
        }
        self.writer.send_error(&reason);
        self.reader.drain(DRAIN_WAIT, DRAIN_BYTES);
        reason
    }

    fn send(&self, message: &Message) -> Handled {
        self.writer
            .send(message)
            .map_err(|e| Close::Quiet(e.to_string()))
    }

    /// The handshake. Both sides send `hello` at once and check the other's; then each proves
    /// its node id with a `proof`, a signature of the other side's challenge (see
    /// [`identity`](crate::identity)). Only then does the peer count as that node.
    fn handshake(&mut self) -> Handled {
        let genesis = self.state.chain.read(|chain| chain.genesis().hash);
        let challenge = identity::challenge();
        self.send(&Message::Hello(Hello {
            version: PROTOCOL_VERSION,
            genesis,
            node_id: self.state.node_id.clone(),
            listen_port: Some(self.state.listen_addr.port()),
            public_key: Some(self.state.key.public_key().to_hex()),
            challenge: Some(challenge),
        }))?;
        let deadline = Instant::now() + self.state.config.handshake_timeout;
        let hello = match self.read_before(deadline, "hello")? {
            Message::Hello(hello) => hello,
            other => {
                return Err(Close::Violation(format!(
                    "expected hello first, got {}",
                    other.name()
                )))
            }
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
        let id_ok = hello.node_id.len() == identity::NODE_ID_LEN
            && hello
                .node_id
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !id_ok {
            return Err(Close::Violation(
                "node_id must be 16 lowercase hex digits".into(),
            ));
        }
        let (Some(public_key), Some(their_challenge)) = (&hello.public_key, hello.challenge) else {
            return Err(Close::Violation(
                "hello without public_key and challenge".into(),
            ));
        };
        let key = identity::check_id(public_key, &hello.node_id)
            .map_err(|e| Close::Violation(e.to_string()))?;
        // Refuse a discouraged peer before signing anything for it.
        let offender = Offender::of(self.addr.ip(), &hello.node_id);
        if let Some((left, why)) = self.state.discouraged.check(&offender, Instant::now()) {
            return Err(Close::Violation(format!(
                "discouraged for {} s more: {why}",
                left.as_secs().max(1)
            )));
        }
        self.peer_id = Some(hello.node_id.clone());
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
        let signature = identity::prove(&self.state.key, &their_challenge, &hello.node_id);
        self.send(&Message::Proof(Proof { signature }))?;
        let proof = match self.read_before(deadline, "proof")? {
            Message::Proof(proof) => proof,
            other => {
                return Err(Close::Violation(format!(
                    "expected proof after hello, got {}",
                    other.name()
                )))
            }
        };
        identity::check_proof(
            &key,
            &challenge,
            &self.state.node_id,
            &hello.node_id,
            &proof.signature,
        )
        .map_err(|e| Close::Violation(e.to_string()))?;
        let listen = hello
            .listen_port
            .map(|port| SocketAddr::new(self.addr.ip(), port));
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

    /// The next message of the handshake (`what` names it), if it comes before `deadline`.
    fn read_before(&mut self, deadline: Instant, what: &str) -> Result<Message, Close> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.reader
            .set_wait(left.max(Duration::from_millis(1)))
            .map_err(|e| Close::Quiet(e.to_string()))?;
        match self.reader.read_message() {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(Close::Quiet(format!("peer closed before {what}"))),
            Err(NetError::Timeout) => Err(Close::Violation(format!(
                "no {what} within {} ms",
                self.state.config.handshake_timeout.as_millis()
            ))),
            Err(e @ (NetError::Malformed(_) | NetError::LineTooLong { .. })) => {
                Err(Close::Violation(e.to_string()))
            }
            Err(e) => Err(Close::Quiet(e.to_string())),
        }
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
        self.sync.expire_request(config.ping_interval);
        self.send(&Message::Ping(Nonce {
            nonce: random_u64(),
        }))
    }

    /// The dispatch: one arm per message type.
    fn handle(&mut self, message: Message) -> Handled {
        match message {
            Message::Hello(_) => Err(Close::Violation("unexpected second hello".into())),
            Message::Proof(_) => Err(Close::Violation(
                "unexpected proof after the handshake".into(),
            )),
            Message::LatestBlock => {
                let tip = self.state.chain.read_for_peers(|chain| chain.tip().clone());
                self.send(&Message::Block(tip))
            }
            Message::Block(block) => self.on_block(block),
            Message::GetBlocks(request) => self.on_get_blocks(request),
            Message::Blocks(batch) => self.on_blocks(batch),
            Message::GetHeaders(request) => self.on_get_headers(request),
            Message::Headers(headers) => self.on_headers(headers),
            Message::Tx(tx) => self.on_tx(tx),
            Message::GetMempool => {
                // Copy out only what can fit in one line (about 300 bytes an input and 70 an
                // output at least): a full pool of wide transactions is far more.
                let txs: Vec<Transaction> = self.state.chain.read(|chain| {
                    let mut size = 0;
                    let entries = chain.mempool().entries().into_iter();
                    entries
                        .take_while(|e| {
                            size += 300 * e.tx.inputs.len() + 70 * e.tx.outputs.len();
                            size <= MAX_LINE_BYTES
                        })
                        .map(|e| e.tx.clone())
                        .collect()
                });
                let line = encode_mempool_within_limit(&txs);
                self.writer
                    .send_line(line.into())
                    .map_err(|e| Close::Quiet(e.to_string()))
            }
            Message::Mempool(txs) => {
                if txs.len() > MAX_MEMPOOL_TXS {
                    return Err(Close::Violation(format!(
                        "mempool message with {} transactions, more than {MAX_MEMPOOL_TXS}",
                        txs.len()
                    )));
                }
                txs.into_iter().try_for_each(|tx| self.on_tx(tx))
            }
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
        // The peer's tip, for `peers`: once its header shows the work it claims (one hash),
        // so a peer cannot pass for being far ahead for free. Only such blocks go in the tree.
        let header = block.header();
        let shows_work = self.saw_tip_header(&header);
        let source = self.peer_label();
        // Decide under the lock (inside `announced`), act after releasing it.
        let announced = self.state.chain.announced(&block);
        if shows_work {
            match &announced {
                Announced::Appended => self.state.saw_header(&header, &source, true),
                Announced::NotOnOurTip { .. } => self.state.saw_header(&header, &source, false),
                Announced::Invalid(e) | Announced::KnownInvalid(e)
                    if !matches!(e, ChainError::TimestampTooFarAhead { .. }) =>
                {
                    let rule = quote(&e.to_string());
                    let now = crate::consensus::now_ms();
                    crate::node::chain_state::lock(&self.state.tree)
                        .refused(&header, &source, now, &rule);
                }
                _ => {}
            }
        }
        match announced {
            Announced::Known => Ok(()),
            Announced::Appended => {
                self.state.log.log(format_args!(
                    "[*] Accepted block {} {} ({}) from {}",
                    block.height,
                    block.hash.short(),
                    crate::log::plural(block.transactions.len(), "transaction"),
                    self.addr
                ));
                self.state.peers.gave_block(self.id, Instant::now());
                self.state.relay(&block, Some(self.id));
                // The sender has it; its header alone tells the sender we are on it now.
                self.send(&Message::Headers(vec![block.header()]))
            }
            // Our clock may be behind the miner's: not the sender's fault, and the block may
            // be fine in a minute. Ignore it (its successors will bring it back by sync).
            Announced::Invalid(e @ ChainError::TimestampTooFarAhead { .. }) => {
                self.state.log.log(format_args!(
                    "[!] Ignored block {} from {}: {e}",
                    block.height, self.addr
                ));
                Ok(())
            }
            Announced::Invalid(e) => Err(Close::Broke(format!("invalid block: {e}"))),
            Announced::KnownInvalid(e) => Err(Close::Violation(format!("invalid block: {e}"))),
            // Not on our tip: unknown parent, or a tip further ahead. Ask for what we miss,
            // headers first.
            Announced::NotOnOurTip { locator } => self.request_headers(locator),
        }
    }

    /// A transaction from a peer, by `tx` or in a `mempool` answer. One that breaks a rule is
    /// a violation; one we cannot use now (known, conflicting, spending what we do not have)
    /// is ignored quietly: races and reorganizations make those normal.
    fn on_tx(&mut self, tx: Transaction) -> Handled {
        let txid = tx.txid;
        let reason =
            |e: &dyn std::fmt::Display| format!("invalid transaction: tx {}…: {e}", txid.short());
        let broken = |e| Close::Broke(reason(&format!("{e} (rule 7)")));
        // Cheapest first: the shape; then, under the lock, whether we would take it at all
        // (every peer relays every transaction to us, and most are known by then); only then
        // the signatures, outside the lock.
        tx.check_alone().map_err(broken)?;
        match self
            .state
            .chain
            .read(|chain| chain.precheck_transaction(&tx))
        {
            Ok(_) => {}
            Err(rejected) if rejected.is_violation() => {
                return Err(Close::Broke(reason(&rejected)))
            }
            Err(_) => return Ok(()),
        }
        let verified = tx.verify().map_err(broken)?;
        match self.state.accept_transaction(verified, Some(self.id)) {
            Ok(_) => Ok(()),
            Err(rejected) if rejected.is_violation() => Err(Close::Broke(reason(&rejected))),
            Err(_) => Ok(()),
        }
    }

    fn on_get_blocks(&mut self, request: GetBlocks) -> Handled {
        check_locator(&request.locator)?;
        let limit = request.limit.min(MAX_BLOCKS_PER_MESSAGE);
        // Copy the blocks out under the lock; encode them after releasing it. A block's JSON
        // is at least as long as its data plus about 300 bytes an input and 70 an output, so
        // blocks past that much in 4 MiB could never fit in the line: they are not copied.
        let blocks = self.state.chain.read_for_peers(|chain| {
            let after = chain.blocks_after(&request.locator, limit);
            let mut size = 0;
            let fit = after
                .iter()
                .position(|b| {
                    let inputs: usize = b.transactions.iter().map(|t| t.inputs.len()).sum();
                    size += b.data_bytes() + 300 * inputs + 70 * (b.in_outs() - inputs);
                    size > MAX_LINE_BYTES
                })
                .unwrap_or(after.len());
            after[..fit.max(1).min(after.len())].to_vec()
        });
        let line = encode_blocks_within_limit(&blocks);
        self.writer
            .send_line(line.into())
            .map_err(|e| Close::Quiet(e.to_string()))
    }

    fn on_get_headers(&mut self, request: GetHeaders) -> Handled {
        check_locator(&request.locator)?;
        let limit = request.limit.min(MAX_HEADERS_PER_MESSAGE);
        // Headers are small (2 000 of them encode to about 700 KB): copy, release, encode.
        let headers = self
            .state
            .chain
            .read(|chain| chain.headers_after(&request.locator, limit).to_vec());
        self.send(&Message::Headers(headers))
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

/// A locator longer than [`MAX_LOCATOR_HASHES`] is a violation (ours stay far below it).
fn check_locator(locator: &[crate::hash::Hash]) -> Handled {
    if locator.len() > MAX_LOCATOR_HASHES {
        return Err(Close::Violation(format!(
            "locator has {} hashes, more than {MAX_LOCATOR_HASHES}",
            locator.len()
        )));
    }
    Ok(())
}
