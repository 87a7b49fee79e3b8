//! Rule 7, clause by clause: each test builds a block that breaks exactly one clause (or none)
//! and checks the chain's answer, and that a refused block leaves the chain and its coins as
//! they were.

mod common;

use common::*;
use peerchain::consensus::{check_transactions, MAX_BLOCK_IN_OUTS, MAX_BLOCK_TRANSACTIONS};
use peerchain::crypto::keys::SecretKey;
use peerchain::transaction::{Address, OutPoint, Output, Transaction, TxError, COIN};
use peerchain::utxo::Coin;
use peerchain::{Block, Blockchain, ChainError, Network};

/// Secret key `n` (1 is the fixtures' miner key).
fn key(n: u8) -> SecretKey {
    let mut bytes = [0u8; 32];
    bytes[31] = n;
    SecretKey::from_bytes(&bytes).unwrap()
}

fn address(n: u8) -> Address {
    Address::of(&key(n).public_key())
}

/// A regtest chain of 12 blocks paying key 1: the coinbases of blocks 1, 2 and 3 may be spent
/// in block 13 (and 11, 12 and 13 ... in later ones).
fn chain() -> Blockchain {
    regtest_chain(12)
}

/// Output 0 of the coinbase of block `height`.
fn reward(chain: &Blockchain, height: u64) -> OutPoint {
    OutPoint {
        txid: chain.block(height).unwrap().transactions[0].txid,
        index: 0,
    }
}

/// A transaction spending `spends`, paying `outputs`, signed by `signer`.
fn pay(spends: &[OutPoint], outputs: &[(Address, u64)], signer: &SecretKey) -> Transaction {
    let outputs = outputs
        .iter()
        .map(|&(address, amount)| Output { address, amount })
        .collect();
    let mut tx = Transaction::new(spends, outputs);
    tx.sign(signer);
    tx
}

/// The next block on `chain` with `txs` after a coinbase paying `coinbase_pays` to key 1,
/// mined.
fn block_paying(chain: &Blockchain, txs: Vec<Transaction>, coinbase_pays: u64) -> Block {
    let template = chain
        .template(vec![], miner_address(), chain.tip().timestamp + T)
        .unwrap();
    let coinbase = Transaction::coinbase(
        template.height,
        vec![Output {
            address: miner_address(),
            amount: coinbase_pays,
        }],
    );
    let mut all = vec![coinbase];
    all.extend(txs);
    let block = Block::new(
        template.height,
        template.timestamp,
        template.previous_hash,
        template.difficulty,
        0,
        vec![],
        all,
    );
    peerchain::testing::mine_here(block)
}

/// The next block with `txs`, its coinbase paying the plain subsidy.
fn block_with(chain: &Blockchain, txs: Vec<Transaction>) -> Block {
    block_paying(chain, txs, 50 * COIN)
}

/// Every coin of the addresses the tests use, and the set's size: enough to see that a
/// refused block or branch changed nothing.
fn coins(chain: &Blockchain) -> (usize, Vec<Vec<(OutPoint, Coin)>>) {
    let all = (1..=4).map(|n| chain.utxo().coins_of(&address(n)));
    (chain.utxo().len(), all.collect())
}

/// Appends `block`, expects a rule-7 error on the transaction it names, and checks that the
/// chain and its coins did not change.
fn refused(chain: &mut Blockchain, block: Block) -> ChainError {
    let (tip, before) = (chain.tip().hash, coins(chain));
    let err = chain.append(block).expect_err("the block must be refused");
    assert_eq!(chain.tip().hash, tip, "the chain moved");
    assert_eq!(coins(chain), before, "the coins changed");
    assert!(err.to_string().contains("(rule 7)"), "{err}");
    err
}

/// [`refused`] for the next block with `txs`.
fn refused_with(chain: &mut Blockchain, txs: Vec<Transaction>) -> ChainError {
    let block = block_with(chain, txs);
    refused(chain, block)
}

/// The transaction error inside a block's rule-7 error.
fn tx_error(err: ChainError) -> TxError {
    match err {
        ChainError::Transaction { error, .. } => *error,
        other => panic!("not a transaction error: {other}"),
    }
}

