//! Appendix B's worked vectors are the code's: every row of every table in its "Worked
//! vectors" section is recomputed here. A writer in another language checks their node against
//! the same tables, so a number that drifted would mislead them.

mod common;

use common::header;
use peerchain::block::Header;
use peerchain::consensus::{expected_difficulty, median_time_past, ChainView};
use peerchain::pow::work;
use peerchain::{Block, Network};
use std::path::Path;

fn appendix() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tutorial/B-consensus-rules.md");
    std::fs::read_to_string(path).expect("appendix B")
}

/// The cells of each row of the first table after the heading `### {title}`, header row and
/// separator skipped. Cells are trimmed, with surrounding backticks removed.
fn table(title: &str) -> Vec<Vec<String>> {
    let text = appendix();
    let start = text
        .find(&format!("### {title}\n"))
        .unwrap_or_else(|| panic!("appendix B has no section {title:?}"));
    let rows: Vec<Vec<String>> = text[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect()
        })
        .collect();
    assert!(!rows.is_empty(), "section {title:?} has no table rows");
    rows
}

/// The second cell of the row whose first cell is `what`.
fn cell(rows: &[Vec<String>], what: &str) -> String {
    rows.iter()
        .find(|r| r[0] == what)
        .unwrap_or_else(|| panic!("no {what:?} row"))[1]
        .clone()
}

/// Secret key `n` (appendix B's "secret key 1" and "secret key 2").
fn secret(n: u8) -> peerchain::crypto::keys::SecretKey {
    let mut bytes = [0u8; 32];
    bytes[31] = n;
    peerchain::crypto::keys::SecretKey::from_bytes(&bytes).unwrap()
}

/// The block above genesis: its JSON parses, and its header bytes and hash are as printed.
#[test]
fn block_vector() {
    let rows = table("A block above genesis (regtest, height 1)");
    let value = |what: &str| cell(&rows, what);
    let block: Block = serde_json::from_str(&value("JSON")).expect("the JSON is a block");
    assert_eq!(hex::encode(block.header_bytes()), value("header bytes"));
    assert_eq!(block.compute_hash().to_string(), value("hash"));
    assert_eq!(block.hash.to_string(), value("hash"));
    assert_eq!(block.previous_hash, Network::Regtest.genesis().hash);
    assert_eq!(block.merkle_root, block.compute_merkle_root());
    let mut chain = peerchain::Blockchain::new(Network::Regtest);
    chain.append_checked(block, None).expect("a valid block 1");
}

/// Each retarget row: a view of heights 0..=9 where only A (height 0) and P (height 9) may
/// matter.
#[test]
fn retarget_vectors() {
    let rows = table("Retarget");
    for row in &rows {
        let network = match row[0].as_str() {
            "regtest" => Network::Regtest,
            "main" => Network::Main,
            other => panic!("unknown network {other}"),
        };
        let (difficulty, span, expected): (u32, i64, u32) = (
            row[1].parse().unwrap(),
            row[2].parse().unwrap(),
            row[3].parse().unwrap(),
        );
        let base: u64 = 1_700_000_000_000;
        let parent_time = base.checked_add_signed(span).unwrap();
        // Heights 1..=8 share P's timestamp: a rule that measured from any of them instead of
        // A would see a span of 0 and get another answer on most rows.
        let headers: Vec<Header> = (0..10)
            .map(|h| match h {
                0 => header(0, base, difficulty),
                _ => header(h, parent_time, difficulty),
            })
            .collect();
        let view = ChainView::new(&headers, &[]);
        assert_eq!(
            expected_difficulty(&view, network.params()),
            expected,
            "row {row:?}"
        );
    }
    assert!(rows.len() >= 8);
}

/// Each median-time-past row, as a chain of headers with those timestamps.
#[test]
fn median_time_past_vectors() {
    let rows = table("Median time past");
    for row in &rows {
        let times: Vec<u64> = row[0]
            .split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect();
        let headers: Vec<Header> = times
            .iter()
            .enumerate()
            .map(|(h, t)| header(h as u64, *t, 1))
            .collect();
        let expected: u64 = row[1].parse().unwrap();
        assert_eq!(
            median_time_past(&ChainView::new(&headers, &[])),
            expected,
            "row {row:?}"
        );
    }
    assert!(rows.len() >= 4);
}

/// Each chain-work row: the sum of 2^difficulty, genesis included; the first row is what a
/// fresh regtest chain reports.
#[test]
fn chain_work_vectors() {
    let rows = table("Chain work");
    for row in &rows {
        let total: u128 = row[0]
            .split_whitespace()
            .map(|d| work(d.parse().unwrap()))
            .sum();
        assert_eq!(total.to_string(), row[1], "row {row:?}");
    }
    assert_eq!(
        peerchain::Blockchain::new(Network::Regtest)
            .total_work()
            .to_string(),
        rows[0][1]
    );
}

