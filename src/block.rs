//! The block: its JSON form and the 96 header bytes that its hash commits to.
//!
//! # Format
//!
//! JSON (the wire and the data file use this exact form, keys in this order):
//!
//! ```text
//! {"version":1,"height":5,"timestamp":1700000000123,
//!  "previous_hash":"<64 hex>","merkle_root":"<64 hex>",
//!  "difficulty":20,"nonce":1194660,"hash":"<64 hex>","data":["text", ...],
//!  "transactions":[{"txid":…,"inputs":[…],"outputs":[…]}, ...]}
//! ```
//!
//! Header bytes, the preimage of `hash` (96 bytes, integers little-endian):
//!
//! ```text
//! version u32 | height u64 | timestamp u64 | previous_hash 32 | merkle_root 32 | difficulty u32 | nonce u64
//!   0..4         4..12        12..20          20..52             52..84           84..88           88..96
//! ```
//!
//! The nonce is last on purpose: SHA-256 eats 64-byte chunks, so a miner hashes the constant
//! first 64 bytes once and, per nonce, only the final chunk. The data items and transactions
//! are not in the header; the merkle root stands for them (see [`crate::merkle`]).
//!
//! A [`Header`] is the block without its body: the same JSON without `data` and
//! `transactions`. Nodes send headers
//! first when they sync (`tutorial/09-handshake-and-sync.md`): every rule except the merkle root
//! and the size limits can be checked on a header alone, so a peer proves its chain's work
//! before we spend bandwidth and memory on the bodies.
//!
//! See `tutorial/01-blocks-and-hashes.md`.

use crate::hash::{sha256, Hash};
use crate::merkle::block_merkle_root;
use crate::transaction::Transaction;
use serde::{Deserialize, Serialize};

/// Length of the serialized header, the hash preimage.
pub const HEADER_LEN: usize = 96;

/// A block as it travels on the wire and sits in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Block format version; 1 is the only valid value.
    pub version: u32,
    /// Distance from genesis (genesis is 0).
    pub height: u64,
    /// Milliseconds since the Unix epoch, as the miner's clock said.
    pub timestamp: u64,
    /// Hash of the parent block; all zeros for genesis.
    pub previous_hash: Hash,
    /// Merkle root of `data` and `transactions`.
    pub merkle_root: Hash,
    /// Required leading zero bits of `hash`.
    pub difficulty: u32,
    /// The number the miner varied until the hash met the difficulty.
    pub nonce: u64,
    /// SHA-256 of the header bytes. Carried in the JSON for convenience; a receiver recomputes
    /// it and never trusts the claimed value.
    pub hash: Hash,
    /// Free text notes (the seed's payload).
    #[serde(deserialize_with = "fitted")]
    pub data: Vec<String>,
    /// The block's transactions: from height 1 on, a coinbase first (see
    /// [`crate::transaction`]). Always present in the JSON, `[]` for genesis.
    #[serde(deserialize_with = "fitted")]
    pub transactions: Vec<Transaction>,
}

/// A block's header: every field but the body. Its JSON is the block's without `data` and
/// `transactions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Block format version; 1 is the only valid value.
    pub version: u32,
    /// Distance from genesis (genesis is 0).
    pub height: u64,
    /// Milliseconds since the Unix epoch, as the miner's clock said.
    pub timestamp: u64,
    /// Hash of the parent block; all zeros for genesis.
    pub previous_hash: Hash,
    /// Merkle root of the block's `data` and `transactions`.
    pub merkle_root: Hash,
    /// Required leading zero bits of `hash`.
    pub difficulty: u32,
    /// The number the miner varied until the hash met the difficulty.
    pub nonce: u64,
    /// SHA-256 of the header bytes (recomputed by the receiver, never trusted).
    pub hash: Hash,
}

impl Header {
    /// The 96 header bytes that `hash` commits to.
    pub fn header_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..12].copy_from_slice(&self.height.to_le_bytes());
        out[12..20].copy_from_slice(&self.timestamp.to_le_bytes());
        out[20..52].copy_from_slice(&self.previous_hash.0);
        out[52..84].copy_from_slice(&self.merkle_root.0);
        out[84..88].copy_from_slice(&self.difficulty.to_le_bytes());
        out[88..96].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// SHA-256 of the header bytes: what `hash` must be.
    pub fn compute_hash(&self) -> Hash {
        sha256(&self.header_bytes())
    }
}

impl Block {
    /// The block's header: every field but the body.
    pub fn header(&self) -> Header {
        Header {
            version: self.version,
            height: self.height,
            timestamp: self.timestamp,
            previous_hash: self.previous_hash,
            merkle_root: self.merkle_root,
            difficulty: self.difficulty,
            nonce: self.nonce,
            hash: self.hash,
        }
    }

    /// The 96 header bytes that `hash` commits to.
    pub fn header_bytes(&self) -> [u8; HEADER_LEN] {
        self.header().header_bytes()
    }

    /// SHA-256 of the header bytes: what `hash` must be.
    pub fn compute_hash(&self) -> Hash {
        sha256(&self.header_bytes())
    }

    /// A block with its merkle root and hash filled in from the other fields. The result meets
    /// its difficulty only if `nonce` happens to be a solution; the miner finds one.
    pub fn new(
        height: u64,
        timestamp: u64,
        previous_hash: Hash,
        difficulty: u32,
        nonce: u64,
        data: Vec<String>,
        transactions: Vec<Transaction>,
    ) -> Block {
        let mut block = Block {
            version: 1,
            height,
            timestamp,
            previous_hash,
            merkle_root: Hash::ZERO,
            difficulty,
            nonce,
            hash: Hash::ZERO,
            data,
            transactions,
        };
        block.merkle_root = block.compute_merkle_root();
        block.hash = block.compute_hash();
        block
    }

