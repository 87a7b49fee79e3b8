//! 256-bit unsigned integers: four 64-bit limbs, least significant first.
//!
//! Only what the field and scalar arithmetic need: add and subtract with carry, a full
//! 256 × 256 → 512-bit product, comparison, bits, and big-endian bytes. Multiplying two limbs
//! goes through `u128`, which Rust compiles to one machine multiply on 64-bit targets.
//!
//! Not constant time: branches and early exits depend on the values. Fine for learning and for
//! verifying public signatures; a wallet guarding real value uses libsecp256k1.

use std::cmp::Ordering;

/// A 256-bit unsigned integer; `limbs[0]` is the least significant.
#[derive(Clone, Copy, Debug, Eq, Default)]
pub struct U256(pub [u64; 4]);

impl U256 {
    /// Zero.
    pub const ZERO: U256 = U256([0; 4]);
    /// One.
    pub const ONE: U256 = U256([1, 0, 0, 0]);

    /// From 32 big-endian bytes.
    pub fn from_be_bytes(bytes: &[u8; 32]) -> U256 {
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let start = 32 - 8 * (i + 1);
            *limb = u64::from_be_bytes(bytes[start..start + 8].try_into().expect("8 bytes"));
        }
        U256(limbs)
    }

    /// To 32 big-endian bytes.
    pub fn to_be_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, limb) in self.0.iter().enumerate() {
            let start = 32 - 8 * (i + 1);
            out[start..start + 8].copy_from_slice(&limb.to_be_bytes());
        }
        out
    }

    /// From 64 hex digits (either case); `None` otherwise. For constants and tests.
    pub fn from_hex(hex: &str) -> Option<U256> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex, &mut bytes).ok()?;
        Some(U256::from_be_bytes(&bytes))
    }

    /// A small number.
    pub const fn from_u64(n: u64) -> U256 {
        U256([n, 0, 0, 0])
    }

    /// Is it zero?
    pub fn is_zero(&self) -> bool {
        let l = self.0;
        l[0] | l[1] | l[2] | l[3] == 0
    }

    /// Bit `i` (0 is the least significant).
    pub fn bit(&self, i: usize) -> bool {
        (self.0[i / 64] >> (i % 64)) & 1 == 1
    }

    /// `self + other` and the carry out of the top.
    #[inline]
    pub fn add_carry(&self, other: &U256) -> (U256, bool) {
        let mut out = [0u64; 4];
        let mut carry = false;
        for (i, limb) in out.iter_mut().enumerate() {
            let (sum, c1) = self.0[i].overflowing_add(other.0[i]);
            let (sum, c2) = sum.overflowing_add(carry as u64);
            *limb = sum;
            carry = c1 | c2;
        }
        (U256(out), carry)
    }

    /// `self − other` and the borrow out of the top (true when `other > self`).
    #[inline]
    pub fn sub_borrow(&self, other: &U256) -> (U256, bool) {
        let mut out = [0u64; 4];
        let mut borrow = false;
        for (i, limb) in out.iter_mut().enumerate() {
            let (diff, b1) = self.0[i].overflowing_sub(other.0[i]);
            let (diff, b2) = diff.overflowing_sub(borrow as u64);
            *limb = diff;
            borrow = b1 | b2;
        }
        (U256(out), borrow)
    }

    /// The full 512-bit product, eight limbs, least significant first (schoolbook).
    #[inline]
    pub fn mul_wide(&self, other: &U256) -> [u64; 8] {
        let mut out = [0u64; 8];
        for i in 0..4 {
            let mut carry = 0u128;
            for j in 0..4 {
                let t = self.0[i] as u128 * other.0[j] as u128 + out[i + j] as u128 + carry;
                out[i + j] = t as u64;
                carry = t >> 64;
            }
            out[i + 4] = carry as u64;
        }
        out
    }
}

/// Limb by limb. (The derived `==` on an array compiled to a call to `memcmp`, which took
/// 8 % of a signature check's time inside the inversion's loop.)
impl PartialEq for U256 {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0, other.0);
        (a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) == 0
    }
}

/// By the limbs, as `==` compares them.
impl std::hash::Hash for U256 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl Ord for U256 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

