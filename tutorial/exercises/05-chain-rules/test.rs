//! Exercise 05: a stricter rule of our own: no empty data items.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::testing::mine_here;

/// A block carrying an empty string is refused with a message naming the item.
#[test]
fn empty_data_items_are_refused() {
    let mut chain = regtest_chain(2);
    let template = chain
        .template(
            vec!["fine".into(), String::new()],
            miner_address(),
            chain.tip().timestamp + T,
        )
        .unwrap();
    let block = mine_here(template);
    let err = chain
        .append(block)
        .expect_err("an empty data item must be refused");
    assert_eq!(
        err.to_string(),
        "block 3: data item 1 is empty (rule 4, our stricter version)"
    );
    assert_eq!(chain.height(), 2);
}
