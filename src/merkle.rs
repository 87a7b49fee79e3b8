//! The merkle root: one hash that commits to every data item of a block.
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

/// The merkle root of `items`; 32 zero bytes when there are none.
pub fn merkle_root(items: &[String]) -> Hash {
    match items {
        [] => return Hash::ZERO,
        // The common case needs no tree (and no allocation).
        [only] => return leaf_hash(only),
        _ => {}
    }
    let mut level: Vec<Hash> = items.iter().map(|item| leaf_hash(item)).collect();
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

    /// Duplicating the odd last item changes the root, so `[a,b,c]` and `[a,b,c,c]` differ
    /// (in Bitcoin's tree they collide).
    #[test]
    fn odd_node_is_not_duplicated() {
        assert_ne!(root_of(&["a", "b", "c"]), root_of(&["a", "b", "c", "c"]));
    }
}
