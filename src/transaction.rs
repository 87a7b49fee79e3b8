//! Transactions: who pays whom, and the txid that names a transaction.
//!
//! # Format
//!
//! JSON (on the wire, in blocks and in the data file):
//!
//! ```text
//! {"txid":"<64 hex>",
//!  "inputs":[{"prev_txid":"<64 hex>","prev_index":0,"public_key":"<66 hex>","signature":"<128 hex>"}],
//!  "outputs":[{"address":"<40 hex>","amount":3000000000}]}
//! ```
//!
//! An **output** locks an amount to an address. An **input** spends one earlier output, named
//! by its transaction's txid and its index there (an [`OutPoint`]), and proves ownership with a
//! public key that hashes to the output's address and a signature by that key. Amounts are
//! whole base units: 1 coin = 100 000 000 units ([`COIN`]), as Bitcoin's satoshis.
//!
//! Transaction bytes, the preimage of the txid (integers little-endian):
//!
//! ```text
//! input count u32 | per input: prev_txid 32 | prev_index u32
//! output count u32 | per output: address 20 | amount u64
//! ```
//!
//! Keys and signatures are not in the bytes, so re-encoding a signature cannot change a txid
//! (Bitcoin learned this the hard way, "transaction malleability", and fixed it with SegWit).
//! Every input signs the same digest, the txid itself. Bitcoin signs a digest per input that
//! can leave parts of the transaction open (sighash flags); one digest is the simple case.
//!
//! The **coinbase** is the first transaction of every block above genesis, and only there: one
//! input with 64 zero digits as `prev_txid`, the block's height as `prev_index` (so two
//! coinbases never share a txid), empty key and signature. It creates the miner's reward.
//!
//! See `tutorial/16-transactions.md` and `tutorial/17-coinbase-and-rewards.md`.

use crate::crypto::ecdsa::{self, Signature};
use crate::crypto::keys::{PublicKey, SecretKey};
use crate::crypto::CryptoError;
use crate::hash::{parse_lower_hex, sha256, Hash};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt;

/// Base units in one coin.
pub const COIN: u64 = 100_000_000;
/// At most this many inputs in a transaction (a coinbase has exactly one).
pub const MAX_TX_INPUTS: usize = 100;
/// At most this many outputs in a transaction.
pub const MAX_TX_OUTPUTS: usize = 100;

/// An address: the first 20 bytes of SHA-256 of a compressed public key (see
/// [`crate::crypto::keys`]). Written as exactly 40 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address of a compressed public key's 33 bytes.
    pub fn of_sec(sec: &[u8]) -> Address {
        let digest = Sha256::digest(sec);
        let mut bytes = [0u8; 20];
        bytes.copy_from_slice(&digest[..20]);
        Address(bytes)
    }

    /// The address of `key`.
    pub fn of(key: &PublicKey) -> Address {
        Address::of_sec(&key.to_sec())
    }
}

impl std::str::FromStr for Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_lower_hex(s).map(Address).ok_or_else(|| {
            let shown: String = s.chars().take(50).collect();
            format!("an address is 40 lowercase hex digits, not {shown:?}")
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AddressVisitor;
        impl Visitor<'_> for AddressVisitor {
            type Value = Address;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("40 lowercase hex digits")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Address, E> {
                s.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(AddressVisitor)
    }
}

/// Names one output: the txid of the transaction that created it and its index there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutPoint {
    /// The creating transaction.
    pub txid: Hash,
    /// Which of its outputs, from 0.
    pub index: u32,
}

impl fmt::Display for OutPoint {
    /// `7c1d4e09ab12…:1`: short enough for a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…:{}", self.txid.short(), self.index)
    }
}

/// One input: the output it spends and the proof that the spender owns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// Txid of the transaction whose output this spends (64 zero digits in a coinbase).
    pub prev_txid: Hash,
    /// Index of that output (the block height in a coinbase).
    pub prev_index: u32,
    /// The owner's compressed public key, 66 hex digits (empty in a coinbase).
    pub public_key: String,
    /// The owner's signature of the txid, 128 hex digits r ‖ s (empty in a coinbase).
    pub signature: String,
}

