//! Exercise 15: `recover` finds a secret key from two signatures that reused a nonce.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};
use peerchain::crypto::ecdsa::{sign, sign_with_nonce};
use peerchain::crypto::keys::SecretKey;
use peerchain::crypto::scalar::Scalar;
use peerchain::crypto::u256::U256;

fn run(node: &peerchain::Node, line: &str) -> String {
    let Reply::Text(text) = execute(node, line) else {
        panic!("quit?")
    };
    text
}

/// Signatures sharing a nonce give the key away, whatever low-S did to them; two honest
/// RFC 6979 signatures do not.
#[test]
fn reused_nonce_reveals_the_key() {
    let node = start(config());
    for seed in 1..=4u8 {
        let key = SecretKey::from_bytes(&[seed; 32]).unwrap();
        let public = key.public_key().to_hex();
        let k = Scalar::new(U256::from_u64(1_000 + seed as u64)).unwrap();
        let (z1, z2) = ([seed ^ 0x11; 32], [seed ^ 0x22; 32]);
        let s1 = sign_with_nonce(&key, &z1, &k).unwrap().to_hex();
        let s2 = sign_with_nonce(&key, &z2, &k).unwrap().to_hex();
        let line = format!(
            "recover {public} {} {s1} {} {s2}",
            hex::encode(z1),
            hex::encode(z2)
        );
        assert_eq!(run(&node, &line), key.to_hex(), "seed {seed}");
    }
    let key = SecretKey::from_bytes(&[9; 32]).unwrap();
    let (z1, z2) = ([1; 32], [2; 32]);
    let line = format!(
        "recover {} {} {} {} {}",
        key.public_key().to_hex(),
        hex::encode(z1),
        sign(&key, &z1).to_hex(),
        hex::encode(z2),
        sign(&key, &z2).to_hex()
    );
    assert_eq!(
        run(&node, &line),
        "those signatures do not give away this key"
    );
}
