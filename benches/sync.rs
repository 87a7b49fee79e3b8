//! `cargo bench --bench sync`: catching up and relaying over real loopback sockets.
//!
//! 1. A fresh node catches up 100 000 regtest blocks from a peer: seconds, blocks/s, the
//!    largest line it read, and how many batches it took. Every block is fully validated.
//!    The baseline, measured in the same run: validating the same blocks in memory, in batches
//!    of 500, with no sockets and no JSON. The ratio says what the network path costs.
//!    Then the same catch-up into a data directory (`--data-dir`), which syncs the file once
//!    per batch; the goal is at most twice the in-memory time.
//!    Then the node binary catches up the same chain in a process of its own: its time, and
//!    its peak resident set size against the size of the chain's JSON.
//!    The anchor from outside: naivechain (github.com/lhartikk/naivechain, a blockchain in
//!    about 200 lines of JavaScript that checks each block's index, link and hash, and nothing
//!    else; its new node takes the whole chain in one message), measured in the same run
//!    where `NAIVECHAIN` names a checkout of it with `npm install` done and `node` is on the
//!    path: one naivechain node is given 100 000 blocks through its HTTP API, a fresh one is
//!    started with it as its peer, and its catch-up is timed from its log as the binary's is
//!    (from "listening" to "caught up"). Without it, a line says it was skipped.
//! 2. A line of 10 nodes: the median time for a block handed to the first node to reach the
//!    last one (9 hops), over 25 blocks.
//! 3. A deep reorganization: a node on its own 20 000-block fork switches to a heavier
//!    25 000-block chain, headers first.
//! 4. The chain lock: an honest peer's `latest_block` round trips (median and 99th
//!    percentile) while another peer syncs 100 000 blocks from the node, while one pulls
//!    blocks full of characters JSON must escape, and while such blocks are fed to the node.
//! 5. Memory: while 4 peers feed the node branches of 140 000 headers that never beat its
//!    chain (each is dropped at the 16 MiB cap): the peak resident set size, and the live heap
//!    before, at its peak and after, counted by a wrapper around the system allocator. The heap
//!    figure shows what the node still holds once the feeders are gone; the resident size does
//!    not, since the C allocator keeps freed pages for reuse.
//!
//! All traffic stays on 127.0.0.1.

use peerchain::message::{GetBlocks, Message};
use peerchain::store::Store;
use peerchain::testing::{mine_blocks, mine_here, miner_address, WirePeer};
use peerchain::{Blockchain, Config, Network, Node};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: peerchain::testing::CountingAllocator = peerchain::testing::CountingAllocator;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

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

/// The node binary (`cargo run`'s) catches up from `source` in a process of its own: its peak
/// resident set size (`VmHWM`), against the size of the chain's JSON, one block a line as
/// `blocks.jsonl` keeps it.
fn peak_rss_of_a_syncing_binary(source: &Node, tip: peerchain::Hash) -> f64 {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let json: usize = source.with_chain(|chain| {
        chain
            .blocks()
            .iter()
            .map(|block| serde_json::to_vec(block).expect("encode").len() + 1)
            .sum()
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_peerchain"))
        .args(["0", "--regtest", &source.local_addr().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the node binary");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    // Its log says when it is listening, and when it is there; reading it also keeps a full
    // pipe from stalling it.
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("listening on"));
    assert!(listening, "the node binary did not start");
    let (there, arrived) = std::sync::mpsc::channel();
    let done = format!("now at {SYNC_BLOCKS} {}", tip.short());
    let started = Instant::now();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains(&done) {
                let _ = there.send(());
            }
        }
    });
    let synced = arrived.recv_timeout(Duration::from_secs(60)).is_ok();

    let secs = started.elapsed().as_secs_f64();
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(synced, "the node binary did not catch up");
    let peak_kib: Option<usize> = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok());
    match peak_kib {
        Some(kib) => println!(
            "node binary: caught up in {secs:.3} s, peak RSS {:.1} MiB; the chain's JSON {:.1} MiB; ratio {:.2} (goal: at most 1.5)",
            kib as f64 / 1024.0,
            mib(json),
            (kib * 1024) as f64 / json as f64
        ),
        None => println!("node binary: caught up in {secs:.3} s; no /proc here, so no peak RSS"),
    }
    secs
}

