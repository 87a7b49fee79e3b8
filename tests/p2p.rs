//! Nodes talking over real sockets on 127.0.0.1: syncing, relaying, reorganizing, discovering.

mod common;

use common::*;
use peerchain::testing::mine_blocks;
use peerchain::{Blockchain, Config, Network, Node};

/// The seed's demo: a node that joins later catches up with the one that mined.
#[test]
fn two_nodes_sync() {
    let a = start_with(config(), regtest_chain(3));
    let b = start(config());
    b.connect(a.local_addr());
    wait_for_tip(&b, a.summary().tip, "b to reach a's tip");
    assert_eq!(b.summary().height, 3);
    wait_for("both to list each other", || {
        a.peers().len() == 1 && b.peers().len() == 1
    });
    assert_eq!(a.peers()[0].node_id, b.node_id());
}

/// A block mined at one end of a line of three reaches the other end through the middle.
#[test]
fn three_in_a_line_propagate_a_mined_block() {
    let (a, b, c) = (start(config()), start(config()), start(config()));
    b.connect(a.local_addr());
    c.connect(b.local_addr());
    wait_for("the line to form", || {
        b.peers().len() == 2 && c.peers().len() == 1
    });
    let block = a.mine(vec!["from a".into()]).expect("mine");
    wait_for_tip(&c, block.hash, "the block to reach c");
    assert_eq!(c.block(1).unwrap(), block);
    assert_eq!(a.peers().len(), 1, "a and c are not directly connected");
    let back = c.mine(vec!["from c".into()]).expect("mine");
    wait_for_tip(&a, back.hash, "c's block to reach a");
}

/// A late joiner catches up 2 000 blocks with one batch of headers and four batches of 500
/// blocks, and no line it read came near the 4 MiB limit.
#[test]
fn late_joiner_catches_up_in_batches() {
    let a = start_with(config(), regtest_chain(2_000));
    let b = start(config());
    b.connect(a.local_addr());
    wait_for_tip(&b, a.summary().tip, "b to catch up 2000 blocks");
    let stats = b.sync_stats();
    assert_eq!(stats.blocks_received, 2_000);
    assert_eq!(stats.batches_received, 4, "{stats:?}");
    assert_eq!(stats.get_blocks_sent, 4, "{stats:?}");
    assert_eq!(stats.get_headers_sent, 1, "{stats:?}");
    assert_eq!(stats.headers_received, 2_000, "{stats:?}");
    assert!(
        stats.largest_line > 100_000,
        "batches are big lines: {stats:?}"
    );
    assert!(
        stats.largest_line <= peerchain::message::MAX_LINE_BYTES,
        "{stats:?}"
    );
}

/// Two nodes that mined apart end on the chain with more work once they connect, whichever
/// side dials.
#[test]
fn nodes_that_mined_apart_agree_on_most_work() {
    let shared = regtest_chain(4);
    let mut strong = shared.clone();
    mine_blocks(&mut strong, 6, T, "strong");
    let mut weak = shared.clone();
    mine_blocks(&mut weak, 3, T, "weak");
    let a = start_with(config(), weak);
    let b = start_with(config(), strong.clone());
    a.connect(b.local_addr());
    wait_for_tip(&a, strong.tip().hash, "a to reorganize to b's chain");
    assert_eq!(
        b.summary().tip,
        strong.tip().hash,
        "b keeps its stronger chain"
    );
    assert_eq!(a.summary().total_work, strong.total_work());
}

/// A network split in two mines on both sides; when it heals, all four nodes end on the side
/// with more work, the reorg travelling through a node that never saw the other side directly.
#[test]
fn a_partition_heals() {
    let base = regtest_chain(5);
    let (a, b) = (
        start_with(config(), base.clone()),
        start_with(config(), base.clone()),
    );
    let (c, d) = (
        start_with(config(), base.clone()),
        start_with(config(), base),
    );
    b.connect(a.local_addr());
    d.connect(c.local_addr());
    wait_for("both halves linked", || {
        a.peers().len() == 1 && c.peers().len() == 1
    });
    for i in 0..2 {
        a.mine(vec![format!("left {i}")]).unwrap();
    }
    let mut right_tip = None;
    for i in 0..4 {
        right_tip = Some(c.mine(vec![format!("right {i}")]).unwrap().hash);
    }
    let right_tip = right_tip.unwrap();
    wait_for_tip(&d, right_tip, "d to follow c");
    wait_for("b to follow a", || b.summary().height == 7);
    b.connect(d.local_addr());
    for node in [&a, &b, &c, &d] {
        wait_for_tip(node, right_tip, "every node on the right's chain");
    }
    assert_eq!(a.summary().height, 9);
}

/// Discovery: C is told only about B, learns A from B's `peers`, and dials it.
#[test]
fn peers_are_discovered() {
    let mut discovering = config();
    discovering.target_outbound = 8;
    let a = start(discovering.clone());
    let b = start(discovering.clone());
    let c = start(discovering);
    b.connect(a.local_addr());
    wait_for("a-b link", || a.peers().len() == 1);
    c.connect(b.local_addr());
    wait_for("everyone connected to everyone", || {
        [&a, &b, &c].iter().all(|n| n.peers().len() == 2)
    });
    let listens: Vec<_> = c.peers().iter().filter_map(|p| p.listen_addr).collect();
    assert!(listens.contains(&a.local_addr()), "c knows a: {listens:?}");
}

