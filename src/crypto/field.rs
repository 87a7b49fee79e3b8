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

use super::u256::{inverse_mod, masked, U256};
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
    #[inline]
    pub fn add(&self, other: &Fe) -> Fe {
        let (sum, carry) = self.0.add_carry(&other.0);
        // The true sum is below 2p. Subtract p, and keep that unless it borrowed (the sum was
        // below p) without the addition having carried. Chosen by a mask, not a branch: for
        // random elements the branch goes either way half the time, and a mispredicted branch
        // costs more than the subtraction.
        let (less, borrow) = sum.sub_borrow(&P);
        Fe(select(borrow && !carry, &sum, &less))
    }

    /// `self − other`.
    #[inline]
    pub fn sub(&self, other: &Fe) -> Fe {
        let (diff, borrow) = self.0.sub_borrow(&other.0);
        // Add p back if it borrowed: p masked to all zeros or all ones, no branch (see `add`).
        Fe(diff.add_carry(&masked(&P, borrow)).0)
    }

    /// `−self`.
    pub fn neg(&self) -> Fe {
        Fe::ZERO.sub(self)
    }

    /// `self · other`.
    ///
    /// `#[inline]`, like the other operations here: a release build splits the crate into
    /// several codegen units and inlines across them only what is marked. Unmarked, whether
    /// `reduce` and `mul` were inlined into the point formulas depended on how the split fell,
    /// and an unrelated change elsewhere in the crate once cost verification 15 %.
    #[inline]
    pub fn mul(&self, other: &Fe) -> Fe {
        Fe(reduce(self.0.mul_wide(&other.0)))
    }

    /// `self²`. (A squaring that computes each cross product once needs 10 limb products
    /// instead of 16; written plainly in Rust, ours measured no faster than this, so it went.)
    #[inline]
    pub fn square(&self) -> Fe {
        self.mul(self)
    }

    /// `self · k` for a small k: four limb products, where [`mul`](Self::mul) would take
    /// sixteen. (Point doubling multiplies by 8.)
    pub fn mul_small(&self, k: u64) -> Fe {
        let mut t = [0u64; 8];
        let mut carry = 0u128;
        for (i, limb) in self.0 .0.iter().enumerate() {
            let v = *limb as u128 * k as u128 + carry;
            t[i] = v as u64;
            carry = v >> 64;
        }
        t[4] = carry as u64;
        Fe(reduce(t))
    }

    /// `self^e`, four bits of `e` at a time: a table of self^0 to self^15 first (14
    /// multiplications), then for each 4-bit digit of `e`, from the top, four squarings and one
    /// multiplication by the digit's entry. Plain square-and-multiply does one multiplication
    /// per set bit instead: for the square root's exponent, 247 of its 254 bits are set, so
    /// windows save about 170 multiplications, a third of the work. (Every signature check
    /// starts with a square root, to read the public key's y from its x.)
    pub fn pow(&self, e: &U256) -> Fe {
        let mut table = [Fe::ONE; 16];
        for i in 1..16 {
            table[i] = table[i - 1].mul(self);
        }
        let mut result = Fe::ONE;
        for digit in (0..64).rev() {
            for _ in 0..4 {
                result = result.square();
            }
            let bits = (e.0[digit / 16] >> (4 * (digit % 16))) & 0xF;
            if bits != 0 {
                result = result.mul(&table[bits as usize]);
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

/// `if choose_a { a } else { b }`, computed with masks so that the compiler emits no branch.
#[inline]
fn select(choose_a: bool, a: &U256, b: &U256) -> U256 {
    let mask = 0u64.wrapping_sub(choose_a as u64);
    let pick = |i: usize| (a.0[i] & mask) | (b.0[i] & !mask);
    U256([pick(0), pick(1), pick(2), pick(3)])
}

/// Reduces a 512-bit product modulo p (see the module docs).
#[inline]
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

    /// The branch-free `add` and `sub`, and `mul_small`, agree with plain 512-bit arithmetic
    /// reduced mod p by `reduce_wide` (the scalar field's general reduction), on numbers near
    /// 0, near p and spread between (SHA-256 outputs, reduced below p), in every pairing.
    #[test]
    fn add_sub_and_mul_small_agree_with_wide_arithmetic() {
        use super::super::u256::reduce_wide;
        use sha2::{Digest, Sha256};
        let c = U256::from_u64(C);
        let wide = |x: U256, carry: bool| {
            reduce_wide(
                [x.0[0], x.0[1], x.0[2], x.0[3], carry as u64, 0, 0, 0],
                &c,
                &P,
            )
        };
        let mut values = vec![
            Fe::ZERO,
            Fe::ONE,
            Fe::new(P.sub_borrow(&U256::ONE).0).unwrap(),
            Fe::new(P.sub_borrow(&U256::from_u64(C)).0).unwrap(),
            Fe::from_limbs([u64::MAX, u64::MAX, u64::MAX, u64::MAX >> 1]),
        ];
        for i in 0..40u32 {
            let bytes: [u8; 32] = Sha256::digest(i.to_le_bytes()).into();
            let x = U256::from_be_bytes(&bytes);
            values.push(Fe::new(x).unwrap_or(Fe(x.sub_borrow(&P).0)));
        }
        for a in &values {
            for b in &values {
                let (sum, carry) = a.0.add_carry(&b.0);
                assert_eq!(a.add(b).0, wide(sum, carry), "{a:?} + {b:?}");
                let (sum, carry) = a.0.add_carry(&P.sub_borrow(&b.0).0); // a + (p − b)
                assert_eq!(a.sub(b).0, wide(sum, carry), "{a:?} − {b:?}");
            }
            for k in [0, 1, 2, 3, 8, 977, u64::MAX] {
                let big = Fe::new(U256::from_u64(k)).unwrap();
                assert_eq!(a.mul_small(k), a.mul(&big), "{a:?} · {k}");
            }
        }
    }

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