/// A free port on 127.0.0.1, for a program that takes its port as a number: bound, read, and
/// released (another program could take it meanwhile; fine for a bench, not for a test).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("bound").port()
}

/// Starts `node main.js` in `dir` with `env`; its stdout lines go to the returned channel (read
/// on a thread of their own, so a full pipe never stalls it), with the time each arrived.
fn start_naivechain(
    dir: &str,
    env: &[(&str, String)],
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<(Instant, Vec<u8>)>,
) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new("node")
        .arg("main.js")
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start naivechain");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let (lines, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = Vec::new();
        while out.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            if lines
                .send((Instant::now(), std::mem::take(&mut line)))
                .is_err()
            {
                // Nobody listens any more: keep draining, so the child never blocks on us.
                let _ = std::io::copy(&mut out, &mut std::io::sink());
                return;
            }
        }
    });
    (child, receive)
}

/// Waits for a line containing `text`; the time it arrived.
fn naivechain_says(lines: &std::sync::mpsc::Receiver<(Instant, Vec<u8>)>, text: &str) -> Instant {
    let end = Instant::now() + Duration::from_secs(300);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let (at, line) = lines
            .recv_timeout(left)
            .expect("naivechain said nothing in time");
        if line.windows(text.len()).any(|w| w == text.as_bytes()) {
            return at;
        }
    }
}

