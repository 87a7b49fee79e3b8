//! Peers that are stuck, slow, flooding or lying about who they are: each test shows that such
//! peers hurt nobody but themselves, and that a node keeps itself connected.

mod common;

use common::*;
use peerchain::message::{GetBlocks, Message};
use peerchain::testing::mine_blocks;
use peerchain::{Blockchain, Network, Node};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A regtest chain whose blocks are big (64 000 bytes of data each), so a few `get_blocks`
/// answers fill any socket buffer.
fn heavy_chain(blocks: u64) -> Blockchain {
    let mut chain = Blockchain::new(Network::Regtest);
    for _ in 0..blocks {
        let data = vec!["x".repeat(64_000)];
        let template = chain
            .template(data, miner_address(), chain.tip().timestamp + T)
            .unwrap();
        let block = peerchain::testing::mine_here(template);
        chain.append_checked(block, None).unwrap();
    }
    chain
}

/// A peer that asks for megabytes and never reads does not delay a relay to an honest peer,
/// nor `mine`; its own queue fills or its write deadline passes, and it is dropped.
#[test]
fn a_stuck_reader_delays_nobody() {
    let mut quick = config();
    quick.write_timeout = Duration::from_secs(3);
    let node = start_with(quick, heavy_chain(60));
    let honest = start(config());
    honest.connect(node.local_addr());
    wait_for_tip(&honest, node.summary().tip, "the honest peer to sync");

    let mut stuck = RawPeer::connect(&node);
    stuck.handshake();
    let genesis = Network::Regtest.genesis().hash;
    for _ in 0..3 {
        stuck.send(&Message::GetBlocks(GetBlocks {
            locator: vec![genesis],
            limit: 500,
        }));
    }
    // Wait until answers are flowing towards the stuck peer (it reads nothing from now on).
    let mut byte = [0u8; 1];
    wait_for("the node to start answering", || {
        stuck.stream.peek(&mut byte).is_ok_and(|n| n > 0)
    });
    wait_for("both peers listed", || node.peers().len() == 2);

    let started = Instant::now();
    let block = node.mine(vec!["past the stuck peer".into()]).unwrap();
    let mined_in = started.elapsed();
    wait_for_tip(&honest, block.hash, "the honest peer to get the block");
    let relayed_in = started.elapsed();
    assert!(mined_in < Duration::from_secs(1), "mine took {mined_in:?}");
    assert!(
        relayed_in < Duration::from_secs(1),
        "relay took {relayed_in:?}"
    );
    wait_for("the stuck peer to be dropped", || node.peers().len() == 1);
    assert_eq!(node.peers()[0].node_id, honest.node_id());
    let dropped_in = started.elapsed();
    assert!(
        dropped_in < Duration::from_secs(4),
        "the stuck peer stayed {dropped_in:?}; the write timeout is 3 s"
    );
}

/// Node ids are public, but a newcomer cannot claim a connected node's id, at any timing (right
/// after the link forms, inside the simultaneous-dial window, or later): with its own key the
/// id is not its key's, and with the victim's public key copied from a hello it cannot sign the
/// proof. Either way it is refused and the established link keeps working.
#[test]
fn a_copied_node_id_evicts_nobody() {
    let mut window = config();
    window.duplicate_window = Duration::from_secs(5);
    let (a, b) = (start(window.clone()), start(window));
    a.connect(b.local_addr());
    wait_for("the link", || a.peers().len() == 1 && b.peers().len() == 1);
    for (target, victim) in [(&a, &b), (&b, &a)] {
        // Its own key, the victim's id.
        let mut impostor = RawPeer::connect(target);
        impostor.hello(Network::Regtest.genesis().hash, victim.node_id());
        let reason = impostor.expect_error_and_close();
        assert!(
            reason.starts_with(&format!(
                "node_id {} is not the id of its public_key",
                victim.node_id()
            )),
            "{reason}"
        );
        // The victim's id and public key, but not its secret key.
        let mut impostor = RawPeer::connect(target);
        impostor.send(&Message::Hello(peerchain::message::Hello {
            version: peerchain::message::PROTOCOL_VERSION,
            genesis: Network::Regtest.genesis().hash,
            node_id: victim.node_id().to_string(),
            listen_port: None,
            public_key: Some(victim.public_key()),
            challenge: Some(impostor.challenge),
        }));
        let theirs = impostor.recv_until(|m| match m {
            Message::Hello(hello) => Some(hello),
            _ => None,
        });
        impostor.prove(&theirs); // signed with its own key: not the victim's
        assert_eq!(
            impostor.expect_error_and_close(),
            "proof does not verify: not a signature of our challenge by the key in its hello"
        );
    }
    assert_eq!(a.peers()[0].node_id, b.node_id());
    assert!(a.peers()[0].outbound);
    assert_eq!(b.peers()[0].node_id, a.node_id());
    let block = a.mine(vec!["still linked".into()]).unwrap();
    wait_for_tip(&b, block.hash, "the block to cross the original link");
}