/// A valid spend moves the coins: the spent coinbase is gone, the outputs are there, and the
/// coinbase may take the fee.
#[test]
fn a_valid_spend_moves_coins() {
    let mut chain = chain();
    let spend = pay(
        &[reward(&chain, 1)],
        &[(address(2), 30 * COIN), (address(1), 19 * COIN)],
        &key(1),
    );
    let block = block_paying(&chain, vec![spend.clone()], 51 * COIN);
    chain.append(block).expect("a valid spend");
    assert!(chain.utxo().coin(&reward(&chain, 1)).is_none());
    let paid = chain.utxo().coins_of(&address(2));
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].1.amount, 30 * COIN);
    assert_eq!(paid[0].1.height, 13);
    assert_eq!(chain.utxo().tx_place(&spend.txid).unwrap().height, 13);
    let fee_taker = chain.utxo().coin(&reward(&chain, 13)).unwrap();
    assert_eq!(fee_taker.amount, 51 * COIN);
}

/// Two transactions of one block spending the same output: the second is refused, and the
/// reason says it was another transaction of the block; one transaction spending an output
/// twice is refused too, and its reason says so of the transaction, not the block.
#[test]
fn spending_twice_in_one_block() {
    let mut chain = chain();
    let a = pay(&[reward(&chain, 1)], &[(address(2), COIN)], &key(1));
    let b = pay(&[reward(&chain, 1)], &[(address(3), COIN)], &key(1));
    let err = refused_with(&mut chain, vec![a, b.clone()]);
    assert_eq!(
        err,
        ChainError::Transaction {
            height: 13,
            txid: b.txid,
            error: Box::new(TxError::SpentTwiceInBlock {
                input: 0,
                outpoint: reward(&chain, 1)
            })
        }
    );
    assert!(err
        .to_string()
        .contains("which an earlier transaction of this block spends too (rule 7)"));
    let twice = pay(
        &[reward(&chain, 1), reward(&chain, 1)],
        &[(address(2), COIN)],
        &key(1),
    );
    let lone = twice.check_alone().unwrap_err();
    assert_eq!(
        lone,
        TxError::SpentTwice {
            input: 1,
            outpoint: reward(&chain, 1)
        }
    );
    assert!(
        lone.to_string()
            .ends_with("which an earlier input of this transaction spends too"),
        "{lone}"
    );
}

/// A transaction that spends the coinbase of its own block is immature, and the reason says
/// it is this very block's coinbase.
#[test]
fn spending_the_blocks_own_coinbase() {
    let mut chain = chain();
    let coinbase = Transaction::coinbase(
        13,
        vec![Output {
            address: address(1),
            amount: 50 * COIN,
        }],
    );
    let own = OutPoint {
        txid: coinbase.txid,
        index: 0,
    };
    let spend = pay(&[own], &[(address(2), COIN)], &key(1));
    let block = block_with(&chain, vec![spend]);
    assert_eq!(
        block.transactions[0].txid, coinbase.txid,
        "the same coinbase"
    );
    let err = refused(&mut chain, block);
    assert!(
        err.to_string().contains(&format!(
            "input 0 spends {own}, the coinbase of this very block, spendable from height 23"
        )),
        "{err}"
    );
}

/// An output spent in one block cannot be spent in a later one.
#[test]
fn spending_a_spent_output() {
    let mut chain = chain();
    let first = pay(&[reward(&chain, 1)], &[(address(2), COIN)], &key(1));
    chain.append(block_with(&chain, vec![first])).unwrap();
    let again = pay(&[reward(&chain, 1)], &[(address(3), COIN)], &key(1));
    let err = refused_with(&mut chain, vec![again]);
    assert_eq!(
        tx_error(err.clone()),
        TxError::AlreadySpent {
            input: 0,
            outpoint: reward(&chain, 1)
        }
    );
    assert!(
        err.to_string().ends_with("which is already spent (rule 7)"),
        "{err}"
    );
}

/// An output that never existed: an unknown txid, or an index past a real one's outputs.
#[test]
fn spending_an_unknown_output() {
    let mut chain = chain();
    let nowhere = OutPoint {
        index: 1,
        ..reward(&chain, 1)
    };
    let tx = pay(&[nowhere], &[(address(2), COIN)], &key(1));
    let err = refused_with(&mut chain, vec![tx]);
    assert_eq!(
        tx_error(err),
        TxError::UnknownOutput {
            input: 0,
            outpoint: nowhere
        }
    );
}