/// Mines `count` blocks on the naivechain node at `port` with `POST /mineBlock`, 64 requests
/// written at a time on one keep-alive connection, then their 64 answers read.
fn mine_naivechain(port: u16, count: usize) {
    use std::io::{BufRead, BufReader, Read, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("naivechain http");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut mined = 0;
    while mined < count {
        let round = (count - mined).min(64);
        let mut requests = Vec::new();
        for i in mined..mined + round {
            let body = format!(r#"{{"data":"block {i}"}}"#);
            write!(
                requests,
                "POST /mineBlock HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .expect("to memory");
        }
        writer.write_all(&requests).expect("send to naivechain");
        for _ in 0..round {
            let mut length = 0usize;
            let mut status = String::new();
            reader.read_line(&mut status).expect("status line");
            assert!(status.contains(" 200 "), "naivechain answered {status:?}");
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).expect("header");
                if header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().expect("a length");
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("body");
        }
        mined += round;
    }
}

/// naivechain's catch-up of `SYNC_BLOCKS` blocks, timed as the binary's is: seconds, or `None`
/// (with the reason printed) when it is not installed.
fn naivechain_catch_up() -> Option<f64> {
    let Some(dir) = std::env::var_os("NAIVECHAIN") else {
        println!("naivechain (anchor): skipped (set NAIVECHAIN to a checkout of github.com/lhartikk/naivechain after `npm install`, with node on the path)");
        return None;
    };
    let dir = dir.to_string_lossy().into_owned();
    let (http, p2p) = (free_port(), free_port());
    let (mut source, source_lines) = start_naivechain(
        &dir,
        &[
            ("HTTP_PORT", http.to_string()),
            ("P2P_PORT", p2p.to_string()),
        ],
    );
    naivechain_says(&source_lines, "Listening http");
    drop(source_lines); // its 100 000 "block added" lines are drained, not kept
    mine_naivechain(http, SYNC_BLOCKS);
    let (mut fresh, lines) = start_naivechain(
        &dir,
        &[
            ("HTTP_PORT", free_port().to_string()),
            ("P2P_PORT", free_port().to_string()),
            ("PEERS", format!("ws://127.0.0.1:{p2p}")),
        ],
    );
    // It dials its peer as it starts, and says "listening" right after: the same start as the
    // binary's clock. It is there when it has checked and taken the whole chain.
    let started = naivechain_says(&lines, "listening websocket");
    let done = naivechain_says(&lines, "Received blockchain is valid");
    for child in [&mut fresh, &mut source] {
        let _ = child.kill();
        let _ = child.wait();
    }
    Some(done.duration_since(started).as_secs_f64())
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

    // What the block tree (chapter 21) adds to each block the node takes: one entry noted as
    // the node does (with a prune every 64 blocks), against the same validation baseline.
    let mut tree = peerchain::node::block_tree::BlockTree::default();
    let noted = Instant::now();
    for header in &chain.headers()[1..] {
        tree.saw(header, "127.0.0.1:8556 (node 0123456789abcdef)", 0, true);
        if header.height.is_multiple_of(64) {
            tree.prune(header.height);
        }
    }
    let per_block = noted.elapsed().as_secs_f64() / SYNC_BLOCKS as f64;
    println!(
        "block tree: {:.2} µs a block ({} entries kept), {:.1} % of validating one ({:.2} µs)",
        per_block * 1e6,
        tree.len(),
        100.0 * per_block * baseline,
        1e6 / baseline
    );

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
    let binary_secs = peak_rss_of_a_syncing_binary(&source, tip);
    drop(source);
    if let Some(naive_secs) = naivechain_catch_up() {
        let (ours, theirs) = (
            SYNC_BLOCKS as f64 / binary_secs,
            SYNC_BLOCKS as f64 / naive_secs,
        );
        println!(
            "naivechain (anchor): caught up {SYNC_BLOCKS} blocks in {naive_secs:.3} s = {theirs:.0} blocks/s; the node binary {ours:.0} blocks/s; ratio {:.1}",
            ours / theirs
        );
    }

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
                .template(
                    vec!["relay".into()],
                    miner_address(),
                    chain.tip().timestamp + 1_000,
                )
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
    drop(nodes);

    deep_reorg();
    lock_latency(&chain_for_latency());
    dead_branch_memory();
}

fn deep_reorg() {
    let mut ours = Blockchain::new(Network::Regtest);
    mine_blocks(&mut ours, 20_000, 1_000, "ours");
    let mut theirs = Blockchain::new(Network::Regtest);
    mine_blocks(&mut theirs, 25_000, 1_000, "theirs");
    let tip = theirs.tip().hash;
    let a = start(ours);
    let b = start(theirs);
    let started = Instant::now();
    a.connect(b.local_addr());
    assert!(wait(|| a.summary().tip == tip), "the reorg did not happen");
    println!(
        "deep reorg: 20000 blocks in {:.3} s (a 20 000-block fork replaced by a heavier 25 000-block chain)",
        started.elapsed().as_secs_f64()
    );
}

fn chain_for_latency() -> Blockchain {
    let mut chain = Blockchain::new(Network::Regtest);
    mine_blocks(&mut chain, SYNC_BLOCKS, 1_000, "bench");
    chain
}

/// Round trips of `latest_block` from an honest peer while `load` runs; median and p99 in ms.
fn round_trips(
    node: &Node,
    load: impl FnOnce(Arc<AtomicBool>) -> std::thread::JoinHandle<()>,
) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(Arc::clone(&stop));
    let mut asker = WirePeer::connect(node.local_addr());
    let mut times = Vec::new();
    // Sample for two seconds while the load runs the whole time (it loops until stopped).
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        let sent = Instant::now();
        asker.latest_block_round_trip(times.len() as u64);
        times.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    stop.store(true, Ordering::SeqCst);
    let _ = loader.join();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

/// A peer that asks for blocks from genesis again and again, reading every answer.
fn puller(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut peer = WirePeer::connect(addr);
        let genesis = Network::Regtest.genesis().hash;
        while !stop.load(Ordering::SeqCst) {
            peer.send(&Message::GetBlocks(GetBlocks {
                locator: vec![genesis],
                limit: 500,
            }));
            loop {
                match peer.recv() {
                    Some(Message::Blocks(_)) => break,
                    None => return,
                    _ => {}
                }
            }
        }
    })
}

