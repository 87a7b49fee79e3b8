//! ECDSA over secp256k1, exactly as Bitcoin uses it.
//!
//! - The message is a 32-byte digest z (a transaction id), read as a big-endian number and
//!   reduced mod n. It is not hashed again here.
//! - **Signing:** pick a nonce k, R = k·G, r = R.x mod n, s = k⁻¹·(z + r·d) mod n. The nonce
//!   must be secret and never repeat: two signatures with one k reveal the key (exercise 15).
//!   So k comes from RFC 6979: HMAC-SHA256 of the key and the message, deterministic and
//!   unpredictable without the key.
//! - **Low-S:** if (r, s) is a signature, so is (r, n − s). A third party could flip it and
//!   change the signature's bytes without the key (malleability). Bitcoin accepts only the
//!   smaller s, so we always sign with s ≤ n/2 and refuse the other.
//! - **Verifying:** r and s in [1, n − 1], s ≤ n/2, then with w = s⁻¹: the x of
//!   (z·w)·G + (r·w)·Q must be r mod n.
//!
//! Signatures are 64 bytes, r ‖ s, big-endian (Bitcoin wraps them in DER; we do not need to).

use super::keys::{PublicKey, SecretKey};
use super::point::{mul_add_g_glv, mul_g};
use super::scalar::Scalar;
use super::u256::U256;
use super::CryptoError;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// A signature: r ‖ s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// x of the nonce's point, mod n.
    pub r: U256,
    /// k⁻¹·(z + r·d) mod n, at most n/2.
    pub s: U256,
}

impl Signature {
    /// The 64 bytes, r then s, big-endian.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.r.to_be_bytes());
        out[32..].copy_from_slice(&self.s.to_be_bytes());
        out
    }

    /// From 64 bytes. Any values parse; [`verify`] judges them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Signature, CryptoError> {
        let bytes: &[u8; 64] = bytes
            .try_into()
            .map_err(|_| CryptoError::BadSignatureLength { len: bytes.len() })?;
        let half = |i: usize| U256::from_be_bytes(bytes[i..i + 32].try_into().expect("32"));
        Ok(Signature {
            r: half(0),
            s: half(32),
        })
    }

    /// 128 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }
}

/// HMAC-SHA256 (RFC 2104) of `parts` joined, under `key` (at most 64 bytes, as here).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The deterministic nonces of RFC 6979 (section 3.2) for key `d` and digest `z`: the first
/// candidate in [1, n − 1], then the next ones, should a signature need another.
struct Rfc6979 {
    k: [u8; 32],
    v: [u8; 32],
    /// A candidate was handed out: the next call must step past it first.
    handed_out: bool,
}

impl Rfc6979 {
    fn new(d: &Scalar, z: &Scalar) -> Rfc6979 {
        let (x, h) = (d.value().to_be_bytes(), z.value().to_be_bytes());
        let mut k = [0u8; 32];
        let mut v = [1u8; 32];
        k = hmac_sha256(&k, &[&v, &[0x00], &x, &h]);
        v = hmac_sha256(&k, &[&v]);
        k = hmac_sha256(&k, &[&v, &[0x01], &x, &h]);
        v = hmac_sha256(&k, &[&v]);
        Rfc6979 {
            k,
            v,
            handed_out: false,
        }
    }

    /// K = HMAC_K(V ‖ 0x00), V = HMAC_K(V): how the RFC moves past a refused candidate.
    fn step(&mut self) {
        self.k = hmac_sha256(&self.k, &[&self.v, &[0x00]]);
        self.v = hmac_sha256(&self.k, &[&self.v]);
    }

    fn next(&mut self) -> Scalar {
        if self.handed_out {
            self.step();
        }
        loop {
            self.v = hmac_sha256(&self.k, &[&self.v]);
            let candidate = U256::from_be_bytes(&self.v);
            if let Some(k) = Scalar::new(candidate).filter(|k| !k.is_zero()) {
                self.handed_out = true;
                return k;
            }
            self.step();
        }
    }
}

