//! The App over real sockets: every endpoint's answer, the bounds on what a client may send,
//! the write rules (loopback, JSON, our own origin), and that the API and the console agree.

mod common;

use common::*;
use peerchain::app::console::{execute, Reply};
use peerchain::app::http::{HttpServer, Request};
use peerchain::transaction::{OutPoint, Output, Transaction, COIN};
use peerchain::Node;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A regtest node (with `chain`) and its App on 127.0.0.1, ports chosen by the OS.
fn app_with(chain: peerchain::Blockchain) -> (Arc<Node>, HttpServer) {
    let node = Arc::new(start_with(config(), chain));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = peerchain::app::api::start(listener, Arc::clone(&node)).unwrap();
    (node, server)
}

fn app() -> (Arc<Node>, HttpServer) {
    app_with(peerchain::Blockchain::new(peerchain::Network::Regtest))
}

/// Sends `raw` and reads the whole answer: status, head, body.
fn exchange(addr: SocketAddr, raw: &[u8]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(raw).unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("the server answers and closes");
    let text = String::from_utf8(answer).expect("UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head[9..12].parse().expect("a status code");
    (status, head.to_string(), body.to_string())
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let (status, _, body) = exchange(addr, raw.as_bytes());
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, Value) {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, _, body) = exchange(addr, raw.as_bytes());
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

fn console(node: &Node, line: &str) -> String {
    match execute(node, line) {
        Reply::Text(text) => text,
        Reply::Quit => panic!("quit"),
    }
}

/// Every read endpoint answers from the node's state: status, blocks by page, height and hash,
/// a transaction, an address, peers and the mempool; the page itself is HTML.
#[test]
fn read_endpoints() {
    let (node, server) = app();
    let addr = server.local_addr();
    for _ in 0..12 {
        node.mine(vec!["api".into()]).unwrap();
    }
    let txid = node
        .send(
            "b1c9938f01121e159887ac2c8d393a22e4476ff8".parse().unwrap(),
            2 * COIN,
            10_000,
        )
        .unwrap();

    let (status, body) = get(addr, "/api/status");
    assert_eq!(status, 200);
    let summary = node.summary();
    assert_eq!(body["network"], "regtest");
    assert_eq!(body["height"], 12);
    assert_eq!(body["tip"], summary.tip.to_string());
    assert_eq!(body["work"], summary.total_work.to_string());
    assert_eq!(body["mempool"], 1);
    assert_eq!(body["peers"], 0);
    assert_eq!(body["address"], node.address());
    assert_eq!(body["node_id"], node.node_id());

    let (_, page) = get(addr, "/api/blocks?from=10&limit=3");
    let heights: Vec<u64> = page["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["height"].as_u64().unwrap())
        .collect();
    assert_eq!(heights, [10, 9, 8]);
    let (_, page) = get(addr, "/api/blocks?limit=1000");
    assert_eq!(page["blocks"].as_array().unwrap().len(), 13, "0 to 12");
    assert_eq!(get(addr, "/api/blocks?limit=x").0, 400);

    let (status, block) = get(addr, "/api/blocks/5");
    assert_eq!(status, 200);
    assert_eq!(block["height"], 5);
    assert_eq!(block["tx_count"], 1);
    assert_eq!(block["confirmations"], 8);
    let hash = block["hash"].as_str().unwrap().to_string();
    assert_eq!(get(addr, &format!("/api/blocks/{hash}")).1["height"], 5);
    assert_eq!(get(addr, "/api/blocks/99").0, 404);
    assert_eq!(get(addr, "/api/blocks/zz").0, 400);

    let (status, tx) = get(addr, &format!("/api/tx/{txid}"));
    assert_eq!(status, 200);
    assert_eq!(tx["in_mempool"], true);
    assert_eq!(tx["transaction"]["txid"], txid.to_string());
    assert_eq!(get(addr, &format!("/api/tx/{}", "0".repeat(64))).0, 404);

    let (status, mine) = get(addr, &format!("/api/address/{}", node.address()));
    assert_eq!(status, 200);
    let balance = node.own_balance();
    assert_eq!(mine["balance"]["spendable"], balance.spendable);
    assert_eq!(mine["balance"]["pending_in_coins"], "47.99990000");
    assert_eq!(mine["utxos"].as_array().unwrap().len(), 12);
    assert_eq!(mine["recent"][0]["txid"], txid.to_string());
    assert_eq!(mine["recent"][0]["height"], Value::Null);
    assert_eq!(get(addr, "/api/address/nope").0, 400);

    let (_, pool) = get(addr, "/api/mempool");
    assert_eq!(pool["transactions"][0]["fee_coins"], "0.00010000");
    // 10 000 units over 1 input and 2 outputs, in integers.
    assert_eq!(pool["transactions"][0]["fee_rate"], "3333.33");
    assert!(pool["transactions"][0]["age_s"].as_u64().unwrap() < 60);
    assert_eq!(get(addr, "/api/peers").1["peers"], serde_json::json!([]));
    assert_eq!(get(addr, "/api/reorgs").1["reorgs"], serde_json::json!([]));
    // The tree of a chain loaded at start: the last 3 heights, all active, sources unknown.
    let (status, tree) = get(addr, "/api/tree?depth=3");
    assert_eq!(status, 200);
    let blocks = tree["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 3);
    assert!(blocks.iter().all(|b| b["status"] == "active"));
    assert_eq!(blocks[2]["height"], tree["tip"]);
    assert_eq!(get(addr, "/api/tree?depth=x").0, 400);

    let (status, head, html) = exchange(addr, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(status, 200);
    assert!(head.contains("Content-Type: text/html"));
    assert!(html.contains("<title>peerchain explorer</title>"));
    assert!(
        html.contains("href=\"/network\""),
        "the explorer links the network page"
    );
    let (status, _, network) = exchange(addr, b"GET /network HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(status, 200);
    assert!(network.contains("<title>peerchain network</title>"));
}

/// The write endpoints: mine, send, submit a signed transaction (or be told the rule it
/// breaks), and connect to a peer.
#[test]
fn write_endpoints() {
    let (node, server) = app_with(regtest_chain(12));
    let addr = server.local_addr();
    let (status, block) = post(addr, "/api/mine", r#"{"text":"from the API"}"#);
    assert_eq!(status, 200);
    assert_eq!(block["height"], 13);
    assert_eq!(node.block(13).unwrap().data, ["from the API"]);
    let (status, batch) = post(addr, "/api/mine", r#"{"count":3}"#);
    assert_eq!((status, batch), (200, serde_json::json!({ "mining": 3 })));
    wait_for("three more blocks", || node.summary().height == 16);
    wait_for("the batch to end", || {
        get(addr, "/api/status").1["mining"].is_null()
    });
    let (status, refused) = post(addr, "/api/mine", r#"{"count":500}"#);
    assert_eq!(status, 400);
    assert_eq!(
        refused["error"],
        "could not mine: a batch mines 1 to 100 blocks, not 500"
    );
    assert_eq!(post(addr, "/api/mine", r#"{"count":"3"}"#).0, 400);
    let (_, stopped) = post(addr, "/api/mine", r#"{"stop":true}"#);
    assert_eq!(stopped, serde_json::json!({ "stopped": null }));

    // The chain pays the fixtures' key: submit a payment it signed.
    let chain_reward = node.block(1).unwrap().transactions[0].txid;
    let mut tx = Transaction::new(
        &[OutPoint {
            txid: chain_reward,
            index: 0,
        }],
        vec![Output {
            address: "b1c9938f01121e159887ac2c8d393a22e4476ff8".parse().unwrap(),
            amount: 49 * COIN,
        }],
    );
    tx.sign(&peerchain::testing::miner_key());
    let mut forged = tx.clone();
    forged.outputs[0].amount = 50 * COIN + 1;
    forged.txid = forged.compute_txid();
    let (status, refused) = post(
        addr,
        "/api/transactions",
        &serde_json::to_string(&forged).unwrap(),
    );
    assert_eq!(status, 400);
    let reason = refused["error"].as_str().unwrap();
    assert!(reason.contains("(rule 7)"), "{reason}");
    let (status, accepted) = post(
        addr,
        "/api/transactions",
        &serde_json::to_string(&tx).unwrap(),
    );
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["fee"], COIN);
    assert_eq!(node.mempool()[0].tx, tx);
    assert_eq!(post(addr, "/api/transactions", "{}").0, 400);

    // The node's own coins: mine until its first reward matures, then pay.
    for _ in 0..11 {
        post(addr, "/api/mine", "{}");
    }
    let (status, sent) = post(
        addr,
        "/api/send",
        r#"{"to":"b1c9938f01121e159887ac2c8d393a22e4476ff8","amount":"1.5","fee":"0.0002"}"#,
    );
    assert_eq!(status, 200, "{sent}");
    let txid = sent["txid"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        node.transaction(&txid).unwrap().tx.outputs[0].amount,
        150_000_000
    );
    let (status, poor) = post(
        addr,
        "/api/send",
        r#"{"to":"b1c9938f01121e159887ac2c8d393a22e4476ff8","amount":"99999"}"#,
    );
    assert_eq!(status, 400);
    assert!(poor["error"]
        .as_str()
        .unwrap()
        .starts_with("insufficient funds: "));
    let (status, bad) = post(addr, "/api/send", r#"{"to":"xyz","amount":"1"}"#);
    assert_eq!(
        (status, bad["error"].as_str().unwrap()),
        (400, "not an address: xyz")
    );

    let other = start(config());
    let (status, _) = post(
        addr,
        "/api/peers",
        &format!(r#"{{"addr":"{}"}}"#, other.local_addr()),
    );
    assert_eq!(status, 200);
    wait_for("the API's connect to reach the other node", || {
        other.peers().len() == 1
    });
}

/// Unknown paths get 404, a wrong method 405 with `Allow`, and every error is JSON naming the
/// problem.
#[test]
fn unknown_paths_and_wrong_methods() {
    let (_node, server) = app();
    let addr = server.local_addr();
    let (status, body) = get(addr, "/api/nothing");
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (404, "no such path: /api/nothing")
    );
    let (status, head, body) = exchange(
        addr,
        b"DELETE /api/mine HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    assert_eq!(status, 405);
    assert!(head.contains("\r\nAllow: POST"), "{head}");
    assert!(body.contains("DELETE /api/mine is not allowed; use POST"));
    let (status, head, _) = exchange(addr, b"PUT /api/peers HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(status, 405);
    assert!(head.contains("\r\nAllow: GET, POST"), "{head}");
}

/// Malformed request lines and headers get 400 naming the problem; a head over 16 KiB gets 431;
/// a declared body over 1 MiB gets 413 before it is read; a body longer than declared is cut
/// at its `Content-Length`, and one shorter is refused.
#[test]
fn malformed_and_oversized_requests() {
    let (node, server) = app();
    let addr = server.local_addr();
    let cases: [(&[u8], &str); 6] = [
        (b"HELLO\r\n\r\n", "a request line is METHOD TARGET HTTP/1.1"),
        (b"get / HTTP/1.1\r\n\r\n", "is not an uppercase token"),
        (b"GET / SPDY/3\r\n\r\n", "is not HTTP/1.1 or HTTP/1.0"),
        (b"GET api HTTP/1.1\r\n\r\n", "does not start with /"),
        (
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n",
            "has no colon",
        ),
        (
            b"POST /api/mine HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ten\r\n\r\n",
            "is not a number",
        ),
    ];
    for (raw, reason) in cases {
        let (status, _, body) = exchange(addr, raw);
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(raw));
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(body["error"].as_str().unwrap().contains(reason), "{body}");
    }

    let huge = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: {}\r\n\r\n",
        "a".repeat(17_000)
    );
    let (status, _, body) = exchange(addr, huge.as_bytes());
    assert_eq!(status, 431);
    assert!(body.contains("longer than 16384 bytes"));
    let many = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n",
        "X-A: b\r\n".repeat(3_000)
    );
    assert_eq!(exchange(addr, many.as_bytes()).0, 431);

    let big = b"POST /api/mine HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1048577\r\n\r\n";
    let (status, _, body) = exchange(addr, big);
    assert_eq!(status, 413);
    assert!(body.contains("longer than 1048576"));

    let longer = b"POST /api/mine HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"text\":\"cut\"}tail that is not JSON";
    let (status, _, body) = exchange(addr, longer);
    assert_eq!(status, 200, "{body}");
    assert_eq!(node.block(1).unwrap().data, ["cut"]);

    let mut short = TcpStream::connect(addr).unwrap();
    short
        .write_all(b"POST /api/mine HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{}")
        .unwrap();
    short.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    short.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("the body ended before its Content-Length of 50 bytes"));
    assert_eq!(node.summary().height, 1, "nothing mined for a cut body");
}

/// A client that sends a byte every 300 ms is cut off at the 5 s deadline with a 400, and
/// meanwhile the server answers others at once.
#[test]
fn a_slow_client_is_cut_off_and_delays_nobody() {
    let (_node, server) = app();
    let addr = server.local_addr();
    let started = Instant::now();
    let slow = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        for byte in b"GET /api/status HTTP/1.1\r\nHost: x\r\n".iter().cycle() {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
            if started.elapsed() > Duration::from_secs(15) {
                panic!("the server never cut the slow client off");
            }
            let mut probe = [0u8; 1];
            stream.set_nonblocking(true).unwrap();
            let peeked = stream.peek(&mut probe);
            stream.set_nonblocking(false).unwrap();
            if matches!(peeked, Ok(n) if n > 0) {
                break;
            }
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        (answer, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(500));
    let quick = Instant::now();
    assert_eq!(get(addr, "/api/status").0, 200);
    assert!(
        quick.elapsed() < Duration::from_secs(2),
        "{:?}",
        quick.elapsed()
    );
    let (answer, took) = slow.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("did not arrive within 5000 ms"), "{answer}");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

/// Writes need `Content-Type: application/json` and, if an `Origin` is sent, our own (else
/// 403); reads do not.
#[test]
fn cross_site_writes_are_refused() {
    let (node, server) = app();
    let addr = server.local_addr();
    let form = "POST /api/mine HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\ntext=hi";
    let (status, _, body) = exchange(addr, form.as_bytes());
    assert_eq!(status, 403);
    assert!(body.contains("Content-Type: application/json"));
    let evil = "POST /api/mine HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    let (status, _, body) = exchange(addr, evil.as_bytes());
    assert_eq!(status, 403);
    assert!(body.contains("origin http://evil.example is not this server"));
    assert_eq!(node.summary().height, 0, "nothing was mined");
    let own = format!(
        "POST /api/mine HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:{}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}",
        addr.port()
    );
    assert_eq!(exchange(addr, own.as_bytes()).0, 200);
    let read = "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n\r\n";
    assert_eq!(exchange(addr, read.as_bytes()).0, 200);
}

/// A write from another machine is refused with 403. Tests speak only to loopback, so this one
/// hands the router a request as the server would, with a LAN address as its sender.
#[test]
fn writes_from_another_machine_are_refused() {
    let node = start(config());
    let request = |peer: &str| Request {
        method: "POST".into(),
        path: "/api/mine".into(),
        query: String::new(),
        headers: vec![
            ("host".into(), "192.168.1.5:8080".into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: b"{}".to_vec(),
        peer: peer.parse().unwrap(),
    };
    // Addresses only: nothing here goes over a socket.
    let own: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let response = peerchain::app::api::handle(&node, &request("192.168.1.20:50000"), own);
    assert_eq!(response.status, 403);
    assert!(String::from_utf8(response.body)
        .unwrap()
        .contains("must come from this machine, not 192.168.1.20"));
    assert_eq!(node.summary().height, 0);
    let mut read = request("192.168.1.20:50000");
    read.method = "GET".into();
    read.path = "/api/status".into();
    assert_eq!(peerchain::app::api::handle(&node, &read, own).status, 200);
    assert_eq!(
        peerchain::app::api::handle(&node, &request("[::1]:50000"), own).status,
        200
    );
    // Behind `--http-bind ::`, a local IPv4 client arrives as ::ffff:127.0.0.1: loopback too.
    assert_eq!(
        peerchain::app::api::handle(&node, &request("[::ffff:127.0.0.1]:50000"), own).status,
        200
    );
    assert_eq!(node.summary().height, 2);
}

/// DNS rebinding: a page whose own name points at this machine cannot use the API, to read or
/// to write, because its requests name it in `Host`; IP addresses and localhost pass, and a
/// request without `Host` is refused. A 405 quotes at most 100 characters of a long method.
#[test]
fn only_this_servers_own_names_pass_as_host() {
    let (node, server) = app();
    let addr = server.local_addr();
    let port = addr.port();
    let ask = |host: &str, request: &str| {
        let raw = format!("{request}\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}");
        exchange(addr, raw.as_bytes())
    };
    let (status, _, body) = ask(&format!("evil.example:{port}"), "GET /api/status HTTP/1.1");
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("is not this server's address or localhost"),
        "{body}"
    );
    assert_eq!(ask("evil.example", "POST /api/mine HTTP/1.1").0, 403);
    assert_eq!(node.summary().height, 0, "nothing was mined");
    for host in [
        format!("localhost:{port}"),
        "127.0.0.1".to_string(),
        format!("[::1]:{port}"),
        addr.to_string(),
    ] {
        assert_eq!(ask(&host, "GET /api/status HTTP/1.1").0, 200, "{host}");
    }
    let no_host = exchange(addr, b"GET /api/status HTTP/1.1\r\n\r\n");
    assert_eq!(no_host.0, 400, "{}", no_host.2);
    let method = "X".repeat(4_096);
    let (status, _, body) = ask("127.0.0.1", &format!("{method} /api/status HTTP/1.1"));
    assert_eq!(status, 405);
    assert!(body.len() < 400, "{} bytes", body.len());
}

/// The API and the console call the same node methods: after the same actions they report the
/// same height, tip, balance, mempool and transaction.
#[test]
fn the_api_and_the_console_agree() {
    let (node, server) = app();
    let addr = server.local_addr();
    for _ in 0..6 {
        post(addr, "/api/mine", "{}");
    }
    for _ in 0..6 {
        console(&node, "mine");
    }
    let sent = console(&node, "send b1c9938f01121e159887ac2c8d393a22e4476ff8 3");
    let txid = sent.strip_prefix("sent: txid ").expect(&sent);

    let status = get(addr, "/api/status").1;
    let chain = console(&node, "chain");
    assert!(chain.starts_with(&format!(
        "height {}, tip {}",
        status["height"],
        status["tip"].as_str().unwrap()
    )));
    assert!(chain.ends_with(&format!("mempool {}", status["mempool"])));
    let balance = get(addr, &format!("/api/address/{}", node.address())).1["balance"].clone();
    assert_eq!(
        console(&node, "balance"),
        format!(
            "{}: {} spendable, {} immature, pending +{} -{}",
            node.address(),
            balance["spendable_coins"].as_str().unwrap(),
            balance["immature_coins"].as_str().unwrap(),
            balance["pending_in_coins"].as_str().unwrap(),
            balance["pending_out_coins"].as_str().unwrap()
        )
    );
    let pool = get(addr, "/api/mempool").1;
    assert!(
        console(&node, "mempool").starts_with(pool["transactions"][0]["txid"].as_str().unwrap())
    );
    let tx = get(addr, &format!("/api/tx/{txid}")).1;
    assert!(console(&node, &format!("tx {txid}")).contains("in the mempool"));
    assert_eq!(tx["in_mempool"], true);
}

/// At most 64 connections are served at once: with 64 silent clients holding theirs, the next
/// is answered 503 at once, and once the silent ones are cut off, the server serves again.
#[test]
fn connections_are_capped_at_64() {
    let (_node, server) = app();
    let addr = server.local_addr();
    let silent: Vec<TcpStream> = (0..peerchain::app::http::MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    // Each silent client holds a slot once the accept thread has counted it; the 65th waits for
    // that, so poll until the server says it is full.
    let mut busy = None;
    wait_for("the server to be full", || {
        let (status, _, body) =
            exchange(addr, b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        busy = Some(body);
        status == 503
    });
    assert!(busy.unwrap().contains("too many connections"));
    wait_for("the silent clients to be cut off, and a slot free", || {
        exchange(addr, b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").0 == 200
    });
    drop(silent);
}

/// The HTTP twin of `serving_big_blocks_does_not_hold_the_chain`: while a reader pulls pages
/// of full blocks (3 900 inputs and outputs each, 4 MiB a page) as fast as it can, a peer's
/// `latest_block` is answered promptly, because the App copies the blocks out under the chain
/// lock and builds their JSON after releasing it. (When it built the JSON under the lock, a
/// `latest_block` waited 630 ms in this build.)
#[test]
fn big_api_pages_do_not_hold_the_chain() {
    use peerchain::message::Message;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let chain = peerchain::testing::full_blocks_chain(100);
    let (node, server) = app_with(chain);
    let addr = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..1)
        .map(|_| {
            let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let raw = format!("GET /api/blocks?limit=100 HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                    let (status, _, body) = exchange(addr, raw.as_bytes());
                    assert_eq!(status, 200);
                    assert!(body.len() > 3_000_000, "{} bytes", body.len());
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let mut asker = RawPeer::connect(&node);
    asker.handshake();
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    let mut asked = 0;
    while asked < 40 || answered.load(Ordering::SeqCst) < 3 {
        assert!(started.elapsed() < DEADLINE, "the readers got no answers");
        let sent = Instant::now();
        asker.send(&Message::LatestBlock);
        asker.recv_until(|m| matches!(m, Message::Block(_)).then_some(()));
        slowest = slowest.max(sent.elapsed());
        asked += 1;
    }
    stop.store(true, Ordering::SeqCst);
    eprintln!(
        "slowest {slowest:?} asked {asked} answered {}",
        answered.load(Ordering::SeqCst)
    );
    for reader in readers {
        reader.join().unwrap();
    }
    assert!(
        slowest < Duration::from_millis(200),
        "a latest_block took {slowest:?} while a reader pulled big pages"
    );
}

/// After its answer, a connection is read for half a second in all, then closed: a client that
/// trickles a byte every 100 ms after the answer no longer keeps its slot (before, every byte
/// renewed a 200 ms wait, up to 1 MiB).
#[test]
fn a_trickle_after_the_answer_does_not_keep_the_connection() {
    let (_node, server) = app();
    let addr = server.local_addr();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
        .write_all(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let answered = Instant::now();
    let closed = loop {
        assert!(
            answered.elapsed() < Duration::from_secs(5),
            "the server still reads a trickle 5 s after its answer"
        );
        if stream.write_all(b"x").is_err() {
            break answered.elapsed();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(closed < Duration::from_secs(2), "closed after {closed:?}");
}

/// Every API answer is bounded, whatever the chain holds. A page of heavy blocks stops at the
/// 4 MiB cap (100 of them were 30 MB) and says where the next page starts; an address with
/// 46 000 coins answers one page of 100 (it was all of them, 8 MB), with the count and a
/// cursor that walks on in order, and at most 100 recent transactions.
#[test]
fn api_answers_are_bounded() {
    use peerchain::app::api::{MAX_ADDRESS_HISTORY, MAX_ANSWER_BYTES};
    let chain = peerchain::testing::full_blocks_chain(12);
    let tip = chain.height();
    let (node, server) = app_with(chain);
    let addr = server.local_addr();

    let raw = format!("GET /api/blocks?limit=100 HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let (status, _, body) = exchange(addr, raw.as_bytes());
    assert_eq!(status, 200);
    assert!(body.len() <= MAX_ANSWER_BYTES, "{} bytes", body.len());
    let page: Value = serde_json::from_str(&body).unwrap();
    let blocks = page["blocks"].as_array().unwrap();
    assert!((2..12).contains(&blocks.len()), "{} blocks", blocks.len());
    let lowest = tip - blocks.len() as u64 + 1;
    assert_eq!(blocks.last().unwrap()["height"], lowest);
    assert_eq!(page["next"], lowest - 1);
    let (_, below) = get(addr, &format!("/api/blocks?from={}&limit=1", lowest - 1));
    assert_eq!(below["blocks"][0]["height"], lowest - 1);

    let miner = peerchain::testing::miner_address();
    let coins = node.utxos(&miner).len();
    assert!(coins > 40_000, "{coins} coins");
    let path = format!("/api/address/{miner}");
    let (status, first) = get(addr, &path);
    assert_eq!(status, 200);
    assert_eq!(first["utxo_count"], coins);
    assert_eq!(first["utxos"].as_array().unwrap().len(), 100);
    assert_eq!(
        first["recent"].as_array().unwrap().len(),
        MAX_ADDRESS_HISTORY
    );
    let next = first["next"].as_str().unwrap().to_string();
    let (_, second) = get(addr, &format!("{path}?after={next}&limit=1000"));
    let second = second["utxos"].as_array().unwrap().clone();
    assert_eq!(second.len(), 1000);
    let all = node.utxos(&miner);
    let expected: Vec<String> = all[100..1100]
        .iter()
        .map(|(o, _)| format!("{}:{}", o.txid, o.index))
        .collect();
    let got: Vec<String> = second
        .iter()
        .map(|u| format!("{}:{}", u["txid"].as_str().unwrap(), u["index"]))
        .collect();
    assert_eq!(
        got, expected,
        "the second page is the next thousand, in order"
    );
    assert_eq!(get(addr, &format!("{path}?after=1:zz:0")).0, 400);
    // The last two coins, asked for with the cursor as a browser encodes it: a full page, and
    // no next one.
    let (o, c) = &all[coins - 3];
    let cursor = format!("{}%3A{}%3A{}", c.height, o.txid, o.index);
    let (status, last) = get(addr, &format!("{path}?after={cursor}&limit=2"));
    assert_eq!(status, 200);
    assert_eq!(last["utxos"].as_array().unwrap().len(), 2);
    assert_eq!(last["next"], Value::Null);
}

/// The connection deadline covers the answer's writing too: a client that reads a 64 MB answer
/// a trickle at a time (64 KiB every 200 ms, so no single write waits long) is cut off after
/// 10 s with most of it unsent, and its slot is free again. With only a timeout per write, it
/// kept the connection for as long as it kept reading.
#[test]
fn a_slow_reader_is_cut_off_at_the_connection_deadline() {
    use peerchain::app::http::{HttpServer, Response, CONNECTION_DEADLINE};
    let big = "x".repeat(64 << 20);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = HttpServer::start(listener, move |_| Response::html(&big)).unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    while started.elapsed() < CONNECTION_DEADLINE + Duration::from_secs(1) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Past the deadline, read as fast as we can: the server should have stopped writing, so
    // what is left is what the sockets' buffers held.
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(
        got < 32 << 20,
        "{got} bytes arrived: the server kept writing"
    );
}
