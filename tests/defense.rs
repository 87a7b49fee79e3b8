//! A classmate's buggy or hostile node, played on a raw socket. For each bad input the node
//! answers `error` with a reason naming the problem, closes that connection, leaves its chain
//! as it was, and goes on serving everyone else.

mod common;

use common::*;
use peerchain::message::{GetBlocks, Message, Nonce, MAX_LINE_BYTES};
use peerchain::{Hash, Network, Node};
use std::io::Write;
use std::time::Duration;

/// A node with a short regtest chain, and what its chain looked like before the test.
fn node() -> (Node, peerchain::node::ChainSummary) {
    let node = start_with(config(), regtest_chain(2));
    let before = node.summary();
    (node, before)
}

/// The aftermath every bad-input test checks: chain unchanged, others still served.
fn assert_unharmed(node: &Node, before: &peerchain::node::ChainSummary) {
    assert_eq!(&node.summary(), before, "the chain must not change");
    assert_still_served(node);
}

/// Block 13 on a node whose tip is at height 12: a coinbase and one transaction that spends an
/// output of a txid made of `txid_byte`, which does not exist. With `difficulty` 0 it claims no
/// proof of work; otherwise it is mined. `bad_signature` swaps its signature for a well-formed
/// one that does not verify.
fn block_spending_nothing(
    node: &Node,
    difficulty: u32,
    txid_byte: u8,
    bad_signature: bool,
) -> peerchain::Block {
    use peerchain::transaction::{OutPoint, Output, Transaction};
    let tip = node.block(12).unwrap();
    let coinbase = Transaction::coinbase(
        13,
        vec![Output {
            address: miner_address(),
            amount: 50 * peerchain::transaction::COIN,
        }],
    );
    let nowhere = OutPoint {
        txid: Hash([txid_byte; 32]),
        index: 0,
    };
    let mut forged = Transaction::new(
        &[nowhere],
        vec![Output {
            address: miner_address(),
            amount: 1,
        }],
    );
    forged.sign(&peerchain::testing::miner_key());
    if bad_signature {
        forged.inputs[0].signature = "11".repeat(64); // well formed, does not verify
    }
    let block = peerchain::Block::new(
        13,
        tip.timestamp + T,
        tip.hash,
        difficulty,
        0,
        vec![],
        vec![coinbase, forged],
    );
    if difficulty == 0 {
        block
    } else {
        peerchain::testing::mine_here(block)
    }
}

/// A line that is not JSON gets "malformed JSON".
#[test]
fn malformed_json() {
    let (node, before) = node();
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send_raw(b"{\"type\":\"ping\",\n");
    assert!(peer.expect_error_and_close().starts_with("malformed JSON"));
    assert_unharmed(&node, &before);
}

/// A `type` this protocol does not have is named in the reason.
#[test]
fn unknown_type() {
    let (node, before) = node();
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send_raw(b"{\"type\":\"gossip\",\"payload\":{}}\n");
    assert_eq!(
        peer.expect_error_and_close(),
        "unknown message type \"gossip\""
    );
    assert_unharmed(&node, &before);
}

/// A known type with the wrong payload shape says which message was wrong.
#[test]
fn wrong_payload_shape() {
    let (node, before) = node();
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send_raw(b"{\"type\":\"get_blocks\",\"payload\":{\"locator\":42}}\n");
    assert!(peer
        .expect_error_and_close()
        .starts_with("bad payload for get_blocks"));
    assert_unharmed(&node, &before);
}

/// Anything before `hello` is refused.
#[test]
fn message_before_hello() {
    let (node, before) = node();
    let mut peer = RawPeer::connect(&node);
    peer.send(&Message::Ping(Nonce { nonce: 1 }));
    assert_eq!(
        peer.expect_error_and_close(),
        "expected hello first, got ping"
    );
    assert_unharmed(&node, &before);
}

/// A node of another network (main's genesis on a regtest node) is refused.
#[test]
fn wrong_genesis() {
    let (node, before) = node();
    let mut peer = RawPeer::connect(&node);
    peer.hello(Network::Main.genesis().hash, "0000000000000004");
    let reason = peer.expect_error_and_close();
    assert!(reason.starts_with("wrong genesis 00000550a771"), "{reason}");
    assert!(reason.contains("regtest"), "{reason}");
    assert_unharmed(&node, &before);
}

