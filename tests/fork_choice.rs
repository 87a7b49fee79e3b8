//! Fork choice, locators and `blocks_after`: how a chain decides between branches and tells a
//! peer where it stands.

mod common;

use common::{above, fork_at, regtest_chain, T};
use peerchain::testing::mine_blocks;
use peerchain::{Blockchain, ChainError, Hash, Network, Outcome};

/// A branch with more work than ours after the fork point replaces our blocks, and the reorg
/// depth counts the blocks we gave up.
#[test]
fn more_work_wins_and_reports_depth() {
    let mut ours = regtest_chain(5);
    let old_tip = ours.tip().hash;
    let mut theirs = fork_at(&ours, 2);
    mine_blocks(&mut theirs, 4, T, "theirs");
    let outcome = ours
        .evaluate_branch(&above(&theirs, 2))
        .expect("valid branch");
    assert_eq!(
        outcome,
        Outcome::Reorganized {
            old_tip,
            new_tip: theirs.tip().hash,
            depth: 3,
            added: 4
        }
    );
    assert_eq!(ours.height(), 6);
    assert_eq!(ours.total_work(), theirs.total_work());
    assert!(
        !ours.contains(&old_tip),
        "the old tip left the active chain"
    );
    assert_eq!(ours.height_of(&theirs.tip().hash), Some(6));
}

/// A branch with exactly our work is ignored: the first chain seen wins a tie.
#[test]
fn equal_work_keeps_the_first() {
    let mut ours = regtest_chain(5);
    let before = ours.tip().clone();
    let mut theirs = fork_at(&ours, 2);
    mine_blocks(&mut theirs, 3, T, "theirs");
    let outcome = ours.evaluate_branch(&above(&theirs, 2)).unwrap();
    assert_eq!(
        outcome,
        Outcome::NotMoreWork {
            branch_work: 6,
            our_work: 6
        }
    );
    assert_eq!(ours.tip(), &before);
}

/// Length is not work: a longer branch at lower difficulty loses to a shorter, harder chain.
#[test]
fn longer_branch_with_less_work_loses() {
    // Ours: 15 fast blocks, so blocks 10..=15 have difficulty 2. Work above genesis: 9·2 + 6·4 = 42.
    let mut ours = Blockchain::new(Network::Regtest);
    mine_blocks(&mut ours, 15, 100, "ours");
    assert_eq!(ours.tip().difficulty, 2);
    // Theirs: 20 on-time blocks at difficulty 1: work 20·2 = 40.
    let mut theirs = Blockchain::new(Network::Regtest);
    mine_blocks(&mut theirs, 20, T, "theirs");
    assert!(theirs.height() > ours.height());
    let before = ours.tip().hash;
    let outcome = ours.evaluate_branch(&above(&theirs, 0)).unwrap();
    assert_eq!(
        outcome,
        Outcome::NotMoreWork {
            branch_work: 40,
            our_work: 42
        }
    );
    assert_eq!(ours.tip().hash, before);
}

