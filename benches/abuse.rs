//! `cargo bench --bench abuse`: what a hostile or buggy peer can make the node spend, and what
//! an honest peer feels meanwhile (issue 20).
//!
//! 1. **Signature checks forced per second**, by four peers that each send the same junk again
//!    and again, reconnecting after every refusal, for 3 s each:
//!    - a block on our tip with no proof of work (difficulty 0), 39 transactions of 100 inputs;
//!    - the same block with its proof of work (regtest's), spending real coins, every
//!      signature good but the very last: the most a valid-looking block can cost;
//!    - a transaction of 100 inputs, every signature good but the last;
//!    - for the last two, coming back as the same node (a classmate's buggy node keeps its
//!      key) and as a new node every time (a hostile program on our machine).
//!
//!    Each runs twice: with discouragement off (the node as it was) and on (the default, ten
//!    minutes). The count is the process's signature checks during the run, which includes
//!    one per accepted handshake (the peer's proof of its id); the honest peer's own handshake
//!    happens before the count starts.
//! 2. **An honest peer's `latest_block` round trip**, median and 99th percentile, during each
//!    run; the baseline is the same peer with nobody attacking, measured in the same run.
//! 3. **Memory per HTTP reader**: the peak of the live heap (counted by a wrapper around the
//!    system allocator) above where it started, while one reader asks `/api/address/<a>` for an
//!    address holding 386 000 coins, and while 64 readers pull `/api/blocks?limit=100` over
//!    full blocks; and the honest peer's round trips during the latter.
//!
//! All traffic stays on 127.0.0.1.

use peerchain::block::Block;
use peerchain::crypto::ecdsa::verifications;
use peerchain::crypto::keys::SecretKey;
use peerchain::message::Message;
use peerchain::testing::{full_blocks_chain, mine_here, miner_address, miner_key, WirePeer};
use peerchain::transaction::{OutPoint, Output, Transaction};
use peerchain::{Blockchain, Config, Network, Node};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: peerchain::testing::CountingAllocator = peerchain::testing::CountingAllocator;

/// How long each attack runs.
const RUN: Duration = Duration::from_secs(3);

