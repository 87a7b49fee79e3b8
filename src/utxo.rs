//! The UTXO set: every unspent output of the active chain, and the undo records that let a
//! reorganization step back without replaying from genesis.
//!
//! Who owns what is not stored anywhere as a balance. It follows from the chain: an output is
//! money until an input spends it. The node keeps the outputs nobody has spent yet, each as a
//! [`Coin`] (amount, owner, the height that created it, and whether a coinbase did), keyed by
//! its [`OutPoint`]. Checking an input is then one look-up.
//!
//! Connecting a block spends its inputs' coins and adds its outputs. The coins it spent are
//! gone from the set, so the block's [`Undo`] record keeps them: disconnecting the block adds
//! them back and removes its outputs. Bitcoin Core keeps the same pair, the chainstate and
//! the `rev*.dat` undo files.
//!
//! Every change goes through a [`UtxoView`], a layer of changes over the set (Bitcoin Core's
//! `CCoinsViewCache`). A reorganization disconnects our blocks and connects the branch in a
//! view; only if every block passes does the view's change set reach the real set. A branch
//! that fails midway is dropped with its view, and the set is exactly as it was.
//!
//! See `tutorial/18-utxo-set.md`.

use crate::block::Block;
use crate::consensus::ChainError;
use crate::hash::Hash;
use crate::params::Params;
use crate::transaction::{key_address, Address, OutPoint, Transaction, TxError};
use std::collections::{BinaryHeap, HashMap};

/// A coinbase output may be spent only in a block at least this many blocks higher: a reward
/// can vanish in a reorganization, so it should not be passed on at once. (Bitcoin waits 100.)
pub const COINBASE_MATURITY: u64 = 10;

/// An unspent output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coin {
    /// Who may spend it.
    pub address: Address,
    /// How much, in base units.
    pub amount: u64,
    /// Height of the block that created it.
    pub height: u64,
    /// Created by a coinbase (so it must mature).
    pub coinbase: bool,
}

impl Coin {
    /// The lowest height of a block that may spend it.
    pub fn spendable_from(&self) -> u64 {
        if self.coinbase {
            self.height.saturating_add(COINBASE_MATURITY)
        } else {
            self.height
        }
    }
}

/// Where a transaction of the active chain is: its block's height and how many outputs it
/// made. Lets a reason say "already spent" rather than "does not exist", and lets the wallet
/// find a transaction by txid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxPlace {
    /// Height of the block holding it.
    pub height: u64,
    /// How many outputs it has.
    pub outputs: u32,
}

/// The coins a block spent, in the order its inputs spent them: what disconnecting it needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Undo {
    /// Each spent output with the coin it was.
    pub spent: Vec<(OutPoint, Coin)>,
}

/// The unspent outputs of the active chain, and where each of its transactions is.
#[derive(Clone, Debug, Default)]
pub struct UtxoSet {
    coins: HashMap<OutPoint, Coin>,
    txs: HashMap<Hash, TxPlace>,
}

impl UtxoSet {
    /// The coin at `outpoint`, if it is unspent.
    pub fn coin(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.coins.get(outpoint)
    }

    /// Where the transaction `txid` is on the active chain.
    pub fn tx_place(&self, txid: &Hash) -> Option<TxPlace> {
        self.txs.get(txid).copied()
    }

    /// How many unspent outputs there are.
    pub fn len(&self) -> usize {
        self.coins.len()
    }

    /// Is the set empty (only genesis, which creates no coins)?
    pub fn is_empty(&self) -> bool {
        self.coins.is_empty()
    }

    /// The unspent outputs of `address`, oldest first. A scan of the whole set: fine for a
    /// classroom; a production wallet keeps an index of its own outputs.
    pub fn coins_of(&self, address: &Address) -> Vec<(OutPoint, Coin)> {
        let mut mine: Vec<(OutPoint, Coin)> = self
            .coins
            .iter()
            .filter(|(_, c)| c.address == *address)
            .map(|(o, c)| (*o, *c))
            .collect();
        mine.sort_by_key(|(o, c)| (c.height, *o));
        mine
    }

