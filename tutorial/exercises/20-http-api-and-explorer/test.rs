//! Exercise 20: `GET /api/supply` answers how many coins the subsidies have issued.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

fn ask(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// The answer sums the subsidy of every block above genesis, in units and in coins; the path
/// takes GET only.
#[test]
fn supply_endpoint() {
    let node = Arc::new(start_with(config(), regtest_chain(3)));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = peerchain::app::api::start(listener, Arc::clone(&node)).unwrap();
    let addr = server.local_addr();
    let answer = ask(addr, "GET /api/supply HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(value["height"], 3);
    assert_eq!(value["issued"], 15_000_000_000u64);
    assert_eq!(value["issued_coins"], "150.00000000");
    let wrong = ask(addr, "POST /api/supply HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert!(wrong.starts_with("HTTP/1.1 405"), "{wrong}");
    assert!(wrong.contains("\r\nAllow: GET\r\n"), "{wrong}");
}
