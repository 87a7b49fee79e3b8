//! `cargo bench --bench signatures`: ECDSA on one thread.
//!
//! The baseline, measured in the same run: a verification done the plain way, with two
//! bit-by-bit double-and-add multiplications (Jacobian coordinates, no windows, no Shamir's
//! trick). The ratio says what the windows and the joint pass buy. Then k·G, which signing
//! and key making need, from G's fixed-base table against the one-pass wNAF walk it replaced
//! (both measured here). The last two lines are the figures the course quotes: verifications
//! and signatures per second.
//!
//! For comparison outside the project: libsecp256k1 (Python's `coincurve`) verifies about
//! 27 000 signatures a second on one core of the 2-core machines this course is tested on.

use peerchain::crypto::ecdsa::{digest_scalar, sign, verify, Signature};
use peerchain::crypto::field::Fe;
use peerchain::crypto::keys::SecretKey;
use peerchain::crypto::point::{mul_add_g, mul_add_g_glv, mul_g, mul_g_wnaf, mul_slow, Point, G};
use peerchain::crypto::scalar::Scalar;
use sha2::{Digest, Sha256};
use std::time::Instant;

/// Runs `f` `count` times and returns the rate per second.
fn rate(count: usize, mut f: impl FnMut(usize)) -> f64 {
    let started = Instant::now();
    for i in 0..count {
        f(i);
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// The plain way: u1·G + u2·Q with two double-and-add passes.
fn verify_plain(q: &Point, z: &[u8; 32], signature: &Signature) -> bool {
    let (r, s) = (
        Scalar::new(signature.r).unwrap(),
        Scalar::new(signature.s).unwrap(),
    );
    let w = s.invert();
    let u1 = digest_scalar(z).mul(&w);
    let u2 = r.mul(&w);
    let point = mul_slow(&u1.value(), &Point::from_affine(&G)).add(&mul_slow(&u2.value(), q));
    point.x_matches(&r)
}

fn main() {
    let keys: Vec<SecretKey> = (0..64u64)
        .map(|i| SecretKey::from_bytes(&Sha256::digest(i.to_le_bytes()).into()).unwrap())
        .collect();
    let digests: Vec<[u8; 32]> = (0..64u64)
        .map(|i| Sha256::digest((i + 1_000).to_le_bytes()).into())
        .collect();
    let signatures: Vec<Signature> = keys.iter().zip(&digests).map(|(k, z)| sign(k, z)).collect();
    let publics: Vec<_> = keys.iter().map(|k| k.public_key()).collect();

    let x = Fe::from_u64(0x1234_5678_9abc_def1);
    let mut acc = x;
    let muls = rate(1_000_000, |_| acc = acc.mul(&x));
    assert!(!acc.is_zero());
    println!("field multiplications: {muls:.0}/s");

    let plain = rate(200, |i| {
        let q = Point::from_affine(publics[i % 64].point());
        assert!(verify_plain(&q, &digests[i % 64], &signatures[i % 64]));
    });
    let verifies = rate(5_000, |i| {
        assert!(verify(
            &publics[i % 64],
            &digests[i % 64],
            &signatures[i % 64]
        ));
    });
    let scalars: Vec<Scalar> = digests.iter().map(digest_scalar).collect();
    let _ = mul_g(&scalars[0]); // build the table outside the timing
    let table = rate(20_000, |i| {
        std::hint::black_box(mul_g(&scalars[i % 64]).to_affine());
    });
    let walk = rate(5_000, |i| {
        std::hint::black_box(mul_g_wnaf(&scalars[i % 64]).to_affine());
    });
    println!("k·G by the wNAF walk (baseline): {walk:.0}/s");
    println!(
        "k·G from the fixed-base table: {table:.0}/s, ratio {:.2}",
        table / walk
    );
    // The heart of a verification, u1·G + u2·Q, by Shamir's trick alone and with GLV.
    let us: Vec<(Scalar, Scalar)> = signatures
        .iter()
        .zip(&digests)
        .map(|(signature, z)| {
            let w = Scalar::new(signature.s).unwrap().invert();
            let r = Scalar::new(signature.r).unwrap();
            (digest_scalar(z).mul(&w), r.mul(&w))
        })
        .collect();
    let shamir = rate(5_000, |i| {
        let (u1, u2) = &us[i % 64];
        std::hint::black_box(mul_add_g(u1, u2, publics[i % 64].point()).to_affine());
    });
    let glv = rate(5_000, |i| {
        let (u1, u2) = &us[i % 64];
        std::hint::black_box(mul_add_g_glv(u1, u2, publics[i % 64].point()).to_affine());
    });
    println!("u1·G + u2·Q by Shamir's trick (baseline): {shamir:.0}/s");
    println!(
        "u1·G + u2·Q split by GLV: {glv:.0}/s, ratio {:.2}",
        glv / shamir
    );
    let signs = rate(5_000, |i| {
        std::hint::black_box(sign(&keys[i % 64], &digests[i % 64]));
    });
    println!("plain double-and-add verify (baseline): {plain:.0}/s");
    println!("verify/baseline ratio: {:.2}", verifies / plain);
    println!("verify: {verifies:.0}/s");
    println!("sign: {signs:.0}/s");
}
