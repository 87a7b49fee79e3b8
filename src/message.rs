//! The wire protocol: one JSON object per line, and the `Message` enum it maps to.
//!
//! # Format
//!
//! Every message is one line of UTF-8 JSON ending in `\n`:
//!
//! ```text
//! {"type":"hello","payload":{"version":4,"genesis":"07dd…","node_id":"9f2c4e1a0b3d5e7f","listen_port":8555,"public_key":"02…","challenge":"5e1f…"}}
//! {"type":"proof","payload":{"signature":"3a9c…"}}
//! {"type":"latest_block"}
//! {"type":"block","payload":{"version":1,"height":5,…}}
//! {"type":"get_blocks","payload":{"locator":["ab12…","07dd…"],"limit":500}}
//! {"type":"blocks","payload":[{…},{…}]}
//! {"type":"get_headers","payload":{"locator":["ab12…","07dd…"],"limit":2000}}
//! {"type":"headers","payload":[{"version":1,"height":1,…,"hash":"…"},…]}
//! {"type":"get_peers"}
//! {"type":"peers","payload":["127.0.0.1:8556"]}
//! {"type":"tx","payload":{"txid":"…","inputs":[…],"outputs":[…]}}
//! {"type":"get_mempool"}
//! {"type":"mempool","payload":[{"txid":…},…]}
//! {"type":"ping","payload":{"nonce":42}}
//! {"type":"pong","payload":{"nonce":42}}
//! {"type":"error","payload":{"reason":"unknown message type \"gossip\""}}
//! ```
//!
//! Why JSON lines: a student can read the traffic, and type most of it with `nc` (all but the
//! handshake's `proof`, which needs a signature). TCP is a byte stream,
//! not a message stream: one `read` may return half a message or three of them, which is the
//! bug the seed had (it parsed each chunk as JSON). The newline is our frame boundary.
//! Bitcoin frames with a binary header (magic, command, length, checksum) instead, which is
//! smaller and lets a receiver refuse an oversized message before reading it.
//!
//! See `tutorial/08-messages-and-framing.md` and `tutorial/A-wire-protocol.md`.

use crate::block::{Block, Header};
use crate::hash::Hash;
use crate::transaction::Transaction;
use serde::{Deserialize, Serialize};

/// The protocol version carried in `hello`. Version 2 added `get_headers` and `headers`, which
/// every node must answer; version 3 added transactions to blocks and the `tx`, `get_mempool`
/// and `mempool` messages; version 4 made each transaction's merkle leaf commit to its keys
/// and signatures, and made node ids provable (a key in `hello`, then a `proof`). Each changed
/// what every node must understand, so an older node cannot take part.
pub const PROTOCOL_VERSION: u32 = 4;

/// The longest line a node reads: 4 MiB. A longer one is refused without buffering the rest.
pub const MAX_LINE_BYTES: usize = 4_194_304;

/// At most this many blocks in one `blocks` message.
pub const MAX_BLOCKS_PER_MESSAGE: usize = 500;

/// At most this many headers in one `headers` message (as Bitcoin's `MAX_HEADERS_RESULTS`).
pub const MAX_HEADERS_PER_MESSAGE: usize = 2_000;

/// At most this many hashes in a `get_blocks` locator (as Bitcoin's `MAX_LOCATOR_SZ`). Our own
/// locators stay well under it: about 10 + log2(height) hashes.
pub const MAX_LOCATOR_HASHES: usize = 101;

/// At most this many addresses in one `peers` message.
pub const MAX_PEER_ADDRESSES: usize = 100;

/// Every message of the protocol. Serde writes `{"type":"<snake_case name>","payload":…}`;
/// variants without data have no `payload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
pub enum Message {
    /// The first message from both sides.
    Hello(Hello),
    /// The second: a signature of the other side's challenge, proving our node id.
    Proof(Proof),
    /// Ask for the peer's tip block.
    LatestBlock,
    /// A tip (the answer to `latest_block`) or a newly accepted block.
    Block(Block),
    /// Ask for the blocks after the highest locator hash the peer has.
    GetBlocks(GetBlocks),
    /// The answer to `get_blocks`: ascending heights, at most `limit` and 500.
    Blocks(Vec<Block>),
    /// Ask for the headers after the highest locator hash the peer has.
    GetHeaders(GetHeaders),
    /// The answer to `get_headers`: ascending heights, at most `limit` and 2 000.
    Headers(Vec<Header>),
    /// A transaction new to the sender's mempool, relayed.
    Tx(Transaction),
    /// Ask for the peer's mempool.
    GetMempool,
    /// The answer to `get_mempool`: its transactions, as many as fit in one line.
    Mempool(Vec<Transaction>),
    /// Ask for addresses of other nodes.
    GetPeers,
    /// Dialable addresses, `host:port`.
    Peers(Vec<String>),
    /// Keepalive; the answer is a `pong` with the same nonce.
    Ping(Nonce),
    /// The answer to `ping`.
    Pong(Nonce),
    /// Sent before closing on a protocol violation.
    Error(ErrorReason),
}