/// A coinbase output matures after 10 blocks: block 3's reward is spendable in block 13, block
/// 4's is not (it is from block 14).
#[test]
fn immature_coinbase() {
    let mut chain = chain();
    let early = pay(&[reward(&chain, 4)], &[(address(2), COIN)], &key(1));
    let err = refused_with(&mut chain, vec![early]);
    assert_eq!(
        tx_error(err),
        TxError::Immature {
            input: 0,
            outpoint: reward(&chain, 4),
            created: 4,
            spendable: 14,
            height: 13
        }
    );
    let ripe = pay(&[reward(&chain, 3)], &[(address(2), COIN)], &key(1));
    chain
        .append(block_with(&chain, vec![ripe]))
        .expect("exactly mature");
}

/// The coinbase may pay the subsidy plus the fees, and not one unit more.
#[test]
fn coinbase_overpaying_by_one_unit() {
    let mut chain = chain();
    let fee = 12_345;
    let spend = pay(
        &[reward(&chain, 1)],
        &[(address(2), 50 * COIN - fee)],
        &key(1),
    );
    let over = block_paying(&chain, vec![spend.clone()], 50 * COIN + fee + 1);
    let (tip, before) = (chain.tip().hash, coins(&chain));
    let err = chain.append(over).unwrap_err();
    assert_eq!(
        err,
        ChainError::CoinbaseOverpays {
            height: 13,
            paid: 50 * COIN + fee + 1,
            subsidy: 50 * COIN,
            fees: fee
        }
    );
    assert_eq!((chain.tip().hash, coins(&chain)), (tip, before));
    let exact = block_paying(&chain, vec![spend], 50 * COIN + fee);
    chain.append(exact).expect("subsidy plus fees exactly");
}

/// Outputs worth more than the inputs, or adding up past 2^64 − 1, are refused; the sum is
/// checked, never wrapped.
#[test]
fn amounts_must_balance_without_overflow() {
    let mut chain = chain();
    let more = pay(
        &[reward(&chain, 1)],
        &[(address(2), 50 * COIN + 1)],
        &key(1),
    );
    let err = refused_with(&mut chain, vec![more]);
    assert_eq!(
        tx_error(err),
        TxError::Overspends {
            inputs: 50 * COIN,
            outputs: 50 * COIN + 1
        }
    );
    // Wrapping arithmetic would make these two outputs add up to 1 unit.
    let wrap = pay(
        &[reward(&chain, 1)],
        &[(address(2), u64::MAX), (address(3), 2)],
        &key(1),
    );
    let err = refused_with(&mut chain, vec![wrap]);
    assert_eq!(tx_error(err), TxError::OutputsOverflow);
}

/// A signature by a key other than the one given, and a valid signature by a key that does not
/// own the output, are both refused.
#[test]
fn wrong_keys() {
    let mut chain = chain();
    let mut forged = pay(&[reward(&chain, 1)], &[(address(2), COIN)], &key(2));
    forged.inputs[0].public_key = key(1).public_key().to_hex();
    let err = refused_with(&mut chain, vec![forged]);
    assert_eq!(tx_error(err), TxError::BadSignature { input: 0 });

    let thief = pay(&[reward(&chain, 1)], &[(address(2), COIN)], &key(2));
    let err = refused_with(&mut chain, vec![thief]);
    assert_eq!(
        tx_error(err),
        TxError::WrongOwner {
            input: 0,
            outpoint: reward(&chain, 1),
            key_address: address(2),
            owner: address(1)
        }
    );
}

/// The same signature with s replaced by n − s verifies in plain ECDSA; rule 7 wants low s.
#[test]
fn high_s_is_refused() {
    let mut chain = chain();
    let mut tx = pay(&[reward(&chain, 1)], &[(address(2), COIN)], &key(1));
    let sig = hex::decode(&tx.inputs[0].signature).unwrap();
    let s = peerchain::crypto::u256::U256::from_be_bytes(&sig[32..].try_into().unwrap());
    let high = peerchain::crypto::scalar::N.sub_borrow(&s).0;
    tx.inputs[0].signature = hex::encode(&sig[..32]) + &hex::encode(high.to_be_bytes());
    let err = refused_with(&mut chain, vec![tx]);
    assert!(err.to_string().contains("high-S"), "{err}");
    assert_eq!(tx_error(err), TxError::HighS { input: 0 });
}