/// The transaction vectors: the coinbase's bytes and txid, the spend's txid and signature
/// (rebuilt from secret keys 1 and 2), and the two merkle roots.
#[test]
fn transaction_vectors() {
    use peerchain::merkle::block_merkle_root;
    use peerchain::transaction::{Address, OutPoint, Output, Transaction};
    let rows = table("Transactions");
    let value = |what: &str| cell(&rows, what);
    let key = secret;
    let address = |n: u8| Address::of(&key(n).public_key());
    let coinbase = Transaction::coinbase(
        1,
        vec![Output {
            address: address(1),
            amount: 5_000_000_000,
        }],
    );
    assert_eq!(hex::encode(coinbase.tx_bytes()), value("coinbase bytes"));
    assert_eq!(coinbase.txid.to_string(), value("coinbase txid"));
    let mut spend = Transaction::new(
        &[OutPoint {
            txid: coinbase.txid,
            index: 0,
        }],
        vec![
            Output {
                address: address(2),
                amount: 3_000_000_000,
            },
            Output {
                address: address(1),
                amount: 1_999_990_000,
            },
        ],
    );
    spend.sign(&key(1));
    assert_eq!(spend.txid.to_string(), value("spend txid"));
    assert_eq!(spend.inputs[0].signature, value("spend signature"));
    assert_eq!(
        coinbase.witness_hash().to_string(),
        value("coinbase witness hash")
    );
    assert_eq!(
        spend.witness_hash().to_string(),
        value("spend witness hash")
    );
    let leaf = |tx: &Transaction| (tx.txid, tx.witness_hash());
    assert_eq!(
        block_merkle_root(&[], [leaf(&coinbase)].into_iter()).to_string(),
        value("root of no data and [coinbase]")
    );
    assert_eq!(
        block_merkle_root(
            &["a".to_string()],
            [leaf(&coinbase), leaf(&spend)].into_iter()
        )
        .to_string(),
        value("root of [\"a\"] and [coinbase, spend]")
    );
}

/// The identity vectors: both node ids, the proof's digest and signature (secret key 1
/// proving its id to secret key 2's node), and that the signature verifies.
#[test]
fn identity_vectors() {
    use peerchain::identity::{check_proof, node_id, proof_digest, prove};
    let rows = table("Identity");
    let value = |what: &str| cell(&rows, what);
    let key = secret;
    let (signer, verifier) = (node_id(&key(1).public_key()), node_id(&key(2).public_key()));
    assert_eq!(signer, value("signer node id"));
    assert_eq!(verifier, value("verifier node id"));
    let challenge: peerchain::Hash = value("challenge").parse().unwrap();
    let digest = proof_digest(&challenge, &verifier, &signer);
    assert_eq!(hex::encode(digest), value("proof digest"));
    let signature = prove(&key(1), &challenge, &verifier);
    assert_eq!(signature, value("proof signature"));
    assert_eq!(
        check_proof(
            &key(1).public_key(),
            &challenge,
            &verifier,
            &signer,
            &signature
        ),
        Ok(())
    );
}

/// Each subsidy row.
#[test]
fn subsidy_vectors() {
    let rows = table("Subsidy");
    for row in &rows {
        let network: Network = row[0].parse().unwrap();
        let height: u64 = row[1].parse().unwrap();
        assert_eq!(
            network.params().subsidy(height).to_string(),
            row[2],
            "row {row:?}"
        );
    }
    assert!(rows.len() >= 8);
}

/// Every example line of appendix A is a message this node decodes, and the example `tx` is
/// the spend vector, valid on its own.
#[test]
fn wire_examples_decode() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tutorial/A-wire-protocol.md");
    let text = std::fs::read_to_string(path).expect("appendix A");
    let start = text
        .find("## Messages, one example line each")
        .expect("examples");
    let block = &text[start..];
    let lines: Vec<&str> = block
        .lines()
        .skip_while(|l| !l.starts_with("```text"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect();
    assert!(lines.len() >= 15, "only {} example lines", lines.len());
    let mut names = Vec::new();
    for line in lines {
        let message =
            peerchain::Message::decode(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        if let peerchain::Message::Tx(tx) = &message {
            tx.clone().verify().expect("the example tx is valid alone");
        }
        names.push(message.name());
    }
    for name in ["hello", "block", "tx", "get_mempool", "mempool", "headers"] {
        assert!(names.contains(&name), "no example of {name}");
    }
}
