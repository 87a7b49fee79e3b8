//! The mempool: valid transactions waiting for a block.
//!
//! A transaction enters if it is valid against the tip's UTXO set: every input spends a
//! confirmed, mature coin of its key's owner, and the inputs cover the outputs. There are no
//! chains of unconfirmed transactions here (Bitcoin Core allows them, with limits): a
//! transaction that spends another one still waiting is refused until that one is mined.
//! That keeps every subset of the pool valid in a block, so mining just takes the best.
//!
//! Two transactions that spend one output conflict, and the first one seen stays (Bitcoin Core
//! lets a higher-fee one replace it, BIP 125; we keep the simple rule). The pool holds at most
//! [`MAX_MEMPOOL_TXS`] transactions and [`MAX_MEMPOOL_BYTES`] bytes (as their JSON would
//! take, [`Transaction::size_estimate`]); when it is full, a new transaction must pay a higher
//! fee rate than the lowest ones there, which it then evicts until it fits. The cap in bytes is
//! what bounds memory: 5 000 transactions of 100 inputs would otherwise hold 270 MiB. (Bitcoin
//! Core's `-maxmempool` is in megabytes too, 300 by default, for blocks of 4 million weight.)
//!
//! The **fee rate** is the fee per input and output: fee / (inputs + outputs). Bitcoin counts
//! fee per virtual byte; inputs and outputs are our size measure.
//!
//! The pool lives inside [`Blockchain`](crate::chain::Blockchain), under the chain lock, so it
//! always matches the UTXO set: a new block takes out what it confirmed or conflicts with, and
//! a reorganization puts back the transactions of the blocks it took off, if still valid.
//!
//! See `tutorial/19-mempool.md`.

use crate::block::Block;
use crate::hash::Hash;
use crate::transaction::{OutPoint, Transaction, TxError, VerifiedTx};
use crate::utxo::{UtxoSet, UtxoView};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

/// At most this many transactions wait in the pool.
pub const MAX_MEMPOOL_TXS: usize = 5_000;

/// At most this many bytes of transactions wait in the pool, by their size estimate: about 27
/// blocks full of the widest transactions.
pub const MAX_MEMPOOL_BYTES: usize = 32 << 20;

/// At most this many drops wait in [`Mempool::take_dropped`]'s record; older ones are lost.
/// The node takes them once a second, and one change of the chain drops at most a block's
/// worth of conflicts or a pool's worth after a reorganization, so this is room for both.
pub const MAX_DROPPED: usize = 10_000;

/// A transaction in the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The transaction.
    pub tx: Transaction,
    /// Inputs minus outputs, in base units.
    pub fee: u64,
    /// Arrival order: lower came first.
    pub seq: u64,
    /// When it arrived (for the explorer's "age").
    pub arrived: std::time::Instant,
}

/// A transaction that left the pool without being mined, and why: a block spent one of its
/// coins first, a reorganization took its coins away, or a better-paying transaction pushed
/// it out. A wallet wants to know when that happens to its own payments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The transaction.
    pub txid: Hash,
    /// The key of its first input (whose payment it was), as in the transaction.
    pub payer_key: String,
    /// Why it left, in words.
    pub reason: String,
}

/// Compares two fee rates, fee / (inputs + outputs), exactly: without dividing, by
/// cross-multiplying in 128 bits.
fn rate_cmp(fee: u64, in_outs: usize, other_fee: u64, other_in_outs: usize) -> Ordering {
    let mine = u128::from(fee) * other_in_outs as u128;
    let theirs = u128::from(other_fee) * in_outs as u128;
    mine.cmp(&theirs)
}

impl Entry {
    /// Compares fee rates (see [`rate_cmp`]).
    fn rate_cmp(&self, other: &Entry) -> Ordering {
        rate_cmp(self.fee, self.tx.in_outs(), other.fee, other.tx.in_outs())
    }
}

