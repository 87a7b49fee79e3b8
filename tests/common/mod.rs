//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

#[allow(unused_imports)] // only some test files use it
pub use peerchain::testing::miner_address;
use peerchain::{Block, Blockchain, Network};

/// Regtest's target block time: spacing blocks by this keeps the difficulty where it is.
pub const T: u64 = 1_000;

/// A regtest chain of `n` blocks above genesis, spaced by T.
pub fn regtest_chain(n: usize) -> Blockchain {
    let mut chain = Blockchain::new(Network::Regtest);
    peerchain::testing::mine_blocks(&mut chain, n, T, "main");
    chain
}

/// A chain that shares `chain`'s blocks up to and including `height`, ready to grow a fork.
pub fn fork_at(chain: &Blockchain, height: u64) -> Blockchain {
    let mut fork = Blockchain::new(chain.network());
    for block in &chain.blocks()[1..=height as usize] {
        fork.append_checked(block.clone(), None)
            .expect("copied from a valid chain");
    }
    fork
}

/// A header at `height` with the fields the difficulty and time rules read; the rest are
/// placeholders.
pub fn header(height: u64, timestamp: u64, difficulty: u32) -> peerchain::block::Header {
    peerchain::block::Header {
        version: 1,
        height,
        timestamp,
        previous_hash: Hash::ZERO,
        merkle_root: Hash::ZERO,
        difficulty,
        nonce: 0,
        hash: Hash::ZERO,
    }
}

/// The blocks of `chain` above `height`.
pub fn above(chain: &Blockchain, height: u64) -> Vec<Block> {
    chain.blocks()[height as usize + 1..].to_vec()
}