/// Nodes of protocol versions 1 to 3 (no `get_headers`, no transactions, merkle leaves without
/// signatures and ids anyone could claim) are refused by name, whatever their hello lacks.
#[test]
fn older_protocol_versions_are_refused() {
    let (node, before) = node();
    for version in [1, 2, 3] {
        let mut peer = RawPeer::connect(&node);
        peer.send(&Message::Hello(peerchain::message::Hello {
            version,
            genesis: Network::Regtest.genesis().hash,
            node_id: format!("000000000000001{version}"),
            listen_port: None,
            public_key: None,
            challenge: None,
        }));
        assert_eq!(
            peer.expect_error_and_close(),
            format!("unsupported protocol version {version}, this node speaks 4")
        );
    }
    assert_unharmed(&node, &before);
}

/// A block on our tip that breaks a rule is refused with that rule, and not appended.
#[test]
fn invalid_block() {
    let (node, before) = node();
    let template = node.with_chain(|chain| {
        chain
            .template(
                vec!["honest".into()],
                miner_address(),
                chain.tip().timestamp + T,
            )
            .unwrap()
    });
    let mut next = peerchain::testing::mine_here(template);
    next.data = vec!["forged".into()];
    let next = peerchain::testing::mine_here(next);
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Block(next));
    let reason = peer.expect_error_and_close();
    assert!(
        reason.starts_with("invalid block: block 3: merkle_root"),
        "{reason}"
    );
    assert!(reason.ends_with("(rule 4)"), "{reason}");
    assert_unharmed(&node, &before);
}

/// A locator longer than 101 hashes is refused.
#[test]
fn oversized_locator() {
    let (node, before) = node();
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    let locator = vec![Hash::ZERO; 102];
    peer.send(&Message::GetBlocks(GetBlocks { locator, limit: 10 }));
    assert_eq!(
        peer.expect_error_and_close(),
        "locator has 102 hashes, more than 101"
    );
    assert_unharmed(&node, &before);
}

/// When every slot holds a peer that cannot be evicted (here: the node's own outbound peers),
/// a newcomer is told "too many peers" after its hello, and the peers stay.
#[test]
fn too_many_peers() {
    let mut small = config();
    small.max_peers = 2;
    let node = start_with(small, regtest_chain(2));
    let (x, y) = (start(config()), start(config()));
    node.connect(x.local_addr());
    node.connect(y.local_addr());
    wait_for("two outbound peers", || node.peers().len() == 2);
    let mut c = RawPeer::connect(&node);
    c.hello_and_prove();
    assert_eq!(c.expect_error_and_close(), "too many peers");
    assert_eq!(node.peers().len(), 2);
    assert!(node.peers().iter().all(|p| p.outbound));
    let block = node.mine(vec!["kept".into()]).unwrap();
    wait_for_tip(&x, block.hash, "x to stay linked");
    wait_for_tip(&y, block.hash, "y to stay linked");
}

/// When the table is full of inbound peers, a newcomer evicts the one heard from least
/// recently, never one of the longest-connected four.
#[test]
fn a_full_table_evicts_the_idlest_inbound_peer() {
    let mut small = config();
    small.max_peers = 6;
    let node = start_with(small, regtest_chain(2));
    let mut peers: Vec<RawPeer> = (0..6)
        .map(|_| {
            let mut p = RawPeer::connect(&node);
            p.handshake();
            p
        })
        .collect();
    // Peers 4 and 5 are unprotected; 5 speaks up, so 4 is the idlest.
    peers[5].send(&Message::Ping(Nonce { nonce: 5 }));
    peers[5].recv_until(|m| (m == Message::Pong(Nonce { nonce: 5 })).then_some(()));
    let mut newcomer = RawPeer::connect(&node);
    newcomer.handshake();
    while peers[4].recv().is_some() {} // closed by the node
    let idlest = peers[4].node_id();
    wait_for("the idlest peer to go", || {
        node.peers().iter().all(|p| p.node_id != idlest)
    });
    let ids: Vec<String> = node.peers().into_iter().map(|p| p.node_id).collect();
    assert_eq!(ids.len(), 6);
    assert!(ids.contains(&newcomer.node_id()));
    for kept in [0, 1, 2, 3, 5] {
        assert!(ids.contains(&peers[kept].node_id()), "{kept}: {ids:?}");
    }
}

