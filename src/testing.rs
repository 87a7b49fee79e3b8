//! Fixtures for tests, benchmarks and the tutorial's exercises. Not part of the node's API:
//! hidden from the docs, and nothing in the node calls them.

use crate::block::Block;
use crate::chain::Blockchain;
use crate::crypto::keys::SecretKey;
use crate::store::Store;
use crate::transaction::{Address, OutPoint, Output, Transaction};
use std::io;
use std::sync::atomic::AtomicBool;

/// Mines `template` on the calling thread with no way to stop: for tests, benchmarks and
/// low difficulties, where a solution takes a few hashes.
pub fn mine_here(template: Block) -> Block {
    crate::miner::mine_with_threads(template, 1, &AtomicBool::new(false))
        .expect("2^64 nonces hold a solution")
}

/// The key the fixtures' coinbases pay: secret key 1, whose public key is G itself. Public
/// knowledge, so only for tests: anyone can spend what it owns.
pub fn miner_key() -> SecretKey {
    let mut one = [0u8; 32];
    one[31] = 1;
    SecretKey::from_bytes(&one).expect("1 is a valid secret key")
}

/// The address of [`miner_key`], written out (appendix B's "secret key 1") rather than derived:
/// mining a chain then needs no curve arithmetic, which the workshop track
/// (`tutorial/workshop/`) leaves blank until its later steps. A test checks the two agree.
pub fn miner_address() -> Address {
    "0f715baf5d4c2ed329785cef29e562f73488c8a2"
        .parse()
        .expect("40 hex digits")
}

/// Mines `count` blocks onto `chain` on the calling thread, each stamped `spacing_ms` after its
/// parent, with data `["{tag} {height}"]` and a coinbase paying [`miner_address`] (plus the
/// chain's mempool transactions, if any), and returns them.
///
/// The timestamps are made up, which is what tests, benchmarks and demos want: with a spacing
/// of T the difficulty stays put, shorter spacing pushes it up, longer pulls it down. Only use
/// it on `regtest`, where a block costs a few hashes.
pub fn mine_blocks(chain: &mut Blockchain, count: usize, spacing_ms: u64, tag: &str) -> Vec<Block> {
    let mut mined = Vec::with_capacity(count);
    for _ in 0..count {
        let tip = chain.tip();
        let data = vec![format!("{tag} {}", tip.height + 1)];
        let template = chain
            .template(data, miner_address(), tip.timestamp + spacing_ms)
            .expect("one short item fits a block");
        let block = mine_here(template);
        chain
            .append_checked(block.clone(), None)
            .expect("a block mined on the tip is valid");
        mined.push(block);
    }
    mined
}

/// A regtest chain that ends in `full` blocks near rule 7's limit: 39 transactions each, every
/// one spending a coin of [`miner_key`] into 99 outputs back to it (3 902 inputs and outputs
/// with the coinbase, of the 4 000 allowed). For tests and benchmarks of what big blocks cost
/// to serve. The signatures are real: about 40 a block, signed and checked once each.
pub fn full_blocks_chain(full: usize) -> Blockchain {
    const PER_BLOCK: usize = 39;
    const OUTPUTS: usize = 99;
    let mut chain = Blockchain::new(crate::params::Network::Regtest);
    let key = miner_key();
    let spacing = chain.params().target_block_ms;
    let splits = (full * PER_BLOCK).div_ceil(OUTPUTS);
    // Coinbases to split, then 10 more blocks so they are mature.
    mine_blocks(&mut chain, splits + 10, spacing, "funds");
    let spend_into_99 = |chain: &mut Blockchain, from: OutPoint, amount: u64| {
        let each = amount / OUTPUTS as u64;
        let outputs = vec![
            Output {
                address: miner_address(),
                amount: each
            };
            OUTPUTS
        ];
        let mut tx = Transaction::new(&[from], outputs);
        tx.sign(&key);
        let txid = tx.txid;
        chain
            .add_to_mempool(tx.verify().expect("signed"))
            .expect("a fresh coin pays it");
        (txid, each)
    };
    let mut coins = Vec::new();
    for height in 1..=splits as u64 {
        let coinbase = chain.block(height).expect("mined").transactions[0].clone();
        let from = OutPoint {
            txid: coinbase.txid,
            index: 0,
        };
        let (txid, each) = spend_into_99(&mut chain, from, coinbase.outputs[0].amount);
        coins.extend((0..OUTPUTS as u32).map(|index| (OutPoint { txid, index }, each)));
    }
    while !chain.mempool().is_empty() {
        mine_blocks(&mut chain, 1, spacing, "splits");
    }
    for block in coins.chunks(PER_BLOCK).take(full) {
        for &(from, amount) in block {
            spend_into_99(&mut chain, from, amount);
        }
        mine_blocks(&mut chain, 1, spacing, "full");
    }
    chain
}