impl PartialOrd for U256 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Reduces a number of up to 512 bits modulo `m = 2^256 − c`, where `c` is small (below
/// 2^130): since 2^256 ≡ c, the top half can be multiplied by `c` and added to the bottom half,
/// a few times over, until the number fits in 256 bits; then at most one subtraction of `m`.
/// This is why both secp256k1 moduli are chosen just below 2^256.
pub(crate) fn reduce_wide(wide: [u64; 8], c: &U256, m: &U256) -> U256 {
    let mut t = wide;
    // Each fold shrinks the part above 2^256 by 256 − 130 bits, so three always suffice.
    while t[4] | t[5] | t[6] | t[7] != 0 {
        let high = U256([t[4], t[5], t[6], t[7]]);
        let low = U256([t[0], t[1], t[2], t[3]]);
        let product = high.mul_wide(c);
        let mut carry = 0u128;
        for (i, limb) in t.iter_mut().enumerate() {
            let base = if i < 4 { low.0[i] as u128 } else { 0 };
            let sum = base + product[i] as u128 + carry;
            *limb = sum as u64;
            carry = sum >> 64;
        }
    }
    let mut r = U256([t[0], t[1], t[2], t[3]]);
    while r >= *m {
        r = r.sub_borrow(m).0;
    }
    r
}

/// `a⁻¹ mod m` for an odd modulus `m` and `0 < a < m` with gcd(a, m) = 1, by the binary
/// extended Euclidean algorithm: only shifts, additions and subtractions, about 512 rounds.
/// Several times faster than Fermat's a^(m−2), which needs some 300 modular multiplications.
/// Returns 0 for `a = 0`.
pub(crate) fn inverse_mod(a: &U256, m: &U256) -> U256 {
    if a.is_zero() {
        return U256::ZERO;
    }
    // Invariants: x1·a ≡ u and x2·a ≡ v (mod m).
    let (mut u, mut v) = (*a, *m);
    let (mut x1, mut x2) = (U256::ONE, U256::ZERO);
    // Halves x modulo m: x/2 if x is even, else (x + m)/2, with the carry of x + m kept. The
    // choice is a mask, not a branch: x's lowest bit is a coin toss the processor would
    // mispredict half the time (see `Fe::add`).
    let halve = |x: &mut U256| {
        let (sum, carry) = x.add_carry(&masked(m, x.bit(0)));
        *x = shr1(&sum, carry);
    };
    while u != U256::ONE && v != U256::ONE {
        while !u.bit(0) {
            u = shr1(&u, false);
            halve(&mut x1);
        }
        while !v.bit(0) {
            v = shr1(&v, false);
            halve(&mut x2);
        }
        if u >= v {
            u = u.sub_borrow(&v).0;
            x1 = sub_mod(&x1, &x2, m);
        } else {
            v = v.sub_borrow(&u).0;
            x2 = sub_mod(&x2, &x1, m);
        }
    }
    if u == U256::ONE {
        x1
    } else {
        x2
    }
}

/// `x >> 1`, with `top` shifted into bit 255.
fn shr1(x: &U256, top: bool) -> U256 {
    let l = x.0;
    U256([
        (l[0] >> 1) | (l[1] << 63),
        (l[1] >> 1) | (l[2] << 63),
        (l[2] >> 1) | (l[3] << 63),
        (l[3] >> 1) | ((top as u64) << 63),
    ])
}

/// `a − b mod m` for `a, b < m`: m is added back, masked to zero when nothing borrowed.
fn sub_mod(a: &U256, b: &U256, m: &U256) -> U256 {
    let (diff, borrow) = a.sub_borrow(b);
    diff.add_carry(&masked(m, borrow)).0
}

/// `x` if `keep`, else 0, without a branch.
#[inline]
pub(crate) fn masked(x: &U256, keep: bool) -> U256 {
    let mask = 0u64.wrapping_sub(keep as u64);
    U256([x.0[0] & mask, x.0[1] & mask, x.0[2] & mask, x.0[3] & mask])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes round-trip, comparison looks at the top limb first, and carries cross limbs.
    #[test]
    fn basics() {
        let x = U256::from_hex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20")
            .unwrap();
        assert_eq!(
            hex::encode(x.to_be_bytes()),
            "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
        );
        assert!(U256([0, 0, 0, 1]) > U256([u64::MAX, u64::MAX, u64::MAX, 0]));
        let max = U256([u64::MAX; 4]);
        assert_eq!(max.add_carry(&U256::ONE), (U256::ZERO, true));
        assert_eq!(U256::ZERO.sub_borrow(&U256::ONE), (max, true));
        let product = max.mul_wide(&max); // (2^256 − 1)^2 = 2^512 − 2^257 + 1
        assert_eq!(
            product,
            [1, 0, 0, 0, u64::MAX - 1, u64::MAX, u64::MAX, u64::MAX]
        );
        assert!(!x.bit(0) && x.bit(5) && x.bit(248));
    }

    /// The binary inverse agrees with the definition: a · a⁻¹ ≡ 1, checked by multiplying
    /// and reducing, for a modulus just below 2^256 (the top bit makes the carries matter).
    #[test]
    fn inverse_mod_inverts() {
        let m = U256([0xFFFF_FFFE_FFFF_FC2F, u64::MAX, u64::MAX, u64::MAX]); // p
        let c = U256::from_u64(0x1_0000_03D1);
        for a in [
            U256::ONE,
            U256::from_u64(2),
            U256::from_u64(0xdead_beef),
            m.sub_borrow(&U256::ONE).0,
            U256([1, 2, 3, 0x8000_0000_0000_0000]),
        ] {
            let inv = inverse_mod(&a, &m);
            assert!(inv < m);
            assert_eq!(reduce_wide(a.mul_wide(&inv), &c, &m), U256::ONE, "{a:?}");
        }
        assert_eq!(inverse_mod(&U256::ZERO, &m), U256::ZERO);
    }
}
