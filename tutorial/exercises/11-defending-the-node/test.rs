//! Exercise 11: refuse a `blocks` message we never asked for.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::message::{Message, Nonce};

/// Unasked-for blocks get an `error` and the connection closes; the ping sent after them is
/// never answered.
#[test]
fn unsolicited_blocks_are_refused() {
    let node = start_with(config(), regtest_chain(2));
    let before = node.summary();
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.send(&Message::Blocks(vec![]));
    peer.send(&Message::Ping(Nonce { nonce: 7 }));
    let reason = peer.recv_until(|m| match m {
        Message::Error(e) => Some(e.reason),
        Message::Pong(_) => panic!("the node ignored the unsolicited blocks and answered the ping"),
        _ => None,
    });
    assert_eq!(reason, "unsolicited blocks message");
    assert_eq!(peer.recv(), None, "the node closes after its error");
    assert_eq!(node.summary(), before);
}