/// Why a transaction did not enter the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// It breaks rule 7 and never could be valid: the sender is at fault.
    Invalid(TxError),
    /// The pool or the chain has it already.
    Known,
    /// An input spends what a transaction already in the pool spends; the first one stays.
    Conflict {
        /// Which of its inputs, counting from 0.
        input: usize,
        /// The output both spend.
        outpoint: OutPoint,
        /// The txid of the transaction in the pool.
        with: Hash,
    },
    /// It spends an output that is unknown, spent or immature on our chain. Normal in races
    /// and reorganizations: it may be fine on another chain, or later.
    NotSpendable(TxError),
    /// The pool is full and the fee rate does not beat the lowest one there.
    Full {
        /// Its fee, in units.
        fee: u64,
    },
}

impl Rejected {
    /// Is the sender at fault (send `error` and close), rather than late or unlucky?
    pub fn is_violation(&self) -> bool {
        matches!(self, Rejected::Invalid(_))
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Invalid(e) => write!(f, "{e} (rule 7)"),
            Rejected::Known => write!(f, "already known"),
            Rejected::Conflict {
                input,
                outpoint,
                with,
            } => write!(
                f,
                "input {input} spends {outpoint}, which mempool transaction {}… spends already",
                with.short()
            ),
            Rejected::NotSpendable(e) => write!(f, "{e}"),
            Rejected::Full { fee } => write!(
                f,
                "the mempool is full (at most {MAX_MEMPOOL_TXS} transactions, {MAX_MEMPOOL_BYTES} bytes), and a fee of {fee} does not beat the lowest fee rates there"
            ),
        }
    }
}

/// The transactions waiting for a block.
#[derive(Clone, Debug, Default)]
pub struct Mempool {
    entries: HashMap<Hash, Entry>,
    /// Which pool transaction spends each output: how conflicts are found.
    spenders: HashMap<OutPoint, Hash>,
    /// The size estimates of the entries, summed.
    bytes: usize,
    next_seq: u64,
    /// Transactions that left without being mined, oldest first (at most [`MAX_DROPPED`]).
    dropped: std::collections::VecDeque<Dropped>,
}

impl Mempool {
    /// How many transactions wait.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Is nothing waiting?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The waiting transactions' size, in bytes (see [`Transaction::size_estimate`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The waiting transaction `txid`.
    pub fn get(&self, txid: &Hash) -> Option<&Entry> {
        self.entries.get(txid)
    }

