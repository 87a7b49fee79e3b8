//! Keys and signatures: secp256k1 and ECDSA, written by hand to be read.
//!
//! **For learning only.** This code is not constant time (how long it takes depends on the
//! secret), has not been audited, and must never guard keys with real value. A production
//! node uses libsecp256k1, as Bitcoin Core does. The design allows four crates and none of them
//! does elliptic curves, which is the point: this is the "Programming Bitcoin" part of the
//! course, in Rust.
//!
//! # Layout, bottom up
//!
//! - [`u256`]: 256-bit integers, and the folding reduction modulo a number just below 2^256.
//! - [`field`]: the integers modulo p = 2^256 − 2^32 − 977, where coordinates live.
//! - [`scalar`]: the integers modulo n, the number of points: keys, nonces, signatures.
//! - [`point`]: the curve y² = x³ + 7, point addition in Jacobian coordinates, and scalar
//!   multiplication with windows and Shamir's trick.
//! - [`ecdsa`]: signing (RFC 6979 nonces, HMAC-SHA256 built on `sha2`, low-S) and verifying.
//! - [`keys`]: secret keys from the OS's randomness, compressed public keys, addresses.
//!
//! There are no sockets, threads or locks here; the node uses it through [`keys`] and
//! [`ecdsa`].
//!
//! See `tutorial/14-fields-and-curves.md` and `tutorial/15-keys-and-signatures.md`.

pub mod ecdsa;
pub mod field;
pub mod keys;
pub mod point;
pub mod scalar;
pub mod u256;

use std::fmt;

/// Why a key or a signature was refused. One enum for the crypto layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// A secret key must be a number from 1 to n − 1.
    SecretOutOfRange,
    /// A compressed public key is 33 bytes: 02 or 03, then x.
    BadPublicKeyLength {
        /// How many bytes it has.
        len: usize,
    },
    /// The first byte of a compressed public key must be 02 or 03.
    BadPublicKeyPrefix {
        /// The first byte it has.
        prefix: u8,
    },
    /// x must be below p.
    PublicKeyXOutOfRange,
    /// No point on the curve has this x.
    NotOnCurve,
    /// A signature is 64 bytes, r ‖ s.
    BadSignatureLength {
        /// How many bytes it has.
        len: usize,
    },
    /// Text that should be hex is not.
    BadHex {
        /// What the hex was meant to be.
        what: &'static str,
        /// Why it does not parse.
        reason: String,
    },
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::SecretOutOfRange => {
                write!(f, "a secret key must be a number from 1 to n - 1")
            }
            CryptoError::BadPublicKeyLength { len } => write!(
                f,
                "a compressed public key is 33 bytes (02 or 03, then x), not {len}"
            ),
            CryptoError::BadPublicKeyPrefix { prefix } => write!(
                f,
                "a compressed public key starts with 02 or 03, not {prefix:02x}"
            ),
            CryptoError::PublicKeyXOutOfRange => {
                write!(f, "the public key's x is not below the field prime p")
            }
            CryptoError::NotOnCurve => write!(f, "the public key's x is not on secp256k1"),
            CryptoError::BadSignatureLength { len } => {
                write!(f, "a signature is 64 bytes (r then s), not {len}")
            }
            CryptoError::BadHex { what, reason } => write!(f, "{what}: {reason}"),
        }
    }
}

impl std::error::Error for CryptoError {}
