//! Scalars: integers modulo n, the number of points on secp256k1 (the order of G).
//!
//! Secret keys, nonces and the r and s of a signature are scalars. n is also just below 2^256,
//! n = 2^256 − c with c about 2^128, so the same folding reduction as the field's works, with
//! a bigger c and a fold or two more.
//!
//! For learning only: not constant time.

use super::u256::{inverse_mod, reduce_wide, U256};

/// n, the group order.
pub const N: U256 = U256([
    0xBFD2_5E8C_D036_4141,
    0xBAAE_DCE6_AF48_A03B,
    0xFFFF_FFFF_FFFF_FFFE,
    0xFFFF_FFFF_FFFF_FFFF,
]);

/// 2^256 − n.
const C: U256 = U256([0x402D_A173_2FC9_BEBF, 0x4551_2319_50B7_5FC4, 1, 0]);

/// n / 2, rounded down: a signature's s must not exceed it (low-S).
pub const HALF_N: U256 = U256([
    0xDFE9_2F46_681B_20A0,
    0x5D57_6E73_57A4_501D,
    0xFFFF_FFFF_FFFF_FFFF,
    0x7FFF_FFFF_FFFF_FFFF,
]);

/// A number below n.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Scalar(U256);

impl Scalar {
    /// 0.
    pub const ZERO: Scalar = Scalar(U256::ZERO);
    /// 1.
    pub const ONE: Scalar = Scalar(U256::ONE);

    /// The scalar `x`, if `x < n`.
    pub fn new(x: U256) -> Option<Scalar> {
        (x < N).then_some(Scalar(x))
    }

    /// `x mod n`, for any 256-bit `x` (one subtraction at most, since 2^256 < 2n).
    pub fn reduce(x: U256) -> Scalar {
        if x >= N {
            Scalar(x.sub_borrow(&N).0)
        } else {
            Scalar(x)
        }
    }

    /// The number, below n.
    pub fn value(&self) -> U256 {
        self.0
    }

    /// Is it 0?
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Is it above n / 2? (Then n − s is the low-S form.)
    pub fn is_high(&self) -> bool {
        self.0 > HALF_N
    }

    /// `self + other`.
    pub fn add(&self, other: &Scalar) -> Scalar {
        let (sum, carry) = self.0.add_carry(&other.0);
        if carry || sum >= N {
            Scalar(sum.sub_borrow(&N).0)
        } else {
            Scalar(sum)
        }
    }

    /// `−self`.
    pub fn neg(&self) -> Scalar {
        if self.is_zero() {
            *self
        } else {
            Scalar(N.sub_borrow(&self.0).0)
        }
    }

    /// `self · other`.
    pub fn mul(&self, other: &Scalar) -> Scalar {
        Scalar(reduce_wide(self.0.mul_wide(&other.0), &C, &N))
    }

    /// `1 / self` (the binary extended Euclidean algorithm); 0 gives 0.
    pub fn invert(&self) -> Scalar {
        Scalar(inverse_mod(&self.0, &N))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wrap-around at n, inverses, and the low-S boundary.
    #[test]
    fn arithmetic_mod_n() {
        let n_minus_1 = Scalar::new(N.sub_borrow(&U256::ONE).0).unwrap();
        assert_eq!(n_minus_1.add(&Scalar::ONE), Scalar::ZERO);
        assert_eq!(n_minus_1.mul(&n_minus_1), Scalar::ONE, "(−1)² = 1");
        assert_eq!(Scalar::ONE.neg(), n_minus_1);
        assert_eq!(N.add_carry(&C), (U256::ZERO, true), "C = 2^256 − n");
        let x = Scalar::new(U256::from_u64(123_456_789)).unwrap();
        assert_eq!(x.mul(&x.invert()), Scalar::ONE);
        let half = Scalar::new(HALF_N).unwrap();
        assert!(!half.is_high());
        assert!(half.add(&Scalar::ONE).is_high());
        assert_eq!(
            half.add(&half).add(&Scalar::ONE),
            Scalar::ZERO,
            "2·⌊n/2⌋ + 1 = n"
        );
        assert_eq!(Scalar::reduce(N), Scalar::ZERO);
    }
}