    /// The unspent outputs of `address`, in no order, without copying them: for sums such as
    /// a balance, which need no list.
    pub fn each_coin_of<'a>(
        &'a self,
        address: &'a Address,
    ) -> impl Iterator<Item = (&'a OutPoint, &'a Coin)> + 'a {
        self.coins
            .iter()
            .filter(move |(_, c)| c.address == *address)
    }

    /// One page of [`coins_of`](Self::coins_of): the first `limit` coins of `address` that
    /// come after `after` (a coin's `(height, outpoint)`, the last one of the previous page) in
    /// that order, and how many coins the address has in all. Memory stays within `limit`
    /// coins however many the address holds (a heap keeps the best `limit` seen), so an
    /// address with half a million coins costs a page, not 90 MB. The scan still visits the
    /// whole set, under the chain lock: tens of milliseconds for a million coins.
    pub fn coins_page(
        &self,
        address: &Address,
        after: Option<(u64, OutPoint)>,
        limit: usize,
    ) -> (Vec<(OutPoint, Coin)>, usize) {
        let mut total = 0;
        // A max-heap of the `limit` smallest keys seen: the largest is the first to go.
        let mut best: BinaryHeap<(u64, OutPoint)> = BinaryHeap::with_capacity(limit + 1);
        for (outpoint, coin) in &self.coins {
            if coin.address != *address {
                continue;
            }
            total += 1;
            let key = (coin.height, *outpoint);
            if after.is_some_and(|after| key <= after) || limit == 0 {
                continue;
            }
            best.push(key);
            if best.len() > limit {
                best.pop();
            }
        }
        let page = best.into_sorted_vec().into_iter();
        let coins = page.filter_map(|(_, o)| Some((o, *self.coins.get(&o)?)));
        (coins.collect(), total)
    }

    /// Applies what a view changed.
    pub fn apply(&mut self, changes: UtxoChanges) {
        for (outpoint, coin) in changes.coins {
            match coin {
                Some(coin) => self.coins.insert(outpoint, coin),
                None => self.coins.remove(&outpoint),
            };
        }
        for (txid, place) in changes.txs {
            match place {
                Some(place) => self.txs.insert(txid, place),
                None => self.txs.remove(&txid),
            };
        }
    }
}

/// What a [`UtxoView`] changed: `Some` adds or replaces, `None` removes.
#[derive(Debug, Default)]
pub struct UtxoChanges {
    coins: HashMap<OutPoint, Option<Coin>>,
    txs: HashMap<Hash, Option<TxPlace>>,
}

/// A layer of changes over a [`UtxoSet`]: reads fall through to the set, writes stay in the
/// layer until [`into_changes`](Self::into_changes) hands them over.
pub struct UtxoView<'a> {
    base: &'a UtxoSet,
    changes: UtxoChanges,
}

impl<'a> UtxoView<'a> {
    /// An empty layer over `base`.
    pub fn new(base: &'a UtxoSet) -> Self {
        UtxoView {
            base,
            changes: UtxoChanges::default(),
        }
    }

