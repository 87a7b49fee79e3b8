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
//! [`MAX_MEMPOOL_TXS`]; when it is full, a new transaction must pay a higher fee rate than the
//! lowest one there, which it then evicts.
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

/// A transaction in the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The transaction.
    pub tx: Transaction,
    /// Inputs minus outputs, in base units.
    pub fee: u64,
    /// Arrival order: lower came first.
    pub seq: u64,
}

impl Entry {
    /// Compares fee rates, fee / (inputs + outputs), without dividing: cross-multiply.
    fn rate_cmp(&self, other: &Entry) -> Ordering {
        let mine = u128::from(self.fee) * other.tx.in_outs() as u128;
        let theirs = u128::from(other.fee) * self.tx.in_outs() as u128;
        mine.cmp(&theirs)
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
        input: usize,
        outpoint: OutPoint,
        with: Hash,
    },
    /// It spends an output that is unknown, spent or immature on our chain. Normal in races
    /// and reorganizations: it may be fine on another chain, or later.
    NotSpendable(TxError),
    /// The pool is full and the fee rate does not beat the lowest one there.
    Full { fee: u64 },
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
                "the mempool holds {MAX_MEMPOOL_TXS} transactions, and a fee of {fee} does not beat the lowest fee rate there"
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
    next_seq: u64,
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
        let entry = Entry {
            tx,
            fee,
            seq: self.next_seq,
        };
        if self.entries.len() >= MAX_MEMPOOL_TXS {
            let lowest = self
                .entries
                .values()
                .min_by(|a, b| a.rate_cmp(b).then(b.seq.cmp(&a.seq)))
                .map(|e| (e.tx.txid, entry.rate_cmp(e)));
            match lowest {
                Some((txid, Ordering::Greater)) => {
                    self.remove(&txid);
                }
                _ => return Err(Rejected::Full { fee }),
            }
        }
        self.next_seq += 1;
        for input in &entry.tx.inputs {
            self.spenders.insert(input.outpoint(), entry.tx.txid);
        }
        self.entries.insert(entry.tx.txid, entry);
        Ok(fee)
    }

    /// Everything [`accept`](Self::accept) checks except the signatures, which it assumes:
    /// known, conflicting, and spendable against `utxo`. Returns the fee. A node runs this
    /// before checking a peer's signatures, so a transaction it would ignore anyway costs it a
    /// few look-ups, not a signature check (Bitcoin Core looks up inputs first too).
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
        UtxoView::new(utxo)
            .spend(tx, next_height, &mut Vec::new())
            .map_err(|e| match e {
                TxError::UnknownOutput { .. }
                | TxError::AlreadySpent { .. }
                | TxError::Immature { .. } => Rejected::NotSpendable(e),
                e => Rejected::Invalid(e),
            })
    }

    fn remove(&mut self, txid: &Hash) -> Option<Entry> {
        let entry = self.entries.remove(txid)?;
        for input in &entry.tx.inputs {
            self.spenders.remove(&input.outpoint());
        }
        Some(entry)
    }

    /// `block` joined the chain: take out what it confirmed, and what spends an output it
    /// spent (those can never be mined now).
    pub fn block_connected(&mut self, block: &Block) {
        for tx in block.transactions.iter().skip(1) {
            self.remove(&tx.txid);
            for input in &tx.inputs {
                if let Some(loser) = self.spender(&input.outpoint()) {
                    self.remove(&loser);
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
        let waiting = self.entries().into_iter().map(|e| e.tx.clone()).collect();
        *self = Mempool {
            next_seq: self.next_seq,
            ..Mempool::default()
        };
        for tx in [disconnected, waiting].into_iter().flatten() {
            if tx.is_coinbase() {
                continue;
            }
            // Every one of these was verified before, in its block or on its way in.
            let _ = self.accept(VerifiedTx::already_checked(tx), utxo, next_height);
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