    /// The merkle root of the data and the transactions' txids: what `merkle_root` must be.
    pub fn compute_merkle_root(&self) -> Hash {
        let txs = self.transactions.iter();
        block_merkle_root(&self.data, txs.map(|tx| (tx.txid, tx.witness_hash())))
    }

    /// Total UTF-8 bytes of the data items (what the size rule limits).
    pub fn data_bytes(&self) -> usize {
        self.data.iter().map(String::len).sum()
    }

    /// Inputs plus outputs over all transactions (what rule 7's block limit counts).
    pub fn in_outs(&self) -> usize {
        self.transactions.iter().map(Transaction::in_outs).sum()
    }

    /// About how many bytes its JSON takes, from its shape alone: the header's fields, the data
    /// with room for escapes, and each transaction's [`Transaction::size_estimate`]. Answers
    /// that must stay under a byte cap copy out only the blocks that fit by this count.
    pub fn size_estimate(&self) -> usize {
        let data: usize = self.data.iter().map(|d| d.len() * 6 / 5 + 3).sum();
        let txs: usize = self
            .transactions
            .iter()
            .map(Transaction::size_estimate)
            .sum();
        400 + data + txs
    }
}

/// Decodes a list into an allocation of exactly its length: the blocks' and transactions'
/// lists use it. serde's decoder grows a list of unknown length as it reads, so a list of one
/// item kept room for four: a coinbase-only block held about 600 bytes of empty room, and a
/// node that caught up 100 000 of them peaked at 139 MB, 2.4 times the chain's JSON (heaptrack
/// showed the decoder's lists on top); with exact lists, 82 MB. It runs where the decoding
/// runs, in a peer's thread or the loader's reading thread, not under the chain lock.
pub(crate) fn fitted<'de, D, T>(decoder: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let mut list = Vec::deserialize(decoder)?;
    fit(&mut list);
    Ok(list)
}

/// Moves `list` into an allocation of exactly its length. Not `Vec::shrink_to_fit`, which
/// shrinks in place and leaves the cut-off tail as a small hole between kept blocks: the C
/// allocator could not reuse those for the next block's larger lists, and the same catch-up
/// still peaked at 125 MB. Here the old list is freed whole, and the next list decoded reuses
/// it.
fn fit<T>(list: &mut Vec<T>) {
    if list.capacity() > list.len() {
        let mut fitted = Vec::with_capacity(list.len());
        fitted.append(list);
        *list = fitted;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each field lands at its documented offset, little-endian.
    #[test]
    fn header_layout() {
        let mut b = Block::new(0x0102, 0x0a0b, Hash([7; 32]), 0x11, 0x2233, vec![], vec![]);
        b.merkle_root = Hash([9; 32]);
        let h = b.header_bytes();
        assert_eq!(&h[0..4], &[1, 0, 0, 0]);
        assert_eq!(&h[4..12], &[0x02, 0x01, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&h[12..20], &[0x0b, 0x0a, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&h[20..52], &[7; 32]);
        assert_eq!(&h[52..84], &[9; 32]);
        assert_eq!(&h[84..88], &[0x11, 0, 0, 0]);
        assert_eq!(&h[88..96], &[0x33, 0x22, 0, 0, 0, 0, 0, 0]);
    }

    /// A decoded block's lists have no spare room, where serde's plain decoding of a list of
    /// one item leaves room for more.
    #[test]
    fn a_decoded_block_has_no_spare_room() {
        let plain: Vec<String> = serde_json::from_str(r#"["one"]"#).unwrap();
        assert!(
            plain.capacity() > 1,
            "the decoder leaves room (else this test shows nothing)"
        );
        let mut chain = crate::chain::Blockchain::new(crate::params::Network::Regtest);
        let mined = crate::testing::mine_blocks(&mut chain, 1, 1_000, "room");
        let json = serde_json::to_string(&mined[0]).unwrap();
        let decoded: Block = serde_json::from_str(&json).unwrap();
        let tx = &decoded.transactions[0];
        assert_eq!(decoded.data.capacity(), decoded.data.len());
        assert_eq!(decoded.transactions.capacity(), 1);
        assert_eq!((tx.inputs.capacity(), tx.outputs.capacity()), (1, 1));
        assert_eq!(decoded, mined[0]);
    }

    /// The JSON form has exactly the contract's keys, in order, on one line.
    #[test]
    fn json_form() {
        let b = Block::new(
            5,
            1_700_000_000_123,
            Hash::ZERO,
            20,
            1,
            vec!["x".into()],
            vec![],
        );
        let json = serde_json::to_string(&b).unwrap();
        let keys = [
            "version",
            "height",
            "timestamp",
            "previous_hash",
            "merkle_root",
            "difficulty",
            "nonce",
            "hash",
            "data",
            "transactions",
        ];
        let mut at = 0;
        for key in keys {
            let found = json[at..].find(&format!("\"{key}\":")).expect(key);
            at += found;
        }
        assert!(json.starts_with("{\"version\":1,\"height\":5,\"timestamp\":1700000000123,"));
        assert!(!json.contains('\n'));
        assert!(json.ends_with(",\"data\":[\"x\"],\"transactions\":[]}"));
        assert_eq!(serde_json::from_str::<Block>(&json).unwrap(), b);
        let header = serde_json::to_string(&b.header()).unwrap();
        assert_eq!(
            header,
            json.split(",\"data\"").next().unwrap().to_string() + "}"
        );
    }
}