/// The digest z as a scalar: 32 bytes, big-endian, reduced mod n.
pub fn digest_scalar(z: &[u8; 32]) -> Scalar {
    Scalar::reduce(U256::from_be_bytes(z))
}

/// Signs the 32-byte digest `z` with `key`: deterministic, low-S.
pub fn sign(key: &SecretKey, z: &[u8; 32]) -> Signature {
    let mut nonces = Rfc6979::new(&key.scalar(), &digest_scalar(z));
    loop {
        // Another nonce only if this one gives r = 0 or s = 0 (odds about 2^−256).
        if let Some(signature) = sign_with_nonce(key, z, &nonces.next()) {
            return signature;
        }
    }
}

/// Signs with the nonce `k` given: R = k·G, r = R.x mod n, s = k⁻¹·(z + r·d) mod n, then
/// low-S. `None` if r or s comes out 0. Public so the course can show what goes wrong when a
/// nonce repeats (exercise 15); anything else must use [`sign`], whose nonces come from
/// RFC 6979.
pub fn sign_with_nonce(key: &SecretKey, z: &[u8; 32], k: &Scalar) -> Option<Signature> {
    let d = key.scalar();
    let z = digest_scalar(z);
    let point = mul_g(k).to_affine()?;
    let r = Scalar::reduce(point.x.value());
    if r.is_zero() {
        return None;
    }
    let s = k.invert().mul(&z.add(&r.mul(&d)));
    if s.is_zero() {
        return None;
    }
    let s = if s.is_high() { s.neg() } else { s };
    Some(Signature {
        r: r.value(),
        s: s.value(),
    })
}

/// Signature checks made by this process so far (those that got as far as the curve). The
/// defense tests and `cargo bench --bench abuse` read it to count what a peer made us do; one
/// relaxed atomic add is nothing next to a check's 70 µs.
static VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// How many signatures this process has checked on the curve so far (see [`verify`]).
pub fn verifications() -> u64 {
    VERIFICATIONS.load(Ordering::Relaxed)
}

/// Does `signature` sign digest `z` under `key`? Refuses r or s outside [1, n − 1] and a high s.
pub fn verify(key: &PublicKey, z: &[u8; 32], signature: &Signature) -> bool {
    VERIFICATIONS.fetch_add(1, Ordering::Relaxed);
    let (Some(r), Some(s)) = (Scalar::new(signature.r), Scalar::new(signature.s)) else {
        return false;
    };
    if r.is_zero() || s.is_zero() || s.is_high() {
        return false;
    }
    let w = s.invert();
    let u1 = digest_scalar(z).mul(&w);
    let u2 = r.mul(&w);
    mul_add_g_glv(&u1, &u2, key.point()).x_matches(&r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first two RFC 6979 nonces for secret 1 and SHA-256("Satoshi Nakamoto"), as an
    /// independent implementation of the RFC (Python's `hmac`) computes them. The second is
    /// what a signature would use if the first gave r = 0 or s = 0.
    #[test]
    fn rfc6979_nonces() {
        let d = Scalar::ONE;
        let z = digest_scalar(&Sha256::digest(b"Satoshi Nakamoto").into());
        let mut nonces = Rfc6979::new(&d, &z);
        let hex = |k: Scalar| hex::encode(k.value().to_be_bytes());
        assert_eq!(
            hex(nonces.next()),
            "8f8a276c19f4149656b280621e358cce24f5f52542772691ee69063b74f15d15"
        );
        assert_eq!(
            hex(nonces.next()),
            "f15fb763a6bcbbacbde0a6a9ae2a02482bd92f3e75a50b357bd551ddd771045e"
        );
    }

    /// HMAC keys longer than the 64-byte block are hashed first (RFC 4231, test case 6); a key
    /// of exactly 64 bytes is used as it is.
    #[test]
    fn hmac_key_lengths() {
        let long = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex::encode(long),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        let key: Vec<u8> = (0..64).collect();
        assert_eq!(
            hex::encode(hmac_sha256(&key, &[b"sixty-four"])),
            "ddc89972fd68037feaba8b86463cb6e993dc97072bfa393bd87ef0bfa9a82028"
        );
    }
}