/// A node mines on the tip it learned from a peer, and the peer takes the block.
#[test]
fn mining_builds_on_the_synced_tip() {
    let a = start(config());
    let chain = {
        let mut c = Blockchain::new(Network::Regtest);
        mine_blocks(&mut c, 3, T, "peer");
        c
    };
    let b = start_with(config(), chain.clone());
    a.connect(b.local_addr());
    wait_for_tip(&a, chain.tip().hash, "a to sync");
    let block = a.mine(vec!["on top".into()]).unwrap();
    assert_eq!(block.height, 4);
    assert_eq!(block.previous_hash, chain.tip().hash);
    wait_for_tip(&b, block.hash, "b to accept a's block");
}

/// The console commands answer from the node's state, and explain bad input in one line.
#[test]
fn console_commands() {
    use peerchain::app::console::{execute, Reply};
    let node = start_with(config(), regtest_chain(2));
    let text = |line: &str| match execute(&node, line) {
        Reply::Text(t) => t,
        Reply::Quit => panic!("{line} quit"),
    };
    let tip = node.summary().tip;
    assert_eq!(
        text("chain"),
        format!("height 2, tip {tip} (1 transaction), total work 6, next difficulty 1, mempool 0")
    );
    assert!(text("block 2").contains(&format!("\"hash\":\"{tip}\"")));
    assert_eq!(text("block 9"), "no block at height 9 (the tip is at 2)");
    assert!(text("block two").starts_with("usage: block <height>"));
    assert_eq!(text("peers"), "no peers");
    assert!(text("mine a b").starts_with("mined block 3 "));
    assert_eq!(node.block(3).unwrap().data, ["a b"]);
    assert!(text("help").contains("connect <addr>"));
    assert_eq!(
        text("dance"),
        "unknown command \"dance\"; type help for the list"
    );
    assert_eq!(text(""), "");
    assert_eq!(execute(&node, "quit"), Reply::Quit);
}

/// `mine -n N` mines N blocks in the background, one progress line each, and refuses a second
/// batch or a count out of bounds; `mine stop` stops a batch in the middle (here on main, where
/// each block takes a while); `mine 11` says it mined one block with the text "11".
#[test]
fn mining_many_blocks_at_the_console() {
    use peerchain::app::console::{execute, Reply};
    let text = |node: &Node, line: &str| match execute(node, line) {
        Reply::Text(t) => t,
        Reply::Quit => panic!("{line} quit"),
    };
    let node = start_with(config(), regtest_chain(2));
    assert_eq!(
        text(&node, "mine -n 11 hello"),
        "mining 11 blocks (`mine stop` stops)"
    );
    wait_for("11 blocks", || node.summary().height == 13);
    wait_for("the batch to end", || node.mining().is_none());
    assert_eq!(node.block(13).unwrap().data, ["hello"]);
    assert_eq!(
        text(&node, "mine -n 0"),
        "could not mine: a batch mines 1 to 100 blocks, not 0"
    );
    assert_eq!(
        text(&node, "mine -n 101"),
        "could not mine: a batch mines 1 to 100 blocks, not 101"
    );
    assert!(text(&node, "mine -n x").starts_with("usage: mine -n N"));
    assert_eq!(text(&node, "mine stop"), "not mining");
    let eleven = text(&node, "mine 11");
    assert!(eleven.starts_with("mined block 14 "), "{eleven}");
    assert!(
        eleven.ends_with("for 11 blocks, type mine -n 11)"),
        "{eleven}"
    );

    let slow = start(Config {
        network: peerchain::Network::Main,
        ..config()
    });
    assert_eq!(
        text(&slow, "mine -n 100"),
        "mining 100 blocks (`mine stop` stops)"
    );
    assert!(text(&slow, "mine -n 5").starts_with("could not mine: already mining: "));
    wait_for("a first block", || slow.summary().height >= 1);
    assert!(text(&slow, "mine stop").starts_with("stopping: "));
    wait_for("the batch to stop", || slow.mining().is_none());
    let stopped_at = slow.summary().height;
    assert!(stopped_at < 100, "all {stopped_at} blocks mined");
    assert_eq!(text(&slow, "mine stop"), "not mining");
    assert_eq!(
        slow.summary().height,
        stopped_at,
        "nothing mined after the stop"
    );
}

