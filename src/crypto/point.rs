//! Points on secp256k1, the curve y² = x³ + 7 over the field of [`field`](super::field).
//!
//! Two points add to a third by the chord-and-tangent rule, and adding G to itself k times is
//! scalar multiplication, k·G: easy to compute, and (as far as anyone knows) impossible to undo.
//! That one-way street is what makes a secret key's public key safe to publish.
//!
//! **Why Jacobian coordinates.** In the textbook (affine) formulas, every addition divides,
//! and a division in the field costs a few hundred multiplications. Jacobian coordinates
//! write a point as (X, Y, Z) meaning (X/Z², Y/Z³), which postpones all the dividing to one
//! inversion at the very end. A verification then costs a few thousand multiplications, not
//! a few hundred thousand.
//!
//! **Why windows.** k·G by "double, and add G when the bit is 1" adds about 128 times. Writing
//! k in *wNAF* (width-w non-adjacent form: digits that are 0 or odd, with at least w − 1 zeros
//! after each non-zero one) adds about 256/(w+1) times, from a small table of odd multiples.
//! G's table is computed once, in affine form, for cheaper additions; k·G alone, for signing,
//! has a bigger table of its own and no doublings ([`mul_g`]). A verification needs
//! u1·G + u2·Q, and *Shamir's trick* does both in one pass: double once per bit, add from
//! whichever table has a digit there.
//!
//! For learning only: not constant time, so timing can leak secrets. Bitcoin Core uses
//! libsecp256k1, which is constant time, formally reviewed, and about 2.4× faster at
//! verifying than this (`tutorial/14-fields-and-curves.md`, section 5).

use super::field::Fe;
use super::scalar::Scalar;
use super::u256::U256;
use std::sync::OnceLock;

/// A point other than infinity, in ordinary (x, y) coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Affine {
    /// x coordinate.
    pub x: Fe,
    /// y coordinate.
    pub y: Fe,
}

/// A point in Jacobian coordinates: (X, Y, Z) is (X/Z², Y/Z³); Z = 0 is the point at infinity,
/// the group's zero.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    x: Fe,
    y: Fe,
    z: Fe,
}

/// The generator G.
pub const G: Affine = Affine {
    x: Fe::from_limbs([
        0x59F2_815B_16F8_1798,
        0x029B_FCDB_2DCE_28D9,
        0x55A0_6295_CE87_0B07,
        0x79BE_667E_F9DC_BBAC,
    ]),
    y: Fe::from_limbs([
        0x9C47_D08F_FB10_D4B8,
        0xFD17_B448_A685_5419,
        0x5DA4_FBFC_0E11_08A8,
        0x483A_DA77_26A3_C465,
    ]),
};

impl Affine {
    /// Is (x, y) on the curve: y² = x³ + 7?
    pub fn is_on_curve(&self) -> bool {
        self.y.square() == self.x.square().mul(&self.x).add(&Fe::from_u64(7))
    }

    /// The point with this x and a y of the given parity, if x is on the curve.
    pub fn from_x(x: Fe, odd: bool) -> Option<Affine> {
        let y = x.square().mul(&x).add(&Fe::from_u64(7)).sqrt()?;
        let y = if y.is_odd() == odd { y } else { y.neg() };
        Some(Affine { x, y })
    }
}

