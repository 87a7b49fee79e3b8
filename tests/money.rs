//! Money across nodes: payments spread to every mempool, get mined, survive reorganizations
//! and restarts; peers that send broken transactions are told why and dropped, while late or
//! conflicting ones are ignored quietly.

mod common;

use common::*;
use peerchain::app::console::{execute, Reply};
use peerchain::message::{Message, PROTOCOL_VERSION};
use peerchain::store::Store;
use peerchain::testing::{mine_blocks, miner_key};
use peerchain::transaction::{Address, OutPoint, Output, Transaction, COIN};
use peerchain::wallet::{Balance, WalletError};
use peerchain::{Blockchain, Hash, Network, Node};
use std::net::TcpListener;

fn address_of(node: &Node) -> Address {
    node.address().parse().unwrap()
}

/// Output 0 of the coinbase of block `height`.
fn reward(chain: &Blockchain, height: u64) -> OutPoint {
    OutPoint {
        txid: chain.block(height).unwrap().transactions[0].txid,
        index: 0,
    }
}

/// A payment of `amount` from the fixtures' key, spending `from`, to `to`.
fn fixture_payment(from: OutPoint, to: Address, amount: u64) -> Transaction {
    let mut tx = Transaction::new(
        &[from],
        vec![Output {
            address: to,
            amount,
        }],
    );
    tx.sign(&miner_key());
    tx
}

fn in_mempool(node: &Node, txid: Hash) -> bool {
    node.mempool().iter().any(|e| e.tx.txid == txid)
}

/// A mines, pays B; the payment reaches every mempool; C mines it; every node then reports
/// the same balances for all three.
#[test]
fn a_payment_spreads_is_mined_and_balances_agree() {
    let (a, b, c) = (start(config()), start(config()), start(config()));
    a.connect(b.local_addr());
    c.connect(b.local_addr());
    wait_for("a line a - b - c", || b.peers().len() == 2);
    for _ in 0..11 {
        a.mine(vec![]).unwrap();
    }
    let tip = a.summary().tip;
    wait_for_tip(&c, tip, "c to have a's 11 blocks");
    // Block 12 may spend the rewards of blocks 1 and 2.
    assert_eq!(
        a.own_balance().spendable,
        2 * 50 * COIN,
        "two rewards matured"
    );
    assert_eq!(a.own_balance().immature, 9 * 50 * COIN);

    let txid = a.send(address_of(&b), 5 * COIN, 10_000).unwrap();
    for node in [&a, &b, &c] {
        wait_for("the payment in every mempool", || in_mempool(node, txid));
    }
    let pending = b.balance(&address_of(&b));
    assert_eq!(pending.pending_in, 5 * COIN);

    let block = c.mine(vec![]).unwrap();
    assert_eq!(block.transactions.len(), 2);
    assert_eq!(block.transactions[1].txid, txid);
    assert_eq!(
        block.transactions[0].outputs[0].amount,
        50 * COIN + 10_000,
        "the coinbase takes the fee"
    );
    for node in [&a, &b] {
        wait_for_tip(node, block.hash, "every node to take c's block");
    }
    let balances = |node: &Node| -> Vec<Balance> {
        [&a, &b, &c]
            .iter()
            .map(|n| node.balance(&address_of(n)))
            .collect()
    };
    assert_eq!(balances(&a), balances(&b));
    assert_eq!(balances(&b), balances(&c));
    let b_money = balances(&a)[1];
    assert_eq!(b_money.spendable, 5 * COIN);
    let a_money = balances(&a)[0];
    // Block 13 may spend the rewards of blocks 2 and 3, and the change of block 12.
    assert_eq!(a_money.spendable, 3 * 50 * COIN - 5 * COIN - 10_000);
    assert!(a.mempool().is_empty() && b.mempool().is_empty() && c.mempool().is_empty());
}