/// A txid that is not the hash of the transaction bytes is refused, even with a signature of
/// the claimed txid.
#[test]
fn txid_must_be_computed() {
    let mut chain = chain();
    let mut tx = pay(&[reward(&chain, 1)], &[(address(2), COIN)], &key(1));
    tx.outputs[0].amount = 2 * COIN;
    let err = refused_with(&mut chain, vec![tx.clone()]);
    assert_eq!(
        tx_error(err),
        TxError::BadTxid {
            claimed: tx.txid,
            computed: tx.compute_txid()
        }
    );
}

/// The coinbase comes first, exactly once, with the block's height; a block without one is
/// refused.
#[test]
fn coinbase_place_and_shape() {
    let mut chain = chain();
    let mut none = block_with(&chain, vec![]);
    none.transactions.clear();
    none.merkle_root = none.compute_merkle_root();
    let none = peerchain::testing::mine_here(none);
    assert_eq!(
        refused(&mut chain, none),
        ChainError::NoCoinbase { height: 13 }
    );

    let spend = pay(&[reward(&chain, 1)], &[(address(2), COIN)], &key(1));
    let mut second = block_with(&chain, vec![spend]);
    second.transactions.swap(0, 1);
    second.merkle_root = second.compute_merkle_root();
    let second = peerchain::testing::mine_here(second);
    let err = refused(&mut chain, second);
    assert!(err.to_string().contains("bad coinbase: prev_txid"), "{err}");

    let extra = Transaction::coinbase(
        13,
        vec![Output {
            address: address(2),
            amount: 1,
        }],
    );
    let err = refused_with(&mut chain, vec![extra]);
    assert_eq!(tx_error(err), TxError::CoinbaseInput { input: 0 });

    let mut old_height = block_with(&chain, vec![]);
    old_height.transactions[0] =
        Transaction::coinbase(12, old_height.transactions[0].outputs.clone());
    old_height.merkle_root = old_height.compute_merkle_root();
    let err = refused(&mut chain, peerchain::testing::mine_here(old_height));
    assert!(
        err.to_string()
            .contains("prev_index 12 is not the block height 13"),
        "{err}"
    );
}

/// The block limits are exact: 1 000 transactions and 4 000 inputs plus outputs pass the limit
/// check (to fail later, on what they spend), one more of either is refused by it.
#[test]
fn block_limits_are_exact() {
    let params = Network::Regtest.params();
    let chain = chain();
    let tx = pay(&[reward(&chain, 1)], &[(address(2), COIN)], &key(1));
    let coinbase = Transaction::coinbase(
        13,
        vec![Output {
            address: address(1),
            amount: 1,
        }],
    );
    let block = |txs: Vec<Transaction>| {
        let mut all = vec![coinbase.clone()];
        all.extend(txs);
        Block::new(13, 0, chain.tip().hash, 1, 0, vec![], all)
    };
    let at_limit = block(vec![tx.clone(); MAX_BLOCK_TRANSACTIONS - 1]);
    let err = check_transactions(&at_limit, params).unwrap_err();
    assert!(matches!(tx_error(err), TxError::SpentTwiceInBlock { .. }));
    let over = block(vec![tx.clone(); MAX_BLOCK_TRANSACTIONS]);
    assert_eq!(
        check_transactions(&over, params),
        Err(ChainError::TooManyTransactions {
            height: 13,
            count: 1_001,
            max: 1_000
        })
    );

    // 2 + 39 × 100 + 98 = 4 000 inputs and outputs.
    let wide: Vec<Transaction> = (0..40)
        .map(|i| {
            let spends: Vec<OutPoint> = (0..50)
                .map(|index| OutPoint {
                    txid: peerchain::Hash([i as u8 + 1; 32]),
                    index,
                })
                .collect();
            let outputs = if i == 39 { 48 } else { 50 };
            pay(&spends, &vec![(address(2), 1); outputs], &key(1))
        })
        .collect();
    let fits = block(wide.clone());
    assert_eq!(fits.in_outs(), MAX_BLOCK_IN_OUTS);
    assert_eq!(check_transactions(&fits, params), Ok(()));
    let mut one_more = wide;
    one_more[39].outputs.push(Output {
        address: address(2),
        amount: 1,
    });
    let too_wide = block(one_more);
    assert_eq!(
        check_transactions(&too_wide, params),
        Err(ChainError::TooManyInOuts {
            height: 13,
            count: 4_001,
            max: 4_000
        })
    );
}

