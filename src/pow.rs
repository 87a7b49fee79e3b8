//! Proof of work: leading zero bits, and how much work a block proves.
//!
//! Difficulty here is a count of leading zero bits, so each step doubles the expected number of
//! hashes. Bitcoin uses a 256-bit target instead, which can move in much finer steps; a whole
//! bit is coarse but easy to see in a hex hash (four zero bits make one `0` digit).
//!
//! See `tutorial/03-proof-of-work.md`.

use crate::hash::Hash;

/// How many leading bits of `hash` are zero, counted from the most significant bit of byte 0.
pub fn leading_zero_bits(hash: &Hash) -> u32 {
    let (high, low) = hash.0.split_at(16);
    let high = u128::from_be_bytes(high.try_into().expect("16 bytes"));
    if high != 0 {
        return high.leading_zeros();
    }
    128 + u128::from_be_bytes(low.try_into().expect("16 bytes")).leading_zeros()
}

/// Does `hash` have at least `difficulty` leading zero bits?
pub fn meets_difficulty(hash: &Hash, difficulty: u32) -> bool {
    leading_zero_bits(hash) >= difficulty
}

/// The work a block of this difficulty proves: 2^difficulty expected hashes, saturating at
/// `u128::MAX` (no valid block comes near: the maximum difficulty is 64).
pub fn work(difficulty: u32) -> u128 {
    1u128.checked_shl(difficulty).unwrap_or(u128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zero bits are counted across byte and half boundaries.
    #[test]
    fn counts_leading_zero_bits() {
        let mut h = Hash([0xff; 32]);
        assert_eq!(leading_zero_bits(&h), 0);
        h.0[0] = 0x0f;
        assert_eq!(leading_zero_bits(&h), 4);
        h.0[0] = 0;
        h.0[1] = 0x01;
        assert_eq!(leading_zero_bits(&h), 15);
        let mut deep = Hash::ZERO;
        deep.0[20] = 0x80;
        assert_eq!(leading_zero_bits(&deep), 160);
        assert_eq!(leading_zero_bits(&Hash::ZERO), 256);
        assert!(meets_difficulty(&deep, 160));
        assert!(!meets_difficulty(&deep, 161));
    }

    /// Work doubles per bit and saturates instead of overflowing.
    #[test]
    fn work_doubles_and_saturates() {
        assert_eq!(work(0), 1);
        assert_eq!(work(20), 1 << 20);
        assert_eq!(work(127), 1 << 127);
        assert_eq!(work(128), u128::MAX);
        assert_eq!(work(u32::MAX), u128::MAX);
    }
}
