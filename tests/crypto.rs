//! secp256k1 and ECDSA against published vectors (libsecp256k1 and python-ecdsa produce the
//! same), and the laws they must obey, checked over many keys and messages.

use peerchain::crypto::ecdsa::{hmac_sha256, sign, verify, Signature};
use peerchain::crypto::keys::{PublicKey, SecretKey};
use peerchain::crypto::point::{mul_g, mul_slow, Affine, Point, G};
use peerchain::crypto::scalar::{Scalar, N};
use peerchain::crypto::u256::U256;
use peerchain::crypto::CryptoError;
use sha2::{Digest, Sha256};

fn secret(hex: &str) -> SecretKey {
    SecretKey::from_hex(&format!("{hex:0>64}")).unwrap()
}

fn digest(hex: &str) -> [u8; 32] {
    let mut z = [0u8; 32];
    hex::decode_to_slice(hex, &mut z).unwrap();
    z
}

const N_MINUS_1: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140";

/// Public keys and addresses of secrets 1, 2 and n − 1.
#[test]
fn key_vectors() {
    let one = secret("1").public_key();
    assert_eq!(
        one.to_hex(),
        "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    );
    assert_eq!(one.address(), "0f715baf5d4c2ed329785cef29e562f73488c8a2");
    assert_eq!(
        secret("2").public_key().address(),
        "b1c9938f01121e159887ac2c8d393a22e4476ff8"
    );
    assert_eq!(
        secret(N_MINUS_1).public_key().to_hex(),
        "0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    );
}

/// The signature vectors: RFC 6979 nonces and low-S make them exact.
#[test]
fn signature_vectors() {
    let satoshi = "a0dc65ffca799873cbea0ac274015b9526505daaaed385155425f7337704883e";
    assert_eq!(hex::encode(Sha256::digest(b"Satoshi Nakamoto")), satoshi);
    for (key, z, expected) in [
        ("1", satoshi, "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d82442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5"),
        ("1", "7d1833f54854ac51659521afcd0ec6dca2ce2351429614bfa28a756b1b3c637f", "8600dbd41e348fe5c9465ab92d23e3db8b98b873beecd930736488696438cb6b547fe64427496db33bf66019dacbf0039c04199abb0122918601db38a72cfc21"),
        (N_MINUS_1, satoshi, "fd567d121db66e382991534ada77a6bd3106f0a1098c231e47993447cd6af2d06b39cd0eb1bc8603e159ef5c20a5c8ad685a45b06ce9bebed3f153d10d93bed5"),
    ] {
        let key = secret(key);
        let z = digest(z);
        let signature = sign(&key, &z);
        assert_eq!(signature.to_hex(), expected);
        assert!(verify(&key.public_key(), &z, &signature));
    }
}

/// HMAC-SHA256 against RFC 4231's test case 2.
#[test]
fn hmac_vector() {
    assert_eq!(
        hex::encode(hmac_sha256(
            b"Jefe",
            &[b"what do ya want ", b"for nothing?"]
        )),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// A small deterministic generator for the property tests (no `rand` crate): SHA-256 in
/// counter mode.
struct Stream(u64);

impl Stream {
    fn bytes(&mut self) -> [u8; 32] {
        self.0 += 1;
        Sha256::digest(self.0.to_le_bytes()).into()
    }
}

/// Sign then verify, for many keys and digests; any flipped bit in z, r, s or the key fails;
/// n − s is refused as high-S.
#[test]
fn sign_verify_properties() {
    let mut stream = Stream(0);
    for _ in 0..24 {
        let key = SecretKey::from_bytes(&stream.bytes()).unwrap();
        let public = key.public_key();
        let z = stream.bytes();
        let signature = sign(&key, &z);
        assert!(verify(&public, &z, &signature));
        assert_eq!(sign(&key, &z), signature, "deterministic");
        assert!(
            Scalar::new(signature.s).is_some_and(|s| !s.is_high()),
            "low-S"
        );

        let mut other_z = z;
        other_z[7] ^= 0x10;
        assert!(!verify(&public, &other_z, &signature));
        let mut bytes = signature.to_bytes();
        bytes[3] ^= 1;
        assert!(!verify(
            &public,
            &z,
            &Signature::from_bytes(&bytes).unwrap()
        ));
        let mut bytes = signature.to_bytes();
        bytes[60] ^= 1;
        assert!(!verify(
            &public,
            &z,
            &Signature::from_bytes(&bytes).unwrap()
        ));
        let stranger = SecretKey::from_bytes(&stream.bytes()).unwrap().public_key();
        assert!(!verify(&stranger, &z, &signature));
        let high = Signature {
            r: signature.r,
            s: Scalar::new(signature.s).unwrap().neg().value(),
        };
        assert!(!verify(&public, &z, &high), "n − s is the high-S twin");
    }
}

/// r and s must be in [1, n − 1].
#[test]
fn out_of_range_signatures_are_refused() {
    let key = secret("1");
    let z = digest("7d1833f54854ac51659521afcd0ec6dca2ce2351429614bfa28a756b1b3c637f");
    let good = sign(&key, &z);
    for bad in [
        Signature {
            r: U256::ZERO,
            s: good.s,
        },
        Signature {
            r: good.r,
            s: U256::ZERO,
        },
        Signature { r: N, s: good.s },
        Signature { r: good.r, s: N },
    ] {
        assert!(!verify(&key.public_key(), &z, &bad), "{bad:?}");
    }
    assert_eq!(
        Signature::from_bytes(&[0u8; 63]),
        Err(CryptoError::BadSignatureLength { len: 63 })
    );
}

/// Point laws: P + (−P) = ∞, 2P = P + P, k·G for small k against repeated addition, n·G = ∞,
/// and the fast multiplication agrees with the slow one.
#[test]
fn point_laws() {
    let g = Point::from_affine(&G);
    assert!(G.is_on_curve());
    let off = Affine {
        x: G.x,
        y: G.y.add(&peerchain::crypto::field::Fe::ONE),
    };
    assert!(!off.is_on_curve(), "y + 1 is not on the curve");
    assert!(g.add(&g.neg()).is_infinity());
    assert!(g.double().same_as(&g.add(&g)));
    let mut sum = Point::INFINITY;
    for k in 1..=20u64 {
        sum = sum.add(&g);
        let fast = mul_g(&Scalar::new(U256::from_u64(k)).unwrap());
        assert!(fast.same_as(&sum), "{k}·G");
        assert!(fast.to_affine().unwrap().is_on_curve());
    }
    assert!(mul_slow(&N, &g).is_infinity(), "n·G = ∞");
    let mut stream = Stream(1_000);
    for _ in 0..4 {
        let k = Scalar::reduce(U256::from_be_bytes(&stream.bytes()));
        assert!(mul_g(&k).same_as(&mul_slow(&k.value(), &g)));
    }
}

/// Parsing public keys: wrong length, wrong prefix, x ≥ p, and an x with no point are each
/// refused by name; a parsed key is on the curve and prints back the same.
#[test]
fn public_key_parsing() {
    let good = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    assert_eq!(PublicKey::from_hex(good).unwrap().to_hex(), good);
    assert_eq!(
        PublicKey::from_hex(&good[..64]),
        Err(CryptoError::BadPublicKeyLength { len: 32 })
    );
    assert_eq!(
        PublicKey::from_hex(&format!("04{}", &good[2..])),
        Err(CryptoError::BadPublicKeyPrefix { prefix: 4 })
    );
    assert_eq!(
        PublicKey::from_hex(&format!("02{}", "f".repeat(64))),
        Err(CryptoError::PublicKeyXOutOfRange)
    );
    // x = 5: 5³ + 7 = 132 is not a square mod p.
    assert_eq!(
        PublicKey::from_hex(&format!("02{:0>64}", "5")),
        Err(CryptoError::NotOnCurve)
    );
    assert!(PublicKey::from_hex("zz").is_err());
    let parsed = PublicKey::from_hex(good).unwrap();
    let point: &Affine = parsed.point();
    assert!(point.is_on_curve());
    assert_eq!(
        SecretKey::from_hex(&"0".repeat(64)),
        Err(CryptoError::SecretOutOfRange)
    );
    assert_eq!(
        SecretKey::from_bytes(&N.to_be_bytes()),
        Err(CryptoError::SecretOutOfRange)
    );
}

/// Fresh keys differ and are in range; a key's debug form never shows it.
#[test]
fn generated_keys_differ() {
    let (a, b) = (SecretKey::generate(), SecretKey::generate());
    assert_eq!(format!("{a:?}"), "SecretKey(…)");
    assert_ne!(a.to_hex(), b.to_hex());
    assert_eq!(SecretKey::from_hex(&a.to_hex()).unwrap(), a);
}

/// k·G for assorted k against a table computed outside this project (python-ecdsa), in
/// compressed form.
#[test]
fn multiples_of_g_match_an_outside_table() {
    let table = [
        (
            "1",
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        ),
        (
            "2",
            "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
        ),
        (
            "3",
            "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
        ),
        (
            "4",
            "02e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13",
        ),
        (
            "5",
            "022f8bde4d1a07209355b4a7250a5c5128e88b84bddc619ab7cba8d569b240efe4",
        ),
        (
            "7",
            "025cbdf0646e5db4eaa398f365f2ea7a0e3d419b7e0330e39ce92bddedcac4f9bc",
        ),
        (
            "a",
            "03a0434d9e47f3c86235477c7b1ae6ae5d3442d49b1943c2b752a68e2a47e247c7",
        ),
        (
            "64",
            "02ed3bace23c5e17652e174c835fb72bf53ee306b3406a26890221b4cef7500f88",
        ),
        (
            "10000000000000001",
            "02583fdfd9846dd99d9b8890856a8a9e738f17f31467e99549dca81127829d122a",
        ),
        (
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd036413f",
            "03c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
        ),
    ];
    for (k, expected) in table {
        assert_eq!(secret(k).public_key().to_hex(), expected, "{k}·G");
    }
}

/// The joint pass a·G + b·Q agrees with two slow multiplications added, for random a, b, Q.
#[test]
fn shamir_agrees_with_two_passes() {
    use peerchain::crypto::point::mul_add_g;
    let mut stream = Stream(2_000);
    for _ in 0..4 {
        let a = Scalar::reduce(U256::from_be_bytes(&stream.bytes()));
        let b = Scalar::reduce(U256::from_be_bytes(&stream.bytes()));
        let q = SecretKey::from_bytes(&stream.bytes()).unwrap().public_key();
        let g = Point::from_affine(&G);
        let q_point = Point::from_affine(q.point());
        let slow = mul_slow(&a.value(), &g).add(&mul_slow(&b.value(), &q_point));
        assert!(mul_add_g(&a, &b, q.point()).same_as(&slow));
    }
}