/// A node whose block held a payment reorganizes onto a heavier chain without it: the payment
/// goes back to its mempool, and the next block it mines confirms it.
#[test]
fn a_reorganization_returns_a_payment_and_the_next_block_confirms_it() {
    let base = regtest_chain(12);
    let payment = fixture_payment(reward(&base, 1), address_of_key(7), 3 * COIN);
    let mut ours = base.clone();
    ours.add_to_mempool(payment.clone().verify().unwrap())
        .unwrap();
    mine_blocks(&mut ours, 1, T, "ours");
    assert_eq!(ours.tip().transactions[1], payment);
    let mut theirs = base.clone();
    mine_blocks(&mut theirs, 2, T, "theirs");

    let a = start_with(config(), ours);
    let b = start_with(config(), theirs.clone());
    a.connect(b.local_addr());
    wait_for_tip(&a, theirs.tip().hash, "a to switch to b's heavier chain");
    wait_for("the payment back in a's mempool", || {
        in_mempool(&a, payment.txid)
    });
    assert_eq!(
        a.transaction(&payment.txid).unwrap().height,
        None,
        "it waits again"
    );

    let block = a.mine(vec![]).unwrap();
    assert!(block.transactions.contains(&payment));
    wait_for_tip(&b, block.hash, "b to take the confirming block");
    let info = b.transaction(&payment.txid).unwrap();
    assert_eq!((info.height, info.confirmations), (Some(15), 1));
}

/// Our own payment spends a reward of our own block; a heavier chain without that block
/// arrives, and the payment can never be mined: the node notices, and `tx` (console and API
/// alike, through `dropped_payment`) says why it left the mempool.
#[test]
fn a_payment_lost_in_a_reorganization_says_why() {
    let base = regtest_chain(2);
    let mut theirs = base.clone();
    mine_blocks(&mut theirs, 20, T, "theirs");
    let a = start_with(config(), base);
    a.mine_many(12, vec![]).unwrap();
    wait_for("a to mine 12 blocks", || a.summary().height == 14);
    let txid = a.send(address_of_key(5), COIN, 10_000).unwrap();
    assert!(in_mempool(&a, txid));

    let b = start_with(config(), theirs.clone());
    a.connect(b.local_addr());
    wait_for_tip(&a, theirs.tip().hash, "a to switch to b's heavier chain");
    wait_for("a to notice its payment left", || {
        a.dropped_payment(&txid).is_some()
    });
    let reason = a.dropped_payment(&txid).unwrap();
    assert!(
        reason.starts_with("after a reorganization: input 0 spends "),
        "{reason}"
    );
    assert!(
        reason.contains("which does not exist on this chain"),
        "{reason}"
    );
    let Reply::Text(said) = execute(&a, &format!("tx {txid}")) else {
        panic!("quit")
    };
    assert_eq!(
        said,
        format!("your payment {txid} left the mempool without being mined: {reason}")
    );
    assert!(a.transaction(&txid).is_none());
}

fn address_of_key(n: u8) -> Address {
    let mut bytes = [0u8; 32];
    bytes[31] = n;
    let key = peerchain::crypto::keys::SecretKey::from_bytes(&bytes).unwrap();
    Address::of(&key.public_key())
}

/// Balances survive a restart: the chain is reloaded and re-validated, the UTXO set rebuilt
/// from it, and the key comes back from `wallet.key`.
#[test]
fn restart_keeps_balances() {
    let dir = TempDir::new();
    let open = || {
        let (store, loaded) = Store::open(&dir.0, Network::Regtest).expect("open data dir");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Node::start_with_store(listener, config(), store, loaded).unwrap()
    };
    let node = open();
    for _ in 0..11 {
        node.mine(vec![]).unwrap();
    }
    let to = address_of_key(9);
    node.send(to, 12 * COIN, 10_000).unwrap();
    node.mine(vec![]).unwrap();
    let (address, mine, theirs) = (node.address(), node.own_balance(), node.balance(&to));
    assert_eq!(theirs.spendable, 12 * COIN);
    node.shutdown();

    let node = open();
    assert_eq!(node.address(), address);
    assert_eq!(node.own_balance(), mine);
    assert_eq!(node.balance(&to), theirs);
    assert_eq!(node.utxos(&to).len(), 1);
}

