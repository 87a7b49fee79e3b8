//! The 32-byte digest that names blocks, and how it looks on the wire.
//!
//! Every hash in peerchain is a SHA-256 digest. On the wire and in the JSON block form it is
//! written as exactly 64 lowercase hex digits, the digest bytes in order (no byte reversal, unlike
//! Bitcoin's display convention). We accept only that canonical form, so one hash has one
//! spelling and a peer cannot smuggle in odd variants.
//!
//! See `tutorial/01-blocks-and-hashes.md`.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A SHA-256 digest: a block hash, a merkle root or a merkle node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash: the genesis block's `previous_hash` and the merkle root of no items.
    pub const ZERO: Hash = Hash([0; 32]);

    /// The first 12 hex digits, enough to tell blocks apart in a log line.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

/// The value of each lowercase hex digit, and 0xff for every other byte.
static HEX_VALUE: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Hash {
    Hash(Sha256::digest(bytes).into())
}

/// Why a string is not a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseHashError(String);

impl fmt::Display for ParseHashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.0.chars().take(70).collect();
        write!(f, "hash must be 64 lowercase hex digits, got {shown:?}")
    }
}

impl std::error::Error for ParseHashError {}

impl FromStr for Hash {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_lower_hex(s)
            .map(Hash)
            .ok_or_else(|| ParseHashError(s.to_string()))
    }
}

/// Parses exactly `2·N` lowercase hex digits into `N` bytes; `None` for anything else. Hashes,
/// txids and addresses all use it, so each has one spelling.
pub fn parse_lower_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    // By hand rather than `hex::decode`: one pass that also refuses uppercase, and sync
    // parses several hashes per block (it was the top entry in the sync profile). A table
    // lookup per digit, no branches: 0xff marks "not a lowercase hex digit".
    let digits = s.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut bytes = [0u8; N];
    let mut bad = 0u8;
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let (high, low) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        bad |= high | low;
        *byte = high << 4 | low;
    }
    (bad & 0xf0 == 0).then_some(bytes)
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 64];
        // Encoding into a stack buffer cannot fail: 32 bytes always make 64 digits.
        hex::encode_to_slice(self.0, &mut buf).expect("64-byte buffer fits 32 bytes of hex");
        serializer.serialize_str(std::str::from_utf8(&buf).expect("hex is ASCII"))
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A visitor rather than `String::deserialize` so that parsing a block allocates nothing
        // for its hashes: sync parses hundreds of thousands of them.
        struct HashVisitor;
        impl Visitor<'_> for HashVisitor {
            type Value = Hash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 lowercase hex digits")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Hash, E> {
                s.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(HashVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash survives the trip to hex and back, and only the canonical spelling parses.
    #[test]
    fn hex_round_trip_is_strict() {
        let h = sha256(b"abc");
        let text = h.to_string();
        assert_eq!(
            text,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(text.parse::<Hash>().unwrap(), h);
        assert!(text.to_uppercase().parse::<Hash>().is_err());
        assert!(text[..63].parse::<Hash>().is_err());
        assert!(format!("{text}0").parse::<Hash>().is_err());
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Hash>("\"zz\"").is_err());
    }
}
