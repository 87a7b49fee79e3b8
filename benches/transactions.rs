//! `cargo bench --bench transactions`: checking signatures, alone and while catching up.
//!
//! 1. The baseline: one thread checks the signatures of 5 000 of the chain's transactions (parse
//!    the key and the signature, verify): `verify, 1 thread: N/s`.
//! 2. A fresh node catches up a chain of 1 000 regtest blocks, each with 100 transactions of one
//!    input and two outputs (100 000 signatures), from a peer over loopback:
//!    `tx sync: M signatures/s`. Every block is fully validated: signatures outside the chain
//!    lock on every core, coins under it.
//! 3. `mempool accept: K tx/s`: 5 000 transactions handed to a node one by one, each checked
//!    (signature included) and put in its mempool.
//! 4. Last, `tx sync/verify ratio: X`: sync's signature rate over the one-thread rate. On two
//!    cores the goal is at least 1.5: most of sync's time is signature checks, and they run in
//!    parallel, so the rest (JSON, sockets, the lock) must stay small.
//!
//! All traffic stays on 127.0.0.1.

use peerchain::testing::{mine_blocks, miner_address, miner_key};
use peerchain::transaction::{OutPoint, Output, Transaction, COIN};
use peerchain::{Blockchain, Config, Network, Node};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const BLOCKS: usize = 1_000;
const TXS_PER_BLOCK: usize = 100;
const FEE: u64 = 100;
const BASELINE_SIGNATURES: usize = 5_000;
const MEMPOOL_TXS: usize = 5_000;

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

/// A signed payment from the fixtures' key.
fn payment(spends: &[OutPoint], outputs: Vec<Output>) -> Transaction {
    let mut tx = Transaction::new(spends, outputs);
    tx.sign(&miner_key());
    tx
}

/// The chain: 10 blocks for the first reward to mature, one that fans it out into 100 lanes,
/// then 1 000 blocks where each lane's transaction spends the lane's previous output and pays
/// two outputs: the lane, and 1 unit to the miner's address (coins for the mempool test).
fn build_chain() -> Blockchain {
    let mut chain = Blockchain::new(Network::Regtest);
    mine_blocks(&mut chain, 11, 1_000, "bench");
    let reward = OutPoint {
        txid: chain.block(1).unwrap().transactions[0].txid,
        index: 0,
    };
    let lane = 50 * COIN / TXS_PER_BLOCK as u64;
    let fan = payment(
        &[reward],
        vec![
            Output {
                address: miner_address(),
                amount: lane,
            };
            TXS_PER_BLOCK
        ],
    );
    let add = |chain: &mut Blockchain, txs: Vec<Transaction>| {
        for tx in txs {
            chain
                .add_to_mempool(tx.verify().expect("valid"))
                .expect("accepted");
        }
        mine_blocks(chain, 1, 1_000, "bench");
    };
    let mut lanes: Vec<(OutPoint, u64)> = (0..TXS_PER_BLOCK as u32)
        .map(|index| {
            (
                OutPoint {
                    txid: fan.txid,
                    index,
                },
                lane,
            )
        })
        .collect();
    add(&mut chain, vec![fan]);
    for _ in 0..BLOCKS {
        let txs: Vec<Transaction> = lanes
            .iter()
            .map(|&(outpoint, amount)| {
                let outputs = vec![
                    Output {
                        address: miner_address(),
                        amount: amount - FEE - 1,
                    },
                    Output {
                        address: miner_address(),
                        amount: 1,
                    },
                ];
                payment(&[outpoint], outputs)
            })
            .collect();
        lanes = txs
            .iter()
            .zip(&lanes)
            .map(|(tx, &(_, amount))| {
                let next = OutPoint {
                    txid: tx.txid,
                    index: 0,
                };
                (next, amount - FEE - 1)
            })
            .collect();
        add(&mut chain, txs);
    }
    chain
}

fn main() {
    let built = Instant::now();
    let chain = build_chain();
    let signatures: usize = chain
        .blocks()
        .iter()
        .flat_map(|b| b.transactions.iter().skip(1))
        .map(|tx| tx.inputs.len())
        .sum();
    println!(
        "chain: {} blocks, {signatures} signatures, built in {:.1} s",
        chain.height(),
        built.elapsed().as_secs_f64()
    );

    // 1. One thread, the same checks sync makes per input.
    let sample: Vec<&Transaction> = chain
        .blocks()
        .iter()
        .rev()
        .flat_map(|b| b.transactions.iter().skip(1))
        .take(BASELINE_SIGNATURES)
        .collect();
    let started = Instant::now();
    for tx in &sample {
        tx.check_signature(0).expect("valid");
    }
    let verify_rate = sample.len() as f64 / started.elapsed().as_secs_f64();
    println!("verify, 1 thread: {verify_rate:.0}/s");

    // 2. Catching up over loopback.
    let tip = chain.tip().hash;
    let source = start(chain.clone());
    let fresh = start(Blockchain::new(Network::Regtest));
    let started = Instant::now();
    fresh.connect(source.local_addr());
    let end = Instant::now() + Duration::from_secs(600);
    while fresh.summary().tip != tip {
        assert!(Instant::now() < end, "sync did not finish");
        std::thread::sleep(Duration::from_millis(1));
    }
    let seconds = started.elapsed().as_secs_f64();
    let sync_rate = signatures as f64 / seconds;
    println!("tx sync: {sync_rate:.0} signatures/s ({seconds:.2} s)");
    drop(fresh);
    drop(source);

    // 3. The mempool: spend 5 000 of the 1-unit outputs, fee 0.
    let node = start(chain.clone());
    let dust: Vec<Transaction> = chain
        .blocks()
        .iter()
        .rev()
        .flat_map(|b| b.transactions.iter().skip(1))
        .take(MEMPOOL_TXS)
        .map(|tx| {
            let spend = OutPoint {
                txid: tx.txid,
                index: 1,
            };
            let out = Output {
                address: miner_address(),
                amount: 1,
            };
            payment(&[spend], vec![out])
        })
        .collect();
    let started = Instant::now();
    for tx in dust {
        node.submit_transaction(tx).expect("accepted");
    }
    let accept_rate = MEMPOOL_TXS as f64 / started.elapsed().as_secs_f64();
    println!("mempool accept: {accept_rate:.0} tx/s (signatures checked)");
    assert_eq!(node.mempool().len(), MEMPOOL_TXS);

    println!("tx sync/verify ratio: {:.2}", sync_rate / verify_rate);
}