/// A transaction with a bad signature gets `error`, naming rule 7, and a close; the node's
/// mempool is unchanged.
#[test]
fn a_badly_signed_transaction_is_a_violation() {
    let chain = regtest_chain(12);
    let node = start_with(config(), chain.clone());
    let mut tx = fixture_payment(reward(&chain, 1), address_of_key(2), COIN);
    tx.inputs[0].signature = tx.inputs[0].signature.replace('a', "b");
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Tx(tx.clone()));
    let reason = peer.expect_error_and_close();
    assert!(reason.starts_with("invalid transaction: tx "), "{reason}");
    assert!(reason.ends_with("(rule 7)"), "{reason}");
    assert!(node.mempool().is_empty());
    assert_still_served(&node);
}

/// A valid transaction from a peer enters the mempool and is relayed to the other peers (not
/// back to the sender); a conflicting one and a repeat are ignored quietly, and the sender
/// stays connected; `get_mempool` lists what waits.
#[test]
fn transactions_are_relayed_and_conflicts_ignored_quietly() {
    let chain = regtest_chain(12);
    let node = start_with(config(), chain.clone());
    let mut sender = RawPeer::connect(&node);
    sender.handshake();
    let mut listener = RawPeer::connect(&node);
    listener.handshake();

    let tx = fixture_payment(reward(&chain, 1), address_of_key(2), COIN);
    sender.send(&Message::Tx(tx.clone()));
    let relayed = listener.recv_until(|m| match m {
        Message::Tx(t) => Some(t),
        _ => None,
    });
    assert_eq!(relayed, tx);

    let rival = fixture_payment(reward(&chain, 1), address_of_key(3), COIN);
    let unknown = fixture_payment(
        OutPoint {
            txid: Hash([5; 32]),
            index: 0,
        },
        address_of_key(3),
        COIN,
    );
    for quiet in [rival, unknown, tx.clone()] {
        sender.send(&Message::Tx(quiet));
    }
    sender.send(&Message::GetMempool);
    let listed = sender.recv_until(|m| match m {
        Message::Mempool(txs) => Some(txs),
        Message::Tx(t) => panic!("the node sent the sender a transaction: {}", t.txid),
        _ => None,
    });
    assert_eq!(listed, vec![tx]);
    assert_eq!(node.mempool().len(), 1);
}

/// A peer's hello of the new version is answered with `get_mempool` after the handshake, as
/// the protocol says.
#[test]
fn a_handshake_is_followed_by_get_mempool() {
    let node = start(config());
    let mut peer = RawPeer::connect(&node);
    let hello = peer.hello_and_prove();
    assert_eq!((hello.version, PROTOCOL_VERSION), (4, 4));
    peer.recv_until(|m| (m == Message::GetMempool).then_some(()));
}