/// A branch is validated against its own history: its difficulty rises on its own fast
/// timestamps even though ours never did, and it is accepted.
#[test]
fn branch_difficulty_follows_its_own_history() {
    let mut ours = regtest_chain(12);
    assert_eq!(ours.block(10).unwrap().difficulty, 1);
    let mut theirs = Blockchain::new(Network::Regtest);
    mine_blocks(&mut theirs, 12, 100, "fast");
    assert_eq!(theirs.block(10).unwrap().difficulty, 2);
    let outcome = ours.evaluate_branch(&above(&theirs, 0)).unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Reorganized {
                depth: 12,
                added: 12,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(ours.tip().hash, theirs.tip().hash);
}

/// One invalid block in the middle rejects the whole branch, with the first failing rule,
/// and the chain is exactly as it was.
#[test]
fn invalid_block_in_the_middle_rejects_the_branch() {
    let mut ours = regtest_chain(5);
    let snapshot = ours.blocks().to_vec();
    let mut theirs = fork_at(&ours, 1);
    mine_blocks(&mut theirs, 8, T, "theirs");
    let mut branch = above(&theirs, 1);
    branch[3].data.push("smuggled".into());
    let err = ours.evaluate_branch(&branch).expect_err("invalid branch");
    assert!(
        matches!(err, ChainError::BadMerkleRoot { height: 5, .. }),
        "{err}"
    );
    assert_eq!(ours.blocks(), &snapshot[..]);
}

/// A branch whose parent we do not have is refused as such; our own blocks are known.
#[test]
fn unknown_parent_and_known_blocks() {
    let mut ours = regtest_chain(3);
    let mut theirs = Blockchain::new(Network::Regtest);
    mine_blocks(&mut theirs, 6, T, "theirs");
    let err = ours.evaluate_branch(&above(&theirs, 3)).unwrap_err();
    assert_eq!(
        err,
        ChainError::UnknownParent {
            height: 4,
            previous_hash: theirs.block(3).unwrap().hash
        }
    );
    assert_eq!(
        ours.evaluate_branch(&above(&ours.clone(), 0)).unwrap(),
        Outcome::Known
    );
    assert_eq!(ours.evaluate_branch(&[]).unwrap(), Outcome::Known);
}

/// Blocks we already have at the start of a branch are skipped; the rest extend our tip.
#[test]
fn known_prefix_then_extension() {
    let mut ours = regtest_chain(3);
    let mut theirs = fork_at(&ours, 3);
    mine_blocks(&mut theirs, 4, T, "more");
    let outcome = ours.evaluate_branch(&above(&theirs, 1)).unwrap();
    assert_eq!(
        outcome,
        Outcome::Extended {
            added: 4,
            tip: theirs.tip().hash,
            height: 7
        }
    );
}

fn heights_of(chain: &Blockchain, locator: &[Hash]) -> Vec<u64> {
    locator
        .iter()
        .map(|h| chain.height_of(h).expect("on chain"))
        .collect()
}

/// The locator lists the newest 10 blocks one by one, then doubles the gap, and always ends
/// at genesis.
#[test]
fn locator_shape() {
    let chain = regtest_chain(1_000);
    let sub = |n: u64| fork_at(&chain, n);
    assert_eq!(heights_of(&chain, &sub(0).locator()), vec![0]);
    assert_eq!(heights_of(&chain, &sub(1).locator()), vec![1, 0]);
    assert_eq!(
        heights_of(&chain, &sub(15).locator()),
        vec![15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 4, 0]
    );
    let mut expected: Vec<u64> = (991..=1000).rev().collect();
    expected.extend([989, 985, 977, 961, 929, 865, 737, 481, 0]);
    assert_eq!(heights_of(&chain, &chain.locator()), expected);
}

/// `blocks_after` starts after the highest locator hash we share, falls back to genesis, and
/// honours the limit.
#[test]
fn blocks_after_the_shared_point() {
    let chain = regtest_chain(30);
    let behind = fork_at(&chain, 12);
    let got = chain.blocks_after(&behind.locator(), 500);
    assert_eq!(got.first().unwrap().height, 13);
    assert_eq!(got.last().unwrap().height, 30);
    let stranger = [Hash([0xab; 32])];
    assert_eq!(
        chain
            .blocks_after(&stranger, 5)
            .iter()
            .map(|b| b.height)
            .collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert!(chain.blocks_after(&chain.locator(), 500).is_empty());
    // A peer on a fork shares only the low blocks: we answer from the fork point.
    let mut forked = fork_at(&chain, 20);
    mine_blocks(&mut forked, 3, 2 * T, "fork");
    assert_eq!(
        chain
            .blocks_after(&forked.locator(), 500)
            .first()
            .unwrap()
            .height,
        21
    );
}