/// After a reorganization the UTXO set is exactly the one a node would have built from the new
/// chain alone: the undo records put back what our blocks spent, and the branch's spends apply.
#[test]
fn reorganizing_undoes_and_redoes_coins() {
    let mut ours = chain();
    let mut theirs = ours.clone();
    let spend = pay(&[reward(&ours, 1)], &[(address(2), 10 * COIN)], &key(1));
    ours.append(block_with(&ours, vec![spend])).unwrap();
    let other = pay(&[reward(&theirs, 2)], &[(address(3), 7 * COIN)], &key(1));
    theirs.append(block_with(&theirs, vec![other])).unwrap();
    let reuse = pay(&[reward(&theirs, 1)], &[(address(4), COIN)], &key(1));
    theirs.append(block_with(&theirs, vec![reuse])).unwrap();

    let outcome = ours.evaluate_branch(&above(&theirs, 12)).unwrap();
    assert!(matches!(
        outcome,
        peerchain::Outcome::Reorganized { depth: 1, .. }
    ));
    assert_eq!(coins(&ours), coins(&theirs));
    assert!(ours.utxo().coins_of(&address(2)).is_empty());
    assert_eq!(ours.utxo().coins_of(&address(4))[0].1.amount, COIN);
}

/// A heavier branch whose second block double-spends an output its first block spent is
/// refused whole: the active chain and every coin stay as they were.
#[test]
fn a_branch_that_double_spends_is_refused_whole() {
    let mut ours = chain();
    let mut theirs = ours.clone();
    let spend = pay(&[reward(&ours, 1)], &[(address(2), 10 * COIN)], &key(1));
    ours.append(block_with(&ours, vec![spend.clone()])).unwrap();

    let first = pay(&[reward(&theirs, 1)], &[(address(3), 5 * COIN)], &key(1));
    theirs.append(block_with(&theirs, vec![first])).unwrap();
    // Valid alone, but on this branch its input is already spent (by `first`).
    let again = block_with(&theirs, vec![spend.clone()]);
    let mut branch = above(&theirs, 12);
    branch.push(again);

    let (tip, before) = (ours.tip().hash, coins(&ours));
    let err = ours.evaluate_branch(&branch).unwrap_err();
    assert_eq!(
        err,
        ChainError::Transaction {
            height: 14,
            txid: spend.txid,
            error: Box::new(TxError::AlreadySpent {
                input: 0,
                outpoint: reward(&ours, 1)
            })
        }
    );
    assert_eq!((ours.tip().hash, coins(&ours)), (tip, before));
    assert_eq!(ours.height(), 13);
}

