//! A node's identity: one nobody can copy.
//!
//! Every node has a key pair (the one its wallet uses). Its **node id** is the first 16 hex
//! digits of that key's address, so the id is a short name for the key. In the handshake each
//! side sends its public key and a fresh random **challenge**, and then a **proof**: a signature
//! of the other side's challenge. A peer that claims an id without holding its key cannot sign,
//! and is refused before it counts as that node.
//!
//! Why it matters: ids are public (every `hello`, `peers` answer and console line shows them),
//! and the node uses them to spot duplicates, such as the two links of a simultaneous dial. With
//! ids anyone could type, a stranger claiming a connected node's id could push out the real
//! link (measured: 3 tries in 6 when it came within the simultaneous-dial window). This is what
//! signatures are for beyond money: proving who you are, live, without a secret ever leaving
//! your machine.
//!
//! What the proof signs binds it to this handshake: the verifier's challenge (so an old proof
//! cannot be replayed), the verifier's id (so a proof made for one node is useless to show
//! another) and the signer's id. A machine in the middle that relays both handshakes whole can
//! still sit between two honest nodes, passing their messages on; only encryption with keys
//! the two sides check stops that (Bitcoin's BIP 324 encrypts its links, and BIP 324 alone
//! does not authenticate either: Bitcoin Core does not know who its peers are at all).

use crate::crypto::ecdsa::{self, Signature};
use crate::crypto::keys::{random_bytes, PublicKey, SecretKey};
use crate::hash::{sha256, Hash};
use std::fmt;

/// How many hex digits a node id has.
pub const NODE_ID_LEN: usize = 16;

/// What every proof's signed bytes start with, so a proof can never pass for a signature of
/// anything else (a txid, say).
pub const PROOF_TAG: &[u8] = b"peerchain proof v4";

/// Why a peer's identity was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    /// The public key does not parse.
    BadKey {
        /// Why it does not parse.
        reason: String,
    },
    /// The node id is not the one the public key gives.
    NotTheKeysId {
        /// The id the peer claimed.
        claimed: String,
        /// The id of the key it sent.
        expected: String,
    },
    /// The proof is not 128 lowercase hex digits.
    BadProofEncoding,
    /// The proof is not a signature of our challenge by the peer's key.
    ProofDoesNotVerify,
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityError::BadKey { reason } => write!(f, "public_key: {reason}"),
            IdentityError::NotTheKeysId { claimed, expected } => write!(
                f,
                "node_id {claimed} is not the id of its public_key, {expected} (the first \
                 {NODE_ID_LEN} hex digits of its address)"
            ),
            IdentityError::BadProofEncoding => {
                write!(f, "proof signature must be 128 lowercase hex digits")
            }
            IdentityError::ProofDoesNotVerify => write!(
                f,
                "proof does not verify: not a signature of our challenge by the key in its hello"
            ),
        }
    }
}

impl std::error::Error for IdentityError {}

/// The node id of `key`: the first [`NODE_ID_LEN`] hex digits of its address.
pub fn node_id(key: &PublicKey) -> String {
    key.address()[..NODE_ID_LEN].to_string()
}

/// A fresh random challenge for a handshake.
pub fn challenge() -> Hash {
    Hash(random_bytes())
}

/// The 32 bytes a proof signs: SHA-256(`PROOF_TAG` ‖ challenge ‖ verifier id ‖ signer id),
/// the ids as their ASCII hex digits.
pub fn proof_digest(challenge: &Hash, verifier: &str, signer: &str) -> [u8; 32] {
    let mut bytes = PROOF_TAG.to_vec();
    bytes.extend_from_slice(&challenge.0);
    bytes.extend_from_slice(verifier.as_bytes());
    bytes.extend_from_slice(signer.as_bytes());
    sha256(&bytes).0
}

/// Our proof for the node `verifier`, which sent `challenge`: 128 hex digits.
pub fn prove(key: &SecretKey, challenge: &Hash, verifier: &str) -> String {
    let signer = node_id(&key.public_key());
    ecdsa::sign(key, &proof_digest(challenge, verifier, &signer)).to_hex()
}

/// Checks a peer's hello: `public_key` parses and `claimed` is its id. Returns the key.
pub fn check_id(public_key: &str, claimed: &str) -> Result<PublicKey, IdentityError> {
    let key = PublicKey::from_hex(public_key).map_err(|e| IdentityError::BadKey {
        reason: e.to_string(),
    })?;
    let expected = node_id(&key);
    if claimed != expected {
        return Err(IdentityError::NotTheKeysId {
            claimed: claimed.chars().take(2 * NODE_ID_LEN).collect(),
            expected,
        });
    }
    Ok(key)
}

/// Checks a peer's proof: `signature` signs our `challenge`, for us (`verifier`), by `key`,
/// whose id is `signer`.
pub fn check_proof(
    key: &PublicKey,
    challenge: &Hash,
    verifier: &str,
    signer: &str,
    signature: &str,
) -> Result<(), IdentityError> {
    let lower_hex = signature.len() == 128
        && signature
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !lower_hex {
        return Err(IdentityError::BadProofEncoding);
    }
    let bytes = hex::decode(signature).map_err(|_| IdentityError::BadProofEncoding)?;
    let signature = Signature::from_bytes(&bytes).map_err(|_| IdentityError::BadProofEncoding)?;
    let digest = proof_digest(challenge, verifier, signer);
    if !ecdsa::verify(key, &digest, &signature) {
        return Err(IdentityError::ProofDoesNotVerify);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SecretKey {
        SecretKey::from_bytes(&[n; 32]).expect("a valid key")
    }

    /// A proof made by a node's key for one challenge and one verifier passes; any other
    /// challenge, verifier, signer or key fails.
    #[test]
    fn a_proof_is_bound_to_its_challenge_verifier_and_key() {
        let (a, b) = (key(1), key(2));
        let (a_id, b_id) = (node_id(&a.public_key()), node_id(&b.public_key()));
        let challenge = Hash([7; 32]);
        let proof = prove(&a, &challenge, &b_id);
        let check = |key: &SecretKey, challenge: &Hash, verifier: &str, signer: &str| {
            check_proof(&key.public_key(), challenge, verifier, signer, &proof)
        };
        assert_eq!(check(&a, &challenge, &b_id, &a_id), Ok(()));
        let failed = Err(IdentityError::ProofDoesNotVerify);
        assert_eq!(check(&a, &Hash([8; 32]), &b_id, &a_id), failed);
        assert_eq!(check(&a, &challenge, "0000000000000000", &a_id), failed);
        assert_eq!(check(&a, &challenge, &b_id, &b_id), failed);
        assert_eq!(check(&b, &challenge, &b_id, &a_id), failed);
        let upper = proof.to_uppercase();
        assert_eq!(
            check_proof(&a.public_key(), &challenge, &b_id, &a_id, &upper),
            Err(IdentityError::BadProofEncoding)
        );
    }

    /// The id is the key's, and nothing else passes for it.
    #[test]
    fn an_id_is_its_keys() {
        let a = key(1).public_key();
        let id = node_id(&a);
        assert_eq!(id, a.address()[..16]);
        assert_eq!(check_id(&a.to_hex(), &id), Ok(a));
        let other = node_id(&key(2).public_key());
        assert_eq!(
            check_id(&a.to_hex(), &other),
            Err(IdentityError::NotTheKeysId {
                claimed: other,
                expected: id
            })
        );
        assert!(matches!(
            check_id("02zz", "0000000000000000"),
            Err(IdentityError::BadKey { .. })
        ));
    }
}
