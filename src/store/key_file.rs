//! The node's key file: `DIR/<network>/wallet.key`, one secret key as 64 hex digits and a
//! newline.
//!
//! Created on the first start with a fresh key, readable by its owner only (mode 0600 on
//! Unix), and never overwritten: if it exists it is read, and if it cannot be read the node
//! stops with the file left as it was. Losing this file loses the coins its address holds.
//! A production wallet encrypts the key with a passphrase and derives many keys from one seed
//! (BIP 32); ours is one plain key, for learning.
//!
//! Beside it, `wallet.address` holds the key's address (public, nothing secret). It ties the
//! key to this directory: a key file that was deleted, or replaced, or had a digit changed,
//! would otherwise give the node a new address without a word, and the old address's coins
//! would silently stop being its own. With the address kept, the node refuses to start
//! instead, and says which address it expected. (A directory from before this file existed
//! gets it on its next start.)

use super::{io_error, StoreError};
use crate::crypto::keys::SecretKey;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// The key file's name inside `DIR/<network>/`.
pub const KEY_FILE: &str = "wallet.key";

/// The name of the file beside it that holds the key's address.
pub const ADDRESS_FILE: &str = "wallet.address";

/// Reads the key in `net_dir` and checks it against the address kept beside it; creates both
/// files on a first start. Returns the key and whether it was just created.
pub fn open_key(net_dir: &Path) -> Result<(SecretKey, bool), StoreError> {
    let key_path = net_dir.join(KEY_FILE);
    let address_path = net_dir.join(ADDRESS_FILE);
    let kept = match fs::read_to_string(&address_path) {
        Ok(text) => Some(text.trim_end().to_string()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_error(&address_path)(e)),
    };
    if let Some(kept) = &kept {
        if !key_path.exists() {
            return Err(StoreError::KeyMismatch {
                path: key_path,
                reason: format!(
                    "it is missing, but this directory's node had address {kept} ({ADDRESS_FILE}): \
                     restore the key file, or, to give up that address's coins and start with a \
                     new key, delete {ADDRESS_FILE} too"
                ),
            });
        }
    }
    let (key, created) = read_or_create(&key_path)?;
    let address = key.public_key().address();
    match kept {
        Some(kept) if kept != address => Err(StoreError::KeyMismatch {
            path: key_path,
            reason: format!(
                "it holds the key of address {address}, but this directory's node had address \
                 {kept} ({ADDRESS_FILE}): restore the right key file"
            ),
        }),
        Some(_) => Ok((key, created)),
        None => {
            fs::write(&address_path, format!("{address}\n")).map_err(io_error(&address_path))?;
            Ok((key, created))
        }
    }
}

/// The key in `net_dir`'s key file, if there is one that holds a key: read, never created or
/// checked against its address (that is [`open_key`]'s work). The loader needs it before the
/// chain is loaded, to check the verified mark's tag.
pub fn peek_key(net_dir: &Path) -> Option<SecretKey> {
    let text = fs::read_to_string(net_dir.join(KEY_FILE)).ok()?;
    SecretKey::from_hex(text.strip_suffix('\n').unwrap_or(&text)).ok()
}

/// Reads the key file at `path`, or creates it with a fresh key. Returns the key and whether
/// it was just created.
fn read_or_create(path: &Path) -> Result<(SecretKey, bool), StoreError> {
    let path = path.to_path_buf();
    match fs::read_to_string(&path) {
        Ok(text) => {
            let digits = text.strip_suffix('\n').unwrap_or(&text);
            let lowercase_hex = digits.len() == 64
                && digits
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if !lowercase_hex {
                return Err(StoreError::BadKeyFile {
                    path,
                    reason: "it must hold 64 lowercase hex digits and a newline".into(),
                });
            }
            let key = SecretKey::from_hex(digits).map_err(|e| StoreError::BadKeyFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            Ok((key, false))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&path).map_err(io_error(&path))?;
            file.write_all(format!("{}\n", key.to_hex()).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io_error(&path))?;
            Ok((key, true))
        }
        Err(e) => Err(io_error(&path)(e)),
    }
}
