//! Catching up headers first: a heavier chain wins however deep the fork, a branch that does
//! not win is never downloaded, and serving big blocks does not hold the chain lock.

mod common;

use common::*;
use peerchain::branch::HEADER_MEMORY_BYTES;
use peerchain::message::{GetBlocks, Message, Nonce};
use peerchain::testing::{mine_blocks, mine_here};
use peerchain::{Block, Blockchain, Network};
use std::time::{Duration, Instant};

/// Two chains from genesis: `ours` of `n` blocks, and a heavier one of `m > n` blocks.
fn rival_chains(n: usize, m: usize) -> (Blockchain, Blockchain) {
    let mut ours = Blockchain::new(Network::Regtest);
    mine_blocks(&mut ours, n, T, "ours");
    let mut theirs = Blockchain::new(Network::Regtest);
    mine_blocks(&mut theirs, m, T, "theirs");
    assert!(theirs.total_work() > ours.total_work());
    (ours, theirs)
}

/// A node on its own 20 000-block fork switches to a heavier 25 000-block chain, and the
/// heavier node does not switch to it. (Before headers first, a branch still behind after
/// 10 000 blocks was dropped, so such a node could never rejoin.)
#[test]
fn a_fork_20000_blocks_deep_reorganizes_to_more_work() {
    let (ours, theirs) = rival_chains(20_000, 25_000);
    let tip = theirs.tip().hash;
    let a = start_with(config(), ours);
    let b = start_with(config(), theirs);
    a.connect(b.local_addr());
    wait_for_tip(&a, tip, "a to switch to b's heavier chain");
    assert_eq!(a.summary().height, 25_000);
    assert_eq!(b.summary().tip, tip, "b keeps its chain");
    let stats = a.sync_stats();
    assert!(stats.headers_received >= 20_000, "{stats:?}");
}

/// A node that is behind by a few blocks catches up through headers, then bodies.
#[test]
fn a_short_fork_reorganizes_too() {
    let (ours, theirs) = rival_chains(10, 12);
    let a = start_with(config(), ours);
    let b = start_with(config(), theirs);
    b.connect(a.local_addr());
    wait_for_tip(&a, b.summary().tip, "a to switch");
}

/// A peer announces a branch with less work than ours: the node asks for its headers, sees
/// they do not win, and never asks for a single body. The peer is not punished for it.
#[test]
fn a_losing_branch_is_never_downloaded() {
    let (theirs, ours) = rival_chains(30, 40);
    let node = start_with(config(), ours);
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Block(theirs.tip().clone()));
    let locator = peer.recv_until(|m| match m {
        Message::GetHeaders(request) => Some(request.locator),
        Message::GetBlocks(_) => panic!("asked for bodies before headers"),
        _ => None,
    });
    let headers = theirs.headers_after(&locator, 2_000).to_vec();
    assert_eq!(headers.len(), 30);
    peer.send(&Message::Headers(headers));
    let nonce = Nonce { nonce: 77 };
    peer.send(&Message::Ping(nonce));
    peer.recv_until(|m| match m {
        Message::Pong(n) if n == nonce => Some(()),
        Message::GetBlocks(_) => panic!("asked for the bodies of a losing branch"),
        _ => None,
    });
    assert_eq!(node.summary().height, 40);
    assert_eq!(node.peers().len(), 1, "an honest weaker peer stays");
}

/// A peer that keeps sending headers of a branch that does not win is dropped at the header
/// that would pass the node's cap for unproven headers, and nothing of it is kept.
#[test]
fn an_unproven_branch_past_the_cap_drops_the_peer() {
    let (theirs, ours) = rival_chains(250, 300);
    let mut capped = config();
    capped.max_unproven_header_bytes = 100 * HEADER_MEMORY_BYTES;
    let node = start_with(capped, ours);
    let before = node.summary();
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Block(theirs.tip().clone()));
    let locator = peer.recv_until(|m| match m {
        Message::GetHeaders(request) => Some(request.locator),
        _ => None,
    });
    peer.send(&Message::Headers(
        theirs.headers_after(&locator, 2_000).to_vec(),
    ));
    let reason = peer.expect_error_and_close();
    assert_eq!(
        reason,
        format!(
            "a branch from height 0 passed {} bytes of headers (101 headers) without more work than ours",
            100 * HEADER_MEMORY_BYTES
        )
    );
    assert_eq!(node.summary(), before);
    assert_still_served(&node);
}

