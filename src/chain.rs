//! The chain a node holds: its active blocks, their total work, and fork choice.
//!
//! A node keeps one active chain, genesis to tip, in a `Vec` indexed by height, plus an index
//! from hash to height. It does not keep side branches: a peer that knows a better branch sends
//! it (see [`Branch`]), and we switch only when that branch carries strictly more work
//! ([`more_work`], decided in one place, [`Blockchain::connect_branch`]). Bitcoin Core keeps
//! every valid header it has seen in a tree and can switch back and forth without asking
//! again; that costs memory and code we do not need yet.
//!
//! The node shares this value as `Arc<Mutex<Blockchain>>`. No method here does I/O or mines.
//! Most are quick look-ups and updates, fine to call under the lock. Three check signatures
//! and are not: [`append`](Blockchain::append), [`append_checked`](Blockchain::append_checked)
//! and [`evaluate_branch`](Blockchain::evaluate_branch) take a block or a branch straight in,
//! for loading from disk, tests and benchmarks, where no other thread waits. The node's own
//! paths check blocks outside the lock first and then call
//! [`append_verified`](Blockchain::append_verified) or
//! [`connect_branch`](Blockchain::connect_branch). Copy out what you need and release the lock
//! before touching a socket.
//!
//! See `tutorial/05-chain-rules.md` and `tutorial/06-forks-and-locators.md`.

use crate::block::{Block, Header};
use crate::branch::{Branch, BranchError};
use crate::consensus::{
    check_header_in_context, context_len, expected_difficulty, median_time_past, ChainError,
    ChainView, VerifiedBlock, MAX_BLOCK_IN_OUTS, MAX_BLOCK_TRANSACTIONS,
};
use crate::hash::Hash;
use crate::mempool::{Mempool, Rejected};
use crate::params::{Network, Params};
use crate::pow::work;
use crate::transaction::{Address, Output, Transaction, VerifiedTx};
use crate::utxo::{Undo, UtxoChanges, UtxoSet, UtxoView};
use std::collections::HashMap;

/// How many most recent blocks a locator lists one by one before it starts skipping.
pub const LOCATOR_DENSE: usize = 10;

/// Fork choice, the one place it is decided: a branch replaces our blocks above the fork point
/// only if it carries strictly more work than they do. On a tie we keep what we saw first, so
/// two nodes that each mined a block at the same height keep their own until one branch pulls
/// ahead. (Above our tip `ours` is 0 and every block has work, so a branch that extends the tip
/// always wins.) [`Blockchain::connect_branch`] decides with it, and [`Branch::proven`] asks
/// the same question of headers before their bodies are worth fetching.
pub fn more_work(theirs: u128, ours: u128) -> bool {
    theirs > ours
}

/// What fork choice ([`Blockchain::connect_branch`]) did with a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The branch started at our tip; its blocks were appended.
    Extended {
        /// How many blocks became part of the active chain.
        added: usize,
        /// Our new tip.
        tip: Hash,
        /// Its height.
        height: u64,
    },
    /// The branch had more work than our blocks after the fork point; we switched to it.
    Reorganized {
        /// Our tip before.
        old_tip: Hash,
        /// Our tip now.
        new_tip: Hash,
        /// How many of our blocks were taken off the active chain.
        depth: u64,
        /// How many blocks became part of the active chain.
        added: usize,
    },
    /// Every block of the branch is already on our active chain.
    Known,
    /// The branch is valid but does not have strictly more work than ours: we keep ours.
    NotMoreWork {
        /// Work of the branch above the fork point.
        branch_work: u128,
        /// Work of our blocks above the fork point.
        our_work: u128,
    },
}

/// The active chain of one network, from genesis to tip.
#[derive(Debug, Clone)]
pub struct Blockchain {
    params: &'static Params,
    /// Active chain; `blocks[h].height == h`.
    blocks: Vec<Block>,
    /// Their headers, `headers[h] == blocks[h].header()`: what the rules look at.
    headers: Vec<Header>,
    /// `cumulative_work[h]` is the work of blocks 0..=h.
    cumulative_work: Vec<u128>,
    /// Hash → height, for the active chain only.
    by_hash: HashMap<Hash, u64>,
    /// The unspent outputs of the active chain.
    utxo: UtxoSet,
    /// `undo[h]`: the coins block `h` spent, to disconnect it in a reorganization.
    undo: Vec<Undo>,
    /// Transactions waiting for a block, always valid against `utxo`.
    mempool: Mempool,
}