/// The `hello` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol version; must equal ours.
    pub version: u32,
    /// Genesis hash: which network the sender follows.
    pub genesis: Hash,
    /// The sender's identity, to spot self-connections and duplicates: the first 16 hex digits
    /// of its key's address (see [`identity`](crate::identity)).
    pub node_id: String,
    /// The port the sender accepts connections on, if any.
    pub listen_port: Option<u16>,
    /// The sender's compressed public key, 66 hex digits, whose id `node_id` must be. Missing
    /// only in the hellos of older versions (which are then refused by their version).
    #[serde(default)]
    pub public_key: Option<String>,
    /// A fresh random challenge for the receiver's `proof`.
    #[serde(default)]
    pub challenge: Option<Hash>,
}

/// The `proof` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// The sender's signature, 128 hex digits, of what
    /// [`identity::proof_digest`](crate::identity::proof_digest) gives for the receiver's
    /// challenge, the receiver's id and its own.
    pub signature: String,
}

/// The `get_blocks` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetBlocks {
    /// Our block locator (tip first, genesis last).
    pub locator: Vec<Hash>,
    /// The most blocks we want back.
    pub limit: usize,
}

/// The `get_headers` payload: the same shape as `get_blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetHeaders {
    /// Our block locator (tip first, genesis last).
    pub locator: Vec<Hash>,
    /// The most headers we want back.
    pub limit: usize,
}

/// The `ping` and `pong` payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nonce {
    /// Any number; the pong echoes it.
    pub nonce: u64,
}

/// The `error` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReason {
    /// What the receiver did wrong, for its log.
    pub reason: String,
}

/// Every `type` this version understands, to tell "unknown type" from "bad payload".
const TYPES: [&str; 15] = [
    "hello",
    "latest_block",
    "block",
    "get_blocks",
    "blocks",
    "get_headers",
    "headers",
    "tx",
    "get_mempool",
    "mempool",
    "get_peers",
    "peers",
    "ping",
    "pong",
    "error",
];

impl Message {
    /// The message's `type` name, for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Hello(_) => "hello",
            Message::Proof(_) => "proof",
            Message::LatestBlock => "latest_block",
            Message::Block(_) => "block",
            Message::GetBlocks(_) => "get_blocks",
            Message::Blocks(_) => "blocks",
            Message::GetHeaders(_) => "get_headers",
            Message::Headers(_) => "headers",
            Message::Tx(_) => "tx",
            Message::GetMempool => "get_mempool",
            Message::Mempool(_) => "mempool",
            Message::GetPeers => "get_peers",
            Message::Peers(_) => "peers",
            Message::Ping(_) => "ping",
            Message::Pong(_) => "pong",
            Message::Error(_) => "error",
        }
    }

    /// The message as one line: JSON plus `\n`.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing these types cannot fail: every map key is a string.
        let mut line = serde_json::to_vec(self).expect("messages always serialize");
        line.push(b'\n');
        line
    }

    /// Parses one line (without its `\n`). The error is the reason to send back in `error`.
    pub fn decode(line: &[u8]) -> Result<Message, String> {
        serde_json::from_slice(line).map_err(|e| explain(line, e))
    }
}

/// Works out why a line is not a message. Only runs on failure, so the common path parses once.
fn explain(line: &[u8], err: serde_json::Error) -> String {
    let value: serde_json::Value = match serde_json::from_slice(line) {
        Ok(value) => value,
        Err(e) => return format!("malformed JSON: {e}"),
    };
    match value.get("type").and_then(|t| t.as_str()) {
        None => "a message must be a JSON object with a string \"type\"".to_string(),
        Some(t) if !TYPES.contains(&t) => {
            let shown: String = t.chars().take(40).collect();
            format!("unknown message type {shown:?}")
        }
        Some(t) => format!("bad payload for {t}: {err}"),
    }
}

/// Encodes a `blocks` message that fits in one line: blocks are added one by one while the
/// line stays within [`MAX_LINE_BYTES`], and the peer asks again for the rest. One block always
/// fits: its data is at most 64 KiB (384 KiB escaped) and its transactions at most 4 000
/// inputs and outputs (about 1.3 MB). This writes the same bytes as
/// `Message::Blocks(..).encode()` (a test checks).
pub fn encode_blocks_within_limit(blocks: &[Block]) -> Vec<u8> {
    encode_list_within_limit("blocks", blocks)
}