/// A reason never echoes more than about 200 characters of what the peer sent, however big
/// the bad value was.
#[test]
fn reasons_quote_little_of_the_input() {
    let (node, before) = node();
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    let nonce = "9".repeat(1_000_000);
    peer.send_raw(
        format!("{{\"type\":\"ping\",\"payload\":{{\"nonce\":\"{nonce}\"}}}}\n").as_bytes(),
    );
    let reason = peer.expect_error_and_close();
    assert!(reason.starts_with("bad payload for ping"), "{reason}");
    assert!(reason.len() < 300, "a {}-byte reason", reason.len());
    assert!(reason.contains("bytes in all"), "{reason}");
    assert_unharmed(&node, &before);
}

/// A peer that never says hello is dropped after the handshake timeout, with a reason.
#[test]
fn handshake_timeout() {
    let mut quick = config();
    quick.handshake_timeout = Duration::from_millis(300);
    let node = start_with(quick, regtest_chain(2));
    let mut peer = RawPeer::connect(&node);
    assert_eq!(peer.expect_error_and_close(), "no hello within 300 ms");
    assert_still_served(&node);
}

/// A silent peer is pinged, and closed once it has been silent for the idle timeout.
#[test]
fn silent_peer_is_pinged_then_dropped() {
    let mut quick = config();
    quick.ping_interval = Duration::from_millis(100);
    quick.idle_timeout = Duration::from_millis(400);
    let node = start_with(quick, regtest_chain(2));
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.recv_until(|m| matches!(m, Message::Ping(_)).then_some(()));
    while let Some(m) = peer.recv() {
        assert!(
            matches!(
                m,
                Message::Ping(_) | Message::LatestBlock | Message::GetPeers
            ),
            "{m:?}"
        );
    }
    wait_for("the silent peer to leave the peer list", || {
        node.peers().is_empty()
    });
}

/// TCP is a stream: a message split across many tiny writes is read whole, and two
/// messages in one write are read as two.
#[test]
fn split_and_joined_writes() {
    let (node, _) = node();
    let mut peer = RawPeer::connect(&node);
    peer.stream.set_nodelay(true).unwrap();
    let hello = Message::Hello(peerchain::message::Hello {
        version: peerchain::message::PROTOCOL_VERSION,
        genesis: Network::Regtest.genesis().hash,
        node_id: peer.node_id(),
        listen_port: None,
        public_key: Some(peer.key.public_key().to_hex()),
        challenge: Some(peer.challenge),
    })
    .encode();
    for byte in hello.chunks(1) {
        peer.stream.write_all(byte).unwrap();
        peer.stream.flush().unwrap();
    }
    let theirs = peer.recv_until(|m| match m {
        Message::Hello(hello) => Some(hello),
        _ => None,
    });
    peer.prove(&theirs);
    let mut two = Message::Ping(Nonce { nonce: 1 }).encode();
    two.extend(Message::LatestBlock.encode());
    for chunk in two.chunks(3) {
        peer.stream.write_all(chunk).unwrap();
    }
    peer.recv_until(|m| (m == Message::Pong(Nonce { nonce: 1 })).then_some(()));
    let tip = peer.recv_until(|m| match m {
        Message::Block(b) => Some(b.hash),
        _ => None,
    });
    assert_eq!(tip, node.summary().tip);
}

/// The line limit does not count the newline: a message of exactly 4 MiB is read (its unknown
/// top-level field ignored), one byte more is refused.
#[test]
fn the_line_limit_is_exact() {
    let (node, before) = node();
    let line = |len: usize| {
        let head = "{\"type\":\"ping\",\"payload\":{\"nonce\":5},\"pad\":\"";
        let pad = "x".repeat(len - head.len() - 2);
        format!("{head}{pad}\"}}\n")
    };
    let exact = line(MAX_LINE_BYTES);
    assert_eq!(exact.len(), MAX_LINE_BYTES + 1);
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send_raw(exact.as_bytes());
    peer.recv_until(|m| (m == Message::Pong(Nonce { nonce: 5 })).then_some(()));
    peer.send_raw(line(MAX_LINE_BYTES + 1).as_bytes());
    assert_eq!(
        peer.expect_error_and_close(),
        format!("line longer than {MAX_LINE_BYTES} bytes")
    );
    assert_unharmed(&node, &before);
}