impl Input {
    /// The output this input spends.
    pub fn outpoint(&self) -> OutPoint {
        OutPoint {
            txid: self.prev_txid,
            index: self.prev_index,
        }
    }
}

/// One output: an amount locked to an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Who may spend it.
    pub address: Address,
    /// How much, in base units (at least 1).
    pub amount: u64,
}

/// A transaction, as it travels and sits in a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// SHA-256 of the transaction bytes. Carried for convenience; receivers recompute it.
    pub txid: Hash,
    /// What it spends.
    #[serde(deserialize_with = "crate::block::fitted")]
    pub inputs: Vec<Input>,
    /// What it creates.
    #[serde(deserialize_with = "crate::block::fitted")]
    pub outputs: Vec<Output>,
}

/// Why a transaction breaks rule 7. The messages name the input or output and the values;
/// the caller adds which transaction (and block) it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxError {
    /// No inputs, or more than [`MAX_TX_INPUTS`].
    InputCount {
        /// How many inputs it has.
        count: usize,
    },
    /// No outputs, or more than [`MAX_TX_OUTPUTS`].
    OutputCount {
        /// How many outputs it has.
        count: usize,
    },
    /// An output of amount 0.
    ZeroAmount {
        /// Which output, counting from 0.
        output: usize,
    },
    /// The `txid` field is not the hash of the transaction bytes.
    BadTxid {
        /// The txid it says it has.
        claimed: Hash,
        /// SHA-256 of its bytes.
        computed: Hash,
    },
    /// The coinbase breaks its shape (the text says how).
    BadCoinbase {
        /// What is wrong with its shape.
        reason: String,
    },
    /// A coinbase-style input (zero `prev_txid`) outside a block's first transaction.
    CoinbaseInput {
        /// Which input, counting from 0.
        input: usize,
    },
    /// Two inputs of this transaction (this one and an earlier one) spend one output.
    SpentTwice {
        /// Which input, counting from 0.
        input: usize,
        /// The output spent twice.
        outpoint: OutPoint,
    },
    /// An input spends an output that an earlier transaction of the same block spends.
    SpentTwiceInBlock {
        /// Which input, counting from 0.
        input: usize,
        /// The output spent twice.
        outpoint: OutPoint,
    },
    /// The public key does not parse or is not on the curve.
    BadPublicKey {
        /// Which input, counting from 0.
        input: usize,
        /// Why the key does not parse.
        error: CryptoError,
    },
    /// The signature is not 128 hex digits.
    BadSignatureEncoding {
        /// Which input, counting from 0.
        input: usize,
        /// Why the signature does not parse.
        error: CryptoError,
    },
    /// The signature's s is in the upper half of the curve order: the "high-S" twin of a valid
    /// signature, refused so that every transaction has one valid form.
    HighS {
        /// Which input, counting from 0.
        input: usize,
    },
    /// The signature does not verify (wrong key, wrong message, r or s out of range).
    BadSignature {
        /// Which input, counting from 0.
        input: usize,
    },
    /// The outputs add up past 2^64 − 1.
    OutputsOverflow,
    /// The spent output does not exist on this chain.
    UnknownOutput {
        /// Which input, counting from 0.
        input: usize,
        /// The output it names.
        outpoint: OutPoint,
    },
    /// The spent output existed on this chain but is spent already.
    AlreadySpent {
        /// Which input, counting from 0.
        input: usize,
        /// The output it names.
        outpoint: OutPoint,
    },
    /// A coinbase output spent before it matured.
    Immature {
        /// Which input, counting from 0.
        input: usize,
        /// The output it spends.
        outpoint: OutPoint,
        /// Height of the coinbase that made the output.
        created: u64,
        /// The first height at which it may be spent.
        spendable: u64,
        /// Height of the block (or next block) that spends it.
        height: u64,
    },
    /// The key does not hash to the spent output's address.
    WrongOwner {
        /// Which input, counting from 0.
        input: usize,
        /// The output it spends.
        outpoint: OutPoint,
        /// The address of the input's key.
        key_address: Address,
        /// The address the output pays.
        owner: Address,
    },
    /// The inputs add up past 2^64 − 1.
    InputsOverflow,
    /// The outputs are worth more than the inputs.
    Overspends {
        /// What the inputs bring, in units.
        inputs: u64,
        /// What the outputs pay, in units.
        outputs: u64,
    },
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TxError::*;
        match self {
            InputCount { count } => {
                write!(f, "{count} inputs, not 1 to {MAX_TX_INPUTS}")
            }
            OutputCount { count } => {
                write!(f, "{count} outputs, not 1 to {MAX_TX_OUTPUTS}")
            }
            ZeroAmount { output } => write!(f, "output {output} has amount 0, not at least 1"),
            BadTxid { claimed, computed } => write!(
                f,
                "txid {claimed} is not SHA-256 of its transaction bytes, {computed}"
            ),
            BadCoinbase { reason } => write!(f, "bad coinbase: {reason}"),
            CoinbaseInput { input } => write!(
                f,
                "input {input} has a zero prev_txid, which only the block's first transaction (the coinbase) may have"
            ),
            SpentTwice { input, outpoint } => write!(
                f,
                "input {input} spends {outpoint}, which an earlier input of this transaction spends too"
            ),
            SpentTwiceInBlock { input, outpoint } => write!(
                f,
                "input {input} spends {outpoint}, which an earlier transaction of this block spends too"
            ),
            BadPublicKey { input, error } => write!(f, "input {input}: {error}"),
            BadSignatureEncoding { input, error } => write!(f, "input {input}: {error}"),
            HighS { input } => write!(
                f,
                "input {input}: the signature is high-S (s above n/2); only its low-S twin is valid"
            ),
            BadSignature { input } => write!(
                f,
                "input {input}: the signature does not verify for its public key and the txid"
            ),
            OutputsOverflow => write!(f, "the outputs add up to more than 2^64 - 1 units"),
            UnknownOutput { input, outpoint } => write!(
                f,
                "input {input} spends {outpoint}, which does not exist on this chain"
            ),
            AlreadySpent { input, outpoint } => write!(
                f,
                "input {input} spends {outpoint}, which is already spent"
            ),
            Immature { input, outpoint, created, spendable, height } if created == height => write!(
                f,
                "input {input} spends {outpoint}, the coinbase of this very block, spendable from height {spendable}"
            ),
            Immature { input, outpoint, created, spendable, height } => write!(
                f,
                "input {input} spends {outpoint}, a coinbase output of block {created}, spendable from height {spendable}, not at {height}"
            ),
            WrongOwner { input, outpoint, key_address, owner } => write!(
                f,
                "input {input} spends {outpoint}, which belongs to {owner}, not to its key's address {key_address}"
            ),
            InputsOverflow => write!(f, "the inputs add up to more than 2^64 - 1 units"),
            Overspends { inputs, outputs } => write!(
                f,
                "outputs {outputs} are more than inputs {inputs}"
            ),
        }
    }
}

