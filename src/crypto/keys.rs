//! Keys and addresses.
//!
//! - A **secret key** is a number d from 1 to n − 1, drawn from the operating system's
//!   randomness.
//! - Its **public key** is the point d·G, written compressed (SEC 1): one byte, 02 if y is even
//!   and 03 if odd, then x in 32 bytes: 66 hex digits. y is recovered from x on the curve.
//! - An **address** is the first 20 bytes of SHA-256(compressed public key), 40 hex digits:
//!   shorter than a key, and it names the key without revealing it until it first spends.
//!   (Bitcoin uses RIPEMD-160 of SHA-256 and a checksummed encoding; we have SHA-256 only.)

use super::field::Fe;
use super::point::{mul_g, Affine};
use super::scalar::Scalar;
use super::u256::U256;
use super::CryptoError;
use sha2::{Digest, Sha256};
use std::fmt;

/// A secret key: a scalar from 1 to n − 1.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Scalar);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a secret by accident.
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// From 32 big-endian bytes, if they are from 1 to n − 1.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<SecretKey, CryptoError> {
        match Scalar::new(U256::from_be_bytes(bytes)) {
            Some(d) if !d.is_zero() => Ok(SecretKey(d)),
            _ => Err(CryptoError::SecretOutOfRange),
        }
    }

    /// From 64 hex digits.
    pub fn from_hex(text: &str) -> Result<SecretKey, CryptoError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|e| CryptoError::BadHex {
            what: "a secret key is 64 hex digits",
            reason: e.to_string(),
        })?;
        SecretKey::from_bytes(&bytes)
    }

    /// A fresh random key (see [`random_bytes`]).
    pub fn generate() -> SecretKey {
        loop {
            // Out of range happens with probability about 2^−128; just draw again.
            if let Ok(key) = SecretKey::from_bytes(&random_bytes()) {
                return key;
            }
        }
    }

    /// The 32 bytes, big-endian.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.value().to_be_bytes()
    }

    /// 64 lowercase hex digits (what `wallet.key` holds).
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// The number d.
    pub fn scalar(&self) -> Scalar {
        self.0
    }

    /// The public key d·G.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(
            mul_g(&self.0)
                .to_affine()
                .expect("d·G is not infinity for 0 < d < n"),
        )
    }
}

/// 32 random bytes from the operating system.
///
/// Where `/dev/urandom` exists (Linux, macOS, the BSDs) we read it: that is the kernel's
/// cryptographic generator. Elsewhere (Windows) std gives us no direct way to it, so we hash
/// several `RandomState` seeds, which std draws from the OS generator, into 32 bytes. That is a
/// teaching shortcut: a real wallet calls the OS's generator directly (`BCryptGenRandom` on
/// Windows, `getrandom` on Linux) through a vetted crate such as `getrandom`.
pub fn random_bytes() -> [u8; 32] {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        if file.read_exact(&mut bytes).is_ok() {
            return bytes;
        }
    }
    use std::hash::{BuildHasher, Hasher};
    let mut sha = Sha256::new();
    for i in 0..8u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        sha.update(h.finish().to_le_bytes());
    }
    sha.finalize().into()
}

/// A public key: a point on the curve (never infinity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(Affine);

impl PublicKey {
    /// The point.
    pub fn point(&self) -> &Affine {
        &self.0
    }

    /// The 33-byte compressed form: 02 or 03 (y even or odd), then x.
    pub fn to_sec(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = if self.0.y.is_odd() { 0x03 } else { 0x02 };
        out[1..].copy_from_slice(&self.0.x.value().to_be_bytes());
        out
    }

    /// 66 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_sec())
    }

    /// Parses the compressed form: 33 bytes, prefix 02 or 03, x below p and on the curve.
    pub fn from_sec(bytes: &[u8]) -> Result<PublicKey, CryptoError> {
        let bytes: &[u8; 33] = bytes
            .try_into()
            .map_err(|_| CryptoError::BadPublicKeyLength { len: bytes.len() })?;
        let odd = match bytes[0] {
            0x02 => false,
            0x03 => true,
            prefix => return Err(CryptoError::BadPublicKeyPrefix { prefix }),
        };
        let x = U256::from_be_bytes(bytes[1..].try_into().expect("32 bytes"));
        let x = Fe::new(x).ok_or(CryptoError::PublicKeyXOutOfRange)?;
        Affine::from_x(x, odd)
            .map(PublicKey)
            .ok_or(CryptoError::NotOnCurve)
    }

    /// Parses 66 hex digits.
    pub fn from_hex(text: &str) -> Result<PublicKey, CryptoError> {
        let bytes = hex::decode(text).map_err(|e| CryptoError::BadHex {
            what: "a public key is 66 hex digits",
            reason: e.to_string(),
        })?;
        PublicKey::from_sec(&bytes)
    }

    /// The address: the first 20 bytes of SHA-256(compressed key), 40 lowercase hex digits.
    pub fn address(&self) -> String {
        let digest = Sha256::digest(self.to_sec());
        hex::encode(&digest[..20])
    }
}
