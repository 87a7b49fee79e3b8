//! `cargo bench --bench restart`: how long a node takes to load a long chain full of
//! transactions from its data directory (`--data-dir`, chapter 12).
//!
//! The chain: 100 000 regtest blocks, 10 transactions each from block 12 on (the coinbase and
//! 9 payments, one per lane, each spending its lane's output of the block before): about
//! 900 000 signatures. Built once and kept in `target/bench-data/` (it takes a minute or two
//! to sign), written through the store as a node writes it.
//!
//! 1. After: [`Store::open`] on the directory with this node's verified mark, in a fresh
//!    process as a node's start is: every rule but the signatures below the mark. The goal
//!    (issue 24) is at most 2 s.
//! 2. Before: [`store::read`], which checks every rule and every signature, as every start
//!    did before the verified mark (and as a start still does on a file without one). This is
//!    the baseline, measured in the same run.
//! 3. The same open with a mark made by another key: not used, every signature checked.
//!
//! Everything stays on this machine; no sockets.

use peerchain::block::Block;
use peerchain::store::{self, Change, Mark, Store, MARK_FILE};
use peerchain::testing::{mine_here, miner_address, miner_key};
use peerchain::transaction::{OutPoint, Output, Transaction, COIN};
use peerchain::{Blockchain, Network};
use std::path::{Path, PathBuf};
use std::time::Instant;

const BLOCKS: u64 = 100_000;
const LANES: usize = 9;
/// The first block with payments: block 1's coinbase matures at height 11 and is fanned out
/// into the lanes there.
const FAN_HEIGHT: u64 = 11;

/// The unsigned transactions of every block (coinbase first), heights 1 to [`BLOCKS`].
fn transactions() -> Vec<Vec<Transaction>> {
    let params = Network::Regtest.params();
    let coinbase = |height: u64| {
        let subsidy = params.subsidy(height);
        let pay = Output {
            address: miner_address(),
            amount: subsidy,
        };
        // Regtest halves every 150 blocks: from height 9 600 there is nothing to pay.
        let outputs = if subsidy == 0 { vec![] } else { vec![pay] };
        Transaction::coinbase(height, outputs)
    };
    let mut blocks: Vec<Vec<Transaction>> = (1..FAN_HEIGHT).map(|h| vec![coinbase(h)]).collect();
    let lane = 50 * COIN / LANES as u64;
    let fan = Transaction::new(
        &[OutPoint {
            txid: blocks[0][0].txid,
            index: 0,
        }],
        vec![
            Output {
                address: miner_address(),
                amount: lane,
            };
            LANES
        ],
    );
    let mut lanes: Vec<(OutPoint, u64)> = (0..LANES as u32)
        .map(|index| {
            let outpoint = OutPoint {
                txid: fan.txid,
                index,
            };
            (outpoint, lane)
        })
        .collect();
    // The fan-out's block carries the first lane payments too: they spend its outputs.
    let mut pending = vec![fan];
    for height in FAN_HEIGHT..=BLOCKS {
        let mut txs = vec![coinbase(height)];
        txs.append(&mut pending);
        for (outpoint, amount) in &mut lanes {
            let pay = |amount| Output {
                address: miner_address(),
                amount,
            };
            let tx = Transaction::new(&[*outpoint], vec![pay(*amount - 1), pay(1)]);
            *outpoint = OutPoint {
                txid: tx.txid,
                index: 0,
            };
            *amount -= 1;
            txs.push(tx);
        }
        blocks.push(txs);
    }
    blocks
}

/// Signs every payment, on every core (the signatures do not change the txids).
fn sign_all(blocks: &mut [Vec<Transaction>]) {
    let key = miner_key();
    let mut payments: Vec<&mut Transaction> = blocks
        .iter_mut()
        .flat_map(|txs| txs.iter_mut().skip(1))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = payments.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for run in payments.chunks_mut(per_thread) {
            let key = &key;
            scope.spawn(move || run.iter_mut().for_each(|tx| tx.sign(key)));
        }
    });
}