/// Encodes a `mempool` message that fits in one line, the first transactions first.
pub fn encode_mempool_within_limit(txs: &[Transaction]) -> Vec<u8> {
    encode_list_within_limit("mempool", txs)
}

/// `{"type":"<name>","payload":[…]}` with as many of `items` as fit in one line (at least
/// one, if there are any).
fn encode_list_within_limit<T: Serialize>(name: &str, items: &[T]) -> Vec<u8> {
    const END: &[u8] = b"]}\n";
    let mut line = format!(r#"{{"type":"{name}","payload":["#).into_bytes();
    for (i, item) in items.iter().enumerate() {
        let before = line.len();
        if i > 0 {
            line.push(b',');
        }
        serde_json::to_writer(&mut line, item).expect("blocks and transactions serialize");
        if i > 0 && line.len() + END.len() > MAX_LINE_BYTES {
            line.truncate(before);
            break;
        }
    }
    line.extend_from_slice(END);
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Network;

    /// Messages look exactly as the protocol table says, payload-less ones without `payload`.
    #[test]
    fn wire_form() {
        assert_eq!(
            Message::LatestBlock.encode(),
            b"{\"type\":\"latest_block\"}\n"
        );
        assert_eq!(
            String::from_utf8(Message::Ping(Nonce { nonce: 7 }).encode()).unwrap(),
            "{\"type\":\"ping\",\"payload\":{\"nonce\":7}}\n"
        );
        let hello = Message::Hello(Hello {
            version: 1,
            genesis: Hash::ZERO,
            node_id: "00112233aabbccdd".into(),
            listen_port: None,
            public_key: None,
            challenge: Some(Hash::ZERO),
        });
        let line = hello.encode();
        assert!(String::from_utf8_lossy(&line).contains("\"listen_port\":null"));
        assert_eq!(Message::decode(&line[..line.len() - 1]).unwrap(), hello);
        // An older version's hello, without key and challenge, still decodes, so the node can
        // refuse it by its version.
        let old = br#"{"type":"hello","payload":{"version":3,"genesis":"0000000000000000000000000000000000000000000000000000000000000000","node_id":"00112233aabbccdd","listen_port":null}}"#;
        assert!(matches!(
            Message::decode(old),
            Ok(Message::Hello(Hello {
                version: 3,
                public_key: None,
                challenge: None,
                ..
            }))
        ));
    }

    /// Unknown payload fields are ignored; the three kinds of bad line get distinct reasons.
    #[test]
    fn decoding_and_reasons() {
        let ok = br#"{"type":"ping","payload":{"nonce":1,"extra":true}}"#;
        assert_eq!(
            Message::decode(ok).unwrap(),
            Message::Ping(Nonce { nonce: 1 })
        );
        assert!(Message::decode(b"{\"type\":")
            .unwrap_err()
            .starts_with("malformed JSON"));
        assert_eq!(
            Message::decode(br#"{"type":"gossip"}"#).unwrap_err(),
            "unknown message type \"gossip\""
        );
        assert!(
            Message::decode(br#"{"type":"ping","payload":{"nonce":"x"}}"#)
                .unwrap_err()
                .starts_with("bad payload for ping")
        );
        assert!(Message::decode(b"[1,2]").unwrap_err().contains("\"type\""));
    }

    /// The hand-built `blocks` line is byte for byte what the `Message` enum would send, and an
    /// oversized batch is cut at the last block that fits.
    #[test]
    fn blocks_line_matches_the_enum_and_fits() {
        let blocks = vec![Network::Regtest.genesis(), Network::Main.genesis()];
        assert_eq!(
            encode_blocks_within_limit(&blocks),
            Message::Blocks(blocks).encode()
        );
        let txs = vec![crate::transaction::Transaction::coinbase(1, vec![])];
        assert_eq!(
            encode_mempool_within_limit(&txs),
            Message::Mempool(txs).encode()
        );
        assert_eq!(
            encode_blocks_within_limit(&[]),
            Message::Blocks(vec![]).encode()
        );
        let mut big = Network::Regtest.genesis();
        big.data = vec!["\u{1}".repeat(60_000)]; // escapes to 6 bytes per char
        let line = encode_blocks_within_limit(&vec![big; 40]);
        assert!(line.len() <= MAX_LINE_BYTES);
        let Ok(Message::Blocks(sent)) = Message::decode(&line[..line.len() - 1]) else {
            panic!("not a blocks line")
        };
        // Each block is 360 000 bytes of data escaped plus its header fields: 11 fit.
        assert_eq!(sent.len(), 11);
    }
}
