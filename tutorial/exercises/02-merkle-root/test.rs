//! Exercise 02: `merkle::tree_levels`, every level of the merkle tree from leaves to root.
//! (This test does not compile until the function exists.)

use peerchain::merkle::{leaf_hash, merkle_root, tree_levels};

/// Five items make levels of 5, 3, 2 and 1 hashes; the odd one out moves up unchanged, and
/// the last level is the root.
#[test]
fn levels_of_five_items() {
    let items: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
    let levels = tree_levels(&items);
    let sizes: Vec<usize> = levels.iter().map(Vec::len).collect();
    assert_eq!(sizes, [5, 3, 2, 1]);
    for (leaf, item) in levels[0].iter().zip(&items) {
        assert_eq!(*leaf, leaf_hash(item));
    }
    assert_eq!(
        levels[1][2], levels[0][4],
        "the odd node is carried up, not paired with itself"
    );
    assert_eq!(levels[3], [merkle_root(&items)]);
    assert!(tree_levels(&[]).is_empty(), "no items, no levels");
}
