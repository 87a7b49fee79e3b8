//! Exercise 13: a `--max-peers N` option, so a teacher's node can take the whole class (or a
//! student's laptop can take fewer).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_peerchain");

/// Says hello on `stream` with a fresh key and proves the id when the node's hello comes
/// (the handshake of chapter 09); returns a reader for what the node sends next.
fn join(stream: &TcpStream) -> BufReader<TcpStream> {
    use peerchain::message::{Hello, Message, Proof};
    let key = peerchain::crypto::keys::SecretKey::generate();
    let id = peerchain::identity::node_id(&key.public_key());
    let hello = Message::Hello(Hello {
        version: peerchain::message::PROTOCOL_VERSION,
        genesis: peerchain::Network::Regtest.genesis().hash,
        node_id: id,
        listen_port: None,
        public_key: Some(key.public_key().to_hex()),
        challenge: Some(peerchain::identity::challenge()),
    });
    let mut writer = stream.try_clone().unwrap();
    writer.write_all(&hello.encode()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let Ok(Message::Hello(theirs)) = Message::decode(line.trim_end().as_bytes()) else {
        panic!("expected the node's hello, got {line:?}");
    };
    let challenge = theirs.challenge.expect("a challenge");
    let signature = peerchain::identity::prove(&key, &challenge, &theirs.node_id);
    writer
        .write_all(&Message::Proof(Proof { signature }).encode())
        .unwrap();
    reader
}

/// With `--max-peers 1` the second connection is told "too many peers" after its hello.
#[test]
fn max_peers_option() {
    let mut child = Command::new(BIN)
        .args(["0", "--regtest", "--max-peers", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let Some(addr) = first.split("listening on ").nth(1) else {
        let _ = child.kill();
        let status = child.wait().unwrap();
        panic!("the node did not start ({status}): did you add --max-peers to cli::parse?");
    };
    let addr = addr.split(';').next().unwrap().to_string();

    let mut one = TcpStream::connect(&addr).unwrap();
    let mut one_lines = join(&one);
    one.write_all(b"{\"type\":\"ping\",\"payload\":{\"nonce\":1}}\n")
        .unwrap();
    loop {
        let mut line = String::new();
        let read = one_lines.read_line(&mut line).unwrap();
        assert!(read > 0, "the node closed the first connection");
        if line.contains("\"pong\"") {
            break;
        }
    }
    // The one slot is taken by a peer the node will not evict for a newcomer (the longest
    // connected are protected), so the second is refused after its hello.
    let two = TcpStream::connect(&addr).unwrap();
    let mut replies = join(&two);
    let reply = loop {
        let mut line = String::new();
        let read = replies.read_line(&mut line).unwrap();
        assert!(
            read > 0,
            "the node closed the second connection without a reason"
        );
        if line.contains("\"error\"") {
            break line;
        }
    };
    assert_eq!(
        reply,
        "{\"type\":\"error\",\"payload\":{\"reason\":\"too many peers\"}}\n"
    );
    let _ = child.kill();
    let _ = child.wait();

    let bad = Command::new(BIN)
        .args(["0", "--max-peers", "lots"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let zero = Command::new(BIN)
        .args(["0", "--max-peers", "0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(zero.status.code(), Some(2), "0 peers is a bad value");
}