impl std::error::Error for TxError {}

impl Transaction {
    /// The transaction bytes: what the txid hashes (keys and signatures left out).
    pub fn tx_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.inputs.len() * 36 + self.outputs.len() * 28);
        out.extend_from_slice(&(self.inputs.len() as u32).to_le_bytes());
        for input in &self.inputs {
            out.extend_from_slice(&input.prev_txid.0);
            out.extend_from_slice(&input.prev_index.to_le_bytes());
        }
        out.extend_from_slice(&(self.outputs.len() as u32).to_le_bytes());
        for output in &self.outputs {
            out.extend_from_slice(&output.address.0);
            out.extend_from_slice(&output.amount.to_le_bytes());
        }
        out
    }

    /// What the block's merkle leaf adds to the txid: SHA-256 of every input's `public_key` and
    /// `signature`, in input order, each as its length in bytes (u32, little-endian) and then
    /// its UTF-8 bytes, exactly as the JSON carries them. The lengths make the split between
    /// key and signature part of what is hashed, so bytes moved from one to the other change
    /// the hash. Nothing is parsed, so any transaction has one, valid or not.
    pub fn witness_hash(&self) -> Hash {
        let mut bytes = Vec::with_capacity(self.inputs.len() * (8 + 66 + 128));
        for input in &self.inputs {
            for text in [&input.public_key, &input.signature] {
                bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
                bytes.extend_from_slice(text.as_bytes());
            }
        }
        sha256(&bytes)
    }

    /// SHA-256 of the transaction bytes: what `txid` must be.
    pub fn compute_txid(&self) -> Hash {
        sha256(&self.tx_bytes())
    }

    /// A transaction spending `spends` into `outputs`, with its txid filled in and inputs not
    /// yet signed (see [`sign`](Self::sign)).
    pub fn new(spends: &[OutPoint], outputs: Vec<Output>) -> Transaction {
        let inputs = spends
            .iter()
            .map(|o| Input {
                prev_txid: o.txid,
                prev_index: o.index,
                public_key: String::new(),
                signature: String::new(),
            })
            .collect();
        let mut tx = Transaction {
            txid: Hash::ZERO,
            inputs,
            outputs,
        };
        tx.txid = tx.compute_txid();
        tx
    }

    /// The coinbase of the block at `height`, paying `outputs`.
    pub fn coinbase(height: u64, outputs: Vec<Output>) -> Transaction {
        // Heights fit in u32 for 136 years of one-second blocks; past that the index wraps
        // and a coinbase could repeat an old txid (Bitcoin's BIP 30 problem).
        let index = height as u32;
        Transaction::new(
            &[OutPoint {
                txid: Hash::ZERO,
                index,
            }],
            outputs,
        )
    }

    /// Signs every input with `key`: its public key and its signature of the txid. (One key
    /// for all inputs is what our one-key wallet needs.)
    pub fn sign(&mut self, key: &SecretKey) {
        let public_key = key.public_key().to_hex();
        let signature = ecdsa::sign(key, &self.txid.0).to_hex();
        for input in &mut self.inputs {
            input.public_key.clone_from(&public_key);
            input.signature.clone_from(&signature);
        }
    }

    /// Does it look like a coinbase (its first input's `prev_txid` is zero)? Whether it is a
    /// *valid* coinbase is [`check_coinbase`](Self::check_coinbase)'s question.
    pub fn is_coinbase(&self) -> bool {
        self.inputs
            .first()
            .is_some_and(|i| i.prev_txid == Hash::ZERO)
    }

    /// The sum of the outputs, or `None` past 2^64 − 1.
    pub fn output_total(&self) -> Option<u64> {
        self.outputs
            .iter()
            .try_fold(0u64, |sum, o| sum.checked_add(o.amount))
    }

    /// Number of inputs plus outputs: the size measure for block limits and fee rates.
    pub fn in_outs(&self) -> usize {
        self.inputs.len() + self.outputs.len()
    }

    /// About how many bytes its JSON takes, from its shape alone (no encoding): 340 an input
    /// (a txid, a key and a signature in hex), 90 an output, 110 for the rest. Slightly over
    /// the truth, so a cap counted in these holds in real bytes; the mempool's byte cap counts
    /// it.
    pub fn size_estimate(&self) -> usize {
        110 + 340 * self.inputs.len() + 90 * self.outputs.len()
    }

    /// The rules one output list must keep: 1 to 100 outputs, each of at least 1 unit, not
    /// adding up past 2^64 − 1.
    fn check_outputs(&self) -> Result<(), TxError> {
        let count = self.outputs.len();
        if count == 0 || count > MAX_TX_OUTPUTS {
            return Err(TxError::OutputCount { count });
        }
        if let Some(output) = self.outputs.iter().position(|o| o.amount == 0) {
            return Err(TxError::ZeroAmount { output });
        }
        self.output_total().ok_or(TxError::OutputsOverflow)?;
        Ok(())
    }

    fn check_txid(&self) -> Result<(), TxError> {
        let computed = self.compute_txid();
        if computed != self.txid {
            return Err(TxError::BadTxid {
                claimed: self.txid,
                computed,
            });
        }
        Ok(())
    }

    /// Rule 7 for the coinbase of the block at `height`, on its own: its shape, its outputs
    /// and its txid. (What it may pay needs the block's fees: see [`crate::utxo`].)
    ///
    /// `subsidy` is the block's subsidy. Once it has halved to 0, a coinbase may have no
    /// outputs at all: every output must carry at least 1 unit, so a block with neither
    /// subsidy nor fees could not otherwise be made, and the chain would stop.
    pub fn check_coinbase(&self, height: u64, subsidy: u64) -> Result<(), TxError> {
        let bad = |reason: String| Err(TxError::BadCoinbase { reason });
        let [input] = self.inputs.as_slice() else {
            return bad(format!("{} inputs, not exactly 1", self.inputs.len()));
        };
        if input.prev_txid != Hash::ZERO {
            return bad(format!("prev_txid {} is not 64 zeros", input.prev_txid));
        }
        if u64::from(input.prev_index) != height {
            return bad(format!(
                "prev_index {} is not the block height {height}",
                input.prev_index
            ));
        }
        if !input.public_key.is_empty() || !input.signature.is_empty() {
            return bad("public_key and signature must be empty strings".into());
        }
        if !(self.outputs.is_empty() && subsidy == 0) {
            self.check_outputs()?;
        }
        self.check_txid()
    }

    /// Rule 7 for a transaction that is not a coinbase, as far as it can be checked with
    /// nothing else in sight: the counts, the amounts, the txid, no input twice, and
    /// signatures that parse. Cheap; [`check_signatures`](Self::check_signatures) is the
    /// costly part, and it parses the keys too (decompressing a key costs a square root mod p,
    /// as much as a few dozen hashes, so it waits until the signatures are checked).
    pub fn check_alone(&self) -> Result<(), TxError> {
        let count = self.inputs.len();
        if count == 0 || count > MAX_TX_INPUTS {
            return Err(TxError::InputCount { count });
        }
        self.check_outputs()?;
        self.check_txid()?;
        let mut seen = HashSet::with_capacity(count);
        for (i, input) in self.inputs.iter().enumerate() {
            if input.prev_txid == Hash::ZERO {
                return Err(TxError::CoinbaseInput { input: i });
            }
            if !seen.insert(input.outpoint()) {
                return Err(TxError::SpentTwice {
                    input: i,
                    outpoint: input.outpoint(),
                });
            }
            parse_signature(i, &input.signature)?;
        }
        Ok(())
    }

    /// Verifies input `i`'s signature of the txid under its public key. This is the
    /// expensive check (about 30 µs), so callers run it outside the chain lock and, for a
    /// block, on every core (see [`crate::consensus::check_signatures`]).
    pub fn check_signature(&self, i: usize) -> Result<(), TxError> {
        let input = &self.inputs[i];
        let key = PublicKey::from_hex(&input.public_key)
            .map_err(|error| TxError::BadPublicKey { input: i, error })?;
        let signature = parse_signature(i, &input.signature)?;
        if signature.s > crate::crypto::scalar::HALF_N {
            return Err(TxError::HighS { input: i });
        }
        if !ecdsa::verify(&key, &self.txid.0, &signature) {
            return Err(TxError::BadSignature { input: i });
        }
        Ok(())
    }

    /// Verifies every input's signature, in order, on the calling thread.
    pub fn check_signatures(&self) -> Result<(), TxError> {
        (0..self.inputs.len()).try_for_each(|i| self.check_signature(i))
    }
}