/// Hex is lowercase on the wire: an uppercase hash is a bad payload, and an uppercase node id
/// is refused by name.
#[test]
fn uppercase_hex_is_refused() {
    let (node, before) = node();
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    let tip = serde_json::to_string(&node.block(2).unwrap()).unwrap();
    let hash = node.block(2).unwrap().hash.to_string();
    let shouted = tip.replace(&hash, &hash.to_uppercase());
    peer.send_raw(format!("{{\"type\":\"block\",\"payload\":{shouted}}}\n").as_bytes());
    assert!(peer
        .expect_error_and_close()
        .starts_with("bad payload for block"));
    let mut upper = RawPeer::connect(&node);
    upper.hello(Network::Regtest.genesis().hash, "00000000000000AA");
    assert_eq!(
        upper.expect_error_and_close(),
        "node_id must be 16 lowercase hex digits"
    );
    assert_unharmed(&node, &before);
}

/// A key twice in one object is malformed, wherever it is: a `tx` with its `signature` twice
/// would otherwise have two readings (appendix A says so; this pins it).
#[test]
fn a_duplicated_key_is_malformed() {
    let (node, before) = node();
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    let tx = r#"{"type":"tx","payload":{"txid":"02031083a574d325fe44dfc055a5b194f47e539bdb633a0dca498866740d0005","inputs":[{"prev_txid":"1fd69013945938380b5cf5dd59db1b41201ebf0fb3e607c557bc2e7a5d94433c","prev_index":0,"public_key":"0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798","signature":"00","signature":"11"}],"outputs":[]}}"#;
    peer.send_raw(format!("{tx}\n").as_bytes());
    let reason = peer.expect_error_and_close();
    assert!(
        reason.starts_with("bad payload for tx: duplicate field `signature`"),
        "{reason}"
    );
    assert_unharmed(&node, &before);
}

/// No work without proof of work: a block on our tip that claims difficulty 0 (any hash meets
/// it) and carries a badly signed transaction is refused for its difficulty (rule 5), which is
/// checked against our tip before a single signature is.
#[test]
fn a_block_without_proof_of_work_costs_no_signature() {
    let node = start_with(config(), regtest_chain(12));
    let before = node.summary();
    let block = block_spending_nothing(&node, 0, 7, true);
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Block(block));
    let reason = peer.expect_error_and_close();
    assert!(
        reason.starts_with("invalid block: block 13: difficulty 0 is not the expected 1 (rule 5)"),
        "{reason}"
    );
    assert_unharmed(&node, &before);
}

