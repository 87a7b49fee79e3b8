//! One test per consensus rule: a block that breaks only that rule, and the error it gets.

mod common;

use common::{miner_address, regtest_chain, T};
use peerchain::consensus::{median_time_past, now_ms, ChainView};
use peerchain::pow::meets_difficulty;
use peerchain::testing::{mine_blocks, mine_here};
use peerchain::{Block, ChainError, Hash};

/// A chain of 5 blocks and a valid, unmined-upon next block for it.
fn chain_and_next() -> (peerchain::Blockchain, Block) {
    let chain = regtest_chain(5);
    let ts = chain.tip().timestamp + T;
    let next = mine_here(
        chain
            .template(vec!["next".into()], miner_address(), ts)
            .unwrap(),
    );
    (chain, next)
}

/// The same block with other data (and so another merkle root), not yet mined.
fn with_data(b: &Block, data: Vec<String>) -> Block {
    Block::new(
        b.height,
        b.timestamp,
        b.previous_hash,
        b.difficulty,
        0,
        data,
        b.transactions.clone(),
    )
}

/// Appends `block`, expects the error, and checks the chain did not move.
fn refused(chain: &mut peerchain::Blockchain, block: Block) -> ChainError {
    let (height, tip) = (chain.height(), chain.tip().hash);
    let err = chain
        .append(block)
        .expect_err("the broken block must be refused");
    assert_eq!(
        (chain.height(), chain.tip().hash),
        (height, tip),
        "chain changed"
    );
    assert!(
        err.to_string().starts_with("block "),
        "message names the block: {err}"
    );
    err
}

/// The untouched block is valid, so each test below breaks exactly one thing.
#[test]
fn the_baseline_block_is_valid() {
    let (mut chain, next) = chain_and_next();
    chain.append(next.clone()).expect("valid");
    assert_eq!(chain.tip(), &next);
}

/// Rule 1: a version other than 1 is refused.
#[test]
fn rule1_version() {
    let (mut chain, mut b) = chain_and_next();
    b.version = 2;
    let err = refused(&mut chain, mine_here(b));
    assert_eq!(
        err,
        ChainError::BadVersion {
            height: 6,
            version: 2
        }
    );
    assert!(err.to_string().contains("rule 1"));
}

/// Rule 2: a block whose height is not its parent's plus one is refused.
#[test]
fn rule2_height() {
    let (mut chain, mut b) = chain_and_next();
    b.height = 7;
    // The coinbase names its height too: keep it right, so only rule 2 is broken.
    b.transactions[0] =
        peerchain::transaction::Transaction::coinbase(7, b.transactions[0].outputs.clone());
    b.merkle_root = b.compute_merkle_root();
    assert_eq!(
        refused(&mut chain, mine_here(b)),
        ChainError::BadHeight {
            height: 7,
            expected: 6
        }
    );
}

/// Rule 2: a block that names another parent is refused.
#[test]
fn rule2_previous_hash() {
    let (mut chain, mut b) = chain_and_next();
    let tip = chain.tip().hash;
    b.previous_hash = chain.block(4).unwrap().hash;
    let err = refused(&mut chain, mine_here(b));
    assert_eq!(
        err,
        ChainError::BadPreviousHash {
            height: 6,
            previous_hash: chain.block(4).unwrap().hash,
            expected: tip
        }
    );
}

/// Rule 3: a claimed hash that is not SHA-256 of the header is refused, even if it has plenty
/// of leading zeros.
#[test]
fn rule3_hash_mismatch() {
    let (mut chain, mut b) = chain_and_next();
    let computed = b.hash;
    b.hash = Hash::ZERO;
    assert_eq!(
        refused(&mut chain, b),
        ChainError::BadHash {
            height: 6,
            claimed: Hash::ZERO,
            computed
        }
    );
}

/// Rule 3: an honest hash that does not meet the difficulty is refused.
#[test]
fn rule3_proof_of_work() {
    let (mut chain, mut b) = chain_and_next();
    b.nonce = (0..)
        .find(|&n| {
            b.nonce = n;
            !meets_difficulty(&b.compute_hash(), b.difficulty)
        })
        .unwrap();
    b.hash = b.compute_hash();
    let err = refused(&mut chain, b.clone());
    assert_eq!(
        err,
        ChainError::InsufficientWork {
            height: 6,
            hash: b.hash,
            difficulty: 1
        }
    );
}

/// Rule 4: a merkle root that does not match the data is refused.
#[test]
fn rule4_merkle_root() {
    let (mut chain, mut b) = chain_and_next();
    let computed = b.merkle_root;
    b.data = vec!["tampered".into()];
    let b = mine_here(Block {
        merkle_root: computed,
        ..b
    });
    let err = refused(&mut chain, b.clone());
    assert_eq!(
        err,
        ChainError::BadMerkleRoot {
            height: 6,
            claimed: computed,
            computed: b.compute_merkle_root()
        }
    );
}