    /// The coin at `outpoint`, as of this view.
    pub fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        match self.changes.coins.get(outpoint) {
            Some(changed) => *changed,
            None => self.base.coins.get(outpoint).copied(),
        }
    }

    fn tx_place(&self, txid: &Hash) -> Option<TxPlace> {
        match self.changes.txs.get(txid) {
            Some(changed) => *changed,
            None => self.base.txs.get(txid).copied(),
        }
    }

    /// The changes, for [`UtxoSet::apply`].
    pub fn into_changes(self) -> UtxoChanges {
        self.changes
    }

    /// Checks that `tx` (not a coinbase) may spend its inputs in a block at `height`, and
    /// spends them in this view: each input's coin exists unspent, is mature, and belongs to
    /// the input's key; the inputs cover the outputs. Returns the fee. The spent coins are
    /// pushed onto `undo`. Signatures are not checked here: they were, outside the lock.
    pub fn spend(
        &mut self,
        tx: &Transaction,
        height: u64,
        undo: &mut Vec<(OutPoint, Coin)>,
    ) -> Result<u64, TxError> {
        let mut total = 0u64;
        for (i, input) in tx.inputs.iter().enumerate() {
            let outpoint = input.outpoint();
            let Some(coin) = self.coin(&outpoint) else {
                let existed = self
                    .tx_place(&outpoint.txid)
                    .is_some_and(|p| outpoint.index < p.outputs);
                return Err(if existed {
                    TxError::AlreadySpent { input: i, outpoint }
                } else {
                    TxError::UnknownOutput { input: i, outpoint }
                });
            };
            if height < coin.spendable_from() {
                return Err(TxError::Immature {
                    input: i,
                    outpoint,
                    created: coin.height,
                    spendable: coin.spendable_from(),
                    height,
                });
            }
            let key_address = key_address(&input.public_key).ok_or_else(|| {
                let error = crate::crypto::CryptoError::BadHex {
                    what: "a public key is 66 lowercase hex digits",
                    reason: format!("got {} characters", input.public_key.len()),
                };
                TxError::BadPublicKey { input: i, error }
            })?;
            if key_address != coin.address {
                return Err(TxError::WrongOwner {
                    input: i,
                    outpoint,
                    key_address,
                    owner: coin.address,
                });
            }
            total = total
                .checked_add(coin.amount)
                .ok_or(TxError::InputsOverflow)?;
            self.changes.coins.insert(outpoint, None);
            undo.push((outpoint, coin));
        }
        let outputs = tx.output_total().ok_or(TxError::OutputsOverflow)?;
        if outputs > total {
            return Err(TxError::Overspends {
                inputs: total,
                outputs,
            });
        }
        Ok(total - outputs)
    }

    /// Adds `tx`'s outputs as coins created at `height`.
    fn add_outputs(&mut self, tx: &Transaction, height: u64, coinbase: bool) {
        for (index, output) in tx.outputs.iter().enumerate() {
            let outpoint = OutPoint {
                txid: tx.txid,
                index: index as u32,
            };
            let coin = Coin {
                address: output.address,
                amount: output.amount,
                height,
                coinbase,
            };
            self.changes.coins.insert(outpoint, Some(coin));
        }
        let place = TxPlace {
            height,
            outputs: tx.outputs.len() as u32,
        };
        self.changes.txs.insert(tx.txid, Some(place));
    }

    /// Rule 7's spending half, for `block` on top of this view: every input of every
    /// transaction after the coinbase spends a coin of this chain (or of an earlier transaction
    /// of this block), and the coinbase pays at most the subsidy plus the block's fees. Spends
    /// and adds in the view, and returns the block's undo record. On error the view is
    /// half-changed: drop it.
    ///
    /// The rest of rule 7 (shapes, limits, txids, signatures) needs no coins and is checked
    /// before, outside the chain lock: see [`crate::consensus::check_transactions`].
    pub fn connect(&mut self, block: &Block, params: &Params) -> Result<Undo, ChainError> {
        let height = block.height;
        let mut undo = Vec::new();
        let mut fees = 0u64;
        let coinbase_txid = block.transactions.first().map(|c| c.txid);
        for tx in block.transactions.iter().skip(1) {
            let fee = self
                .spend(tx, height, &mut undo)
                .map_err(|error| match error {
                    // The block's own coinbase is not in the view yet (its outputs go in last,
                    // once the fees are known), and it could not be spent anyway: say so.
                    TxError::UnknownOutput { input, outpoint }
                        if Some(outpoint.txid) == coinbase_txid =>
                    {
                        TxError::Immature {
                            input,
                            outpoint,
                            created: height,
                            spendable: height.saturating_add(COINBASE_MATURITY),
                            height,
                        }
                    }
                    error => error,
                })
                .map_err(|error| ChainError::Transaction {
                    height,
                    txid: tx.txid,
                    error: Box::new(error),
                })?;
            fees = fees
                .checked_add(fee)
                .ok_or(ChainError::FeesOverflow { height })?;
            self.add_outputs(tx, height, false);
        }
        if let Some(coinbase) = block.transactions.first() {
            let subsidy = params.subsidy(height);
            let allowed = subsidy
                .checked_add(fees)
                .ok_or(ChainError::FeesOverflow { height })?;
            let paid = coinbase.output_total().unwrap_or(u64::MAX);
            if paid > allowed {
                return Err(ChainError::CoinbaseOverpays {
                    height,
                    paid,
                    subsidy,
                    fees,
                });
            }
            self.add_outputs(coinbase, height, true);
        }
        Ok(Undo { spent: undo })
    }

    /// Takes `block` (the tip of this view) back off: removes its outputs and gives back the
    /// coins it spent, last transaction first, so an output both made and spent inside the
    /// block ends up gone.
    pub fn disconnect(&mut self, block: &Block, undo: &Undo) {
        let mut spent = undo.spent.as_slice();
        for (i, tx) in block.transactions.iter().enumerate().rev() {
            for index in 0..tx.outputs.len() as u32 {
                let outpoint = OutPoint {
                    txid: tx.txid,
                    index,
                };
                self.changes.coins.insert(outpoint, None);
            }
            self.changes.txs.insert(tx.txid, None);
            if i == 0 {
                break;
            }
            let (rest, this) = spent.split_at(spent.len().saturating_sub(tx.inputs.len()));
            for (outpoint, coin) in this {
                self.changes.coins.insert(*outpoint, Some(*coin));
            }
            spent = rest;
        }
    }
}

