//! `cargo bench --bench sync`: catching up and relaying over real loopback sockets.
//!
//! 1. A fresh node catches up 100 000 regtest blocks from a peer: seconds, blocks/s, the
//!    largest line it read, and how many batches it took. Every block is fully validated.
//!    The baseline, measured in the same run: validating the same blocks in memory, in batches
//!    of 500, with no sockets and no JSON. The ratio says what the network path costs.
//!    Then the same catch-up into a data directory (`--data-dir`), which syncs the file once
//!    per batch; the goal is at most twice the in-memory time.
//! 2. A line of 10 nodes: the median time for a block handed to the first node to reach the
//!    last one (9 hops), over 25 blocks.
//!
//! All traffic stays on 127.0.0.1.

use peerchain::store::Store;
use peerchain::testing::{mine_blocks, mine_here};
use peerchain::{Blockchain, Config, Network, Node};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const SYNC_BLOCKS: usize = 100_000;
const LINE_NODES: usize = 10;
const LINE_ROUNDS: usize = 25;

fn config() -> Config {
    let mut config = Config::new(Network::Regtest);
    config.log = false;
    config.target_outbound = 0;
    config
}

fn start(chain: Blockchain) -> Node {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    Node::start_with_chain(listener, config(), chain).expect("start")
}

/// Spins until `done` holds, for at most a minute; returns whether it did.
fn wait(mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(60);
    while !done() {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    true
}

/// Connects `fresh` to `source` and waits until it holds `tip`: seconds and sync counters.
fn catch_up(
    source: &Node,
    fresh: &Node,
    tip: peerchain::Hash,
) -> (f64, peerchain::node::SyncStats) {
    let started = Instant::now();
    fresh.connect(source.local_addr());
    assert!(wait(|| fresh.summary().tip == tip), "sync did not finish");
    (started.elapsed().as_secs_f64(), fresh.sync_stats())
}

fn main() {
    let built = Instant::now();
    let mut chain = Blockchain::new(Network::Regtest);
    mine_blocks(&mut chain, SYNC_BLOCKS, 1_000, "bench");
    let tip = chain.tip().hash;
    println!(
        "built {SYNC_BLOCKS} regtest blocks in {:.2} s",
        built.elapsed().as_secs_f64()
    );

    let validate = Instant::now();
    let mut check = Blockchain::new(Network::Regtest);
    for batch in chain.blocks()[1..].chunks(500) {
        check.evaluate_branch(batch).expect("valid");
    }
    let baseline = SYNC_BLOCKS as f64 / validate.elapsed().as_secs_f64();
    assert_eq!(check.tip().hash, tip);
    drop(check);

    let source = start(chain);
    let fresh = start(Blockchain::new(Network::Regtest));
    let (secs, stats) = catch_up(&source, &fresh, tip);
    println!(
        "sync: {SYNC_BLOCKS} blocks in {secs:.3} s = {:.0} blocks/s, largest line {} bytes, {} batches",
        SYNC_BLOCKS as f64 / secs,
        stats.largest_line,
        stats.batches_received
    );
    println!("in-memory validation (baseline): {baseline:.0} blocks/s");
    println!(
        "sync/validation ratio: {:.2}",
        SYNC_BLOCKS as f64 / secs / baseline
    );
    drop(fresh);

    let dir = std::env::temp_dir().join(format!("peerchain-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (store, loaded) = Store::open(&dir, Network::Regtest).expect("open data dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let kept = Node::start_with_store(listener, config(), store, loaded).expect("start");
    let (kept_secs, _) = catch_up(&source, &kept, tip);
    kept.shutdown();
    let file = dir.join("regtest/blocks.jsonl");
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "sync with --data-dir: {kept_secs:.3} s = {:.0} blocks/s, file {bytes} bytes",
        SYNC_BLOCKS as f64 / kept_secs
    );
    println!("data-dir/in-memory time ratio: {:.2}", kept_secs / secs);
    drop(source);

    let nodes: Vec<Node> = (0..LINE_NODES)
        .map(|_| start(Blockchain::new(Network::Regtest)))
        .collect();
    for pair in nodes.windows(2) {
        pair[1].connect(pair[0].local_addr());
    }
    assert!(
        wait(|| nodes[1..LINE_NODES - 1]
            .iter()
            .all(|n| n.peers().len() == 2)),
        "line did not form"
    );
    let (first, last) = (&nodes[0], &nodes[LINE_NODES - 1]);
    let mut times = Vec::new();
    for _ in 0..LINE_ROUNDS {
        let template = first.with_chain(|chain| {
            chain
                .template(vec!["relay".into()], chain.tip().timestamp + 1_000)
                .unwrap()
        });
        let block = mine_here(template);
        let hash = block.hash;
        let sent = Instant::now();
        first.submit_block(block).expect("valid block");
        assert!(
            wait(|| last.summary().tip == hash),
            "block did not cross the line"
        );
        times.push(sent.elapsed());
    }
    times.sort();
    println!(
        "relay across {LINE_NODES} nodes: median {:.2} ms (min {:.2}, max {:.2})",
        times[LINE_ROUNDS / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[LINE_ROUNDS - 1].as_secs_f64() * 1e3
    );
}