/// A transaction that passed every rule it can be checked against alone, signatures included:
/// only [`Transaction::verify`] makes one. The mempool takes only these, so the costly checks
/// are sure to have run before it, outside the chain lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTx(Transaction);

impl VerifiedTx {
    /// The transaction.
    pub fn tx(&self) -> &Transaction {
        &self.0
    }

    /// The transaction, unwrapped.
    pub fn into_inner(self) -> Transaction {
        self.0
    }

    /// For transactions checked before in another way: those of a block that passed
    /// [`crate::consensus::check_body`], or ones that were in the mempool.
    pub(crate) fn already_checked(tx: Transaction) -> VerifiedTx {
        VerifiedTx(tx)
    }
}

impl Transaction {
    /// Checks every rule that needs nothing but the transaction ([`check_alone`](Self::check_alone)
    /// and every signature): what a node does with a transaction from a peer before it takes
    /// the chain lock.
    pub fn verify(self) -> Result<VerifiedTx, TxError> {
        self.check_alone()?;
        self.check_signatures()?;
        Ok(VerifiedTx(self))
    }
}

/// The signature of input `i`, parsed from 128 hex digits.
fn parse_signature(i: usize, text: &str) -> Result<Signature, TxError> {
    let encoding = |error| TxError::BadSignatureEncoding { input: i, error };
    let bytes: [u8; 64] = parse_lower_hex(text).ok_or_else(|| {
        encoding(CryptoError::BadHex {
            what: "a signature is 128 lowercase hex digits",
            reason: format!("got {} characters", text.len()),
        })
    })?;
    Signature::from_bytes(&bytes).map_err(encoding)
}