/// The wallet's console commands: balance, send, tx, mempool and utxos, with one clear line
/// for every bad input.
#[test]
fn wallet_console() {
    let node = start(config());
    let text = |line: &str| match execute(&node, line) {
        Reply::Text(t) => t,
        Reply::Quit => panic!("{line} quit"),
    };
    for _ in 0..11 {
        assert!(text("mine").contains("(difficulty"));
    }
    let me = node.address();
    assert_eq!(
        text("balance"),
        format!(
            "{me}: 100.00000000 spendable, 450.00000000 immature, pending +0.00000000 -0.00000000"
        )
    );
    let to = address_of_key(4);
    assert_eq!(text("send xyz 1"), "not an address: xyz");
    assert_eq!(
        text(&format!("send {to} 1.123456789")),
        "amount has more than 8 decimals"
    );
    assert_eq!(
        text(&format!("send {to} 120")),
        "insufficient funds: 100.00000000 spendable, 120.00010000 needed"
    );
    assert_eq!(
        text(&format!("send {to} 1 0.1.2")),
        "fee: not an amount: \"0.1.2\" (write coins like 1.5)"
    );
    let sent = text(&format!("send {to} 1.5"));
    let txid = sent.strip_prefix("sent: txid ").expect(&sent).to_string();
    assert_eq!(
        text("balance"),
        format!(
            "{me}: 50.00000000 spendable, 450.00000000 immature, pending +48.49990000 -50.00000000"
        )
    );
    assert!(text("mempool").starts_with(&format!("{txid} fee 0.00010000 (1 input, 2 outputs)")));
    let shown = text(&format!("tx {txid}"));
    assert!(
        shown.starts_with(&format!("tx {txid} in the mempool")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("output 0: 1.50000000 to {to}")),
        "{shown}"
    );
    assert!(text("mine").contains("2 transactions"));
    assert!(text(&format!("tx {txid}")).contains("in block 12, 1 confirmation"));
    assert_eq!(
        text(&format!("balance {to}")),
        format!("{to}: 1.50000000 spendable, 0.00000000 immature, pending +0.00000000 -0.00000000")
    );
    assert!(text(&format!("utxos {to}")).ends_with(" 1.50000000 (block 12)"));
    assert_eq!(text("utxos 12"), "not an address: 12");
    assert!(text("tx 12").starts_with("hash must be 64 lowercase hex digits"));
    assert_eq!(
        text(&format!("tx {}", Hash([3; 32]))),
        format!(
            "no transaction {} in the mempool or the chain",
            Hash([3; 32])
        )
    );
    assert!(matches!(node.send(to, 0, 0), Err(WalletError::ZeroAmount)));
}

/// Over the wire, headers first: a heavier branch whose second block spends an output its
/// first block spent is refused when its bodies arrive, with the rule named, and the node's
/// chain and coins stay as they were.
#[test]
fn a_heavier_branch_that_double_spends_is_refused_over_the_wire() {
    let base = regtest_chain(12);
    let spend = fixture_payment(reward(&base, 1), address_of_key(2), 10 * COIN);
    let mut ours = base.clone();
    ours.add_to_mempool(spend.clone().verify().unwrap())
        .unwrap();
    mine_blocks(&mut ours, 1, T, "ours");

    let mut theirs = base.clone();
    let first = fixture_payment(reward(&base, 1), address_of_key(3), 5 * COIN);
    theirs.add_to_mempool(first.verify().unwrap()).unwrap();
    mine_blocks(&mut theirs, 1, T, "theirs");
    // Block 14 of the branch: valid alone, but its payment's input is spent on this branch.
    let template = theirs
        .template(vec![], miner_address(), theirs.tip().timestamp + T)
        .unwrap();
    let mut again = template.clone();
    again.transactions.push(spend.clone());
    again.merkle_root = again.compute_merkle_root();
    let again = peerchain::testing::mine_here(again);
    let mut branch = above(&theirs, 12);
    branch.push(again.clone());

    let node = start_with(config(), ours.clone());
    let before = (node.summary(), node.balance(&address_of_key(2)));
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Block(again));
    peer.recv_until(|m| matches!(m, Message::GetHeaders(_)).then_some(()));
    let headers = branch.iter().map(|b| b.header()).collect();
    peer.send(&Message::Headers(headers));
    peer.recv_until(|m| matches!(m, Message::GetBlocks(_)).then_some(()));
    peer.send(&Message::Blocks(branch));
    let reason = peer.expect_error_and_close();
    assert!(
        reason.starts_with("invalid block: block 14: tx "),
        "{reason}"
    );
    assert!(
        reason.ends_with("which is already spent (rule 7)"),
        "{reason}"
    );
    assert_eq!((node.summary(), node.balance(&address_of_key(2))), before);
    assert_eq!(node.summary().tip, ours.tip().hash);
}