/// Does the first half of a rewrite of `store` (keeping heights below `keep`, then `blocks`)
/// and stops there, as a crash between writing the temporary file and renaming it would.
pub fn interrupt_rewrite(store: &mut Store, keep: u64, blocks: &[Block]) -> io::Result<()> {
    store.prepare_rewrite(keep, blocks, true).map(|_| ())
}

/// A raw peer for benchmarks: one line per message, both ways, with a key of its own (so a
/// benchmark can come back as the same node, or as a new one).
pub struct WirePeer {
    writer: std::net::TcpStream,
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl WirePeer {
    /// Connects to the regtest node at `addr` as the node `key` names and completes the
    /// handshake (hello, then the proofs of both ids); `None` if the node refuses it.
    pub fn connect_as(addr: std::net::SocketAddr, key: &SecretKey) -> Option<WirePeer> {
        use crate::message::{Hello, Message, Proof, PROTOCOL_VERSION};
        let writer = std::net::TcpStream::connect(addr).ok()?;
        writer.set_nodelay(true).ok()?;
        let reader = std::io::BufReader::new(writer.try_clone().ok()?);
        let mut peer = WirePeer { writer, reader };
        peer.send(&Message::Hello(Hello {
            version: PROTOCOL_VERSION,
            genesis: crate::params::Network::Regtest.genesis().hash,
            node_id: crate::identity::node_id(&key.public_key()),
            listen_port: None,
            public_key: Some(key.public_key().to_hex()),
            challenge: Some(crate::identity::challenge()),
        }));
        loop {
            match peer.recv()? {
                Message::Hello(theirs) => {
                    let challenge = theirs.challenge?;
                    let signature = crate::identity::prove(key, &challenge, &theirs.node_id);
                    peer.send(&Message::Proof(Proof { signature }));
                }
                // The node sends its proof once it has taken our hello.
                Message::Proof(_) => return Some(peer),
                Message::Error(_) => return None,
                _ => {}
            }
        }
    }

    /// Connects as a new node, with a key made for it.
    pub fn connect(addr: std::net::SocketAddr) -> WirePeer {
        WirePeer::connect_as(addr, &SecretKey::generate()).expect("the node takes a new peer")
    }

    /// Sends one message (a failed write shows as the next `recv`'s `None`).
    pub fn send(&mut self, message: &crate::message::Message) {
        use std::io::Write;
        let _ = self.writer.write_all(&message.encode());
    }

    /// One `latest_block` round trip. A `ping` follows the request and the answer counts once
    /// its `pong` is back: the node answers in order, so the tip came first, and a block the
    /// node relays meanwhile cannot be mistaken for the answer.
    pub fn latest_block_round_trip(&mut self, nonce: u64) {
        use crate::message::{Message, Nonce};
        self.send(&Message::LatestBlock);
        self.send(&Message::Ping(Nonce { nonce }));
        loop {
            match self.recv() {
                Some(Message::Pong(n)) if n.nonce == nonce => return,
                Some(_) => {}
                None => panic!("the node closed the connection"),
            }
        }
    }

    /// The next message, or `None` once the node closed the connection.
    pub fn recv(&mut self) -> Option<crate::message::Message> {
        use std::io::BufRead;
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => crate::message::Message::decode(line.trim_end().as_bytes()).ok(),
        }
    }

    /// Reads until the node closes the connection; returns the reason of its `error`, if any.
    pub fn until_closed(&mut self) -> Option<String> {
        let mut reason = None;
        while let Some(message) = self.recv() {
            if let crate::message::Message::Error(e) = message {
                reason = Some(e.reason);
            }
        }
        reason
    }
}

/// The system allocator, counting live bytes and their peak, for the benchmarks' memory
/// figures. A benchmark installs it with
/// `#[global_allocator] static ALLOCATOR: CountingAllocator = CountingAllocator;` and reads
/// [`heap_live`] and [`heap_peak`] (the peak can be reset with [`reset_heap_peak`]).
pub struct CountingAllocator;

static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which has the same
// contract; the counting beside it touches only two atomics.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use std::sync::atomic::Ordering::Relaxed;
        // SAFETY: forwarded unchanged to the system allocator, which has the same contract.
        let ptr = unsafe { std::alloc::System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(live, Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from `alloc` above with this `layout`.
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
    }
}

/// Bytes allocated through [`CountingAllocator`] and not yet freed.
pub fn heap_live() -> usize {
    LIVE.load(std::sync::atomic::Ordering::SeqCst)
}

/// The most [`heap_live`] has been since the last [`reset_heap_peak`].
pub fn heap_peak() -> usize {
    PEAK.load(std::sync::atomic::Ordering::SeqCst)
}

/// Starts a new peak from the live bytes now, and returns them.
pub fn reset_heap_peak() -> usize {
    let live = heap_live();
    PEAK.store(live, std::sync::atomic::Ordering::SeqCst);
    live
}

#[cfg(test)]
mod tests {
    /// The written-out address is the key's.
    #[test]
    fn miner_address_is_the_keys() {
        let derived = super::Address::of(&super::miner_key().public_key());
        assert_eq!(super::miner_address(), derived);
    }
}