#[cfg(test)]
impl UtxoSet {
    /// A set holding just `coins`, for unit tests of what reads the set.
    pub(crate) fn from_coins(coins: impl IntoIterator<Item = (OutPoint, Coin)>) -> UtxoSet {
        UtxoSet {
            coins: coins.into_iter().collect(),
            txs: HashMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The set counts its coins.
    #[test]
    fn counts_coins() {
        assert!(UtxoSet::default().is_empty());
        let coin = Coin {
            address: Address([1; 20]),
            amount: 5,
            height: 3,
            coinbase: true,
        };
        let at = |index| OutPoint {
            txid: Hash([2; 32]),
            index,
        };
        let set = UtxoSet::from_coins([(at(0), coin), (at(1), coin)]);
        assert_eq!((set.len(), set.is_empty()), (2, false));
        assert_eq!(coin.spendable_from(), 13);
    }

    /// Pages of an address's coins, one after another, give exactly `coins_of` in its order,
    /// with the total on every page; other addresses' coins never show.
    #[test]
    fn pages_walk_the_coins_in_order() {
        let mine = Address([1; 20]);
        let coin = |height, address| Coin {
            address,
            amount: 5,
            height,
            coinbase: false,
        };
        let coins = (0..50u32).map(|i| {
            let outpoint = OutPoint {
                txid: Hash([(i * 7 % 13) as u8; 32]),
                index: i,
            };
            let owner = if i % 5 == 0 { Address([9; 20]) } else { mine };
            (outpoint, coin(u64::from(i % 4), owner))
        });
        let set = UtxoSet::from_coins(coins);
        let all = set.coins_of(&mine);
        assert_eq!(all.len(), 40);
        let mut walked = Vec::new();
        let mut after = None;
        loop {
            let (page, total) = set.coins_page(&mine, after, 7);
            assert_eq!(total, 40);
            let Some((o, c)) = page.last() else { break };
            after = Some((c.height, *o));
            walked.extend(page);
        }
        assert_eq!(walked, all);
        assert_eq!(set.coins_page(&mine, None, 0), (vec![], 40));
    }
}