/// The address an input's public key hashes to, or `None` if the key is not hex. (Whether it
/// is a valid point is [`Transaction::check_signature`]'s business.)
pub fn key_address(public_key: &str) -> Option<Address> {
    let sec: [u8; 33] = parse_lower_hex(public_key)?;
    Some(Address::of_sec(&sec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(n: u8) -> SecretKey {
        let mut bytes = [0u8; 32];
        bytes[31] = n;
        SecretKey::from_bytes(&bytes).unwrap()
    }

    fn address(n: u8) -> Address {
        Address::of(&secret(n).public_key())
    }

    /// The size estimate is at least the JSON's true length and within a fifth of it, for
    /// the narrowest and the widest transactions, with the largest numbers.
    #[test]
    fn the_size_estimate_is_close_and_never_under() {
        for (inputs, outputs) in [(1, 1), (1, 100), (100, 1), (100, 100)] {
            let spends: Vec<OutPoint> = (0..inputs)
                .map(|i| OutPoint {
                    txid: Hash([0xab; 32]),
                    index: u32::MAX - i,
                })
                .collect();
            let pay = Output {
                address: address(2),
                amount: u64::MAX / 200,
            };
            let mut tx = Transaction::new(&spends, vec![pay; outputs]);
            tx.sign(&secret(1));
            let real = serde_json::to_vec(&tx).unwrap().len();
            let estimate = tx.size_estimate();
            assert!(estimate >= real, "{inputs}×{outputs}: {estimate} < {real}");
            assert!(
                estimate * 5 <= real * 6,
                "{inputs}×{outputs}: {estimate} ≫ {real}"
            );
        }
    }

    /// The published vectors (appendix B, "Transactions"): the coinbase's bytes and txid, and
    /// the spend's txid and signature.
    #[test]
    fn published_vectors() {
        let coinbase = Transaction::coinbase(
            1,
            vec![Output {
                address: address(1),
                amount: 50 * COIN,
            }],
        );
        assert_eq!(
            hex::encode(coinbase.tx_bytes()),
            "01000000000000000000000000000000000000000000000000000000000000000000000001000000\
             010000000f715baf5d4c2ed329785cef29e562f73488c8a200f2052a01000000"
        );
        assert_eq!(
            coinbase.txid.to_string(),
            "1fd69013945938380b5cf5dd59db1b41201ebf0fb3e607c557bc2e7a5d94433c"
        );
        assert_eq!(coinbase.check_coinbase(1, 50 * COIN), Ok(()));
        let mut spend = Transaction::new(
            &[OutPoint {
                txid: coinbase.txid,
                index: 0,
            }],
            vec![
                Output {
                    address: address(2),
                    amount: 30 * COIN,
                },
                Output {
                    address: address(1),
                    amount: 19 * COIN + 99_990_000,
                },
            ],
        );
        spend.sign(&secret(1));
        assert_eq!(
            spend.txid.to_string(),
            "02031083a574d325fe44dfc055a5b194f47e539bdb633a0dca498866740d0005"
        );
        assert_eq!(
            spend.inputs[0].signature,
            "b1ca5df739a1ee6409e9e014b7a974bab566941c6f478c5ff97a1924c3faa2bf\
             5cf9a21efe704a81c7ae1eebf35397454d2b0288d0d0b732d46976d9311a8f7e"
        );
        assert_eq!(spend.check_alone(), Ok(()));
        assert_eq!(spend.check_signatures(), Ok(()));
    }

    /// The JSON form has exactly the contract's keys, in order.
    #[test]
    fn json_form() {
        let mut tx = Transaction::new(
            &[OutPoint {
                txid: Hash([1; 32]),
                index: 2,
            }],
            vec![Output {
                address: address(1),
                amount: 7,
            }],
        );
        tx.sign(&secret(1));
        let json = serde_json::to_string(&tx).unwrap();
        let expected = format!(
            "{{\"txid\":\"{}\",\"inputs\":[{{\"prev_txid\":\"{}\",\"prev_index\":2,\"public_key\":\"{}\",\"signature\":\"{}\"}}],\"outputs\":[{{\"address\":\"{}\",\"amount\":7}}]}}",
            tx.txid,
            Hash([1; 32]),
            secret(1).public_key().to_hex(),
            tx.inputs[0].signature,
            address(1)
        );
        assert_eq!(json, expected);
        assert_eq!(serde_json::from_str::<Transaction>(&json).unwrap(), tx);
        let upper = json.replace(
            &address(1).to_string(),
            &address(1).to_string().to_uppercase(),
        );
        assert!(serde_json::from_str::<Transaction>(&upper).is_err());
    }

    /// Each rule a transaction can break alone gets its own reason.
    #[test]
    fn rules_alone() {
        let op = OutPoint {
            txid: Hash([1; 32]),
            index: 0,
        };
        let out = |amount| Output {
            address: address(1),
            amount,
        };
        let signed = |spends: &[OutPoint], outputs| {
            let mut tx = Transaction::new(spends, outputs);
            tx.sign(&secret(1));
            tx
        };
        let good = signed(&[op], vec![out(5)]);
        assert_eq!(good.check_alone(), Ok(()));

        let none = signed(&[], vec![out(5)]);
        assert_eq!(none.check_alone(), Err(TxError::InputCount { count: 0 }));
        let many: Vec<OutPoint> = (0..101).map(|index| OutPoint { index, ..op }).collect();
        let many = signed(&many, vec![out(5)]);
        assert_eq!(many.check_alone(), Err(TxError::InputCount { count: 101 }));
        let hundred: Vec<OutPoint> = (0..100).map(|index| OutPoint { index, ..op }).collect();
        assert_eq!(signed(&hundred, vec![out(5)]).check_alone(), Ok(()));

        let no_outputs = signed(&[op], vec![]);
        assert_eq!(
            no_outputs.check_alone(),
            Err(TxError::OutputCount { count: 0 })
        );
        let wide = signed(&[op], vec![out(1); 101]);
        assert_eq!(wide.check_alone(), Err(TxError::OutputCount { count: 101 }));
        assert_eq!(signed(&[op], vec![out(1); 100]).check_alone(), Ok(()));
        let zero = signed(&[op], vec![out(1), out(0)]);
        assert_eq!(zero.check_alone(), Err(TxError::ZeroAmount { output: 1 }));
        let overflow = signed(&[op], vec![out(u64::MAX), out(1)]);
        assert_eq!(overflow.check_alone(), Err(TxError::OutputsOverflow));
        assert_eq!(signed(&[op], vec![out(u64::MAX)]).check_alone(), Ok(()));

        let mut bad_txid = good.clone();
        bad_txid.txid = Hash([9; 32]);
        assert!(matches!(
            bad_txid.check_alone(),
            Err(TxError::BadTxid { .. })
        ));
        let twice = signed(&[op, op], vec![out(5)]);
        assert_eq!(
            twice.check_alone(),
            Err(TxError::SpentTwice {
                input: 1,
                outpoint: op
            })
        );
        let null = OutPoint {
            txid: Hash::ZERO,
            index: 0,
        };
        let sneaky = signed(&[op, null], vec![out(5)]);
        assert_eq!(
            sneaky.check_alone(),
            Err(TxError::CoinbaseInput { input: 1 })
        );
        let mut short_sig = good.clone();
        short_sig.inputs[0].signature.pop();
        assert!(matches!(
            short_sig.check_alone(),
            Err(TxError::BadSignatureEncoding { input: 0, .. })
        ));
    }

    /// A signature by another key, a key that is not on the curve, a high s and an r out of
    /// range all fail verification, each with its reason.
    #[test]
    fn signature_rules() {
        let op = OutPoint {
            txid: Hash([1; 32]),
            index: 0,
        };
        let mut tx = Transaction::new(
            &[op],
            vec![Output {
                address: address(2),
                amount: 1,
            }],
        );
        tx.sign(&secret(1));
        assert_eq!(tx.check_signatures(), Ok(()));

        let mut other_key = tx.clone();
        other_key.inputs[0].public_key = secret(2).public_key().to_hex();
        assert_eq!(
            other_key.check_signatures(),
            Err(TxError::BadSignature { input: 0 })
        );

        let mut off_curve = tx.clone();
        off_curve.inputs[0].public_key = format!("02{}", "0".repeat(63) + "5");
        assert!(matches!(
            off_curve.check_signatures(),
            Err(TxError::BadPublicKey { input: 0, .. })
        ));

        // s → n − s is the same signature to plain ECDSA; we accept only the low one.
        let sig = Signature::from_bytes(&hex::decode(&tx.inputs[0].signature).unwrap()).unwrap();
        let high = Signature {
            r: sig.r,
            s: crate::crypto::scalar::N.sub_borrow(&sig.s).0,
        };
        let mut high_s = tx.clone();
        high_s.inputs[0].signature = high.to_hex();
        assert_eq!(high_s.check_signatures(), Err(TxError::HighS { input: 0 }));

        let mut r_too_big = tx.clone();
        r_too_big.inputs[0].signature = "f".repeat(64) + &tx.inputs[0].signature[64..];
        assert_eq!(
            r_too_big.check_signatures(),
            Err(TxError::BadSignature { input: 0 })
        );
    }

    /// The coinbase's shape: one input, zero prev_txid, the height as index, empty proofs.
    #[test]
    fn coinbase_shape() {
        let pay = vec![Output {
            address: address(1),
            amount: 1,
        }];
        let cb = Transaction::coinbase(7, pay.clone());
        assert!(cb.is_coinbase());
        assert_eq!(cb.check_coinbase(7, 1), Ok(()));
        let wrong_height = cb.check_coinbase(8, 1).unwrap_err().to_string();
        assert!(wrong_height.contains("prev_index 7 is not the block height 8"));
        let mut signed = cb.clone();
        signed.inputs[0].signature = "00".into();
        assert!(signed
            .check_coinbase(7, 1)
            .unwrap_err()
            .to_string()
            .contains("must be empty"));
        let mut two = cb.clone();
        two.inputs.push(two.inputs[0].clone());
        two.txid = two.compute_txid();
        assert!(two
            .check_coinbase(7, 1)
            .unwrap_err()
            .to_string()
            .contains("2 inputs, not exactly 1"));
        let not_null = Transaction::new(
            &[OutPoint {
                txid: Hash([1; 32]),
                index: 7,
            }],
            pay,
        );
        assert!(not_null
            .check_coinbase(7, 1)
            .unwrap_err()
            .to_string()
            .contains("is not 64 zeros"));
        // No outputs: refused while there is a subsidy, allowed once it is 0.
        let empty = Transaction::coinbase(7, vec![]);
        assert_eq!(
            empty.check_coinbase(7, 1),
            Err(TxError::OutputCount { count: 0 })
        );
        assert_eq!(empty.check_coinbase(7, 0), Ok(()));
    }
}