/// Each node knows where its peer stands: after two nodes diverge (two blocks each on a shared
/// chain of 5, a tie), each shows the other on a fork since height 5; after a third block on
/// one side the other reorganizes (its history says how deep, and whose chain), and both show
/// the same tip.
#[test]
fn peers_show_where_each_other_stands() {
    use peerchain::node::peer_table::Standing;
    let shared = regtest_chain(5);
    let mut mine_a = shared.clone();
    mine_blocks(&mut mine_a, 2, T, "a");
    let mut mine_b = shared.clone();
    mine_blocks(&mut mine_b, 2, T, "b");
    let (old_tip_a, tip_b) = (mine_a.tip().hash, mine_b.tip().hash);
    let a = start_with(config(), mine_a);
    let b = start_with(config(), mine_b);
    assert!(a.reorgs().is_empty());
    a.connect(b.local_addr());
    for (node, other) in [(&a, &b), (&b, &a)] {
        wait_for("a fork since height 5", || {
            let peers = node.peers();
            peers.len() == 1 && peers[0].standing == Standing::Fork { since: 5 }
        });
        let tip = node.peers()[0].tip.clone().unwrap();
        assert_eq!((tip.height, tip.hash), (7, other.summary().tip));
    }
    let next = b.mine(vec!["breaks the tie".into()]).unwrap();
    wait_for_tip(&a, next.hash, "a to take b's heavier branch");
    for node in [&a, &b] {
        wait_for("the same tip", || {
            node.peers().first().map(|p| p.standing.clone()) == Some(Standing::SameTip)
        });
    }
    let reorgs = a.reorgs();
    assert_eq!(reorgs.len(), 1);
    let reorg = &reorgs[0];
    assert_eq!((reorg.depth, reorg.added), (2, 3));
    assert_eq!((reorg.old_tip, reorg.new_tip), (old_tip_a, next.hash));
    assert!(reorg.peer.contains(b.node_id()), "{}", reorg.peer);
    assert_eq!(a.block(7).unwrap().hash, tip_b);
    assert!(b.reorgs().is_empty());

    // The tree near the tip: on a, its own two blocks are stale now, b's three are active and
    // say who gave them; on b, a's two blocks were only ever offered, as headers: side.
    use peerchain::node::block_tree::Status;
    let on_a = a.tree(4);
    let status_of = |tree: &[(peerchain::node::block_tree::TreeEntry, Status)], hash| {
        tree.iter()
            .find(|(e, _)| e.hash == hash)
            .map(|(e, s)| (e.source.clone(), s.clone()))
    };
    assert_eq!(status_of(&on_a, old_tip_a).unwrap().1, Status::Stale);
    let (source, status) = status_of(&on_a, next.hash).unwrap();
    assert_eq!(status, Status::Active);
    assert!(source.contains(b.node_id()), "{source}");
    let on_b = b.tree(4);
    assert_eq!(status_of(&on_b, old_tip_a).unwrap().1, Status::Side);
    assert_eq!(on_a.iter().filter(|(_, s)| *s == Status::Active).count(), 4);
}

/// Two nodes that dial each other at the same moment keep exactly one working link: both
/// sides drop the same duplicate.
#[test]
fn simultaneous_dials_keep_one_link() {
    for _ in 0..5 {
        let (a, b) = (start(config()), start(config()));
        a.connect(b.local_addr());
        b.connect(a.local_addr());
        // The same link at both ends: outbound at one, inbound at the other. (One link each is
        // not enough: while the second handshake is still proving its id, each side can hold
        // a different one of the two for a moment.)
        wait_for("one shared link", || {
            let (pa, pb) = (a.peers(), b.peers());
            pa.len() == 1 && pb.len() == 1 && pa[0].outbound != pb[0].outbound
        });
        let block = a.mine(vec!["across".into()]).unwrap();
        wait_for_tip(&b, block.hash, "the block to cross the surviving link");
        assert_eq!((a.peers().len(), b.peers().len()), (1, 1));
    }
}

/// Over the wire, a tie keeps what each node saw first: two nodes that mined one block each on
/// a shared chain exchange headers and keep their own tips (no bodies fetched), and the next
/// block, which breaks the tie, moves the other node over.
#[test]
fn a_tie_over_the_wire_keeps_each_nodes_own_tip() {
    let shared = regtest_chain(4);
    let mut mine_a = shared.clone();
    mine_blocks(&mut mine_a, 1, T, "a");
    let mut mine_b = shared.clone();
    mine_blocks(&mut mine_b, 1, T, "b");
    assert_eq!(mine_a.total_work(), mine_b.total_work(), "a tie");
    let (tip_a, tip_b) = (mine_a.tip().hash, mine_b.tip().hash);
    let a = start_with(config(), mine_a);
    let b = start_with(config(), mine_b);
    a.connect(b.local_addr());
    wait_for("each node to see the other's headers", || {
        a.sync_stats().headers_received >= 1 && b.sync_stats().headers_received >= 1
    });
    for (node, own) in [(&a, tip_a), (&b, tip_b)] {
        assert_eq!(node.summary().tip, own, "a tie keeps the first seen");
        assert_eq!(node.sync_stats().get_blocks_sent, 0, "no bodies for a tie");
    }
    let next = b.mine(vec!["breaks the tie".into()]).unwrap();
    wait_for_tip(&a, next.hash, "a to take b's heavier branch");
    assert_eq!(a.block(5).unwrap().hash, tip_b);
}