use peerchain::message::{Hello, Message};
use peerchain::{Config, Hash, Node};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long any test waits for a condition before failing.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A regtest config with quiet logs and no discovery dialing (tests that want discovery turn
/// it on), so a test's topology is the one it builds.
pub fn config() -> Config {
    let mut config = Config::new(Network::Regtest);
    config.log = false;
    config.target_outbound = 0;
    config.maintenance_interval = Duration::from_millis(20);
    config
}

/// Starts a node on 127.0.0.1, port chosen by the OS.
pub fn start(config: Config) -> Node {
    start_with(config, Blockchain::new(Network::Regtest))
}

/// Starts a node with `chain` on 127.0.0.1, port chosen by the OS.
pub fn start_with(config: Config, chain: Blockchain) -> Node {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    Node::start_with_chain(listener, config, chain).expect("node starts")
}

/// Polls `condition` until it holds or DEADLINE passes; panics with `what` on timeout.
pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `node`'s tip is `tip`.
pub fn wait_for_tip(node: &Node, tip: Hash, what: &str) {
    wait_for(what, || node.summary().tip == tip);
}

/// A hand-driven peer on a raw socket: what a classmate's buggy node, or `nc`, looks like. It
/// has a key of its own, so it can prove its node id as the protocol asks.
pub struct RawPeer {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    /// Its key; its node id is the key's.
    pub key: peerchain::crypto::keys::SecretKey,
    /// The challenge its last hello sent.
    pub challenge: Hash,
}

impl RawPeer {
    /// Connects to `node` without saying anything yet.
    pub fn connect(node: &Node) -> RawPeer {
        let stream = TcpStream::connect(node.local_addr()).expect("connect to node");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        RawPeer {
            stream,
            reader,
            key: peerchain::crypto::keys::SecretKey::generate(),
            challenge: Hash([0x5e; 32]),
        }
    }

    /// This peer's node id: its key's.
    pub fn node_id(&self) -> String {
        peerchain::identity::node_id(&self.key.public_key())
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to node");
    }

    /// Sends one message as a line.
    pub fn send(&mut self, message: &Message) {
        self.send_raw(&message.encode());
    }

    /// Sends a hello for `genesis` that claims `node_id`, with this peer's key and challenge.
    pub fn hello(&mut self, genesis: Hash, node_id: &str) {
        self.send(&Message::Hello(Hello {
            version: peerchain::message::PROTOCOL_VERSION,
            genesis,
            node_id: node_id.to_string(),
            listen_port: None,
            public_key: Some(self.key.public_key().to_hex()),
            challenge: Some(self.challenge),
        }));
    }

    /// Sends the proof the node's `hello` asks for: our signature of its challenge.
    pub fn prove(&mut self, theirs: &Hello) {
        let challenge = theirs.challenge.expect("the node sends a challenge");
        let signature = peerchain::identity::prove(&self.key, &challenge, &theirs.node_id);
        self.send(&Message::Proof(peerchain::message::Proof { signature }));
    }

    /// Sends a regtest hello under this peer's own id, reads the node's hello and sends the
    /// proof it asks for; returns the node's hello. What the node answers next is the caller's.
    pub fn hello_and_prove(&mut self) -> Hello {
        let id = self.node_id();
        self.hello(Network::Regtest.genesis().hash, &id);
        let hello = self.recv_until(|m| match m {
            Message::Hello(hello) => Some(hello),
            _ => None,
        });
        self.prove(&hello);
        hello
    }

    /// Completes a handshake with a regtest node under this peer's own id, and checks the
    /// node's proof; returns the node's hello. A ping/pong round trip follows: when this
    /// returns, the node has taken the handshake (and the tests' ordering is the one they
    /// wrote).
    pub fn handshake(&mut self) -> Hello {
        let id = self.node_id();
        self.hello(Network::Regtest.genesis().hash, &id);
        let hello = match self.recv() {
            Some(Message::Hello(hello)) => hello,
            other => panic!("expected the node's hello, got {other:?}"),
        };
        self.prove(&hello);
        let proof = match self.recv() {
            Some(Message::Proof(proof)) => proof,
            other => panic!("expected the node's proof, got {other:?}"),
        };
        let key =
            peerchain::identity::check_id(hello.public_key.as_deref().unwrap(), &hello.node_id)
                .expect("the node's id is its key's");
        peerchain::identity::check_proof(
            &key,
            &self.challenge,
            &id,
            &hello.node_id,
            &proof.signature,
        )
        .expect("the node proves its id");
        let nonce = peerchain::message::Nonce { nonce: 0x5eed };
        self.send(&Message::Ping(nonce));
        self.recv_until(|m| (m == Message::Pong(nonce)).then_some(()));
        hello
    }

    /// The next message, or `None` when the node closed the connection.
    pub fn recv(&mut self) -> Option<Message> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => {
                Some(Message::decode(line.trim_end().as_bytes()).expect("node sends valid lines"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("reading from node: {e}"),
        }
    }

    /// Skips messages until one satisfies `pick`.
    pub fn recv_until<T>(&mut self, mut pick: impl FnMut(Message) -> Option<T>) -> T {
        loop {
            let message = self
                .recv()
                .expect("node closed before the expected message");
            if let Some(found) = pick(message) {
                return found;
            }
        }
    }

    /// Reads until the node's `error`, returns its reason, and checks the node then closed.
    pub fn expect_error_and_close(&mut self) -> String {
        let reason = self.recv_until(|m| match m {
            Message::Error(e) => Some(e.reason),
            _ => None,
        });
        assert_eq!(self.recv(), None, "the node should close after its error");
        reason
    }
}

/// Asserts `node` still serves a fresh peer: it completes a handshake and answers
/// `latest_block` with its current tip.
pub fn assert_still_served(node: &Node) {
    let mut peer = RawPeer::connect(node);
    peer.handshake();
    peer.send(&Message::LatestBlock);
    let tip = peer.recv_until(|m| match m {
        Message::Block(b) => Some(b.hash),
        _ => None,
    });
    assert_eq!(tip, node.summary().tip, "a fresh peer gets the node's tip");
}

/// A fresh directory under the system temp dir, removed on drop (std only: no `tempfile`).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "peerchain-test-{}-{}-{nanos}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// `DIR/<network>/blocks.jsonl`.
    pub fn blocks_file(&self, network: Network) -> std::path::PathBuf {
        self.0.join(network.name()).join("blocks.jsonl")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `chain` into `dir` as a node would have.
pub fn write_store(dir: &TempDir, chain: &Blockchain) {
    let (mut store, _) = peerchain::store::Store::open(&dir.0, chain.network()).unwrap();
    let blocks = chain.blocks()[1..].to_vec();
    store
        .apply(&peerchain::store::Change::Append(blocks))
        .unwrap();
}