/// Rule 4: more than 256 data items are refused.
#[test]
fn rule4_too_many_items() {
    let (mut chain, b) = chain_and_next();
    let data: Vec<String> = (0..257).map(|i| i.to_string()).collect();
    let b = with_data(&b, data);
    assert_eq!(
        refused(&mut chain, mine_here(b)),
        ChainError::TooManyItems {
            height: 6,
            count: 257,
            max: 256
        }
    );
}

/// Rule 4: more than 65 536 data bytes are refused.
#[test]
fn rule4_too_many_bytes() {
    let (mut chain, b) = chain_and_next();
    let data = vec!["x".repeat(65_537)];
    let b = with_data(&b, data);
    assert_eq!(
        refused(&mut chain, mine_here(b)),
        ChainError::TooManyBytes {
            height: 6,
            bytes: 65_537,
            max: 65_536
        }
    );
}

/// Rule 5: a difficulty that is not the expected one is refused, harder or easier.
#[test]
fn rule5_difficulty() {
    let (mut chain, mut b) = chain_and_next();
    b.difficulty = 2;
    assert_eq!(
        refused(&mut chain, mine_here(b)),
        ChainError::BadDifficulty {
            height: 6,
            difficulty: 2,
            expected: 1
        }
    );
}

/// Rule 5: difficulty moves only at multiples of R: up a bit when blocks came more than twice
/// as fast as T, down when more than twice as slow, clamped to the network's bounds.
#[test]
fn rule5_retarget_up_down_and_clamped() {
    let mut chain = peerchain::Blockchain::new(peerchain::Network::Regtest);
    // Fast: 9 intervals of 100 ms = 900 < 4500 = goal/2.
    mine_blocks(&mut chain, 9, 100, "fast");
    assert_eq!(chain.height(), 9);
    assert_eq!(chain.next_difficulty(), 2, "height 10 retargets up");
    mine_blocks(&mut chain, 9, 100, "fast");
    assert_eq!(chain.block(10).unwrap().difficulty, 2);
    assert_eq!(
        chain.next_difficulty(),
        2,
        "height 19 is not a retarget height"
    );
    mine_blocks(&mut chain, 1, 100, "fast");
    assert_eq!(chain.next_difficulty(), 3, "height 20 retargets up again");
    // On time: blocks 20..=29 span 9 T, exactly the goal, so height 30 keeps difficulty 3.
    mine_blocks(&mut chain, 10, T, "steady");
    assert_eq!(chain.height(), 29);
    assert_eq!(chain.next_difficulty(), 3);
    // Slow: 9 intervals of 3 s = 27 000 > 18 000 = goal·2.
    mine_blocks(&mut chain, 10, 3 * T, "slow");
    assert_eq!(chain.block(30).unwrap().difficulty, 3);
    assert_eq!(chain.next_difficulty(), 2, "height 40 retargets down");
    mine_blocks(&mut chain, 20, 3 * T, "slow");
    assert_eq!(chain.block(50).unwrap().difficulty, 1);
    assert_eq!(chain.next_difficulty(), 1, "never below the minimum of 1");
    // Climb to the regtest maximum of 16 and stay there.
    while chain.tip().difficulty < 16 {
        mine_blocks(&mut chain, 10, 1, "climb");
    }
    mine_blocks(&mut chain, 10, 1, "climb");
    assert_eq!(chain.next_difficulty(), 16, "never above the maximum of 16");
}

/// Rule 6: a timestamp equal to the median time past is refused (it must be after).
#[test]
fn rule6_not_after_median() {
    let (mut chain, mut b) = chain_and_next();
    let median = median_time_past(&ChainView::new(chain.headers(), &[]));
    b.timestamp = median;
    assert_eq!(
        refused(&mut chain, mine_here(b)),
        ChainError::TimestampNotAfterMedian {
            height: 6,
            timestamp: median,
            median
        }
    );
}

/// Rule 6: a timestamp more than 120 s ahead of our clock is refused.
#[test]
fn rule6_too_far_ahead() {
    let (mut chain, mut b) = chain_and_next();
    b.timestamp = now_ms() + 10 * 60_000;
    let err = refused(&mut chain, mine_here(b));
    assert!(
        matches!(err, ChainError::TimestampTooFarAhead { height: 6, .. }),
        "{err}"
    );
}

