//! The node's key file: `DIR/<network>/wallet.key`, one secret key as 64 hex digits and a
//! newline.
//!
//! Created on the first start with a fresh key, readable by its owner only (mode 0600 on
//! Unix), and never overwritten: if it exists it is read, and if it cannot be read the node
//! stops with the file left as it was. Losing this file loses the coins its address holds.
//! A production wallet encrypts the key with a passphrase and derives many keys from one seed
//! (BIP 32); ours is one plain key, for learning.

use super::{io_error, StoreError};
use crate::crypto::keys::SecretKey;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// The key file's name inside `DIR/<network>/`.
pub const KEY_FILE: &str = "wallet.key";

/// Reads the key in `net_dir`, or creates the file with a fresh key. Returns the key and
/// whether it was just created.
pub fn open_key(net_dir: &Path) -> Result<(SecretKey, bool), StoreError> {
    let path = net_dir.join(KEY_FILE);
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
