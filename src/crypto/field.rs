//! The field secp256k1 lives in: integers modulo the prime p = 2^256 − 2^32 − 977.
//!
//! Every coordinate of every curve point is a field element, so this is where the time goes:
//! a signature check does a few thousand field multiplications. The prime's shape makes
//! reduction cheap. A product of two elements has 512 bits, t = high·2^256 + low, and since
//! 2^256 = p + (2^32 + 977), 2^256 ≡ 2^32 + 977 (mod p): so t ≡ low + high·(2^32 + 977). That
//! is one multiplication of `high` by a 33-bit number, then once more for the few bits that
//! carried out, then at most one subtraction of p. No division anywhere.
//!
//! For learning only: not constant time.

use super::u256::{inverse_mod, U256};
use std::fmt;

/// p = 2^256 − 2^32 − 977.
pub const P: U256 = U256([
    0xFFFF_FFFE_FFFF_FC2F,
    0xFFFF_FFFF_FFFF_FFFF,
    0xFFFF_FFFF_FFFF_FFFF,
    0xFFFF_FFFF_FFFF_FFFF,
]);

/// 2^256 mod p = 2^32 + 977.
const C: u64 = 0x1_0000_03D1;

/// (p + 1) / 4: a square's square root is its power to this (since p ≡ 3 mod 4).
const SQRT_EXPONENT: U256 = U256([
    0xFFFF_FFFF_BFFF_FF0C,
    0xFFFF_FFFF_FFFF_FFFF,
    0xFFFF_FFFF_FFFF_FFFF,
    0x3FFF_FFFF_FFFF_FFFF,
]);

/// An element of the field: a number below p.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Fe(U256);

impl fmt::Debug for Fe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fe({})", hex::encode(self.0.to_be_bytes()))
    }
}

impl Fe {
    /// 0.
    pub const ZERO: Fe = Fe(U256::ZERO);
    /// 1.
    pub const ONE: Fe = Fe(U256::ONE);

    /// The element `x`, if `x < p`.
    pub fn new(x: U256) -> Option<Fe> {
        (x < P).then_some(Fe(x))
    }

    /// A constant from its limbs, least significant first (must be below p).
    pub const fn from_limbs(limbs: [u64; 4]) -> Fe {
        Fe(U256(limbs))
    }

    /// A small constant.
    pub const fn from_u64(n: u64) -> Fe {
        Fe(U256::from_u64(n))
    }

    /// The number, below p.
    pub fn value(&self) -> U256 {
        self.0
    }

    /// Is it 0?
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Is the number odd? (A compressed key stores this bit of y.)
    pub fn is_odd(&self) -> bool {
        self.0.bit(0)
    }

    /// `self + other`.
    pub fn add(&self, other: &Fe) -> Fe {
        let (sum, carry) = self.0.add_carry(&other.0);
        // The true sum is below 2p; subtracting p once, with wrap-around, is exact.
        if carry || sum >= P {
            Fe(sum.sub_borrow(&P).0)
        } else {
            Fe(sum)
        }
    }

    /// `self − other`.
    pub fn sub(&self, other: &Fe) -> Fe {
        let (diff, borrow) = self.0.sub_borrow(&other.0);
        if borrow {
            Fe(diff.add_carry(&P).0)
        } else {
            Fe(diff)
        }
    }

    /// `−self`.
    pub fn neg(&self) -> Fe {
        Fe::ZERO.sub(self)
    }

    /// `self · other`.
    pub fn mul(&self, other: &Fe) -> Fe {
        Fe(reduce(self.0.mul_wide(&other.0)))
    }

    /// `self²`.
    pub fn square(&self) -> Fe {
        self.mul(self)
    }

    /// `self · k` for a small k.
    pub fn mul_small(&self, k: u64) -> Fe {
        self.mul(&Fe::from_u64(k))
    }

    /// `self^e`, by square and multiply over the bits of `e`.
    pub fn pow(&self, e: &U256) -> Fe {
        let mut result = Fe::ONE;
        for i in (0..256).rev() {
            result = result.square();
            if e.bit(i) {
                result = result.mul(self);
            }
        }
        result
    }

    /// `1 / self`; 0 has no inverse and gives 0. Fermat's little theorem says
    /// self^(p−2) = self⁻¹, which is how the textbook does it (and [`pow`](Self::pow) can check
    /// it); the binary extended Euclidean algorithm gets there several times faster.
    pub fn invert(&self) -> Fe {
        Fe(inverse_mod(&self.0, &P))
    }

    /// A square root, if there is one. Since p ≡ 3 (mod 4), it is self^((p+1)/4) whenever a
    /// root exists; squaring the candidate tells whether one did.
    pub fn sqrt(&self) -> Option<Fe> {
        let root = self.pow(&SQRT_EXPONENT);
        (root.square() == *self).then_some(root)
    }
}

/// Reduces a 512-bit product modulo p (see the module docs).
fn reduce(t: [u64; 8]) -> U256 {
    // low + high · C: five limbs, the top one below 2^34.
    let mut r = [0u64; 5];
    let mut carry = 0u128;
    for i in 0..4 {
        let v = t[i] as u128 + t[i + 4] as u128 * C as u128 + carry;
        r[i] = v as u64;
        carry = v >> 64;
    }
    r[4] = carry as u64;
    // Fold the top limb once more: r[4] · C is below 2^67.
    let mut carry = r[4] as u128 * C as u128;
    let mut out = [0u64; 4];
    for (i, limb) in out.iter_mut().enumerate() {
        let v = r[i] as u128 + carry;
        *limb = v as u64;
        carry = v >> 64;
    }
    let mut x = U256(out);
    if carry != 0 {
        // Carried out of 2^256 once more: that 2^256 is worth C.
        x = x.add_carry(&U256::from_u64(C)).0;
    }
    if x >= P {
        x = x.sub_borrow(&P).0;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fe(hex: &str) -> Fe {
        Fe::new(U256::from_hex(hex).unwrap()).unwrap()
    }

    /// Wrap-around at p in both directions, inverses, and square roots.
    #[test]
    fn arithmetic_mod_p() {
        let p_minus_1 = fe("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2e");
        assert_eq!(p_minus_1.add(&Fe::ONE), Fe::ZERO);
        assert_eq!(Fe::ZERO.sub(&Fe::ONE), p_minus_1);
        assert_eq!(p_minus_1.mul(&p_minus_1), Fe::ONE, "(−1)² = 1");
        assert!(Fe::new(P).is_none());
        assert_eq!(
            format!("{:?}", Fe::from_u64(10)),
            format!("Fe({:0>64})", "a")
        );
        let x = fe("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
        assert_eq!(x.mul(&x.invert()), Fe::ONE);
        assert_eq!(
            x.invert(),
            x.pow(&P.sub_borrow(&U256::from_u64(2)).0),
            "Fermat agrees"
        );
        let y2 = x.square().mul(&x).add(&Fe::from_u64(7));
        let y = y2.sqrt().expect("G's x is on the curve");
        assert_eq!(y.square(), y2);
        let four = P.add_carry(&U256::ONE).0; // p + 1, then / 4 below
        assert_eq!(
            SQRT_EXPONENT.mul_wide(&U256::from_u64(4))[..4],
            four.0,
            "(p + 1) / 4"
        );
        // 3 is not a square mod p (a root would square back to 3).
        assert!(Fe::from_u64(3).sqrt().is_none());
        assert_eq!(
            Fe::from_u64(4).sqrt().map(|r| r.square()),
            Some(Fe::from_u64(4))
        );
    }
}