/// The median time past is the middle of the last 11 timestamps, not the parent's.
#[test]
fn median_time_past_uses_last_eleven() {
    let chain = regtest_chain(20);
    let view = ChainView::new(chain.headers(), &[]);
    // Blocks 10..=20 are spaced by T; the middle of the eleven is block 15.
    assert_eq!(median_time_past(&view), chain.block(15).unwrap().timestamp);
    let short = ChainView::new(&chain.headers()[..3], &[]);
    assert_eq!(median_time_past(&short), chain.block(1).unwrap().timestamp);
}

/// The size limits are inclusive, in UTF-8 bytes: exactly 256 items and exactly 65 536 bytes
/// pass (two-byte characters count twice), one more of either is refused. Fixed numbers, not
/// fixtures, so a `>` that became `>=` is caught.
#[test]
fn rule4_limits_are_exact() {
    use peerchain::consensus::check_body;
    let params = peerchain::Network::Regtest.params();
    use peerchain::transaction::{Output, Transaction};
    let pay = Output {
        address: miner_address(),
        amount: 1,
    };
    let coinbase = vec![Transaction::coinbase(1, vec![pay])];
    let block = |data: Vec<String>| Block::new(1, 0, Hash::ZERO, 1, 0, data, coinbase.clone());
    assert_eq!(check_body(&block(vec!["a".into(); 256]), params), Ok(()));
    assert_eq!(
        check_body(&block(vec!["a".into(); 257]), params),
        Err(ChainError::TooManyItems {
            height: 1,
            count: 257,
            max: 256
        })
    );
    assert_eq!(check_body(&block(vec!["é".repeat(32_768)]), params), Ok(()));
    assert_eq!(
        check_body(&block(vec!["é".repeat(32_768) + "a"]), params),
        Err(ChainError::TooManyBytes {
            height: 1,
            bytes: 65_537,
            max: 65_536
        })
    );
}

/// The clock limit is inclusive: a timestamp exactly 120 000 ms past our clock passes, one
/// millisecond more is refused.
#[test]
fn rule6_drift_limit_is_exact() {
    use peerchain::consensus::check_header_alone;
    let params = peerchain::Network::Regtest.params();
    let now = 1_800_000_000_000;
    let at = |timestamp: u64| {
        let template = Block::new(1, timestamp, Hash::ZERO, 1, 0, vec![], vec![]);
        mine_here(template).header()
    };
    assert_eq!(
        check_header_alone(&at(now + 120_000), params, Some(now)),
        Ok(())
    );
    assert_eq!(
        check_header_alone(&at(now + 120_001), params, Some(now)),
        Err(ChainError::TimestampTooFarAhead {
            height: 1,
            timestamp: now + 120_001,
            max: now + 120_000
        })
    );
    assert_eq!(check_header_alone(&at(now + 120_001), params, None), Ok(()));
}

/// The rules that need ancestors, run on a header alone against a view: a wrong link, a wrong
/// difficulty and a timestamp at the median are each refused by name.
#[test]
fn header_rules_in_context() {
    use peerchain::consensus::{check_header_in_context, context_len};
    let chain = regtest_chain(5);
    let params = chain.params();
    let view = ChainView::new(chain.headers(), &[]);
    let ts = chain.tip().timestamp + T;
    let good = mine_here(chain.template(vec![], miner_address(), ts).unwrap()).header();
    assert_eq!(check_header_in_context(&good, &view, params), Ok(()));
    let mut orphan = good;
    orphan.previous_hash = Hash::ZERO;
    assert!(matches!(
        check_header_in_context(&orphan, &view, params),
        Err(ChainError::BadPreviousHash { .. })
    ));
    let mut harder = good;
    harder.difficulty += 1;
    assert!(matches!(
        check_header_in_context(&harder, &view, params),
        Err(ChainError::BadDifficulty { .. })
    ));
    let mut early = good;
    early.timestamp = median_time_past(&view);
    assert!(matches!(
        check_header_in_context(&early, &view, params),
        Err(ChainError::TimestampNotAfterMedian { .. })
    ));
    // R = 10 and 11 timestamps for the median, plus the parent: 12 headers of context.
    assert_eq!(context_len(params), 12);
}

/// A branch checked against only `context_len` headers below its fork reaches the same verdicts
/// as the whole chain: its blocks cross a retarget and the median window.
#[test]
fn a_branch_needs_only_its_context() {
    let chain = regtest_chain(40);
    let mut theirs = common::fork_at(&chain, 25);
    mine_blocks(&mut theirs, 20, T / 3, "theirs");
    let mut branch = chain.branch_at(25);
    let added = branch
        .add_headers(&theirs.headers()[26..], now_ms(), usize::MAX)
        .expect("every header is valid");
    assert_eq!(added, 20);
    assert!(
        branch.proven(),
        "20 faster blocks carry more work than our 15"
    );
}