/// A block with its proof of work whose transaction spends a coin that does not exist is
/// refused for the spend, not for its bad signature: spends are looked up before any signature
/// is checked, so such a block costs no signature check either.
#[test]
fn a_block_spending_nothing_costs_no_signature() {
    let node = start_with(config(), regtest_chain(12));
    let before = node.summary();
    let block = block_spending_nothing(&node, before.next_difficulty, 7, true);
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Block(block));
    let reason = peer.expect_error_and_close();
    assert!(
        reason.starts_with("invalid block: block 13: tx ")
            && reason.contains("which does not exist"),
        "{reason}"
    );
    assert_unharmed(&node, &before);
    // The block tree shows it beside our chain, invalid, with the rule it broke.
    let tree = node.tree(2);
    let (_, status) = tree
        .iter()
        .find(|(e, _)| e.height == 13)
        .expect("in the tree");
    match status {
        peerchain::node::block_tree::Status::Invalid(rule) => {
            assert!(
                rule.contains("which does not exist on this chain (rule 7)"),
                "{rule}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// A peer whose block broke a rule is discouraged across connections: it comes back with the
/// same key and is refused at the handshake (the error says why and for how long) before the
/// node signs or checks anything for it. On loopback the node id is what counts, so a classmate
/// with another key on the same machine is still welcome.
#[test]
fn a_rule_breaker_is_discouraged_across_connections() {
    let node = start_with(config(), regtest_chain(12));
    let before = node.summary();
    let tip = node.block(12).unwrap();
    let mut cheat = RawPeer::connect(&node);
    cheat.handshake();
    // No proof of work: refused for rule 5.
    let block = peerchain::Block::new(13, tip.timestamp + T, tip.hash, 0, 0, vec![], vec![]);
    cheat.send(&Message::Block(block));
    let first = cheat.expect_error_and_close();
    assert!(first.contains("(rule 5)"), "{first}");

    let mut again = RawPeer::connect(&node);
    again.key = cheat.key.clone();
    again.hello(Network::Regtest.genesis().hash, &cheat.node_id());
    // The node's hello, then at once its error: no proof (it signed nothing for us, and we
    // sent none for it to check).
    assert!(matches!(again.recv(), Some(Message::Hello(_))));
    let refused = match again.recv() {
        Some(Message::Error(e)) => e.reason,
        other => panic!("expected the node's error, got {other:?}"),
    };
    assert!(refused.starts_with("discouraged for "), "{refused}");
    assert!(
        refused.contains("s more: invalid block: block 13"),
        "{refused}"
    );
    assert_eq!(again.recv(), None, "the node should close after its error");

    let mut classmate = RawPeer::connect(&node);
    let hello = classmate.handshake();
    assert_eq!(hello.node_id, node.node_id());
    assert_unharmed(&node, &before);
}

/// A block that broke a rule is remembered by its hash: sent again by a new node (a new key,
/// so not discouraged) after our tip has moved on, it is refused at once for the same rule,
/// instead of being taken for a block of a branch we lack and asked about.
#[test]
fn an_invalid_block_is_remembered_by_its_hash() {
    let node = start_with(config(), regtest_chain(12));
    let block = block_spending_nothing(&node, node.summary().next_difficulty, 9, false);
    let mut first = RawPeer::connect(&node);
    first.handshake();
    first.send(&Message::Block(block.clone()));
    let reason = first.expect_error_and_close();
    assert!(reason.contains("which does not exist"), "{reason}");

    let mined = node.mine(vec!["moves the tip".into()]).unwrap();
    assert_eq!(node.summary().tip, mined.hash);
    let mut second = RawPeer::connect(&node);
    second.handshake();
    second.send(&Message::Block(block));
    assert_eq!(second.expect_error_and_close(), reason);
    assert_eq!(node.summary().tip, mined.hash);
}

/// Nobody can poison the memory of invalid blocks with an honest block's hash: a copy of the
/// next block that claims its hash but carries another version, or a transaction whose txid
/// lies, is refused, and the real block is still taken from an honest peer afterwards (and a
/// block we hold is `Known`, never looked up as invalid).
#[test]
fn a_forged_copy_cannot_get_an_honest_block_refused() {
    let base = regtest_chain(12);
    let mut longer = base.clone();
    peerchain::testing::mine_blocks(&mut longer, 1, T, "honest");
    let honest = longer.tip().clone();
    let node = start_with(config(), base);

    let mut wrong_version = honest.clone();
    wrong_version.version = 2;
    let mut lying_txid = honest.clone();
    lying_txid.transactions[0].outputs[0].amount -= 1;
    for forged in [wrong_version, lying_txid] {
        assert_eq!(
            forged.hash, honest.hash,
            "the forgery claims the honest hash"
        );
        let mut cheat = RawPeer::connect(&node);
        cheat.handshake();
        cheat.send(&Message::Block(forged));
        let reason = cheat.expect_error_and_close();
        assert!(reason.starts_with("invalid block: block 13: "), "{reason}");
    }

    let mut friend = RawPeer::connect(&node);
    friend.handshake();
    friend.send(&Message::Block(honest.clone()));
    wait_for_tip(&node, honest.hash, "the honest block to be taken");
    // Sent again, it is simply known: the friend stays connected.
    friend.send(&Message::Block(honest));
    let nonce = Nonce { nonce: 77 };
    friend.send(&Message::Ping(nonce));
    friend.recv_until(|m| (m == Message::Pong(nonce)).then_some(()));
}

/// A block too far ahead of our clock is not the sender's fault (our clock may be behind the
/// miner's): it is ignored, the sender stays connected and is not discouraged.
#[test]
fn a_block_from_the_future_is_ignored_not_punished() {
    let node = start_with(config(), regtest_chain(12));
    let before = node.summary();
    let tip = node.block(12).unwrap();
    let coinbase = peerchain::transaction::Transaction::coinbase(
        13,
        vec![peerchain::transaction::Output {
            address: miner_address(),
            amount: 50 * peerchain::transaction::COIN,
        }],
    );
    let future = peerchain::consensus::now_ms() + 3_600_000;
    let block = peerchain::testing::mine_here(peerchain::Block::new(
        13,
        future,
        tip.hash,
        before.next_difficulty,
        0,
        vec![],
        vec![coinbase],
    ));
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Block(block));
    let nonce = Nonce { nonce: 78 };
    peer.send(&Message::Ping(nonce));
    peer.recv_until(|m| match m {
        Message::Error(e) => panic!("refused: {}", e.reason),
        m => (m == Message::Pong(nonce)).then_some(()),
    });
    assert_eq!(node.summary(), before);
}
