//! The merkle root: one hash that commits to every data item and transaction of a block.
//!
//! We follow RFC 6962 (Certificate Transparency): leaves and inner nodes are hashed with
//! different one-byte prefixes, so a pair of leaves can never pose as a single leaf (the
//! "second preimage" trick that bit Bitcoin's merkle tree, CVE-2012-2459). A level with an odd
//! number of nodes carries its last node up unchanged instead of pairing it with itself, which
//! is the other half of that bug.
//!
//! See `tutorial/02-merkle-root.md`.

use crate::hash::Hash;
use sha2::{Digest, Sha256};

/// The hash of one data item: SHA-256(0x00 ‖ UTF-8 bytes).
pub fn leaf_hash(item: &str) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(item.as_bytes());
    Hash(h.finalize().into())
}

/// The hash of two child nodes: SHA-256(0x01 ‖ left ‖ right).
pub fn inner_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The hash of a transaction's leaf: SHA-256(0x02 ‖ txid ‖ witness), where `witness` hashes
/// the transaction's keys and signatures (see
/// [`Transaction::witness_hash`](crate::transaction::Transaction::witness_hash)). Its own
/// prefix, so a transaction can never pose as a data item or an inner node.
///
/// Why both: the txid leaves the keys and signatures out on purpose (a signature signs the
/// txid, so it cannot be inside it), so a leaf of the txid alone would let two blocks with one
/// hash carry different signatures, one valid and one not. With the witness in the leaf, the
/// block hash pins every byte the block carries. Bitcoin reached the same place later, with
/// SegWit's wtxid committed in the coinbase (BIP 141).
pub fn tx_leaf_hash(txid: &Hash, witness: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x02]);
    h.update(txid.0);
    h.update(witness.0);
    Hash(h.finalize().into())
}

/// The merkle root of `items`; 32 zero bytes when there are none.
pub fn merkle_root(items: &[String]) -> Hash {
    root_of_leaves(items.iter().map(|item| leaf_hash(item)).collect())
}

/// The merkle root of a block: its data items' leaves, then one leaf per transaction, from its
/// txid and its witness hash, in order. A block without transactions, such as genesis, has the
/// root of its data alone.
pub fn block_merkle_root(items: &[String], txs: impl Iterator<Item = (Hash, Hash)>) -> Hash {
    let leaves = items
        .iter()
        .map(|item| leaf_hash(item))
        .chain(txs.map(|(txid, witness)| tx_leaf_hash(&txid, &witness)))
        .collect();
    root_of_leaves(leaves)
}

/// The root of the tree over `level`, the leaf hashes in order.
fn root_of_leaves(mut level: Vec<Hash>) -> Hash {
    if level.is_empty() {
        return Hash::ZERO;
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => inner_hash(left, right),
                // An odd node out moves up a level as it is.
                [last] => *last,
                _ => unreachable!("chunks(2) yields one or two nodes"),
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_of(items: &[&str]) -> String {
        let owned: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        merkle_root(&owned).to_string()
    }

    /// Appendix B's vectors, computed independently of this code, pin the tree's exact shape.
    #[test]
    fn matches_the_published_vectors() {
        assert_eq!(root_of(&[]), "0".repeat(64));
        assert_eq!(
            root_of(&["a"]),
            "022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c"
        );
        assert_eq!(
            root_of(&["a", "b"]),
            "b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb"
        );
        assert_eq!(
            root_of(&["a", "b", "c"]),
            "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1"
        );
        assert_eq!(
            root_of(&["a", "b", "c", "d", "e"]),
            "fe14a5426fbd70c0fa73f52342afed0da0bd23c4838662ccf6b88a3070ead97b"
        );
    }

    /// The vectors for blocks with transactions (appendix B's coinbase and spend): leaves for
    /// data first, then one per transaction, from its txid and its witness hash, with its own
    /// prefix.
    #[test]
    fn block_roots_with_transactions() {
        let hash = |hex: &str| hex.parse::<Hash>().unwrap();
        let coinbase = (
            hash("1fd69013945938380b5cf5dd59db1b41201ebf0fb3e607c557bc2e7a5d94433c"),
            hash("af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"),
        );
        let spend = (
            hash("02031083a574d325fe44dfc055a5b194f47e539bdb633a0dca498866740d0005"),
            hash("36e05da6e75d5c2e1809c781dde46b54ab69db4d5491ab4730bba35fea67217d"),
        );
        assert_eq!(
            block_merkle_root(&[], [coinbase].into_iter()).to_string(),
            "e920e13bdc07a83ed781e02570f3a068a6c1a8d0f94011b6c1dd8d4f61793532"
        );
        assert_eq!(
            block_merkle_root(&["a".to_string()], [coinbase, spend].into_iter()).to_string(),
            "db67afa6f7d58c803835f7e3264e247510c5a64debad531f23298157225ce4bc"
        );
        // The witness is in the leaf: another witness, another root.
        let other = (
            spend.0,
            hash("af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"),
        );
        assert_ne!(
            block_merkle_root(&[], [spend].into_iter()),
            block_merkle_root(&[], [other].into_iter())
        );
        assert_eq!(
            block_merkle_root(&["a".to_string()], std::iter::empty()),
            merkle_root(&["a".to_string()])
        );
    }

    /// Duplicating the odd last item changes the root, so `[a,b,c]` and `[a,b,c,c]` differ
    /// (in Bitcoin's tree they collide).
    #[test]
    fn odd_node_is_not_duplicated() {
        assert_ne!(root_of(&["a", "b", "c"]), root_of(&["a", "b", "c", "c"]));
    }
}
