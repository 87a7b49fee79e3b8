//! Exercise 16: `txid <json>` recomputes a transaction's txid.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};

fn run(node: &peerchain::Node, line: &str) -> String {
    let Reply::Text(text) = execute(node, line) else {
        panic!("quit?")
    };
    text
}

/// The coinbase vector of appendix B.
const COINBASE: &str = r#"{"txid":"1fd69013945938380b5cf5dd59db1b41201ebf0fb3e607c557bc2e7a5d94433c","inputs":[{"prev_txid":"0000000000000000000000000000000000000000000000000000000000000000","prev_index":1,"public_key":"","signature":""}],"outputs":[{"address":"0f715baf5d4c2ed329785cef29e562f73488c8a2","amount":5000000000}]}"#;

/// An honest txid is confirmed; a changed amount shows both txids; junk is refused in one line.
#[test]
fn txid_is_recomputed() {
    let node = start(config());
    assert_eq!(
        run(&node, &format!("txid {COINBASE}")),
        "txid 1fd69013945938380b5cf5dd59db1b41201ebf0fb3e607c557bc2e7a5d94433c matches"
    );
    let richer = COINBASE.replace("5000000000", "5000000001");
    let answer = run(&node, &format!("txid {richer}"));
    assert!(
        answer.starts_with(
            "txid 1fd69013945938380b5cf5dd59db1b41201ebf0fb3e607c557bc2e7a5d94433c claimed, "
        ),
        "{answer}"
    );
    assert!(answer.ends_with(" computed"), "{answer}");
    assert_ne!(
        &answer[70..134],
        &COINBASE[9..73],
        "the computed txid differs"
    );
    assert!(run(&node, "txid {").starts_with("not a transaction: "));
    assert!(run(&node, "help").contains("txid <json>"));
}