/// The mempool takes valid spends of mature, confirmed coins; ignores conflicts, immature and
/// unknown spends; calls a wrong owner a violation; and a mined block takes its transactions
/// out.
#[test]
fn mempool_rules() {
    use peerchain::mempool::Rejected;
    let mut chain = chain();
    let first = pay(&[reward(&chain, 1)], &[(address(2), COIN)], &key(1));
    let fee = chain
        .add_to_mempool(first.clone().verify().unwrap())
        .unwrap();
    assert_eq!(fee, 49 * COIN);
    assert_eq!(
        chain.add_to_mempool(first.clone().verify().unwrap()),
        Err(Rejected::Known)
    );
    let rival = pay(&[reward(&chain, 1)], &[(address(3), COIN)], &key(1));
    assert!(matches!(
        chain.add_to_mempool(rival.verify().unwrap()),
        Err(Rejected::Conflict { .. })
    ));
    let early = pay(&[reward(&chain, 4)], &[(address(3), COIN)], &key(1));
    let rejected = chain.add_to_mempool(early.verify().unwrap()).unwrap_err();
    assert!(matches!(
        rejected,
        Rejected::NotSpendable(TxError::Immature { .. })
    ));
    assert!(!rejected.is_violation());
    let thief = pay(&[reward(&chain, 2)], &[(address(3), COIN)], &key(3));
    let rejected = chain.add_to_mempool(thief.verify().unwrap()).unwrap_err();
    assert!(rejected.is_violation(), "{rejected}");
    // No chains of unconfirmed transactions.
    let child = pay(
        &[OutPoint {
            txid: first.txid,
            index: 0,
        }],
        &[(address(3), 1)],
        &key(2),
    );
    assert!(matches!(
        chain.add_to_mempool(child.verify().unwrap()),
        Err(Rejected::NotSpendable(TxError::UnknownOutput { .. }))
    ));
    assert_eq!(chain.mempool().len(), 1);

    // Mining takes it, with its fee.
    peerchain::testing::mine_blocks(&mut chain, 1, T, "mined");
    assert_eq!(chain.tip().transactions.len(), 2);
    assert_eq!(chain.tip().transactions[1], first);
    assert_eq!(chain.tip().transactions[0].outputs[0].amount, 99 * COIN);
    assert!(chain.mempool().is_empty());
}

/// A reorganization puts the transactions of the blocks it took off back into the mempool,
/// unless the new chain has them or spends their coins.
#[test]
fn a_reorganization_returns_transactions_to_the_mempool() {
    let mut ours = chain();
    let mut theirs = ours.clone();
    let kept = pay(&[reward(&ours, 1)], &[(address(2), COIN)], &key(1));
    let lost = pay(&[reward(&ours, 2)], &[(address(2), COIN)], &key(1));
    let both = pay(&[reward(&ours, 3)], &[(address(2), COIN)], &key(1));
    ours.append(block_with(&ours, vec![kept.clone(), lost, both.clone()]))
        .unwrap();
    let rival = pay(&[reward(&theirs, 2)], &[(address(4), COIN)], &key(1));
    theirs
        .append(block_with(&theirs, vec![rival, both]))
        .unwrap();
    peerchain::testing::mine_blocks(&mut theirs, 1, T, "more");

    ours.evaluate_branch(&above(&theirs, 12)).unwrap();
    assert_eq!(ours.tip().hash, theirs.tip().hash);
    let waiting: Vec<_> = ours.mempool().entries().iter().map(|e| e.tx.txid).collect();
    assert_eq!(waiting, vec![kept.txid]);
}

/// The block hash commits to every signature (protocol 4): a block whose signature is swapped
/// for another encoding of it (its high-S twin) keeps its header, so its hash, but fails as a
/// merkle mismatch (rule 4), before any signature is checked; the root that commits to the
/// swapped signature, and so the block hash, differ from the original's.
#[test]
fn a_swapped_signature_breaks_the_merkle_root() {
    let mut chain = chain();
    let spend = pay(&[reward(&chain, 1)], &[(address(2), COIN)], &key(1));
    let block = block_paying(&chain, vec![spend], 50 * COIN);
    let mut swapped = block.clone();
    let sig = hex::decode(&swapped.transactions[1].inputs[0].signature).unwrap();
    let s = peerchain::crypto::u256::U256::from_be_bytes(&sig[32..].try_into().unwrap());
    let high = peerchain::crypto::scalar::N.sub_borrow(&s).0;
    swapped.transactions[1].inputs[0].signature =
        hex::encode(&sig[..32]) + &hex::encode(high.to_be_bytes());
    assert_eq!(swapped.transactions[1].txid, block.transactions[1].txid);
    assert_eq!(swapped.compute_hash(), block.hash, "the header is the same");
    let computed = swapped.compute_merkle_root();
    assert_ne!(
        computed, block.merkle_root,
        "the root commits to the signature"
    );
    assert_eq!(
        chain.append(swapped).unwrap_err(),
        ChainError::BadMerkleRoot {
            height: 13,
            claimed: block.merkle_root,
            computed
        }
    );
    assert_eq!(chain.height(), 12);
    chain.append(block).expect("the original is valid");
}
