//! Exercise 08: a new message pair, `get_height` and its answer `height`.
//!
//! The test reads raw JSON lines, so it compiles before the new variants exist.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};

/// `{"type":"get_height"}` is answered with `{"type":"height","payload":{"height":N}}`.
#[test]
fn get_height_is_answered() {
    let node = start_with(config(), regtest_chain(4));
    let mut peer = RawPeer::connect(&node);
    peer.handshake();
    peer.stream
        .write_all(b"{\"type\":\"get_height\"}\n")
        .unwrap();
    let mut lines = BufReader::new(peer.stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "the node closed the connection"
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        match value["type"].as_str() {
            Some("height") => {
                assert_eq!(value["payload"]["height"], 4);
                return;
            }
            Some("error") => panic!("the node answered error: {}", value["payload"]["reason"]),
            _ => {}
        }
    }
}