impl Blockchain {
    /// A chain holding only `network`'s genesis block.
    pub fn new(network: Network) -> Self {
        let genesis = network.genesis();
        let mut chain = Blockchain {
            params: network.params(),
            blocks: Vec::new(),
            headers: Vec::new(),
            cumulative_work: Vec::new(),
            by_hash: HashMap::new(),
            utxo: UtxoSet::default(),
            undo: Vec::new(),
            mempool: Mempool::default(),
        };
        // Genesis has no transactions: it creates no coins.
        chain.push(genesis, Undo::default());
        chain
    }

    /// The consensus parameters of this chain's network.
    pub fn params(&self) -> &'static Params {
        self.params
    }

    /// Which network this chain belongs to.
    pub fn network(&self) -> Network {
        self.params.network
    }

    /// The genesis block.
    pub fn genesis(&self) -> &Block {
        &self.blocks[0]
    }

    /// The highest block of the active chain.
    pub fn tip(&self) -> &Block {
        self.blocks.last().expect("a chain always holds genesis")
    }

    /// The tip's height (0 when only genesis is there).
    pub fn height(&self) -> u64 {
        self.tip().height
    }

    /// The active block at `height`, if the chain is that long.
    pub fn block(&self, height: u64) -> Option<&Block> {
        self.blocks.get(usize::try_from(height).ok()?)
    }

    /// The whole active chain, genesis first.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The total work of the active chain (sum of 2^difficulty, saturating).
    pub fn total_work(&self) -> u128 {
        *self
            .cumulative_work
            .last()
            .expect("a chain always holds genesis")
    }

    /// Is a block with this hash on the active chain?
    pub fn contains(&self, hash: &Hash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// The height of the active block with this hash.
    pub fn height_of(&self, hash: &Hash) -> Option<u64> {
        self.by_hash.get(hash).copied()
    }

    fn view(&self) -> ChainView<'_> {
        ChainView::new(&self.headers, &[])
    }

    /// Checks `header` as the next one on our tip, with no body in sight: the rules a header
    /// shows alone (its hash, the work it claims, the clock against `now`) and against our
    /// chain (its parent, the expected difficulty, the median time). Cheap: one hash.
    pub fn check_header_on_tip(&self, header: &Header, now: Option<u64>) -> Result<(), ChainError> {
        crate::consensus::check_header_alone(header, self.params, now)?;
        check_header_in_context(header, &self.view(), self.params)
    }

    /// Checks rule 7's spending half for `block` as the next block on our tip, changing
    /// nothing: every input spends a coin we have (or one made earlier in the block) and the
    /// coinbase claims no more than it may. Look-ups only, so it runs before the signatures: a
    /// block spending coins that do not exist costs no signature check.
    pub fn check_spends_on_tip(&self, block: &Block) -> Result<(), ChainError> {
        UtxoView::new(&self.utxo)
            .connect(block, self.params)
            .map(drop)
    }

    /// The difficulty the next block must have.
    pub fn next_difficulty(&self) -> u32 {
        expected_difficulty(&self.view(), self.params)
    }

    /// A block to mine on top of the tip: expected difficulty, timestamp `max(now, median + 1)`,
    /// nonce 0; a coinbase paying `payout` the subsidy plus the fees, then the mempool's best
    /// transactions by fee rate, within the block limits. Fails if `data` breaks the size
    /// rule (the chain would refuse the block anyway).
    pub fn template(
        &self,
        data: Vec<String>,
        payout: Address,
        now: u64,
    ) -> Result<Block, ChainError> {
        let tip = self.tip();
        let height = tip.height + 1;
        let timestamp = now.max(median_time_past(&self.view()) + 1);
        // The coinbase takes one input and one output of the block's room.
        let chosen = self
            .mempool
            .select(MAX_BLOCK_TRANSACTIONS - 1, MAX_BLOCK_IN_OUTS - 2);
        let fees = chosen.iter().map(|e| e.fee).fold(0u64, u64::saturating_add);
        let reward = self.params.subsidy(height).saturating_add(fees);
        let pay = Output {
            address: payout,
            amount: reward,
        };
        // Nothing to pay (no subsidy left, no fees): a coinbase without outputs.
        let outputs = if reward == 0 { vec![] } else { vec![pay] };
        let mut transactions = vec![Transaction::coinbase(height, outputs)];
        transactions.extend(chosen.into_iter().map(|e| e.tx.clone()));
        let block = Block::new(
            height,
            timestamp,
            tip.hash,
            self.next_difficulty(),
            0,
            data,
            transactions,
        );
        let p = self.params;
        if block.data.len() > p.max_data_items {
            let (height, count, max) = (block.height, block.data.len(), p.max_data_items);
            return Err(ChainError::TooManyItems { height, count, max });
        }
        if block.data_bytes() > p.max_data_bytes {
            let (height, bytes, max) = (block.height, block.data_bytes(), p.max_data_bytes);
            return Err(ChainError::TooManyBytes { height, bytes, max });
        }
        Ok(block)
    }

    /// Validates `block` as the next block on our tip (every rule, clock included) and appends
    /// it. On error the chain is unchanged.
    pub fn append(&mut self, block: Block) -> Result<(), ChainError> {
        self.append_checked(block, Some(crate::consensus::now_ms()))
    }

    /// As [`append`](Self::append), with the clock rule checked against `now` or, with `None`,
    /// skipped (for blocks loaded from our own disk, which are old by nature).
    pub fn append_checked(&mut self, block: Block, now: Option<u64>) -> Result<(), ChainError> {
        let verified = crate::consensus::verify_block(block, self.params, now)?;
        self.append_verified(verified)
    }

    /// Appends a block whose header and body were checked already, outside the chain lock
    /// (see [`VerifiedBlock`]): what is left needs our chain, its parent's header (rules 2, 5
    /// and 6) and our coins (rule 7's spending half). On error the chain is unchanged.
    pub fn append_verified(&mut self, block: VerifiedBlock) -> Result<(), ChainError> {
        let block = block.into_inner();
        check_header_in_context(&block.header(), &self.view(), self.params)?;
        let mut view = UtxoView::new(&self.utxo);
        let undo = view.connect(&block, self.params)?;
        let changes = view.into_changes();
        self.utxo.apply(changes);
        self.mempool.block_connected(&block);
        self.push(block, undo);
        Ok(())
    }

    /// Adds an already validated block, with its undo record, to the active chain.
    fn push(&mut self, block: Block, undo: Undo) {
        let before = self.cumulative_work.last().copied().unwrap_or(0);
        self.cumulative_work
            .push(before.saturating_add(work(block.difficulty)));
        self.by_hash.insert(block.hash, block.height);
        self.headers.push(block.header());
        self.blocks.push(block);
        self.undo.push(undo);
    }

    /// The unspent outputs of the active chain.
    pub fn utxo(&self) -> &UtxoSet {
        &self.utxo
    }

    /// The transactions waiting for a block.
    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// The transactions that left the mempool without being mined since the last call (see
    /// [`Mempool::take_dropped`](crate::mempool::Mempool::take_dropped)).
    pub fn take_dropped(&mut self) -> Vec<crate::mempool::Dropped> {
        self.mempool.take_dropped()
    }

    /// Offers a transaction to the mempool (its signatures were checked already, outside the
    /// lock); returns its fee.
    pub fn add_to_mempool(&mut self, tx: VerifiedTx) -> Result<u64, Rejected> {
        let next_height = self.height() + 1;
        self.mempool.accept(tx, &self.utxo, next_height)
    }

    /// Would the mempool take `tx`, signatures aside? (See [`Mempool::precheck`].)
    pub fn precheck_transaction(&self, tx: &Transaction) -> Result<u64, Rejected> {
        self.mempool.precheck(tx, &self.utxo, self.height() + 1)
    }

    /// The transaction `txid`, from the mempool (height `None`) or the active chain (the
    /// height of its block).
    pub fn transaction(&self, txid: &Hash) -> Option<(Transaction, Option<u64>)> {
        if let Some(entry) = self.mempool.get(txid) {
            return Some((entry.tx.clone(), None));
        }
        let place = self.utxo.tx_place(txid)?;
        let block = self.block(place.height)?;
        let tx = block.transactions.iter().find(|tx| tx.txid == *txid)?;
        Some((tx.clone(), Some(place.height)))
    }

    /// Block hashes from the tip back to genesis: the newest [`LOCATOR_DENSE`] one by one, then
    /// with gaps that double (2, 4, 8, ...), always ending at genesis. A peer finds the highest
    /// one it shares with us in a few dozen hashes however long the chains are; this is
    /// Bitcoin's block locator.
    pub fn locator(&self) -> Vec<Hash> {
        let mut hashes = Vec::new();
        let mut height = self.height();
        let mut step = 1;
        loop {
            hashes.push(self.blocks[height as usize].hash);
            if height == 0 {
                return hashes;
            }
            if hashes.len() >= LOCATOR_DENSE {
                step *= 2;
            }
            height = height.saturating_sub(step);
        }
    }

    /// The active blocks after the highest `locator` hash we have (after genesis when none
    /// matches), at most `limit` of them, ascending.
    pub fn blocks_after(&self, locator: &[Hash], limit: usize) -> &[Block] {
        &self.blocks[self.range_after(locator, limit)]
    }

    /// The heights after the highest `locator` hash we have, at most `limit` of them.
    fn range_after(&self, locator: &[Hash], limit: usize) -> std::ops::Range<usize> {
        let fork = locator
            .iter()
            .filter_map(|h| self.height_of(h))
            .max()
            .unwrap_or(0);
        let start = fork as usize + 1;
        let end = start.saturating_add(limit).min(self.blocks.len());
        start.min(end)..end
    }

    /// Considers a branch handed over whole: blocks in ascending order whose first new block's
    /// parent is on our active chain. Leading blocks we already have are skipped.
    ///
    /// This is the node's own path, in one call: the blocks go into a [`Branch`] (every rule,
    /// block by block, against the branch's own history) and then through
    /// [`connect_branch`](Self::connect_branch), the one place fork choice is decided. Tests
    /// and benchmarks use it to hand a chain a branch without a network. One invalid block
    /// refuses the whole branch and leaves the chain as it was.
    pub fn evaluate_branch(&mut self, blocks: &[Block]) -> Result<Outcome, ChainError> {
        let headers: Vec<Header> = blocks.iter().map(Block::header).collect();
        let Some((new_from, mut branch)) = self.fork_for(&headers) else {
            // Empty, or the first new block's parent is not on our chain.
            let fresh = blocks
                .iter()
                .find(|b| self.height_of(&b.hash) != Some(b.height));
            return match fresh {
                None => Ok(Outcome::Known),
                Some(first) => Err(ChainError::UnknownParent {
                    height: first.height,
                    previous_hash: first.previous_hash,
                }),
            };
        };
        let fresh = blocks[new_from..].to_vec();
        if let Err(e) = branch.add_bodies(fresh, crate::consensus::now_ms()) {
            return Err(match e {
                BranchError::Invalid(e) => e,
                BranchError::DoesNotConnect {
                    height,
                    previous_hash,
                } => ChainError::BadPreviousHash {
                    height,
                    previous_hash,
                    expected: branch.bodies_tip(),
                },
                // A branch with no headers ahead of its bodies checks each block's own header
                // instead of comparing it with one, and has no unproven headers to cap.
                BranchError::NotTheHeader { .. } | BranchError::Unproven { .. } => {
                    unreachable!("a branch of bodies alone: {e}")
                }
            });
        }
        self.connect_branch(&mut branch)
    }

    /// Rule 7's spending half for a branch forking at `fork`: in a view, our blocks above the
    /// fork are disconnected and the branch's connected one by one. Nothing changes here; the
    /// undo records and the view's changes are for [`switch`](Self::switch). On error the view
    /// is dropped and our chain and coins are untouched.
    fn spend_branch(
        &self,
        fork: u64,
        branch: &[Block],
    ) -> Result<(Vec<Undo>, UtxoChanges), ChainError> {
        let mut view = UtxoView::new(&self.utxo);
        for height in (fork as usize + 1..self.blocks.len()).rev() {
            view.disconnect(&self.blocks[height], &self.undo[height]);
        }
        let undos = branch
            .iter()
            .map(|block| view.connect(block, self.params))
            .collect::<Result<Vec<Undo>, ChainError>>()?;
        Ok((undos, view.into_changes()))
    }

    /// Replaces our blocks above `fork` by `blocks`, whose coins [`spend_branch`](Self::spend_branch)
    /// worked out, and brings the mempool up to date.
    fn switch(&mut self, fork: u64, blocks: Vec<Block>, undos: Vec<Undo>, changes: UtxoChanges) {
        let disconnected = self.truncate(fork);
        self.utxo.apply(changes);
        for (block, undo) in blocks.into_iter().zip(undos) {
            self.push(block, undo);
        }
        let next_height = self.height() + 1;
        if disconnected.is_empty() {
            for block in &self.blocks[fork as usize + 1..] {
                self.mempool.block_connected(block);
            }
        } else {
            let txs = disconnected.into_iter().flat_map(|b| b.transactions);
            self.mempool
                .reorganized(txs.collect(), &self.utxo, next_height);
        }
    }

    /// What a switch that took `depth` blocks off (0: none) and put `added` on did.
    fn switched(&self, old_tip: Hash, depth: u64, added: usize) -> Outcome {
        let (tip, height) = (self.tip().hash, self.height());
        if depth == 0 {
            Outcome::Extended { added, tip, height }
        } else {
            Outcome::Reorganized {
                old_tip,
                new_tip: tip,
                depth,
                added,
            }
        }
    }

    /// Takes every block above `fork` off the active chain and returns them. (Their coins are
    /// the caller's business: see [`spend_branch`](Self::spend_branch).)
    fn truncate(&mut self, fork: u64) -> Vec<Block> {
        let keep = fork as usize + 1;
        let old: Vec<Block> = self.blocks.drain(keep..).collect();
        for block in &old {
            self.by_hash.remove(&block.hash);
        }
        self.headers.truncate(keep);
        self.cumulative_work.truncate(keep);
        self.undo.truncate(keep);
        old
    }

    /// The active chain's headers, genesis first.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The active headers after the highest `locator` hash we have, at most `limit`, ascending:
    /// the answer to `get_headers`, found as [`blocks_after`](Self::blocks_after) finds blocks.
    pub fn headers_after(&self, locator: &[Hash], limit: usize) -> &[Header] {
        &self.headers[self.range_after(locator, limit)]
    }

    /// Work of our blocks above `height` (0 at the tip).
    pub fn work_above(&self, height: u64) -> u128 {
        let at = self
            .cumulative_work
            .get(height as usize)
            .copied()
            .unwrap_or(0);
        self.total_work() - at
    }

    /// Where a branch whose first header is `first` leaves our chain, skipping the headers we
    /// already have: the index of its first new header, and a [`Branch`] forking there with a
    /// copy of the headers the rules need below it. `None` if it does not start on our chain.
    pub fn fork_for(&self, headers: &[Header]) -> Option<(usize, Branch)> {
        let new_from = headers
            .iter()
            .position(|h| self.by_hash.get(&h.hash) != Some(&h.height))
            .unwrap_or(headers.len());
        let parent = match headers.get(new_from) {
            Some(first) => first.previous_hash,
            None => headers.last()?.hash,
        };
        let fork = self.height_of(&parent)?;
        Some((new_from, self.branch_at(fork)))
    }

    /// An empty [`Branch`] forking from our active block at `height`.
    pub fn branch_at(&self, height: u64) -> Branch {
        let from = (height as usize + 1).saturating_sub(context_len(self.params));
        Branch::new(
            self.params,
            from as u64,
            self.headers[from..=height as usize].to_vec(),
            self.work_above(height),
        )
    }

    /// Connects the bodies a [`Branch`] has downloaded and checked (every rule, outside the
    /// lock). Only the connecting steps happen here: the fork point must still be on our
    /// chain, the bodies must carry more work than our blocks above the fork ([`more_work`],
    /// fork choice), and its transactions must spend coins of the chain they would make
    /// (rule 7's spending half, look-ups only). On success the bodies move into our chain, and
    /// the branch goes on from its new fork point, our tip. On error nothing changes.
    pub fn connect_branch(&mut self, branch: &mut Branch) -> Result<Outcome, ChainError> {
        let (fork, fork_hash) = branch.fork();
        let Some(first) = branch.bodies().first() else {
            return Ok(Outcome::Known);
        };
        if self.block(fork).map(|b| b.hash) != Some(fork_hash) {
            return Err(ChainError::UnknownParent {
                height: first.height,
                previous_hash: first.previous_hash,
            });
        }
        let old_tip = self.tip().hash;
        let depth = self.height() - fork;
        let our_work = self.work_above(fork);
        let branch_work = branch.body_work();
        if !more_work(branch_work, our_work) {
            return Ok(Outcome::NotMoreWork {
                branch_work,
                our_work,
            });
        }
        // A branch that began below blocks we took since (from another peer) brings those
        // same blocks again: they go off and come back, and are neither replaced nor added.
        let shared = branch
            .bodies()
            .iter()
            .zip(self.blocks[fork as usize + 1..].iter())
            .take_while(|(theirs, ours)| theirs.hash == ours.hash)
            .count();
        let (undos, changes) = self.spend_branch(fork, branch.bodies())?;
        let bodies = branch.advance();
        let added = bodies.len() - shared;
        self.switch(fork, bodies, undos, changes);
        Ok(self.switched(old_tip, depth - shared as u64, added))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{mine_blocks, mine_here, miner_address, miner_key};
    use crate::transaction::{OutPoint, TxError};

    const T: u64 = 1_000;

    fn chain(blocks: usize) -> Blockchain {
        let mut chain = Blockchain::new(Network::Regtest);
        mine_blocks(&mut chain, blocks, T, "chain");
        chain
    }

    /// Output 0 of the coinbase of block `height`.
    fn reward(chain: &Blockchain, height: u64) -> OutPoint {
        OutPoint {
            txid: chain.block(height).unwrap().transactions[0].txid,
            index: 0,
        }
    }

    /// `from` (worth `amount`) paid to the miner's address in `outputs` equal parts, all of it
    /// but `fee`, signed. (The tests pay 10 units per input and output, so a minimum fee rate
    /// added as policy, exercise 19, does not refuse them.)
    fn split(from: OutPoint, amount: u64, outputs: usize, fee: u64) -> Transaction {
        let each = (amount - fee) / outputs as u64;
        let out = Output {
            address: miner_address(),
            amount: each,
        };
        let mut tx = Transaction::new(&[from], vec![out; outputs]);
        tx.sign(&miner_key());
        tx
    }

    fn add(chain: &mut Blockchain, tx: &Transaction) -> Result<u64, Rejected> {
        chain.add_to_mempool(tx.clone().verify().expect("signed"))
    }

    /// The active chain answers what it holds: `contains`, heights by hash, a transaction in
    /// a block or in the mempool, and nothing for what it does not hold.
    #[test]
    fn lookups() {
        let mut chain = chain(12);
        let block = chain.block(5).unwrap().clone();
        assert!(chain.contains(&block.hash));
        assert_eq!(chain.height_of(&block.hash), Some(5));
        assert!(!chain.contains(&Hash([9; 32])));
        let coinbase = &block.transactions[0];
        assert_eq!(
            chain.transaction(&coinbase.txid),
            Some((coinbase.clone(), Some(5)))
        );
        let pay = split(reward(&chain, 1), 50 * crate::transaction::COIN, 1, 1_000);
        add(&mut chain, &pay).unwrap();
        assert_eq!(chain.transaction(&pay.txid), Some((pay.clone(), None)));
        assert_eq!(chain.transaction(&Hash([9; 32])), None);
    }

    /// The mempool checks maturity for the next block: at tip 11, block 2's coinbase (spendable
    /// from 12) may be spent, block 3's not yet; `precheck` agrees and returns the fee.
    #[test]
    fn the_mempool_judges_maturity_for_the_next_block() {
        let mut chain = chain(11);
        let coin = 50 * crate::transaction::COIN;
        let ripe = split(reward(&chain, 2), coin, 1, 1_234);
        let green = split(reward(&chain, 3), coin, 1, 1_234);
        assert_eq!(chain.precheck_transaction(&ripe), Ok(1_234));
        assert!(matches!(
            chain.precheck_transaction(&green),
            Err(Rejected::NotSpendable(TxError::Immature { .. }))
        ));
        assert_eq!(add(&mut chain, &ripe), Ok(1_234));
        assert!(matches!(
            add(&mut chain, &green),
            Err(Rejected::NotSpendable(TxError::Immature { .. }))
        ));
        assert_eq!(chain.precheck_transaction(&ripe), Err(Rejected::Known));
    }

    /// A template sits on the tip: the next height, the expected difficulty, a timestamp of
    /// at least the median time past + 1 whatever our clock says, and data within the limits
    /// (exactly the limits are allowed).
    #[test]
    fn a_template_follows_the_rules() {
        let chain = chain(12);
        let median = median_time_past(&chain.view());
        let template = chain.template(vec![], miner_address(), 0).unwrap();
        assert_eq!(template.height, 13);
        assert_eq!(template.previous_hash, chain.tip().hash);
        assert_eq!(template.timestamp, median + 1);
        assert_eq!(template.difficulty, chain.next_difficulty());
        let p = chain.params();
        let items = |n: usize, len: usize| vec!["x".repeat(len); n];
        assert!(chain
            .template(items(p.max_data_items, 1), miner_address(), 0)
            .is_ok());
        assert!(matches!(
            chain.template(items(p.max_data_items + 1, 1), miner_address(), 0),
            Err(ChainError::TooManyItems { .. })
        ));
        let bytes = p.max_data_bytes / 4;
        assert!(chain.template(items(4, bytes), miner_address(), 0).is_ok());
        assert!(matches!(
            chain.template(items(5, bytes), miner_address(), 0),
            Err(ChainError::TooManyBytes { .. })
        ));
        let mut one_over = items(4, bytes);
        one_over[0].push('x');
        assert!(matches!(
            chain.template(one_over, miner_address(), 0),
            Err(ChainError::TooManyBytes { .. })
        ));
    }

    /// A full mempool gives a template exactly at the block limits, the coinbase counted: 999
    /// small payments plus the coinbase make 1 000 transactions; 41 wide ones (100 inputs and
    /// outputs each) give 39 of them, 3 902 with the coinbase, since a 40th would pass 4 000.
    /// Both blocks are valid.
    #[test]
    fn a_template_fills_the_block_to_its_limits() {
        let coin = 50 * crate::transaction::COIN;
        let mut chain = chain(21);
        // Eleven coinbases split in 99 coins each: 1 089 coins to pay from.
        let splits: Vec<Transaction> = (1..=11)
            .map(|h| split(reward(&chain, h), coin, 99, 1_000))
            .collect();
        for tx in &splits {
            add(&mut chain, tx).unwrap();
        }
        mine_blocks(&mut chain, 1, T, "splits");
        assert!(chain.mempool().is_empty());
        let coins: Vec<(OutPoint, u64)> = splits
            .iter()
            .flat_map(|tx| {
                (0..99u32).map(|index| {
                    let outpoint = OutPoint {
                        txid: tx.txid,
                        index,
                    };
                    (outpoint, tx.outputs[0].amount)
                })
            })
            .collect();
        let mut small = chain.clone();
        for &(from, amount) in &coins[..1_000] {
            add(&mut small, &split(from, amount, 1, 20)).unwrap();
        }
        let template = small.template(vec![], miner_address(), 0).unwrap();
        assert_eq!(template.transactions.len(), MAX_BLOCK_TRANSACTIONS);
        small.append(mine_here(template)).expect("a valid block");
        let mut wide = chain;
        for &(from, amount) in &coins[..41] {
            add(&mut wide, &split(from, amount, 99, 1_000)).unwrap();
        }
        let template = wide.template(vec![], miner_address(), 0).unwrap();
        assert_eq!(template.transactions.len(), 40);
        assert_eq!(template.in_outs(), 3_902);
        wide.append(mine_here(template)).expect("a valid block");
    }

    /// After a reorganization the mempool is judged for the new next block: a payment from a
    /// coinbase that matured exactly at the old next height (13) stays.
    #[test]
    fn a_reorganization_judges_the_mempool_for_the_new_next_block() {
        let shared = chain(11);
        let mut ours = shared.clone();
        mine_blocks(&mut ours, 1, T, "ours");
        let mut theirs = shared;
        mine_blocks(&mut theirs, 2, T, "theirs");
        let pay = split(reward(&ours, 3), 50 * crate::transaction::COIN, 1, 1_000);
        add(&mut ours, &pay).unwrap();
        let outcome = ours.evaluate_branch(&theirs.blocks()[12..]).unwrap();
        assert!(matches!(
            outcome,
            Outcome::Reorganized {
                depth: 1,
                added: 2,
                ..
            }
        ));
        assert!(ours.mempool().get(&pay.txid).is_some());
        assert_eq!(ours.mempool().len(), 1);
    }

    /// A branch whose first blocks we took meanwhile (from another peer) reorganizes only the
    /// blocks that really change: those shared are neither taken off nor added in the count.
    #[test]
    fn a_branch_we_partly_took_counts_only_what_changes() {
        let shared = chain(5);
        let mut theirs = shared.clone();
        mine_blocks(&mut theirs, 6, T, "theirs");
        let mut ours = shared;
        // The branch starts at our tip, 5, and brings blocks 6 to 11.
        let headers: Vec<Header> = theirs.blocks()[6..].iter().map(Block::header).collect();
        let (from, mut branch) = ours.fork_for(&headers).unwrap();
        assert_eq!(from, 0);
        branch
            .add_bodies(theirs.blocks()[6..].to_vec(), crate::consensus::now_ms())
            .unwrap();
        // Meanwhile we take their 6 and 7 from someone else, then mine 8 and 9 of our own.
        for block in &theirs.blocks()[6..8] {
            ours.append(block.clone()).unwrap();
        }
        mine_blocks(&mut ours, 2, T, "ours");
        let outcome = ours.connect_branch(&mut branch).unwrap();
        assert!(
            matches!(
                outcome,
                Outcome::Reorganized {
                    depth: 2,
                    added: 4,
                    ..
                }
            ),
            "{outcome:?}"
        );
        assert_eq!(ours.tip().hash, theirs.tip().hash);
    }

    /// `headers_after` answers `get_headers` as `blocks_after` answers `get_blocks`: the
    /// headers after the highest locator hash we have, at most `limit`, after genesis when no
    /// hash is ours.
    #[test]
    fn headers_after_the_shared_point() {
        let chain = chain(12);
        let header = |h: u64| chain.block(h).unwrap().header();
        let at5 = chain.block(5).unwrap().hash;
        let after5 = chain.headers_after(&[Hash([1; 32]), at5], 3);
        assert_eq!(after5, &[header(6), header(7), header(8)]);
        assert_eq!(
            chain.headers_after(&[Hash([1; 32])], 2),
            &[header(1), header(2)]
        );
        assert!(chain.headers_after(&[chain.tip().hash], 10).is_empty());
        let blocks: Vec<Header> = chain
            .blocks_after(&[at5], 3)
            .iter()
            .map(Block::header)
            .collect();
        assert_eq!(blocks, after5);
    }

    /// A chain of genesis alone takes a branch from genesis.
    #[test]
    fn a_chain_at_genesis_takes_a_branch() {
        let mut ours = Blockchain::new(Network::Regtest);
        let theirs = chain(3);
        let branch = &theirs.blocks()[1..];
        assert_eq!(
            ours.evaluate_branch(branch),
            Ok(Outcome::Extended {
                added: 3,
                tip: theirs.tip().hash,
                height: 3
            })
        );
    }
}