fn lock_latency(chain: &Blockchain) {
    let source = start(chain.clone());
    let (p50, p99) = round_trips(&source, |stop| {
        let addr = source.local_addr();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let fresh = start(Blockchain::new(Network::Regtest));
                fresh.connect(addr);
                wait(|| {
                    fresh.summary().height == SYNC_BLOCKS as u64 || stop.load(Ordering::SeqCst)
                });
            }
        })
    });
    println!("latest_block round trip while a peer syncs {SYNC_BLOCKS} blocks from us: median {p50:.2} ms, p99 {p99:.2} ms");
    drop(source);

    let mut heavy = Blockchain::new(Network::Regtest);
    for _ in 0..300 {
        let data = vec!["\u{1}".repeat(65_536)];
        let template = heavy
            .template(data, miner_address(), heavy.tip().timestamp + 1_000)
            .unwrap();
        heavy.append_checked(mine_here(template), None).unwrap();
    }
    let node = start(heavy.clone());
    let addr = node.local_addr();
    let (p50, p99) = round_trips(&node, |stop| puller(addr, stop));
    println!("latest_block round trip while a peer pulls escape-heavy blocks: median {p50:.2} ms, p99 {p99:.2} ms");
    drop(node);

    // The other way round: fresh nodes catch up escape-heavy blocks, while an honest peer of
    // theirs asks for their tip.
    let source = start(heavy);
    let tip = source.summary().tip;
    let mut times = Vec::new();
    for _ in 0..5 {
        let fresh = start(Blockchain::new(Network::Regtest));
        let mut asker = WirePeer::connect(fresh.local_addr());
        fresh.connect(source.local_addr());
        while fresh.summary().tip != tip {
            let sent = Instant::now();
            asker.latest_block_round_trip(times.len() as u64);
            times.push(sent.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "latest_block round trip while a peer feeds us escape-heavy blocks: median {:.2} ms, p99 {:.2} ms ({} round trips)",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times.len()
    );
}

/// The resident set size now and its peak since the last reset, in MiB (Linux only).
fn rss_mib() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn dead_branch_memory() {
    // The node's chain: 150 000 blocks. Each dead branch: 140 000 blocks from genesis, less
    // work, so its headers stay unproven until the 16 MiB cap (about 131 000 headers).
    let mut ours = Blockchain::new(Network::Regtest);
    mine_blocks(&mut ours, 150_000, 1_000, "ours");
    let mut dead = Blockchain::new(Network::Regtest);
    mine_blocks(&mut dead, 140_000, 1_000, "dead");
    let dead = Arc::new(dead);
    let node = start(ours);
    let addr = node.local_addr();
    // Reset the peaks to the current sizes, so they measure this phase only.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let heap_before = peerchain::testing::reset_heap_peak();
    let Some((before, _)) = rss_mib() else {
        println!("peak RSS while 4 peers feed dead branches: not measured (no /proc here)");
        return;
    };
    let feeders: Vec<_> = (0..4)
        .map(|_| {
            let dead = Arc::clone(&dead);
            std::thread::spawn(move || {
                let mut peer = WirePeer::connect(addr);
                peer.send(&Message::Block(dead.tip().clone()));
                let mut sent = 0;
                while let Some(message) = peer.recv() {
                    if let Message::GetHeaders(request) = message {
                        let headers = dead.headers_after(&request.locator, request.limit).to_vec();
                        sent += headers.len();
                        peer.send(&Message::Headers(headers));
                    }
                }
                sent
            })
        })
        .collect();
    let sent: usize = feeders.into_iter().map(|f| f.join().unwrap()).sum();
    let (after, peak) = rss_mib().unwrap_or((0.0, 0.0));
    // The sessions end on their own threads just after the feeders see the close.
    wait(|| node.peers().is_empty());
    let heap_peak = peerchain::testing::heap_peak();
    let heap_after = peerchain::testing::heap_live();
    println!(
        "peak RSS while 4 peers feed dead branches: {peak:.0} MiB (before: {before:.0} MiB, after: {after:.0} MiB; {sent} headers sent, every feeder dropped)"
    );
    println!(
        "live heap: {:.1} MiB before, {:.1} MiB at the peak (+{:.1}), {:.1} MiB after (+{:.1})",
        mib(heap_before),
        mib(heap_peak),
        mib(heap_peak - heap_before),
        mib(heap_after),
        mib(heap_after.saturating_sub(heap_before))
    );
    assert_eq!(node.summary().height, 150_000);
}