/// Headers that break a rule are refused with the rule, as blocks are.
#[test]
fn an_invalid_header_is_refused() {
    let (theirs, ours) = rival_chains(5, 8);
    let node = start_with(config(), ours);
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Block(theirs.tip().clone()));
    let locator = peer.recv_until(|m| match m {
        Message::GetHeaders(request) => Some(request.locator),
        _ => None,
    });
    let mut headers = theirs.headers_after(&locator, 2_000).to_vec();
    headers[2].nonce += 1; // the hash no longer matches
    peer.send(&Message::Headers(headers));
    let reason = peer.expect_error_and_close();
    assert!(
        reason.starts_with("invalid block: block 3: hash"),
        "{reason}"
    );
    assert!(reason.ends_with("(rule 3)"), "{reason}");
}

/// A chain of blocks each carrying 65 536 characters that JSON must escape (6 bytes each).
fn escape_heavy_chain(blocks: usize) -> Blockchain {
    let mut chain = Blockchain::new(Network::Regtest);
    for _ in 0..blocks {
        let data = vec!["\u{1}".repeat(65_536)];
        let template = chain
            .template(data, miner_address(), chain.tip().timestamp + T)
            .unwrap();
        chain.append_checked(mine_here(template), None).unwrap();
    }
    chain
}

/// While one peer pulls escape-heavy blocks as fast as it can, another peer's `latest_block`
/// is answered promptly: the blocks are encoded outside the chain lock. (When they were
/// encoded under it, 500 at a time and halved until they fit, each answer held the lock for
/// 150 ms or more in this build, and a quarter of a second in a release build.)
#[test]
fn serving_big_blocks_does_not_hold_the_chain() {
    let node = start_with(config(), escape_heavy_chain(500));
    let genesis = Network::Regtest.genesis().hash;
    let mut puller = RawPeer::connect(&node);
    puller.handshake();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pulling = {
        let stop = std::sync::Arc::clone(&stop);
        let answered = std::sync::Arc::clone(&answered);
        std::thread::spawn(move || {
            let mut answers = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                puller.send(&Message::GetBlocks(GetBlocks {
                    locator: vec![genesis],
                    limit: 500,
                }));
                let blocks: Vec<Block> = puller.recv_until(|m| match m {
                    Message::Blocks(b) => Some(b),
                    _ => None,
                });
                assert!(!blocks.is_empty());
                answers += 1;
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            answers
        })
    };
    let mut asker = RawPeer::connect(&node);
    asker.handshake();
    let mut slowest = Duration::ZERO;
    // Ask at least 40 times, and for as long as it takes the puller to get 3 answers, so the
    // asks overlap with answers being made even on a loaded machine.
    let started = Instant::now();
    let mut asked = 0;
    while asked < 40 || answered.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        assert!(started.elapsed() < DEADLINE, "the puller got no answers");
        let sent = Instant::now();
        asker.send(&Message::LatestBlock);
        asker.recv_until(|m| matches!(m, Message::Block(_)).then_some(()));
        slowest = slowest.max(sent.elapsed());
        asked += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let answers = pulling.join().unwrap();
    assert!(
        answers >= 3,
        "the puller kept the node busy ({answers} answers)"
    );
    assert!(
        slowest < Duration::from_millis(100),
        "a latest_block took {slowest:?} while another peer pulled big blocks"
    );
}

/// A peer that never answers our `get_headers` but keeps talking does not stop us syncing
/// from it for good: after the request timeout its next announcement makes us ask again.
#[test]
fn an_unanswered_request_is_asked_again() {
    let (ours, theirs) = rival_chains(20, 30);
    let mut config = config();
    config.request_timeout = std::time::Duration::from_millis(300);
    let node = start_with(config, ours);
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    let ask = |peer: &mut RawPeer| {
        peer.send(&Message::Block(theirs.tip().clone()));
        peer.recv_until(|m| match m {
            Message::GetHeaders(request) => Some(request.locator),
            _ => None,
        })
    };
    ask(&mut peer);
    // No answer; the node would wait a ping interval (30 s) before asking again.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let locator = ask(&mut peer);
    let headers = theirs.headers_after(&locator, 2_000).to_vec();
    peer.send(&Message::Headers(headers));
    let request = peer.recv_until(|m| match m {
        Message::GetBlocks(request) => Some(request),
        _ => None,
    });
    assert!(!request.locator.is_empty());
}