/// Builds the chain into `dir` as a node would have written it, verified mark included.
fn build(dir: &Path) {
    let started = Instant::now();
    let mut blocks = transactions();
    sign_all(&mut blocks);
    println!(
        "signed {BLOCKS} blocks' payments in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let params = Network::Regtest.params();
    let genesis = Blockchain::new(Network::Regtest).genesis().clone();
    // One block every target interval exactly: the difficulty never moves, so the blocks can
    // be mined without a chain to ask.
    let (mut previous, mut timestamp) = (genesis.hash, genesis.timestamp);
    let (mut store, _) = Store::open(dir, Network::Regtest).expect("open the bench directory");
    let mut batch = Vec::new();
    for (height, txs) in (1..).zip(blocks) {
        timestamp += params.target_block_ms;
        let template = Block::new(
            height,
            timestamp,
            previous,
            genesis.difficulty,
            0,
            vec![],
            txs,
        );
        let block = mine_here(template);
        previous = block.hash;
        batch.push(block);
        if batch.len() == 1_000 {
            store
                .apply(&Change::Append(std::mem::take(&mut batch)))
                .expect("write");
        }
    }
    store.apply(&Change::Append(batch)).expect("write");
    println!(
        "built the chain in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The argument that makes this bench a child that times one start under the mark.
const MARKED_START: &str = "marked-start";

/// The child: opens the directory as a node does and prints the seconds it took.
fn marked_start(dir: &Path) {
    let started = Instant::now();
    let (_store, loaded) = Store::open(dir, Network::Regtest).expect("the chain loads");
    let seconds = started.elapsed().as_secs_f64();
    let mark = loaded.trusted.expect("the bench's own mark is used");
    assert_eq!((mark.height, loaded.chain.height()), (BLOCKS, BLOCKS));
    println!("{seconds}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(MARKED_START) {
        return marked_start(Path::new(&args[2]));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let dir = target.join(format!("bench-data/restart-{BLOCKS}"));
    let net_dir = dir.join(Network::Regtest.name());
    let built = dir.join("built");
    if !built.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        build(&dir);
        std::fs::write(&built, "").expect("write");
    }
    let bytes = std::fs::metadata(net_dir.join(store::BLOCKS_FILE))
        .expect("the chain file")
        .len();

    // 1. After: under this node's verified mark, in a process of its own, as a real start is,
    //    and first: run after the baseline, while this process still held the memory the
    //    baseline's chain had used, it took 4.1 s where it takes 2.0 to 2.9 alone.
    let child = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .arg(MARKED_START)
        .arg(&dir)
        .output()
        .expect("run the marked start");
    assert!(child.status.success(), "{child:?}");
    let after: f64 = String::from_utf8_lossy(&child.stdout)
        .trim()
        .parse()
        .expect("seconds");

    // 2. Before: every signature checked.
    let started = Instant::now();
    let full = store::read(&dir, Network::Regtest).expect("the chain loads");
    let before = started.elapsed().as_secs_f64();
    let tip = full.chain.tip().hash;
    let txs: usize = full
        .chain
        .blocks()
        .iter()
        .map(|b| b.transactions.len())
        .sum();
    drop(full);
    println!(
        "chain: {BLOCKS} blocks, {txs} transactions, file {:.0} MiB",
        bytes as f64 / (1 << 20) as f64
    );
    println!("start, every signature checked (baseline): {before:.2} s");
    println!("start under the verified mark: {after:.2} s (goal: at most 2 s)");
    println!("baseline/marked time ratio: {:.1}", before / after);

    // 3. A mark under another key is not used (and the full check writes this node's own
    //    mark again).
    let mark_path = net_dir.join(MARK_FILE);
    let stranger = peerchain::crypto::keys::SecretKey::generate();
    let mark = Mark {
        height: BLOCKS,
        hash: tip,
    };
    std::fs::write(&mark_path, mark.line(&stranger, Network::Regtest)).expect("write");
    let started = Instant::now();
    let (store, loaded) = Store::open(&dir, Network::Regtest).expect("the chain loads");
    let refused = started.elapsed().as_secs_f64();
    assert!(loaded.trusted.is_none());
    assert!(loaded.warnings.iter().any(|w| w.contains("not used")));
    drop((store, loaded));
    println!("start with a mark made by another key: {refused:.2} s (every signature checked)");
}
