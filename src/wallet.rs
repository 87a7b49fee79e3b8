//! The wallet: what a person sees of the money. Amounts in coins, balances, and building a
//! payment from the node's own coins.
//!
//! The node has one key (`wallet.key` in its data directory), so one address. A balance is
//! read from the UTXO set and the mempool, never stored:
//!
//! - **spendable**: confirmed coins that a block at the next height may spend (a coinbase's
//!   after [`COINBASE_MATURITY`](crate::utxo::COINBASE_MATURITY) blocks), and that no
//!   mempool transaction spends yet;
//! - **immature**: coinbase rewards still maturing;
//! - **pending in / out**: what mempool transactions pay to the address, and the confirmed
//!   coins they spend from it.
//!
//! Paying picks spendable coins oldest first until they cover the amount and the fee, pays the
//! amount to the recipient and the rest back to our own address as change, and signs. Bitcoin
//! Core's coin selection weighs fees and privacy (branch and bound); oldest first is easy to
//! follow. Our wallet has one key, so its change goes back to the address it spends from;
//! Bitcoin Core instead takes a fresh change address from its key pool for every payment, so
//! an onlooker cannot tell the payment from the change.
//!
//! See `tutorial/18-utxo-set.md` and `tutorial/19-mempool.md`.

use crate::chain::Blockchain;
use crate::crypto::keys::SecretKey;
use crate::hash::Hash;
use crate::mempool::Rejected;
use crate::transaction::{Address, OutPoint, Output, Transaction, COIN, MAX_TX_INPUTS};
use crate::utxo::Coin;
use std::fmt;

/// The fee `send` pays when none is given: 0.0001 coins.
pub const DEFAULT_FEE: u64 = 10_000;

/// Why a payment or an amount was refused. One enum for the wallet layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletError {
    /// Not 40 lowercase hex digits.
    NotAnAddress(String),
    /// Not a decimal number of coins.
    NotAnAmount(String),
    /// More than 8 digits after the point.
    TooManyDecimals,
    /// More than 2^64 − 1 base units.
    AmountTooLarge,
    /// An amount of 0.
    ZeroAmount,
    /// The spendable coins do not cover amount plus fee.
    InsufficientFunds {
        /// What the wallet can spend, in units.
        spendable: u64,
        /// The amount plus the fee, in units.
        needed: u64,
    },
    /// Covering the amount would take more inputs than a transaction may have.
    TooManyInputs {
        /// The amount plus the fee, in units.
        needed: u64,
        /// What the first `MAX_TX_INPUTS` coins cover, in units.
        covered: u64,
    },
    /// The mempool refused the payment.
    Rejected(Rejected),
}

impl fmt::Display for WalletError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalletError::NotAnAddress(text) => write!(f, "not an address: {text}"),
            WalletError::NotAnAmount(text) => {
                let shown: String = text.chars().take(30).collect();
                write!(f, "not an amount: {shown:?} (write coins like 1.5)")
            }
            WalletError::TooManyDecimals => write!(f, "amount has more than 8 decimals"),
            WalletError::AmountTooLarge => write!(f, "amount is larger than 2^64 - 1 units"),
            WalletError::ZeroAmount => write!(f, "amount must be more than 0"),
            WalletError::InsufficientFunds { spendable, needed } => write!(
                f,
                "insufficient funds: {} spendable, {} needed",
                format_coins(*spendable),
                format_coins(*needed)
            ),
            WalletError::TooManyInputs { needed, covered } => write!(
                f,
                "{MAX_TX_INPUTS} inputs cover only {} of the {} needed; send a smaller amount first",
                format_coins(*covered),
                format_coins(*needed)
            ),
            WalletError::Rejected(r) => write!(f, "the mempool refused the payment: {r}"),
        }
    }
}

impl std::error::Error for WalletError {}

/// Base units as coins with 8 decimals: `150000000` → `"1.50000000"`.
pub fn format_coins(units: u64) -> String {
    format!("{}.{:08}", units / COIN, units % COIN)
}

/// Coins as base units, exactly (no floating point): `"1.5"` → `150000000`. Digits, and at
/// most 8 of them after an optional point.
pub fn parse_coins(text: &str) -> Result<u64, WalletError> {
    let not = || WalletError::NotAnAmount(text.to_string());
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(not());
    }
    if text.ends_with('.') {
        return Err(not());
    }
    if fraction.len() > 8 {
        return Err(WalletError::TooManyDecimals);
    }
    let whole: u64 = whole.parse().map_err(|_| WalletError::AmountTooLarge)?;
    let fraction: u64 = format!("{fraction:0<8}").parse().map_err(|_| not())?;
    whole
        .checked_mul(COIN)
        .and_then(|units| units.checked_add(fraction))
        .ok_or(WalletError::AmountTooLarge)
}

/// Parses an address, with the wallet's error.
pub fn parse_address(text: &str) -> Result<Address, WalletError> {
    text.parse()
        .map_err(|_| WalletError::NotAnAddress(text.chars().take(50).collect()))
}

/// An address's money, in base units (see the module docs for what each part means).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    /// Confirmed, mature, not spent by the mempool.
    pub spendable: u64,
    /// Coinbase rewards still maturing.
    pub immature: u64,
    /// Paid to the address by mempool transactions.
    pub pending_in: u64,
    /// Confirmed coins of the address that mempool transactions spend.
    pub pending_out: u64,
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} spendable, {} immature, pending +{} -{}",
            format_coins(self.spendable),
            format_coins(self.immature),
            format_coins(self.pending_in),
            format_coins(self.pending_out)
        )
    }
}