    /// The pool transaction that spends `outpoint`, if any.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Hash> {
        self.spenders.get(outpoint).copied()
    }

    /// Every entry, in arrival order.
    pub fn entries(&self) -> Vec<&Entry> {
        let mut all: Vec<&Entry> = self.entries.values().collect();
        all.sort_by_key(|e| e.seq);
        all
    }

    /// Takes `tx` in if it is valid against `utxo` for a block at `next_height` and does not
    /// conflict with the pool; returns its fee. Its signatures were checked already (that is
    /// what [`VerifiedTx`] says), outside the chain lock; only look-ups happen here.
    pub fn accept(
        &mut self,
        tx: VerifiedTx,
        utxo: &UtxoSet,
        next_height: u64,
    ) -> Result<u64, Rejected> {
        let tx = tx.into_inner();
        let fee = self.precheck(&tx, utxo, next_height)?;
        for evicted in self.make_room(&tx, fee)? {
            let reason = format!(
                "pushed out of a full mempool by tx {}…, which pays a higher fee rate",
                tx.txid.short()
            );
            self.drop_entry(&evicted, reason);
        }
        self.bytes += tx.size_estimate();
        let entry = Entry {
            tx,
            fee,
            seq: self.next_seq,
            arrived: std::time::Instant::now(),
        };
        self.next_seq += 1;
        for input in &entry.tx.inputs {
            self.spenders.insert(input.outpoint(), entry.tx.txid);
        }
        self.entries.insert(entry.tx.txid, entry);
        Ok(fee)
    }

    /// What `tx` (paying `fee`) would push out to fit: nothing if there is room for it in
    /// count and in bytes; otherwise the lowest fee rates there (the newest among equals), as
    /// many as it takes, if `tx` pays a strictly higher rate than each of them. If not, the
    /// pool is too full for it.
    fn make_room(&self, tx: &Transaction, fee: u64) -> Result<Vec<Hash>, Rejected> {
        let size = tx.size_estimate();
        let fits = |count: usize, bytes: usize| {
            count < MAX_MEMPOOL_TXS && bytes + size <= MAX_MEMPOOL_BYTES
        };
        if fits(self.entries.len(), self.bytes) {
            return Ok(Vec::new());
        }
        let mut lowest_first: Vec<&Entry> = self.entries.values().collect();
        lowest_first.sort_by(|a, b| a.rate_cmp(b).then(b.seq.cmp(&a.seq)));
        let (mut count, mut bytes) = (self.entries.len(), self.bytes);
        let mut evicted = Vec::new();
        for low in lowest_first {
            if !rate_cmp(fee, tx.in_outs(), low.fee, low.tx.in_outs()).is_gt() {
                break;
            }
            evicted.push(low.tx.txid);
            count -= 1;
            bytes -= low.tx.size_estimate();
            if fits(count, bytes) {
                return Ok(evicted);
            }
        }
        Err(Rejected::Full { fee })
    }

    /// Everything [`accept`](Self::accept) checks except the signatures, which it assumes:
    /// known, conflicting, spendable against `utxo`, and room in a full pool for its fee rate.
    /// Returns the fee. A node runs this before checking a peer's signatures, so a transaction
    /// it would ignore anyway costs it a few look-ups, not a signature check (Bitcoin Core
    /// looks up inputs, and compares fee rates, first too).
    pub fn precheck(
        &self,
        tx: &Transaction,
        utxo: &UtxoSet,
        next_height: u64,
    ) -> Result<u64, Rejected> {
        if self.entries.contains_key(&tx.txid) || utxo.tx_place(&tx.txid).is_some() {
            return Err(Rejected::Known);
        }
        for (input, i) in tx.inputs.iter().enumerate() {
            if let Some(with) = self.spender(&i.outpoint()) {
                return Err(Rejected::Conflict {
                    input,
                    outpoint: i.outpoint(),
                    with,
                });
            }
        }
        let fee = UtxoView::new(utxo)
            .spend(tx, next_height, &mut Vec::new())
            .map_err(|e| match e {
                TxError::UnknownOutput { .. }
                | TxError::AlreadySpent { .. }
                | TxError::Immature { .. } => Rejected::NotSpendable(e),
                e => Rejected::Invalid(e),
            })?;
        self.make_room(tx, fee)?;
        Ok(fee)
    }

    fn remove(&mut self, txid: &Hash) -> Option<Entry> {
        let entry = self.entries.remove(txid)?;
        self.bytes -= entry.tx.size_estimate();
        for input in &entry.tx.inputs {
            self.spenders.remove(&input.outpoint());
        }
        Some(entry)
    }

    /// Removes `txid` as a transaction that will not be mined, and records why.
    fn drop_entry(&mut self, txid: &Hash, reason: String) {
        if let Some(entry) = self.remove(txid) {
            let payer_key = entry
                .tx
                .inputs
                .first()
                .map(|i| i.public_key.clone())
                .unwrap_or_default();
            self.record_drop(Dropped {
                txid: *txid,
                payer_key,
                reason,
            });
        }
    }

    fn record_drop(&mut self, dropped: Dropped) {
        if self.dropped.len() >= MAX_DROPPED {
            self.dropped.pop_front();
        }
        self.dropped.push_back(dropped);
    }

    /// The transactions that left without being mined since the last call, oldest first.
    pub fn take_dropped(&mut self) -> Vec<Dropped> {
        self.dropped.drain(..).collect()
    }

    /// `block` joined the chain: take out what it confirmed, and what spends an output it
    /// spent (those can never be mined now).
    pub fn block_connected(&mut self, block: &Block) {
        for tx in block.transactions.iter().skip(1) {
            self.remove(&tx.txid);
            for input in &tx.inputs {
                if let Some(loser) = self.spender(&input.outpoint()) {
                    let reason = format!(
                        "tx {}… in block {} spent {} first",
                        tx.txid.short(),
                        block.height,
                        input.outpoint()
                    );
                    self.drop_entry(&loser, reason);
                }
            }
        }
    }

    /// The chain was reorganized: `disconnected` holds the transactions of the blocks taken
    /// off, in chain order. Everything is offered again against the new `utxo` (those first,
    /// since they were seen first, then the pool in arrival order); whatever the new chain
    /// confirmed, spent or lost drops out.
    pub fn reorganized(
        &mut self,
        disconnected: Vec<Transaction>,
        utxo: &UtxoSet,
        next_height: u64,
    ) {
        let waiting: Vec<Transaction> = self.entries().into_iter().map(|e| e.tx.clone()).collect();
        let was_waiting: std::collections::HashSet<Hash> = waiting.iter().map(|t| t.txid).collect();
        // Everything is offered again, so arrival numbers can start over; the drop record stays.
        let dropped = std::mem::take(&mut self.dropped);
        *self = Mempool {
            dropped,
            ..Mempool::default()
        };
        for tx in [disconnected, waiting].into_iter().flatten() {
            if tx.is_coinbase() {
                continue;
            }
            let (txid, payer_key) = (tx.txid, tx.inputs[0].public_key.clone());
            // Every one of these was verified before, in its block or on its way in.
            match self.accept(VerifiedTx::already_checked(tx), utxo, next_height) {
                // Mined on the new chain too, or a copy came back from a disconnected block.
                Ok(_) | Err(Rejected::Known) => {}
                Err(e) => {
                    let reason = if was_waiting.contains(&txid) {
                        format!("after a reorganization: {e}")
                    } else {
                        format!("its block was taken off in a reorganization, and now: {e}")
                    };
                    self.record_drop(Dropped {
                        txid,
                        payer_key,
                        reason,
                    });
                }
            }
        }
    }

    /// What to mine: the highest fee rates first (earlier arrival breaks ties), as many as fit
    /// in `max_txs` transactions and `max_in_outs` inputs plus outputs.
    pub fn select(&self, max_txs: usize, max_in_outs: usize) -> Vec<&Entry> {
        let mut by_rate: Vec<&Entry> = self.entries.values().collect();
        by_rate.sort_by(|a, b| b.rate_cmp(a).then(a.seq.cmp(&b.seq)));
        let mut chosen = Vec::new();
        let mut room = max_in_outs;
        for entry in by_rate {
            if chosen.len() == max_txs {
                break;
            }
            if entry.tx.in_outs() <= room {
                room -= entry.tx.in_outs();
                chosen.push(entry);
            }
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{key_address, Address, Output};
    use crate::utxo::Coin;

    /// Any 66 hex digits hash to an address; the mempool's own checks never parse the point
    /// (signatures were checked before, which is what `VerifiedTx` stands for).
    const KEY: &str = "021111111111111111111111111111111111111111111111111111111111111111";

    fn owner() -> Address {
        key_address(KEY).unwrap()
    }

    fn at(index: u32) -> OutPoint {
        OutPoint {
            txid: Hash([7; 32]),
            index,
        }
    }

    /// A set of `n` confirmed coins of 1 000 units each.
    fn coins(n: u32) -> UtxoSet {
        let coin = Coin {
            address: owner(),
            amount: 1_000,
            height: 1,
            coinbase: false,
        };
        UtxoSet::from_coins((0..n).map(|i| (at(i), coin)))
    }

    /// Spends the coins at `spend`, paying `outputs`.
    fn tx(spend: &[u32], outputs: &[u64]) -> VerifiedTx {
        let spends: Vec<OutPoint> = spend.iter().map(|&i| at(i)).collect();
        let outputs = outputs
            .iter()
            .map(|&amount| Output {
                address: owner(),
                amount,
            })
            .collect();
        let mut tx = Transaction::new(&spends, outputs);
        for input in &mut tx.inputs {
            input.public_key = KEY.to_string();
        }
        VerifiedTx::already_checked(tx)
    }

    /// Fee rate is fee per input and output; mining takes the best first, earlier arrival
    /// breaking ties, within the limits on count and on inputs plus outputs.
    #[test]
    fn fee_rate_orders_what_is_mined() {
        let utxo = coins(5);
        let mut pool = Mempool::default();
        assert!(pool.is_empty());
        let rate_50 = tx(&[0], &[900]); // fee 100 over 2
        let rate_120 = tx(&[1], &[100, 100, 100, 100]); // fee 600 over 5
        let rate_5 = tx(&[2], &[990]); // fee 10 over 2
        let rate_50_later = tx(&[3], &[900]);
        let ids: Vec<Hash> = [&rate_50, &rate_120, &rate_5, &rate_50_later]
            .iter()
            .map(|t| t.tx().txid)
            .collect();
        for t in [rate_50, rate_120, rate_5, rate_50_later] {
            pool.accept(t, &utxo, 2).unwrap();
        }
        assert_eq!((pool.len(), pool.is_empty()), (4, false));
        let arrival: Vec<Hash> = pool.entries().iter().map(|e| e.tx.txid).collect();
        assert_eq!(arrival, ids);
        let seqs: Vec<u64> = pool.entries().iter().map(|e| e.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

        let picked = |max_txs, max_in_outs| -> Vec<Hash> {
            let chosen = pool.select(max_txs, max_in_outs);
            chosen.iter().map(|e| e.tx.txid).collect()
        };
        assert_eq!(picked(10, 100), [ids[1], ids[0], ids[3], ids[2]]);
        assert_eq!(picked(2, 100), [ids[1], ids[0]]);
        assert_eq!(picked(10, 7), [ids[1], ids[0]], "5 + 2 fill the room");
        assert_eq!(picked(10, 4), [ids[0], ids[3]], "the widest does not fit");

        // Close rates: 1 over 2 (0.5) against 2 over 3 (0.67). Only a true cross-multiplication
        // tells them apart (adding instead would call them equal). Compared as entries, not
        // through `accept`, so a minimum fee rate (exercise 19) does not stand in the way.
        let entry = |t: VerifiedTx, fee| Entry {
            tx: t.into_inner(),
            fee,
            seq: 0,
            arrived: std::time::Instant::now(),
        };
        let low = entry(tx(&[0], &[999]), 1);
        let high = entry(tx(&[1], &[499, 499]), 2);
        assert_eq!(low.rate_cmp(&high), Ordering::Less);
        assert_eq!(high.rate_cmp(&low), Ordering::Greater);
        assert_eq!(low.rate_cmp(&low), Ordering::Equal);

        let rival = tx(&[0], &[500]);
        let refused = pool.accept(rival, &utxo, 2).unwrap_err();
        assert!(refused.to_string().contains("which mempool transaction"));
        assert!(!refused.is_violation());
    }

    /// A full pool takes a newcomer only if it pays a higher fee rate than the lowest there,
    /// and then evicts that one (the newest, among equals).
    #[test]
    fn a_full_pool_evicts_the_lowest_fee_rate() {
        let n = MAX_MEMPOOL_TXS as u32;
        let utxo = coins(n + 2);
        let mut pool = Mempool::default();
        let mut first_low = None;
        let mut last_low = None;
        for i in 0..n {
            let t = tx(&[i], &[990]);
            if i == 0 {
                first_low = Some(t.tx().txid);
            }
            last_low = Some(t.tx().txid);
            pool.accept(t, &utxo, 2).unwrap();
        }
        assert_eq!(pool.len(), MAX_MEMPOOL_TXS);
        let same_rate = tx(&[n], &[990]);
        // Refused before its signatures would be checked: `precheck` knows the pool is full.
        assert_eq!(
            pool.precheck(same_rate.tx(), &utxo, 2),
            Err(Rejected::Full { fee: 10 })
        );
        assert_eq!(
            pool.accept(same_rate, &utxo, 2),
            Err(Rejected::Full { fee: 10 })
        );
        let better = tx(&[n + 1], &[980]);
        let better_id = better.tx().txid;
        assert_eq!(pool.accept(better, &utxo, 2), Ok(20));
        assert_eq!(pool.len(), MAX_MEMPOOL_TXS);
        assert!(pool.get(&better_id).is_some());
        assert!(
            pool.get(&last_low.unwrap()).is_none(),
            "the newest lowest went"
        );
        assert!(pool.get(&first_low.unwrap()).is_some());
        let dropped = pool.take_dropped();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].txid, last_low.unwrap());
        assert_eq!(
            dropped[0].reason,
            format!(
                "pushed out of a full mempool by tx {}…, which pays a higher fee rate",
                better_id.short()
            )
        );
        assert!(pool.take_dropped().is_empty(), "taken once");
        assert!(
            pool.spender(&at(n - 1)).is_none(),
            "its input is free again"
        );
    }

    /// The pool is bounded in bytes as well as in count: wide transactions fill it long before
    /// 5 000 of them, a newcomer at the same fee rate is refused before its signatures, and one
    /// paying more pushes out the lowest (the newest among equals), so the bytes stay under
    /// the cap.
    #[test]
    fn a_pool_full_of_bytes_evicts_the_lowest_fee_rate() {
        let wide = |first: u32, fee: u64| {
            let spend: Vec<u32> = (first..first + 100).collect();
            tx(&spend, &[100 * 1_000 - fee])
        };
        let size = wide(0, 1).tx().size_estimate();
        let fit = (MAX_MEMPOOL_BYTES / size) as u32;
        assert!(fit < MAX_MEMPOOL_TXS as u32 / 4, "{fit} wide ones fit");
        let utxo = coins((fit + 2) * 100);
        let mut pool = Mempool::default();
        let mut last_low = None;
        for i in 0..fit {
            let t = wide(i * 100, 1_000);
            last_low = Some(t.tx().txid);
            pool.accept(t, &utxo, 2).unwrap();
        }
        assert_eq!(pool.len(), fit as usize);
        assert!(pool.bytes() <= MAX_MEMPOOL_BYTES);
        let same_rate = wide(fit * 100, 1_000);
        assert_eq!(
            pool.precheck(same_rate.tx(), &utxo, 2),
            Err(Rejected::Full { fee: 1_000 })
        );
        let better = wide(fit * 100, 2_000);
        let better_id = better.tx().txid;
        assert_eq!(pool.accept(better, &utxo, 2), Ok(2_000));
        assert_eq!(pool.len(), fit as usize);
        assert!(pool.bytes() <= MAX_MEMPOOL_BYTES);
        assert!(pool.get(&better_id).is_some());
        assert!(
            pool.get(&last_low.unwrap()).is_none(),
            "the newest lowest went"
        );
    }

    /// A block that spends a waiting transaction's coin first drops it, and says which
    /// transaction of which block did; the block's own transactions just leave, confirmed.
    #[test]
    fn a_block_spending_a_coin_first_drops_the_waiting_one() {
        let utxo = coins(3);
        let mut pool = Mempool::default();
        let waiting = tx(&[0, 1], &[1_900]);
        let waiting_id = waiting.tx().txid;
        let confirmed = tx(&[2], &[990]);
        let confirmed_id = confirmed.tx().txid;
        pool.accept(waiting, &utxo, 2).unwrap();
        pool.accept(confirmed, &utxo, 2).unwrap();
        let rival = tx(&[1], &[900]).into_inner();
        let mined = pool.get(&confirmed_id).unwrap().tx.clone();
        let block = Block::new(
            2,
            0,
            Hash([0; 32]),
            1,
            0,
            vec![],
            vec![rival.clone(), rival.clone(), mined],
        );
        pool.block_connected(&block);
        assert!(pool.is_empty());
        let dropped = pool.take_dropped();
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        assert_eq!(dropped[0].txid, waiting_id);
        assert_eq!(dropped[0].payer_key, KEY);
        assert_eq!(
            dropped[0].reason,
            format!(
                "tx {}… in block 2 spent {} first",
                rival.txid.short(),
                at(1)
            )
        );
    }
}