fn start(chain: Blockchain, discourage: bool) -> Node {
    let mut config = Config::new(Network::Regtest);
    config.log = false;
    config.target_outbound = 0;
    if !discourage {
        config.discourage_for = Duration::ZERO;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    Node::start_with_chain(listener, config, chain).expect("start")
}

/// 39 transactions of 100 inputs spending the miner's coins, each back to it, all signed;
/// then the very last signature is swapped for another's (well formed, wrong).
fn junk_transactions(chain: &Blockchain) -> Vec<Transaction> {
    let coins: Vec<(OutPoint, u64)> = chain
        .utxo()
        .coins_of(&miner_address())
        .into_iter()
        .filter(|(_, coin)| !coin.coinbase)
        .map(|(outpoint, coin)| (outpoint, coin.amount))
        .take(3_900)
        .collect();
    assert_eq!(coins.len(), 3_900, "enough coins to spend");
    let key = miner_key();
    let mut txs: Vec<Transaction> = coins
        .chunks(100)
        .map(|chunk| {
            let spends: Vec<OutPoint> = chunk.iter().map(|(o, _)| *o).collect();
            let amount = chunk.iter().map(|(_, a)| a).sum();
            let pay = Output {
                address: miner_address(),
                amount,
            };
            let mut tx = Transaction::new(&spends, vec![pay]);
            tx.sign(&key);
            tx
        })
        .collect();
    let wrong = txs[0].inputs[0].signature.clone();
    txs.last_mut().unwrap().inputs[99].signature = wrong;
    txs
}

/// A block on `chain`'s tip carrying `txs`, with its proof of work or with none.
fn junk_block(chain: &Blockchain, txs: &[Transaction], proof_of_work: bool) -> Block {
    let tip = chain.tip();
    let height = tip.height + 1;
    let coinbase = Transaction::coinbase(
        height,
        vec![Output {
            address: miner_address(),
            amount: chain.params().subsidy(height),
        }],
    );
    let mut all = vec![coinbase];
    all.extend(txs.iter().cloned());
    let timestamp = tip.timestamp + chain.params().target_block_ms;
    let difficulty = if proof_of_work {
        chain.next_difficulty()
    } else {
        0
    };
    let block = Block::new(height, timestamp, tip.hash, difficulty, 0, vec![], all);
    if proof_of_work {
        mine_here(block)
    } else {
        block
    }
}

/// Who the attacker comes back as.
#[derive(Clone, Copy)]
enum Comeback {
    SameNode,
    NewNode,
}

/// Sends `junk` again and again for [`RUN`], reconnecting after each refusal, while an honest
/// peer asks `latest_block`. Returns signature checks per second, attempts, attempts refused at
/// the handshake, and the honest round trips' median and p99 in ms.
fn attack(node: &Node, junk: &Message, comeback: Comeback) -> (f64, usize, usize, f64, f64) {
    let addr = node.local_addr();
    let mut honest = WirePeer::connect(addr);
    honest.latest_block_round_trip(0);
    let stop = Arc::new(AtomicBool::new(false));
    let before = verifications();
    let started = Instant::now();
    let attacker = {
        let (stop, junk) = (Arc::clone(&stop), junk.clone());
        std::thread::spawn(move || {
            let key = SecretKey::generate();
            let (mut attempts, mut refused) = (0, 0);
            while !stop.load(Ordering::SeqCst) {
                let key = match comeback {
                    Comeback::SameNode => key.clone(),
                    Comeback::NewNode => SecretKey::generate(),
                };
                attempts += 1;
                match WirePeer::connect_as(addr, &key) {
                    Some(mut peer) => {
                        peer.send(&junk);
                        peer.until_closed();
                    }
                    None => refused += 1,
                }
            }
            (attempts, refused)
        })
    };
    let (p50, p99) = round_trips(&mut honest, RUN);
    stop.store(true, Ordering::SeqCst);
    let (attempts, refused) = attacker.join().expect("the attacker thread");
    let checks = verifications() - before;
    let rate = checks as f64 / started.elapsed().as_secs_f64();
    (rate, attempts, refused, p50, p99)
}

/// `latest_block` round trips for `how_long`: median and p99 in ms.
fn round_trips(peer: &mut WirePeer, how_long: Duration) -> (f64, f64) {
    let mut times = Vec::new();
    let started = Instant::now();
    while started.elapsed() < how_long {
        let sent = Instant::now();
        peer.latest_block_round_trip(times.len() as u64 + 1);
        times.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

fn main() {
    println!("building a chain with 7 700 spendable coins and two full blocks ...");
    let chain = full_blocks_chain(2);
    let txs = junk_transactions(&chain);
    let no_pow = Message::Block(junk_block(&chain, &txs, false));
    let with_pow = Message::Block(junk_block(&chain, &txs, true));
    let bad_tx = Message::Tx(txs.last().unwrap().clone());

    let node = start(chain.clone(), true);
    let mut honest = WirePeer::connect(node.local_addr());
    let (base50, base99) = round_trips(&mut honest, RUN);
    drop(honest);
    println!("honest latest_block round trip, nobody attacking: p50 {base50:.2} ms, p99 {base99:.2} ms (baseline)");
    drop(node);

    let runs: [(&str, &Message, Comeback); 5] = [
        (
            "no proof of work, 3 900 signatures",
            &no_pow,
            Comeback::SameNode,
        ),
        (
            "proof of work, 3 900 signatures, same node",
            &with_pow,
            Comeback::SameNode,
        ),
        (
            "proof of work, 3 900 signatures, new node each time",
            &with_pow,
            Comeback::NewNode,
        ),
        (
            "tx of 100 inputs, last signature bad, same node",
            &bad_tx,
            Comeback::SameNode,
        ),
        (
            "tx of 100 inputs, last signature bad, new node each time",
            &bad_tx,
            Comeback::NewNode,
        ),
    ];
    println!();
    println!("signature checks forced per second (3 s each; 'off' = no discouragement, as before)");
    for (what, junk, comeback) in runs {
        for discourage in [false, true] {
            let node = start(chain.clone(), discourage);
            let (rate, attempts, refused, p50, p99) = attack(&node, junk, comeback);
            println!(
                "  {what:<58} {:<3} {rate:>9.0} checks/s  {attempts:>5} tries, {refused:>5} refused  honest p50 {p50:.2} ms, p99 {p99:.2} ms ({:.1}× baseline)",
                if discourage { "on" } else { "off" },
                p99 / base99
            );
        }
    }
    http_memory();
}

/// One HTTP GET: whether it was answered 200 (not 503), and the answer's length.
fn http_get(addr: SocketAddr, path: &str) -> (bool, usize) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (answer.starts_with(b"HTTP/1.1 200"), answer.len())
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn http_memory() {
    println!();
    println!("building a chain of 100 full blocks (386 000 coins of one address) ...");
    let chain = full_blocks_chain(100);
    let node = Arc::new(start(chain, true));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let server = peerchain::app::api::start(listener, Arc::clone(&node)).expect("serve");
    let addr = server.local_addr();
    let coins = node.utxos(&miner_address()).len();

    let base = peerchain::testing::reset_heap_peak();
    let (ok, bytes) = http_get(addr, &format!("/api/address/{}", miner_address()));
    assert!(ok, "the address page is answered");
    let peak = peerchain::testing::heap_peak() - base;
    println!(
        "one reader of /api/address (an address with {coins} coins): answer {:.3} MiB, heap peak +{:.1} MiB",
        mib(bytes),
        mib(peak)
    );

    let stop = Arc::new(AtomicBool::new(false));
    let base = peerchain::testing::reset_heap_peak();
    let (answered, busy) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let readers: Vec<_> = (0..64)
        .map(|_| {
            let (stop, answered, busy) =
                (Arc::clone(&stop), Arc::clone(&answered), Arc::clone(&busy));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let counter = if http_get(addr, "/api/blocks?limit=100").0 {
                        &answered
                    } else {
                        &busy
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let mut honest = WirePeer::connect(node.local_addr());
    let (p50, p99) = round_trips(&mut honest, RUN);
    stop.store(true, Ordering::SeqCst);
    for reader in readers {
        let _ = reader.join();
    }
    let peak = peerchain::testing::heap_peak() - base;
    println!(
        "64 readers of /api/blocks?limit=100 over full blocks, 3 s: {} answers (and {} 503s), heap peak +{:.0} MiB ({:.1} MiB a reader); honest p50 {p50:.2} ms, p99 {p99:.2} ms",
        answered.load(Ordering::SeqCst),
        busy.load(Ordering::SeqCst),
        mib(peak),
        mib(peak) / 64.0
    );
}
