//! The verified mark: `DIR/<network>/verified`, which lets a restart skip the signatures this
//! node checked before it wrote its blocks.
//!
//! Every block in `blocks.jsonl` was fully validated before the node wrote it, so checking its
//! signatures again at every start proves nothing new, and on a long chain full of
//! transactions it is nearly all of the start's time. But the node must not take the file's
//! word for it: anything can write a text file. So after its writes the node also writes one
//! line (at most once a second while blocks keep coming, and when it stops),
//!
//! ```text
//! <height> <block hash> <tag>
//! ```
//!
//! where the tag is HMAC-SHA256, under the node's own secret key (`wallet.key`), of the network,
//! the height and the hash. At the next start a mark is used only if its tag is right (this
//! node wrote it) and the block at that height in the file has that hash. The hash commits to
//! everything below it: the header to its merkle root, which commits to every transaction with
//! its signatures, and to its parent's hash, and so on down to genesis. Loading still
//! recomputes every hash and merkle root, checks the proof of work, the txids, the amounts and
//! every spend against the coins: only the signature checks are skipped, and only up to the
//! mark.
//!
//! What that trusts: whoever holds `wallet.key`. A file edited by hand, a `blocks.jsonl`
//! copied from a classmate, a mark copied with it, a chain rewritten by a reorganization the
//! mark has not caught up with: none of them matches, and the start checks every signature, as
//! it always did. Bitcoin Core trusts its own data directory more than this: it keeps the coin
//! set itself on disk and at start re-checks only the last few blocks (`-checkblocks`,
//! `-checklevel`).
//!
//! The mark is written after the blocks it covers are synced, through a temporary file and a
//! rename, but not synced itself: after a crash it may be old (by up to a second of blocks),
//! torn or missing. An old mark costs the full check of the blocks above it; a torn or
//! missing one, of every block: only a slower start either way.
//!
//! See `tutorial/12-persistence.md`.

use crate::crypto::ecdsa::hmac_sha256;
use crate::crypto::keys::SecretKey;
use crate::hash::Hash;
use crate::params::Network;
use std::fs;
use std::io;
use std::path::Path;

/// The mark's file name inside `DIR/<network>/`.
pub const MARK_FILE: &str = "verified";

/// A block this node validated in full, signatures included, with every block below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: Hash,
}

impl Mark {
    /// The tag that shows the holder of `key` wrote this mark for `network`.
    fn tag(&self, key: &SecretKey, network: Network) -> Hash {
        Hash(hmac_sha256(
            &key.to_bytes(),
            &[
                b"peerchain verified mark ",
                network.name().as_bytes(),
                b" ",
                self.height.to_string().as_bytes(),
                b" ",
                &self.hash.0,
            ],
        ))
    }

    /// The mark's line, tag included.
    pub fn line(&self, key: &SecretKey, network: Network) -> String {
        let tag = self.tag(key, network);
        format!("{} {} {tag}\n", self.height, self.hash)
    }

    /// Reads a mark line and checks its tag: `Err` says why it cannot be used.
    pub fn parse(line: &str, key: &SecretKey, network: Network) -> Result<Mark, String> {
        let words: Vec<&str> = line.trim_end_matches('\n').split(' ').collect();
        let [height, hash, tag] = words[..] else {
            return Err(format!("expected 3 words, found {}", words.len()));
        };
        let height = height
            .parse()
            .map_err(|_| format!("height {height:?} is not a number"))?;
        let hash: Hash = hash.parse().map_err(|e| format!("hash: {e}"))?;
        let mark = Mark { height, hash };
        if tag != mark.tag(key, network).to_string() {
            return Err(
                "its tag is not this node's (made with another key, or edited since)".to_string(),
            );
        }
        Ok(mark)
    }

    /// Reads `DIR/<network>/verified`: `Ok(None)` if there is none, `Err` with the reason a
    /// mark that is there cannot be used.
    pub fn read(net_dir: &Path, key: &SecretKey, network: Network) -> Result<Option<Mark>, String> {
        match fs::read_to_string(net_dir.join(MARK_FILE)) {
            Ok(text) => Mark::parse(&text, key, network).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Replaces `DIR/<network>/verified` with this mark (a temporary file renamed into place,
    /// so a reader never sees half of one; not synced, see the module's notes).
    pub fn write(&self, net_dir: &Path, key: &SecretKey, network: Network) -> io::Result<()> {
        let temp = net_dir.join("verified.tmp");
        fs::write(&temp, self.line(key, network))?;
        fs::rename(&temp, net_dir.join(MARK_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SecretKey {
        let mut bytes = [0u8; 32];
        bytes[31] = n;
        SecretKey::from_bytes(&bytes).unwrap()
    }

    fn mark() -> Mark {
        Mark {
            height: 42,
            hash: crate::hash::sha256(b"a block"),
        }
    }

    /// A mark reads back under the key and network that wrote it.
    #[test]
    fn a_mark_reads_back() {
        let line = mark().line(&key(7), Network::Regtest);
        assert_eq!(Mark::parse(&line, &key(7), Network::Regtest), Ok(mark()));
    }

    /// Another node's mark, a mark for another network or an edited mark is refused.
    #[test]
    fn a_mark_made_elsewhere_or_edited_is_refused() {
        let line = mark().line(&key(7), Network::Regtest);
        let not_ours = Mark::parse(&line, &key(8), Network::Regtest).unwrap_err();
        assert!(
            not_ours.contains("its tag is not this node's"),
            "{not_ours}"
        );
        assert!(Mark::parse(&line, &key(7), Network::Main).is_err());
        let higher = line.replacen("42 ", "43 ", 1);
        assert!(Mark::parse(&higher, &key(7), Network::Regtest).is_err());
        let torn = &line[..line.len() - 10];
        assert!(Mark::parse(torn, &key(7), Network::Regtest).is_err());
        assert!(Mark::parse("", &key(7), Network::Regtest).is_err());
    }
}