/// When a peer restarts, the node dials it again by itself: nobody has to type `connect`.
#[test]
fn a_restarted_peer_is_redialed() {
    let mut ticking = config();
    ticking.target_outbound = 1;
    ticking.maintenance_interval = Duration::from_millis(20);
    let a = start(ticking);
    let b = start(config());
    let b_addr = b.local_addr();
    a.connect(b_addr);
    wait_for("a to reach b", || a.peers().len() == 1);
    let old_id = b.node_id().to_string();
    b.shutdown();
    wait_for("a to notice", || a.peers().is_empty());

    // The same port again (std sets SO_REUSEADDR on Unix, so the old connections do not
    // block it). It is a new node: a new id, and a block a does not have.
    let listener = TcpListener::bind(b_addr).expect("rebind b's port");
    let mut chain = Blockchain::new(Network::Regtest);
    mine_blocks(&mut chain, 3, T, "restarted");
    let b = Node::start_with_chain(listener, config(), chain).unwrap();
    wait_for("a to redial b", || {
        a.peers().iter().any(|p| p.node_id == b.node_id())
    });
    assert_ne!(b.node_id(), old_id);
    wait_for_tip(&a, b.summary().tip, "a to sync from the restarted b");
}

/// 64 connections that say hello and then nothing, and 200 that send one byte of a hello,
/// are open at once; an honest node still joins and syncs.
#[test]
fn a_flood_of_idle_connections_leaves_room_for_an_honest_node() {
    let mut patient = config();
    patient.handshake_timeout = Duration::from_secs(30);
    let node = start_with(patient, regtest_chain(5));
    let mut flood: Vec<TcpStream> = Vec::new();
    for _ in 0..64 {
        let mut peer = RawPeer::connect(&node);
        peer.hello_and_prove();
        flood.push(peer.stream);
    }
    wait_for("the table to fill", || node.peers().len() == 32);
    for _ in 0..200 {
        let mut stream = TcpStream::connect(node.local_addr()).unwrap();
        stream.write_all(b"{").unwrap();
        flood.push(stream);
    }

    let mut honest_config = config();
    honest_config.target_outbound = 1;
    honest_config.maintenance_interval = Duration::from_millis(50);
    let honest = start(honest_config);
    honest.connect(node.local_addr());
    wait_for_tip(&honest, node.summary().tip, "the honest node to sync");
    assert!(node.peers().iter().any(|p| p.node_id == honest.node_id()));
    assert_eq!(node.peers().len(), 32, "the table stays at its limit");
    drop(flood);
}

/// A node asks its peers for addresses now and then, not only after a handshake: a node that
/// joined the network later is learned and dialed.
#[test]
fn addresses_are_refreshed() {
    let mut refreshing = config();
    refreshing.target_outbound = 8;
    refreshing.address_refresh_interval = Duration::from_millis(50);
    let a = start(refreshing);
    let b = start(config());
    a.connect(b.local_addr());
    wait_for("a-b link", || a.peers().len() == 1 && b.peers().len() == 1);
    // C joins after a's handshake with b, and only b knows it.
    let c = start(config());
    c.connect(b.local_addr());
    wait_for("a to find c through b", || {
        a.peers().iter().any(|p| p.node_id == c.node_id())
    });
}