/// The coins of `address` that a block at the next height may spend and no mempool
/// transaction spends, oldest first.
pub fn spendable_coins(chain: &Blockchain, address: &Address) -> Vec<(OutPoint, Coin)> {
    let next = chain.height() + 1;
    let mut coins = chain.utxo().coins_of(address);
    coins.retain(|(o, c)| next >= c.spendable_from() && chain.mempool().spender(o).is_none());
    coins
}

/// `address`'s balance on `chain` and its mempool.
pub fn balance(chain: &Blockchain, address: &Address) -> Balance {
    let next = chain.height() + 1;
    let mut balance = Balance::default();
    for (outpoint, coin) in chain.utxo().each_coin_of(address) {
        let part = if next < coin.spendable_from() {
            &mut balance.immature
        } else if chain.mempool().spender(outpoint).is_some() {
            &mut balance.pending_out
        } else {
            &mut balance.spendable
        };
        *part = part.saturating_add(coin.amount);
    }
    for entry in chain.mempool().entries() {
        for output in entry.tx.outputs.iter().filter(|o| o.address == *address) {
            balance.pending_in = balance.pending_in.saturating_add(output.amount);
        }
    }
    balance
}

/// A payment of `amount` to `to` with `fee`, from `key`'s spendable coins, change back to its
/// address. The inputs are not signed yet: that is [`Transaction::sign`], which the node does
/// after releasing the chain lock.
pub fn build_payment(
    chain: &Blockchain,
    key: &SecretKey,
    to: Address,
    amount: u64,
    fee: u64,
) -> Result<Transaction, WalletError> {
    if amount == 0 {
        return Err(WalletError::ZeroAmount);
    }
    let needed = amount.checked_add(fee).ok_or(WalletError::AmountTooLarge)?;
    let ours = Address::of(&key.public_key());
    let coins = spendable_coins(chain, &ours);
    let spendable = coins
        .iter()
        .fold(0u64, |sum, (_, c)| sum.saturating_add(c.amount));
    if spendable < needed {
        return Err(WalletError::InsufficientFunds { spendable, needed });
    }
    let mut spends = Vec::new();
    let mut covered = 0u64;
    for (outpoint, coin) in coins {
        if covered >= needed {
            break;
        }
        if spends.len() == MAX_TX_INPUTS {
            return Err(WalletError::TooManyInputs { needed, covered });
        }
        spends.push(outpoint);
        covered = covered.saturating_add(coin.amount);
    }
    let mut outputs = vec![Output {
        address: to,
        amount,
    }];
    let change = covered - needed;
    if change > 0 {
        outputs.push(Output {
            address: ours,
            amount: change,
        });
    }
    Ok(Transaction::new(&spends, outputs))
}

/// A transaction's place, for `tx <txid>`: waiting, or in a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxInfo {
    /// The transaction.
    pub tx: Transaction,
    /// The height of its block, or `None` while it waits in the mempool.
    pub height: Option<u64>,
    /// Blocks on top of its block, its own included (0 in the mempool).
    pub confirmations: u64,
}

/// Does `tx` pay `address`, or spend with its key? Hashes each input's key, so a scan of many
/// blocks with it should not hold the chain lock throughout (the node's `history` takes the
/// lock a few blocks at a time).
pub fn touches(tx: &Transaction, address: &Address) -> bool {
    tx.outputs.iter().any(|o| o.address == *address)
        || tx
            .inputs
            .iter()
            .any(|i| crate::transaction::key_address(&i.public_key) == Some(*address))
}

/// Where transaction `txid` is, if the mempool or the active chain has it.
pub fn find_transaction(chain: &Blockchain, txid: &Hash) -> Option<TxInfo> {
    let (tx, height) = chain.transaction(txid)?;
    let confirmations = height.map_or(0, |h| chain.height() - h + 1);
    Some(TxInfo {
        tx,
        height,
        confirmations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Amounts parse exactly, and each kind of bad amount gets its own reason.
    #[test]
    fn amounts() {
        assert_eq!(parse_coins("1.5"), Ok(150_000_000));
        assert_eq!(parse_coins("0.00000001"), Ok(1));
        assert_eq!(parse_coins("20"), Ok(20 * COIN));
        assert_eq!(parse_coins("0.1"), Ok(10_000_000));
        assert_eq!(
            parse_coins("184467440737.09551615"),
            Ok(u64::MAX),
            "the largest amount"
        );
        assert_eq!(
            parse_coins("184467440737.09551616"),
            Err(WalletError::AmountTooLarge)
        );
        assert_eq!(
            parse_coins("1.000000001"),
            Err(WalletError::TooManyDecimals)
        );
        for bad in [
            "", ".", "1.", ".5", "-1", "1e5", "1,5", "abc", " 1", "1.2.3",
        ] {
            assert_eq!(
                parse_coins(bad),
                Err(WalletError::NotAnAmount(bad.into())),
                "{bad:?}"
            );
        }
        assert_eq!(format_coins(150_000_000), "1.50000000");
        assert_eq!(format_coins(1), "0.00000001");
        assert_eq!(format_coins(u64::MAX), "184467440737.09551615");
        assert_eq!(
            WalletError::InsufficientFunds {
                spendable: 3 * COIN,
                needed: 5 * COIN + 10_000
            }
            .to_string(),
            "insufficient funds: 3.00000000 spendable, 5.00010000 needed"
        );
    }
}
