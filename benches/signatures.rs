//! `cargo bench --bench signatures`: ECDSA on one thread.
//!
//! The baseline, measured in the same run: a verification done the plain way, with two
//! bit-by-bit double-and-add multiplications (Jacobian coordinates, no windows, no Shamir's
//! trick). The ratio says what the windows and the joint pass buy. Then k·G, which signing
//! and key making need, from G's fixed-base table against the one-pass wNAF walk it replaced
//! (both measured here). The last two lines are the figures the course quotes: verifications
//! and signatures per second.
//!
//! Field additions come first, with an `if` to pick the result (the baseline, as `Fe::add`
//! was written before) and branch-free, as it is now: on random elements the branch goes
//! either way half the time, and the ratio is what the mispredictions cost.
//!
//! The anchor from outside the project: native libsecp256k1. Where a C compiler and Debian's
//! `libsecp256k1-dev` are on the machine, the bench compiles a 20-line C loop of its own
//! (below, `NATIVE`) into the target directory, runs it in the same run, and prints our figures as a ratio
//! to its. Without them it says so and skips it; nothing else depends on it.

use peerchain::crypto::ecdsa::{digest_scalar, sign, verify, Signature};
use peerchain::crypto::field::{Fe, P};
use peerchain::crypto::keys::SecretKey;
use peerchain::crypto::point::{mul_add_g, mul_add_g_glv, mul_g, mul_g_wnaf, mul_slow, Point, G};
use peerchain::crypto::scalar::Scalar;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The native anchor: signs and verifies one fixed message for 3 s each with libsecp256k1 and
/// prints `sign N` and `verify N` (per second). Our own lines, written for this bench.
const NATIVE: &str = r#"
#include <secp256k1.h>
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(void) {
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    unsigned char key[32], msg[32];
    for (int i = 0; i < 32; i++) { key[i] = i + 1; msg[i] = (unsigned char)(i * 7 + 3); }
    secp256k1_pubkey pub; secp256k1_ecdsa_signature sig;
    if (!secp256k1_ec_pubkey_create(ctx, &pub, key)) return 1;
    long n = 0, ok = 0; double t0 = now(), t;
    do { msg[0] = (unsigned char)n; if (!secp256k1_ecdsa_sign(ctx, &sig, msg, key, NULL, NULL)) return 2; n++; } while ((t = now()) - t0 < 3.0);
    printf("sign %.0f\n", n / (t - t0));
    n = 0; t0 = now();
    do { ok += secp256k1_ecdsa_verify(ctx, &sig, msg, &pub); n++; } while ((t = now()) - t0 < 3.0);
    if (ok != n) return 3;
    printf("verify %.0f\n", n / (t - t0));
    return 0;
}
"#;

/// Builds and runs [`NATIVE`]: `Some((sign/s, verify/s))`, or `None` with the reason printed.
fn native_rates() -> Option<(f64, f64)> {
    // Cargo's scratch directory for benches, inside whichever target directory is in use.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).ok()?;
    let (source, binary) = (dir.join("native-secp256k1.c"), dir.join("native-secp256k1"));
    std::fs::write(&source, NATIVE).ok()?;
    let built = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(&source)
        .arg("-lsecp256k1")
        .output();
    if !built.as_ref().is_ok_and(|o| o.status.success()) {
        println!("native libsecp256k1: skipped (needs cc and libsecp256k1-dev)");
        return None;
    }
    let out = Command::new(&binary).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
    };
    match (out.status.success(), field("sign "), field("verify ")) {
        (true, Some(sign), Some(verify)) => Some((sign, verify)),
        _ => {
            println!(
                "native libsecp256k1: skipped (its loop failed: {})",
                out.status
            );
            None
        }
    }
}

/// `a + b mod p` with an `if`, as `Fe::add` was before it went branch-free: the baseline.
fn add_branchy(a: &Fe, b: &Fe) -> Fe {
    let (sum, carry) = a.value().add_carry(&b.value());
    let value = if carry || sum >= P {
        sum.sub_borrow(&P).0
    } else {
        sum
    };
    Fe::new(value).expect("below p")
}

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

    // A full-width element the compiler cannot see through (a small constant would let it
    // drop most of the limb products once `mul` is inlined here).
    let x = std::hint::black_box(Fe::from_limbs([
        0x1234_5678_9abc_def1,
        0x0fed_cba9_8765_4321,
        0xdead_beef_f00d_cafe,
        0x7fff_ffff_0000_0001,
    ]));
    let mut acc = x;
    let muls = rate(1_000_000, |_| acc = acc.mul(&x));
    assert!(!acc.is_zero());
    println!("field multiplications: {muls:.0}/s");
    // Additions of random elements (SHA-256 outputs), in a chain so none can be skipped.
    let elements: Vec<Fe> = (0..1024u32)
        .map(|i| {
            let bytes: [u8; 32] = Sha256::digest(i.to_be_bytes()).into();
            let x = peerchain::crypto::u256::U256::from_be_bytes(&bytes);
            Fe::new(x).unwrap_or(Fe::ONE)
        })
        .collect();
    let mut acc = Fe::ONE;
    let branchy = rate(4_000_000, |i| acc = add_branchy(&acc, &elements[i % 1024]));
    let mut acc2 = Fe::ONE;
    let branch_free = rate(4_000_000, |i| acc2 = acc2.add(&elements[i % 1024]));
    assert_eq!(acc, acc2, "both additions give the same sums");
    println!("field additions with a branch (baseline): {branchy:.0}/s");
    println!(
        "field additions, branch-free: {branch_free:.0}/s, ratio {:.2}",
        branch_free / branchy
    );

    let plain = rate(200, |i| {
        let q = Point::from_affine(publics[i % 64].point());
        assert!(verify_plain(&q, &digests[i % 64], &signatures[i % 64]));
    });
    let verifies = rate(30_000, |i| {
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
    let signs = rate(30_000, |i| {
        std::hint::black_box(sign(&keys[i % 64], &digests[i % 64]));
    });
    println!("plain double-and-add verify (baseline): {plain:.0}/s");
    println!("verify/baseline ratio: {:.2}", verifies / plain);
    println!("verify: {verifies:.0}/s");
    println!("sign: {signs:.0}/s");
    if let Some((native_sign, native_verify)) = native_rates() {
        println!(
            "native libsecp256k1 (anchor): verify {native_verify:.0}/s, sign {native_sign:.0}/s"
        );
        println!(
            "verify/native ratio: {:.2}, sign/native ratio: {:.2}",
            verifies / native_verify,
            signs / native_sign
        );
    }
}
