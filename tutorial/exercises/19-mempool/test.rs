//! Exercise 19: a minimum fee rate for the mempool.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::transaction::COIN;
use peerchain::wallet::WalletError;

/// A payment below 1 unit of fee per input and output stays out of the mempool, quietly (it
/// breaks no consensus rule: a miner may still put it in a block); one at the minimum enters.
#[test]
fn cheap_transactions_wait_outside() {
    let node = start(config());
    for _ in 0..12 {
        node.mine(vec![]).unwrap();
    }
    let to = "b1c9938f01121e159887ac2c8d393a22e4476ff8".parse().unwrap();
    // One input and two outputs (payment and change): the minimum is 3 units.
    match node.send(to, COIN, 2) {
        Err(WalletError::Rejected(rejected)) => {
            assert!(
                !rejected.is_violation(),
                "a low fee is policy, not a broken rule"
            );
            assert_eq!(
                rejected.to_string(),
                "fee 2 is below the minimum of 1 unit per input and output (3)"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(node.mempool().is_empty());
    node.send(to, COIN, 3).expect("exactly the minimum");
    assert_eq!(node.mempool().len(), 1);
}