impl Point {
    /// The point at infinity.
    pub const INFINITY: Point = Point {
        x: Fe::ONE,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    /// `a` in Jacobian form (Z = 1).
    pub fn from_affine(a: &Affine) -> Point {
        Point {
            x: a.x,
            y: a.y,
            z: Fe::ONE,
        }
    }

    /// Is it the point at infinity?
    pub fn is_infinity(&self) -> bool {
        self.z.is_zero()
    }

    /// Back to (x, y), with the one inversion; `None` for infinity.
    pub fn to_affine(&self) -> Option<Affine> {
        if self.is_infinity() {
            return None;
        }
        let z_inv = self.z.invert();
        let z_inv2 = z_inv.square();
        Some(Affine {
            x: self.x.mul(&z_inv2),
            y: self.y.mul(&z_inv2).mul(&z_inv),
        })
    }

    /// Does this point's x, reduced mod n, equal `r`? Compares X with r·Z² instead of
    /// dividing (x < p, and n < p, so x mod n is x or x − n).
    pub fn x_matches(&self, r: &Scalar) -> bool {
        if self.is_infinity() {
            return false;
        }
        let z2 = self.z.square();
        let r_value = r.value();
        let candidate = Fe::new(r_value).expect("r < n < p");
        if candidate.mul(&z2) == self.x {
            return true;
        }
        // x may also be r + n, when that is still below p.
        let (r_plus_n, carry) = r_value.add_carry(&super::scalar::N);
        match (carry, Fe::new(r_plus_n)) {
            (false, Some(x)) => x.mul(&z2) == self.x,
            _ => false,
        }
    }

    /// `−self`.
    pub fn neg(&self) -> Point {
        Point {
            x: self.x,
            y: self.y.neg(),
            z: self.z,
        }
    }

    /// `2·self` (the "dbl-2009-l" formulas for a = 0).
    pub fn double(&self) -> Point {
        if self.is_infinity() || self.y.is_zero() {
            return Point::INFINITY;
        }
        let a = self.x.square();
        let b = self.y.square();
        let c = b.square();
        let d = self.x.add(&b).square().sub(&a).sub(&c);
        let d = d.add(&d);
        let e = a.add(&a).add(&a);
        let f = e.square();
        let x3 = f.sub(&d.add(&d));
        let c8 = c.mul_small(8);
        let y3 = e.mul(&d.sub(&x3)).sub(&c8);
        let z3 = self.y.mul(&self.z);
        Point {
            x: x3,
            y: y3,
            z: z3.add(&z3),
        }
    }

    /// `self + other` (the "add-2007-bl" formulas).
    pub fn add(&self, other: &Point) -> Point {
        if self.is_infinity() {
            return *other;
        }
        if other.is_infinity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = other.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = other.x.mul(&z1z1);
        let s1 = self.y.mul(&other.z).mul(&z2z2);
        let s2 = other.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let r = s2.sub(&s1);
        if h.is_zero() {
            // Same x: the same point (double it) or opposite points (their sum is zero).
            return if r.is_zero() {
                self.double()
            } else {
                Point::INFINITY
            };
        }
        let r = r.add(&r);
        let i = h.add(&h).square();
        let j = h.mul(&i);
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.add(&v));
        let s1j = s1.mul(&j);
        let y3 = r.mul(&v.sub(&x3)).sub(&s1j.add(&s1j));
        let z3 = self.z.add(&other.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Point {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `self + a` for an affine `a` (the "madd-2007-bl" formulas: Z2 = 1 saves work).
    pub fn add_affine(&self, a: &Affine) -> Point {
        if self.is_infinity() {
            return Point::from_affine(a);
        }
        let z1z1 = self.z.square();
        let u2 = a.x.mul(&z1z1);
        let s2 = a.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let r = s2.sub(&self.y);
        if h.is_zero() {
            return if r.is_zero() {
                self.double()
            } else {
                Point::INFINITY
            };
        }
        let hh = h.square();
        let i = hh.add(&hh);
        let i = i.add(&i);
        let j = h.mul(&i);
        let r = r.add(&r);
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.add(&v));
        let y1j = self.y.mul(&j);
        let y3 = r.mul(&v.sub(&x3)).sub(&y1j.add(&y1j));
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        Point {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// Equality as points (different (X, Y, Z) can be the same point).
    pub fn same_as(&self, other: &Point) -> bool {
        match (self.to_affine(), other.to_affine()) {
            (None, None) => true,
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

/// The width of the wNAF for G and for other points. A wider window means fewer additions
/// (one for every w + 1 bits, on average) but a table of 2^(w−2) odd multiples to build first.
/// G's table is built once, so G can afford 10 (256 points, 16 KiB; measured here, 7 → 10 made
/// a verification 6 % faster). Q's is built for every signature: 5 (8 points) is the best
/// trade, as in libsecp256k1.
const G_WINDOW: usize = 10;
const Q_WINDOW: usize = 5;

/// `k` in width-`w` non-adjacent form, least significant digit first: every digit is 0 or odd
/// and below 2^(w−1) in size (so `i16`: G's digits go up to ±511), and k = Σ digit_i · 2^i.
fn wnaf(k: &U256, w: usize) -> [i16; 257] {
    let mut digits = [0i16; 257];
    // k as 5 limbs, so adding back a negative digit's borrow cannot overflow.
    let mut n = [k.0[0], k.0[1], k.0[2], k.0[3], 0u64];
    let window = 1u64 << w;
    let mut i = 0;
    // (`n != [0; 5]` would compile to a call to `memcmp`: 8 % of a signature check.)
    while n.iter().fold(0, |acc, limb| acc | limb) != 0 {
        if n[0] & 1 == 1 {
            let mut digit = (n[0] & (window - 1)) as i64;
            if digit >= (window / 2) as i64 {
                digit -= window as i64;
            }
            digits[i] = digit as i16;
            // n −= digit
            if digit > 0 {
                let mut borrow = digit as u64;
                for limb in n.iter_mut() {
                    let (v, b) = limb.overflowing_sub(borrow);
                    *limb = v;
                    borrow = b as u64;
                    if borrow == 0 {
                        break;
                    }
                }
            } else {
                let mut carry = (-digit) as u64;
                for limb in n.iter_mut() {
                    let (v, c) = limb.overflowing_add(carry);
                    *limb = v;
                    carry = c as u64;
                    if carry == 0 {
                        break;
                    }
                }
            }
        }
        // n >>= shift: past the digit just taken, and past a run of zero bits in one step.
        let shift = n[0].trailing_zeros().clamp(1, 63);
        for j in 0..5 {
            let next = if j < 4 { n[j + 1] << (64 - shift) } else { 0 };
            n[j] = (n[j] >> shift) | next;
        }
        i += shift as usize;
    }
    digits
}

/// Odd multiples 1·P, 3·P, …, (2^(w−1) − 1)·P.
fn odd_multiples(p: &Point, w: usize) -> Vec<Point> {
    let twice = p.double();
    let mut table = vec![*p];
    for i in 1..(1 << (w - 2)) {
        let next = table[i - 1].add(&twice);
        table.push(next);
    }
    table
}

/// G's odd multiples for `G_WINDOW`, in affine form, computed on first use.
fn g_table() -> &'static [Affine] {
    static TABLE: OnceLock<Vec<Affine>> = OnceLock::new();
    TABLE.get_or_init(|| {
        odd_multiples(&Point::from_affine(&G), G_WINDOW)
            .iter()
            .map(|p| p.to_affine().expect("odd multiples of G are not infinity"))
            .collect()
    })
}

/// `a·G + b·q`, in one pass (Shamir's trick with wNAF digits).
pub fn mul_add_g(a: &Scalar, b: &Scalar, q: &Affine) -> Point {
    let g = g_table();
    let q_table = odd_multiples(&Point::from_affine(q), Q_WINDOW);
    let (da, db) = (wnaf(&a.value(), G_WINDOW), wnaf(&b.value(), Q_WINDOW));
    let top = (0..257)
        .rev()
        .find(|&i| da[i] != 0 || db[i] != 0)
        .unwrap_or(0);
    let mut acc = Point::INFINITY;
    for i in (0..=top).rev() {
        acc = acc.double();
        let d = da[i];
        if d > 0 {
            acc = acc.add_affine(&g[(d / 2) as usize]);
        } else if d < 0 {
            let p = g[(-d / 2) as usize];
            acc = acc.add_affine(&Affine {
                x: p.x,
                y: p.y.neg(),
            });
        }
        let d = db[i];
        if d > 0 {
            acc = acc.add(&q_table[(d / 2) as usize]);
        } else if d < 0 {
            acc = acc.add(&q_table[(-d / 2) as usize].neg());
        }
    }
    acc
}

/// λ, a cube root of 1 modulo n, and β, a cube root of 1 modulo p, paired so that
/// λ·(x, y) = (β·x, y) for every point: multiplying by λ costs one field multiplication. This is
/// the GLV endomorphism (Gallant, Lambert and Vanstone, 2001), which libsecp256k1 uses.
const LAMBDA: U256 = U256([
    0xDF02967C1B23BD72,
    0x122E22EA20816678,
    0xA5261C028812645A,
    0x5363AD4CC05C30E0,
]);
const BETA: Fe = Fe::from_limbs([
    0xC1396C28719501EE,
    0x9CF0497512F58995,
    0x6E64479EAC3434E9,
    0x7AE96A2B657C0710,
]);
/// A short basis of the lattice of (x, y) with x + y·λ ≡ 0 (mod n), as libsecp256k1 names it:
/// (a1, b1) and (a2, b2), where b2 = a1. Only −b1 and b2 are needed.
const MINUS_B1: U256 = U256([0x6F547FA90ABFE4C3, 0xE4437ED6010E8828, 0, 0]);
const B2: U256 = U256([0xE86C90E49284EB15, 0x3086D221A7D46BCD, 0, 0]);
/// round(2^384 · b2 / n) and round(2^384 · (−b1) / n): multiplying by them and keeping the top
/// 128 bits divides by n without a division.
const G1: U256 = U256([
    0xE893209A45DBB031,
    0x3DAA8A1471E8CA7F,
    0xE86C90E49284EB15,
    0x3086D221A7D46BCD,
]);
const G2: U256 = U256([
    0x1571B4AE8AC47F71,
    0x221208AC9DF506C6,
    0x6F547FA90ABFE4C4,
    0xE4437ED6010E8828,
]);

/// round(k · g / 2^384), for k below n and g one of [`G1`], [`G2`]: below 2^128.
fn mul_shift_384(k: &U256, g: &U256) -> U256 {
    let wide = k.mul_wide(g);
    let rounded = U256([wide[6], wide[7], 0, 0]);
    let half = wide[5] >> 63; // bit 383: round half up
    rounded.add_carry(&U256::from_u64(half)).0
}

/// Splits k into k1 + k2·λ (mod n) with |k1| and |k2| below 2^128: each part as its size and
/// whether it is negative. Babai's rounding on the lattice basis above, as libsecp256k1's
/// `scalar_split_lambda`: c1 = round(b2·k/n), c2 = round(−b1·k/n), k2 = c1·(−b1) − c2·b2,
/// k1 = k − k2·λ.
pub fn split_lambda(k: &Scalar) -> [(Scalar, bool); 2] {
    let c1 = Scalar::reduce(mul_shift_384(&k.value(), &G1));
    let c2 = Scalar::reduce(mul_shift_384(&k.value(), &G2));
    let k2 = c1
        .mul(&Scalar::reduce(MINUS_B1))
        .add(&c2.mul(&Scalar::reduce(B2)).neg());
    let k1 = k.add(&k2.mul(&Scalar::reduce(LAMBDA)).neg());
    // A part above n/2 stands for a negative one: its size is n − part.
    [k1, k2].map(|part| {
        if part.is_high() {
            (part.neg(), true)
        } else {
            (part, false)
        }
    })
}

impl Point {
    /// λ·self, by the endomorphism: (β·X, Y, Z), since x = X/Z².
    fn times_lambda(&self) -> Point {
        Point {
            x: self.x.mul(&BETA),
            y: self.y,
            z: self.z,
        }
    }
}

/// [`g_table`] times λ: (β·x, y) for each of G's odd multiples, computed on first use.
fn g_lambda_table() -> &'static [Affine] {
    static TABLE: OnceLock<Vec<Affine>> = OnceLock::new();
    TABLE.get_or_init(|| {
        g_table()
            .iter()
            .map(|p| Affine {
                x: p.x.mul(&BETA),
                y: p.y,
            })
            .collect()
    })
}

/// `a·G + b·q` as [`mul_add_g`] computes it, with half the doublings: a and b are each split
/// in two 128-bit halves by the GLV endomorphism ([`split_lambda`]), so one pass of 129
/// doublings serves four multiplications, a1·G + a2·(λG) + b1·q + b2·(λq), where Shamir's trick
/// alone needs 256. Signature checks use it.
pub fn mul_add_g_glv(a: &Scalar, b: &Scalar, q: &Affine) -> Point {
    let q_table = odd_multiples(&Point::from_affine(q), Q_WINDOW);
    let q_lambda: Vec<Point> = q_table.iter().map(Point::times_lambda).collect();
    let [(a1, a1_neg), (a2, a2_neg)] = split_lambda(a);
    let [(b1, b1_neg), (b2, b2_neg)] = split_lambda(b);
    let sign = |negative: bool| if negative { -1 } else { 1 };
    let g_parts = [
        (wnaf(&a1.value(), G_WINDOW), sign(a1_neg), g_table()),
        (wnaf(&a2.value(), G_WINDOW), sign(a2_neg), g_lambda_table()),
    ];
    let q_parts = [
        (wnaf(&b1.value(), Q_WINDOW), sign(b1_neg), &q_table),
        (wnaf(&b2.value(), Q_WINDOW), sign(b2_neg), &q_lambda),
    ];
    let top = (0..257)
        .rev()
        .find(|&i| g_parts.iter().any(|p| p.0[i] != 0) || q_parts.iter().any(|p| p.0[i] != 0))
        .unwrap_or(0);
    let mut acc = Point::INFINITY;
    for i in (0..=top).rev() {
        acc = acc.double();
        for (digits, sign, table) in &g_parts {
            let d = digits[i] * sign;
            if d != 0 {
                let p = table[(d.unsigned_abs() / 2) as usize];
                let y = if d > 0 { p.y } else { p.y.neg() };
                acc = acc.add_affine(&Affine { x: p.x, y });
            }
        }
        for (digits, sign, table) in &q_parts {
            let d = digits[i] * sign;
            if d > 0 {
                acc = acc.add(&table[(d / 2) as usize]);
            } else if d < 0 {
                acc = acc.add(&table[(-d / 2) as usize].neg());
            }
        }
    }
    acc
}

/// Bits per window of G's fixed-base table, and how many windows cover 256 bits.
const COMB_BITS: usize = 4;
const COMB_WINDOWS: usize = 256 / COMB_BITS;
/// Non-zero digits of a window: 1 to 15.
const COMB_DIGITS: usize = (1 << COMB_BITS) - 1;

/// `j·16^i·G` for each window i (0 to 63) and digit j (1 to 15), in affine form, computed on
/// first use: 960 points, 60 KiB, about 15 ms once.
fn g_windows() -> &'static [[Affine; COMB_DIGITS]] {
    static TABLE: OnceLock<Vec<[Affine; COMB_DIGITS]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Vec::with_capacity(COMB_WINDOWS);
        let mut base = Point::from_affine(&G); // 16^i·G
        for _ in 0..COMB_WINDOWS {
            let mut row = [G; COMB_DIGITS];
            let mut multiple = base;
            for entry in row.iter_mut() {
                *entry = multiple
                    .to_affine()
                    .expect("j·16^i·G is not infinity for j < 16, 16^i·G below 2^256");
                multiple = multiple.add(&base);
            }
            table.push(row);
            for _ in 0..COMB_BITS {
                base = base.double();
            }
        }
        table
    })
}

/// `k·G` from the fixed-base table: k's 64 hex digits, each one table entry, added up. No
/// doublings at all, where a pass over k's bits doubles 256 times: the doublings were paid
/// once, building the table. This is libsecp256k1's `ecmult_gen` idea (its table is larger
/// and it is constant time; this is neither). Signing and making keys use it; a verification
/// keeps Shamir's trick, whose doublings serve G and Q at once.
pub fn mul_g(k: &Scalar) -> Point {
    let table = g_windows();
    let limbs = k.value().0;
    let mut acc = Point::INFINITY;
    for (i, row) in table.iter().enumerate() {
        let bit = i * COMB_BITS;
        let digit = (limbs[bit / 64] >> (bit % 64)) as usize & COMB_DIGITS;
        if digit != 0 {
            acc = acc.add_affine(&row[digit - 1]);
        }
    }
    acc
}

/// `k·G` by the one-pass wNAF walk of [`mul_add_g`]: what [`mul_g`] was before its table,
/// kept for the tests and the bench to compare.
pub fn mul_g_wnaf(k: &Scalar) -> Point {
    mul_add_g(k, &Scalar::ZERO, &G)
}

/// `k·P` by plain double-and-add, bit by bit: slow and simple, for tests to check the fast
/// path against.
pub fn mul_slow(k: &U256, p: &Point) -> Point {
    let mut acc = Point::INFINITY;
    for i in (0..256).rev() {
        acc = acc.double();
        if k.bit(i) {
            acc = acc.add(p);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed-base table gives what double-and-add gives, for the edges of the scalar
    /// range and for random scalars.
    #[test]
    fn mul_g_table_agrees() {
        let mut cases = vec![
            U256::from_u64(0),
            U256::from_u64(1),
            U256::from_u64(15),
            U256::from_u64(16),
            U256::from_u64(0xFFFF),
        ];
        let mut x = 0x1234_5678_9ABC_DEF0u64;
        for _ in 0..20 {
            let mut limbs = [0u64; 4];
            for limb in limbs.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *limb = x;
            }
            cases.push(U256(limbs));
        }
        let g = Point::from_affine(&G);
        for k in cases {
            let Some(scalar) = Scalar::new(k) else {
                continue;
            };
            let fast = mul_g(&scalar);
            assert!(fast.same_as(&mul_slow(&scalar.value(), &g)), "{k:?}");
            assert!(fast.same_as(&mul_g_wnaf(&scalar)), "{k:?}");
        }
        // n − 1: the largest scalar, whose multiple is −G.
        let n_minus_1 = Scalar::new(U256::from_u64(1)).unwrap().neg();
        assert!(mul_g(&n_minus_1).same_as(&g.neg()));
    }

    /// Random scalars below n from a fixed xorshift sequence, after the edges of the range.
    fn scalars(count: usize) -> Vec<Scalar> {
        let one = Scalar::new(U256::ONE).unwrap();
        let mut cases = vec![Scalar::ZERO, one, one.neg(), Scalar::reduce(LAMBDA)];
        cases.push(Scalar::new(crate::crypto::scalar::HALF_N).unwrap());
        cases.push(
            Scalar::new(crate::crypto::scalar::HALF_N)
                .unwrap()
                .add(&one),
        );
        let mut x = 0x0DDB_A11C_AFE5_EED5u64;
        while cases.len() < count {
            let mut limbs = [0u64; 4];
            for limb in limbs.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *limb = x;
            }
            cases.extend(Scalar::new(U256(limbs)));
        }
        cases
    }

    /// β and λ are a pair: λ·G by double-and-add is (β·x, y) of G.
    #[test]
    fn lambda_times_g_is_beta_times_x() {
        let g = Point::from_affine(&G);
        assert!(mul_slow(&LAMBDA, &g).same_as(&g.times_lambda()));
    }

    /// The split gives back k (k1 + k2·λ ≡ k mod n), with both halves below 2^128, at the
    /// edges of the range and for random scalars.
    #[test]
    fn split_lambda_gives_back_k_in_two_halves() {
        let lambda = Scalar::reduce(LAMBDA);
        for k in scalars(2_000) {
            let [(k1, k1_neg), (k2, k2_neg)] = split_lambda(&k);
            let signed = |part: Scalar, negative: bool| if negative { part.neg() } else { part };
            let back = signed(k1, k1_neg).add(&signed(k2, k2_neg).mul(&lambda));
            assert_eq!(back, k, "{k:?}");
            for part in [k1, k2] {
                let limbs = part.value().0;
                assert_eq!((limbs[2], limbs[3]), (0, 0), "{k:?}: a half above 2^128");
            }
        }
    }

    /// The GLV path gives what Shamir's trick gives, for a·G + b·Q with random a, b and Q,
    /// and with either scalar zero.
    #[test]
    fn glv_agrees_with_shamir() {
        let all = scalars(60);
        let (a_list, rest) = all.split_at(20);
        let (b_list, q_list) = rest.split_at(20);
        for ((a, b), q) in a_list.iter().zip(b_list).zip(q_list) {
            let Some(q) = mul_g(q).to_affine() else {
                continue;
            };
            let plain = mul_add_g(a, b, &q);
            assert!(mul_add_g_glv(a, b, &q).same_as(&plain), "{a:?} {b:?}");
            assert!(mul_add_g_glv(a, &Scalar::ZERO, &q).same_as(&mul_g(a)));
            let b_q = mul_add_g(&Scalar::ZERO, b, &q);
            assert!(mul_add_g_glv(&Scalar::ZERO, b, &q).same_as(&b_q));
        }
    }

    /// wNAF digits are 0 or odd and below 2^(w−1) in size, each non-zero digit is followed by
    /// at least w − 1 zeros, and they add back up to k. (A wrong digit rule can still give the
    /// right product, only slower: so the digits are checked, not just the results.)
    #[test]
    fn wnaf_digits_have_their_shape() {
        // n − 1, then two with runs of zeros longer than a limb (the walk skips runs in one step).
        let ks = [
            U256::from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd036413f"),
            U256::from_hex("8000000000000000000000000000000000000000000000000000000000000001"),
            U256::from_hex("0000000000000300000000000000000000000000000000000000000000000fff"),
        ];
        for (k, w) in ks
            .iter()
            .flat_map(|k| [4, 5, 7, 10].map(|w| (k.unwrap(), w)))
        {
            let digits = wnaf(&k, w);
            let mut last_nonzero: Option<usize> = None;
            // Σ digit·2^i, as a signed sum over 257 positions: accumulate in two's complement.
            let mut sum = [0u64; 5];
            for (i, &d) in digits.iter().enumerate() {
                if d == 0 {
                    continue;
                }
                assert!(d % 2 != 0 && (d as i64).abs() < 1 << (w - 1), "digit {d}");
                if let Some(j) = last_nonzero {
                    assert!(i - j >= w, "digits at {j} and {i} for w = {w}");
                }
                last_nonzero = Some(i);
                // sum += d·2^i
                let magnitude = (d as i64).unsigned_abs() as u128;
                let mut term = [0u64; 5];
                let (limb, shift) = (i / 64, i % 64);
                let shifted = magnitude << shift;
                term[limb] = shifted as u64;
                if limb + 1 < 5 {
                    term[limb + 1] = (shifted >> 64) as u64;
                }
                let mut carry = 0i128;
                for j in 0..5 {
                    let t = term[j] as i128 * if d > 0 { 1 } else { -1 };
                    let v = sum[j] as i128 + t + carry;
                    sum[j] = v as u64;
                    carry = v >> 64;
                }
            }
            assert_eq!(&sum[..4], &k.0, "the digits add up to k for w = {w}");
            assert_eq!(sum[4], 0);
        }
    }

    /// The tables hold 2^(w−2) odd multiples: 1·P, 3·P, 5·P, …
    #[test]
    fn odd_multiples_are_odd_multiples() {
        let g = Point::from_affine(&G);
        let table = odd_multiples(&g, 4);
        assert_eq!(table.len(), 4);
        for (i, p) in table.iter().enumerate() {
            assert!(p.same_as(&mul_slow(&U256::from_u64(2 * i as u64 + 1), &g)));
        }
        assert_eq!(g_table().len(), 1 << (G_WINDOW - 2));
    }

    /// Point equality: different points differ, and two ways to infinity are the same.
    #[test]
    fn same_as_tells_points_apart() {
        let g = Point::from_affine(&G);
        assert!(!g.same_as(&g.double()));
        assert!(!g.same_as(&Point::INFINITY));
        assert!(Point::INFINITY.same_as(&g.add(&g.neg())));
    }

    /// A point's x can lie between n and p, and then its signature r is x − n: `x_matches`
    /// must accept that r (and only it) without leaving Jacobian coordinates.
    #[test]
    fn x_matches_past_n() {
        use super::super::scalar::N;
        let mut x = N;
        let point = loop {
            x = x.add_carry(&U256::ONE).0;
            if let Some(p) = Affine::from_x(Fe::new(x).unwrap(), false) {
                break p;
            }
        };
        // Scale to a Z other than 1, as a computed point would have.
        let doubled_back = Point::from_affine(&point)
            .double()
            .add(&Point::from_affine(&point).neg());
        let r = Scalar::new(x.sub_borrow(&N).0).unwrap();
        assert!(doubled_back.x_matches(&r));
        assert!(!doubled_back.x_matches(&r.add(&Scalar::ONE)));
        let small = Scalar::new(U256::from_u64(5)).unwrap();
        assert!(!Point::from_affine(&G).x_matches(&small));
    }
}
