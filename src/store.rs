//! Keeping the chain on disk: `DIR/<network>/blocks.jsonl`, one block per line, genesis first.
//!
//! # Format
//!
//! ```text
//! DIR/main/blocks.jsonl      one block per line, in the wire's JSON form, genesis first
//! DIR/main/peers.txt         one host:port per line: peers to dial again after a restart
//! DIR/main/LOCK              empty; locked while a node uses the directory
//! DIR/main/wallet.key        the node's secret key, 64 hex digits (mode 0600), never rewritten
//! DIR/main/wallet.address    the address of that key: a changed or missing key is refused
//! DIR/main/verified          the verified mark: how far this node checked every signature
//! DIR/regtest/...            the same for regtest, so the two networks never mix
//! ```
//!
//! The rules that make it crash-safe:
//!
//! - **Appending** writes the new lines and calls `sync_data` once per change (a sync batch of
//!   500 blocks is one change), not once per block.
//! - **A reorganization** writes the whole new chain to `blocks.jsonl.tmp` (copying the shared
//!   prefix byte for byte), syncs it, renames it over `blocks.jsonl` and syncs the directory.
//!   Rename is atomic, so a crash leaves the old file or the new one, never a mix.
//! - **A crash mid-append** leaves at most a torn last line: one without its newline, since
//!   every line is written with its `\n` in one go. Loading drops it with a warning: it was
//!   never synced, so no peer ever saw it (the node relays a block only once it is on disk).
//! - **Any other damage** stops the node with the file, line and rule, and the file is left
//!   exactly as it was. We never overwrite what we could not read. That includes a last line
//!   that ends in `\n` but is not a block: a bit flip is damage, not a torn write.
//! - **A restart trusts only what this node wrote:** the signatures of the blocks up to the
//!   verified mark (`mark.rs`) are not checked again, if the mark's tag was made with this node's
//!   key and the block at its height has its hash; every other rule is checked at every start.
//! - **One node per directory:** [`Store::open`] takes an exclusive lock on `LOCK` (released
//!   when the process ends, however it ends), so two nodes never append to one file.
//!
//! Bitcoin Core stores raw blocks in `blk*.dat` files and keeps an index in LevelDB; a text
//! file is slower and bigger but a student can open it, and `tail -f` shows blocks arriving.
//!
//! See `tutorial/12-persistence.md`.

use crate::block::Block;
use crate::chain::Blockchain;
use crate::consensus::{verify_block, verify_own_block, ChainError, VerifiedBlock};
use crate::crypto::keys::SecretKey;
use crate::hash::Hash;
use crate::params::Network;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod key_file;
mod mark;
mod writer;
pub use key_file::{ADDRESS_FILE, KEY_FILE};
pub use mark::{Mark, MARK_FILE};
pub use writer::DiskWriter;

/// The chain file's name inside `DIR/<network>/`.
pub const BLOCKS_FILE: &str = "blocks.jsonl";
/// Where a rewrite is prepared before it is renamed over [`BLOCKS_FILE`].
pub const TEMP_FILE: &str = "blocks.jsonl.tmp";
/// The known peers file's name inside `DIR/<network>/`.
pub const PEERS_FILE: &str = "peers.txt";
/// The lock file's name inside `DIR/<network>/`.
pub const LOCK_FILE: &str = "LOCK";
/// How many times a busy lock is tried again, 50 ms apart.
const LOCK_RETRIES: usize = 20;

/// Why the data directory could not be used. One enum for the storage layer.
#[derive(Debug)]
pub enum StoreError {
    /// The file system refused.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error the operating system gave.
        error: io::Error,
    },
    /// Another node holds the directory's lock.
    InUse {
        /// The network's directory.
        dir: PathBuf,
    },
    /// The key file exists but does not hold a key.
    BadKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file is missing or holds another key than the one this directory's node had.
    KeyMismatch {
        /// The key file.
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A line in the middle of the file is not a block.
    NotABlock {
        /// The file.
        path: PathBuf,
        /// The line, counting from 1.
        line: usize,
        /// What the JSON parser said.
        reason: String,
    },
    /// The first line is not this network's genesis.
    WrongGenesis {
        /// The blocks file.
        path: PathBuf,
        /// The first block's hash.
        found: Hash,
        /// The network the directory is for.
        network: Network,
    },
    /// A block breaks a consensus rule.
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line, counting from 1.
        line: usize,
        /// The rule it breaks.
        error: ChainError,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            StoreError::InUse { dir } => {
                write!(f, "{} is in use by another node", dir.display())
            }
            StoreError::BadKeyFile { path, reason } => {
                write!(f, "{}: not a key file: {reason}", path.display())
            }
            StoreError::KeyMismatch { path, reason } => write!(f, "{}: {reason}", path.display()),
            StoreError::NotABlock { path, line, reason } => {
                write!(f, "{} line {line}: not a block: {reason}", path.display())
            }
            StoreError::WrongGenesis { path, found, network } => write!(
                f,
                "{} line 1: genesis {found} is not the {network} genesis {} (a data directory of another network?)",
                path.display(),
                network.genesis().hash
            ),
            StoreError::Invalid { path, line, error } => {
                write!(f, "{} line {line}: {error}", path.display())?;
                if *line == 2 && matches!(error, ChainError::BadMerkleRoot { .. }) {
                    // The first block after genesis: most likely a chain kept before protocol
                    // 4, whose merkle leaves did not commit to signatures.
                    write!(
                        f,
                        " (a chain from before protocol 4, when blocks did not commit to their \
                         signatures: move this data directory away and start a new one)"
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for StoreError {}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// A change to the active chain, in the order the chain made them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// These blocks now extend the tip.
    Append(Vec<Block>),
    /// Everything above `fork_height` was replaced by `blocks`.
    Reorg {
        /// Height of the last block kept.
        fork_height: u64,
        /// The blocks that follow it now.
        blocks: Vec<Block>,
    },
}

/// What reading a data directory found.
pub struct Loaded {
    /// The chain, every block validated.
    pub chain: Blockchain,
    /// Byte offset where each block's line starts, by height; the last entry is the end.
    offsets: Vec<u64>,
    /// Warnings to print (a dropped torn line, a removed unfinished rewrite, a mark not used).
    pub warnings: Vec<String>,
    /// The verified mark the blocks were loaded under: the signatures up to its height were not
    /// checked again (`None`: every signature was checked).
    pub trusted: Option<Mark>,
    /// Peers to dial again.
    pub peers: Vec<SocketAddr>,
    /// The node's key from `wallet.key`, and whether the file was just created (filled in by
    /// [`Store::open`]; [`read`] leaves it `None`).
    pub key: Option<(SecretKey, bool)>,
    /// Bytes of `blocks.jsonl` that hold whole, valid lines.
    valid_len: u64,
    /// The file's length as found.
    file_len: u64,
}

/// Reads and validates `DIR/<network>/` without changing anything on disk, every signature
/// included (no key, so no verified mark is used).
pub fn read(dir: &Path, network: Network) -> Result<Loaded, StoreError> {
    load(dir, network, None)
}

/// [`read`], skipping the signatures below a verified mark made with `key` (see `mark.rs`).
fn load(dir: &Path, network: Network, key: Option<&SecretKey>) -> Result<Loaded, StoreError> {
    let net_dir = dir.join(network.name());
    let path = net_dir.join(BLOCKS_FILE);
    let mut warnings = Vec::new();
    if net_dir.join(TEMP_FILE).exists() {
        warnings.push(format!(
            "{}: an unfinished rewrite was left by a crash; the chain in {BLOCKS_FILE} stands",
            net_dir.join(TEMP_FILE).display()
        ));
    }
    let mark = match key.map(|key| Mark::read(&net_dir, key, network)) {
        Some(Ok(mark)) => mark,
        Some(Err(reason)) => {
            warnings.push(format!(
                "{}: not used ({reason}); every signature is checked",
                net_dir.join(MARK_FILE).display()
            ));
            None
        }
        None => None,
    };
    let peers = read_peers(&net_dir.join(PEERS_FILE));
    let mut trusted = mark;
    let replayed = match replay(&path, network, mark) {
        Err(Stop::MarkMissed) => {
            trusted = None;
            let mark = mark.expect("only a mark can be missed");
            warnings.push(format!(
                "{}: block {} at height {} is not in {BLOCKS_FILE}; every signature is checked",
                net_dir.join(MARK_FILE).display(),
                mark.hash.short(),
                mark.height
            ));
            replay(&path, network, None)
        }
        other => other,
    };
    let (chain, mut offsets, mut more_warnings, file_len) =
        replayed.map_err(|stop| match stop {
            Stop::Damage(error) => error,
            Stop::MarkMissed => unreachable!("without a mark nothing is missed"),
        })?;
    warnings.append(&mut more_warnings);
    let valid_len = *offsets.last().expect("starts with 0");
    if offsets.len() == 1 {
        // Not even a whole genesis line: treat it as a new directory.
        offsets.clear();
    }
    Ok(Loaded {
        chain,
        offsets,
        warnings,
        trusted,
        peers,
        key: None,
        valid_len,
        file_len,
    })
}

/// Why [`replay`] stopped.
enum Stop {
    /// The file breaks a rule: the node must not start on it.
    Damage(StoreError),
    /// The mark's block is not in the file: what was loaded below it without its signatures
    /// is not covered by the mark, so the file must be read again, checking everything.
    MarkMissed,
}

/// One line of the chain file, read and checked alone by [`read_lines`].
enum Line {
    /// Genesis, as it must be.
    Genesis,
    /// A block that passed every rule it can be checked against alone.
    Block(VerifiedBlock),
    /// A torn last line: the warning to print. Nothing follows it.
    Torn(String),
}

/// The reading thread hands its lines over in batches of this many lines or this many bytes
/// of the file, whichever comes first (one hand-over per block made the two threads spend much
/// of their time waking each other: in back-to-back runs a 100 000-block chain of 10
/// transactions a block loaded in 2.3 s so, 2.0 s in batches of 256), and may be
/// [`READ_AHEAD`] batches ahead of the connecting
/// thread: enough to keep both busy, little enough memory even for blocks at the size limit.
const READ_BATCH: usize = 256;
const READ_BATCH_BYTES: u64 = 4 << 20;
/// See [`READ_BATCH`].
const READ_AHEAD: usize = 4;

/// Validates the lines of the chain file at `path` into a chain; up to `mark`'s height without
/// the signatures. Returns the chain, the start offset of each line (and the end), warnings,
/// and the file's length. A missing file is an empty one.
///
/// Two threads share the work, as the network path shares it between a peer's thread and the
/// chain lock: one reads each line and checks what a block shows alone (its JSON, hash, proof
/// of work, merkle root, txids and, above the mark, signatures), the other connects the blocks
/// to the chain in order (links, difficulty, coins). A long chain then loads in about the
/// time of the slower half.
fn replay(
    path: &Path,
    network: Network,
    mark: Option<Mark>,
) -> Result<(Blockchain, Vec<u64>, Vec<String>, u64), Stop> {
    let file = match File::open(path) {
        Ok(file) => Some(file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(Stop::Damage(io_error(path)(e))),
    };
    let file_len = match &file {
        Some(file) => file
            .metadata()
            .map_err(|e| Stop::Damage(io_error(path)(e)))?
            .len(),
        None => 0,
    };
    let mut warnings = Vec::new();
    let mut chain = Blockchain::new(network);
    let mut offsets = vec![0u64];
    std::thread::scope(|scope| {
        let (lines, read) = std::sync::mpsc::sync_channel(READ_AHEAD);
        match file {
            Some(file) => {
                scope.spawn(move || read_lines(path, file, network, mark, &lines));
            }
            None => drop(lines), // no lines: the loop below ends at once
        }
        for (line_no, end, line) in read.into_iter().flatten() {
            let block = match line? {
                Line::Genesis => {
                    offsets.push(end);
                    continue;
                }
                Line::Torn(warning) => {
                    warnings.push(warning);
                    break;
                }
                Line::Block(block) => block,
            };
            let (height, hash) = (block.block().height, block.block().hash);
            chain
                .append_verified(block)
                .map_err(|error| invalid(path, line_no, error))?;
            // The hash was recomputed from the header, and the header links to its parent:
            // if the mark's block is here, everything below it is what this node checked.
            if mark.is_some_and(|mark| mark.height == height && mark.hash != hash) {
                return Err(Stop::MarkMissed);
            }
            offsets.push(end);
        }
        Ok(())
    })?;
    if mark.is_some_and(|mark| mark.height > chain.height()) {
        return Err(Stop::MarkMissed);
    }
    Ok((chain, offsets, warnings, file_len))
}

fn invalid(path: &Path, line: usize, error: ChainError) -> Stop {
    Stop::Damage(StoreError::Invalid {
        path: path.to_path_buf(),
        line,
        error,
    })
}

/// What [`read_lines`] sends for each line: its number, the offset where it ends (past its
/// newline) and what it holds.
type LineRead = (usize, u64, Result<Line, Stop>);

/// The reading half of [`replay`]: sends each line, and stops after the first damage, a torn
/// line, or when the connecting half hangs up.
fn read_lines(
    path: &Path,
    file: File,
    network: Network,
    mark: Option<Mark>,
    lines: &std::sync::mpsc::SyncSender<Vec<LineRead>>,
) {
    let params = network.params();
    let mut batch = Vec::with_capacity(READ_BATCH);
    let mut reader = io::BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut end = 0u64;
    let mut batch_start = 0u64;
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let read = match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) => {
                batch.push((line_no + 1, end, Err(Stop::Damage(io_error(path)(e)))));
                break;
            }
        };
        line_no += 1;
        end += read as u64;
        let newline = buf.last() == Some(&b'\n');
        let text = if newline { &buf[..read - 1] } else { &buf[..] };
        let parsed = serde_json::from_slice::<Block>(text);
        let line = match (parsed, newline) {
            // A last line without its newline is what a crash in the middle of an append
            // leaves. Anything else, even in the last line, is damage we must not paper over.
            (_, false) => Ok(Line::Torn(format!(
                "{} line {line_no}: dropped a torn last line ({read} bytes) left by a crash",
                path.display(),
            ))),
            (Err(e), true) => {
                let mut reason = e.to_string();
                if reason.starts_with("missing field `transactions`") {
                    // A chain kept by a node from before the "Money" chapters: its blocks are
                    // not valid under rule 7, so no node of this version can use it.
                    reason.push_str(
                        " (a chain from before transactions, protocol 2: move this data \
                         directory away and start a new one)",
                    );
                }
                Err(Stop::Damage(StoreError::NotABlock {
                    path: path.to_path_buf(),
                    line: line_no,
                    reason,
                }))
            }
            (Ok(block), true) if line_no == 1 => {
                if block == network.genesis() {
                    Ok(Line::Genesis)
                } else {
                    Err(Stop::Damage(StoreError::WrongGenesis {
                        path: path.to_path_buf(),
                        found: block.hash,
                        network,
                    }))
                }
            }
            // The same rules as the network path; only the clock rule is skipped, since our
            // own old blocks are old, and below the mark the signatures this node checked
            // before it wrote them.
            (Ok(block), true) => match mark {
                Some(mark) if block.height <= mark.height => verify_own_block(block, params),
                _ => verify_block(block, params, None),
            }
            .map(Line::Block)
            .map_err(|error| invalid(path, line_no, error)),
        };
        let last = !matches!(line, Ok(Line::Genesis | Line::Block(_)));
        batch.push((line_no, end, line));
        if last {
            break;
        }
        if batch.len() == READ_BATCH || end - batch_start >= READ_BATCH_BYTES {
            if lines.send(std::mem::take(&mut batch)).is_err() {
                return;
            }
            batch_start = end;
        }
    }
    let _ = lines.send(batch);
}

/// Takes the directory's exclusive lock, or says who has it. The operating system releases
/// the lock when the process ends, so a crash never leaves a stale lock behind (a lock *file*
/// that only exists would).
fn lock_dir(net_dir: &Path) -> Result<File, StoreError> {
    let path = net_dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    // A lock can be held a moment longer than its node lives (a process that is just exiting,
    // or a child forked at the wrong moment that has not yet run its program), so a busy lock
    // is tried again for up to a second before we say the directory is in use.
    for attempt in 0..=LOCK_RETRIES {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if attempt < LOCK_RETRIES => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(fs::TryLockError::WouldBlock) => break,
            Err(fs::TryLockError::Error(error)) => return Err(StoreError::Io { path, error }),
        }
    }
    Err(StoreError::InUse {
        dir: net_dir.to_path_buf(),
    })
}

fn read_peers(path: &Path) -> Vec<SocketAddr> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// An open data directory for one network: appends and rewrites `blocks.jsonl`.
pub struct Store {
    dir: PathBuf,
    file: File,
    /// `LOCK`, held (locked) for as long as the store exists.
    _lock: File,
    /// Start offset of each block's line by height, plus the end of the file.
    offsets: Vec<u64>,
    /// The node's key, which tags the verified mark.
    key: SecretKey,
    network: Network,
    /// The tip written since the last mark, if the mark is behind it, and when the mark was
    /// last written: see [`write_mark`](Self::write_mark).
    unmarked: Option<Mark>,
    marked_at: std::time::Instant,
}

/// How often the verified mark may be rewritten while blocks keep coming: a catch-up appends
/// a batch every few milliseconds, and a mark at most this old costs a start only the full
/// check of the blocks written since.
const MARK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Store {
    /// Opens (creating if needed) `DIR/<network>/`, validates the chain in it, drops a torn
    /// last line, and returns the store with the loaded chain. On any other damage nothing on
    /// disk is changed.
    pub fn open(dir: &Path, network: Network) -> Result<(Store, Loaded), StoreError> {
        let net_dir = dir.join(network.name());
        fs::create_dir_all(&net_dir).map_err(io_error(&net_dir))?;
        let lock = lock_dir(&net_dir)?;
        // The key is only read here (a damaged directory is left as it was); it is checked
        // against its address, or created, once the chain has loaded.
        let kept_key = key_file::peek_key(&net_dir);
        let mut loaded = load(dir, network, kept_key.as_ref())?;
        if kept_key.is_none() && net_dir.join(MARK_FILE).exists() {
            // A mark without the key that made it: copied in from elsewhere, most likely.
            loaded.warnings.push(format!(
                "{}: not used (this directory has no {KEY_FILE} yet, so no mark here is this \
                 node's); every signature is checked",
                net_dir.join(MARK_FILE).display()
            ));
        }
        let (key, created) = key_file::open_key(&net_dir)?;
        loaded.key = Some((key.clone(), created));
        let _ = fs::remove_file(net_dir.join(TEMP_FILE));
        let path = net_dir.join(BLOCKS_FILE);
        let mut store = Store {
            file: OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io_error(&path))?,
            dir: net_dir,
            _lock: lock,
            offsets: std::mem::take(&mut loaded.offsets),
            key,
            network,
            unmarked: None,
            marked_at: std::time::Instant::now(),
        };
        if store.offsets.is_empty() {
            // A new (or empty) file: write genesis through a rewrite, so even this is atomic.
            let genesis = loaded.chain.genesis().clone();
            store.offsets = vec![0];
            store
                .rewrite(0, &[genesis], false)
                .map_err(io_error(&path))?;
        } else if loaded.valid_len < loaded.file_len {
            store
                .file
                .set_len(loaded.valid_len)
                .map_err(io_error(&path))?;
            store.file.sync_data().map_err(io_error(&path))?;
        }
        // Every block is checked now, so the next start may skip their signatures.
        let tip = loaded.chain.tip();
        let mark = Mark {
            height: tip.height,
            hash: tip.hash,
        };
        if loaded.trusted != Some(mark) {
            store.write_mark(mark);
        }
        Ok((store, loaded))
    }

    /// Marks the blocks up to `mark` as checked by this node. A mark that cannot be written
    /// costs only a slower start, so it is not an error (a full disk shows at the next append).
    fn write_mark(&mut self, mark: Mark) {
        let _ = mark.write(&self.dir, &self.key, self.network);
        self.unmarked = None;
        self.marked_at = std::time::Instant::now();
    }

    /// Moves the mark to `tip`, at most once every [`MARK_EVERY`]; the store writes the last
    /// one when it is dropped (a node that stops cleanly), and after a crash the mark is at
    /// most that old.
    fn mark_tip(&mut self, tip: Mark) {
        if self.marked_at.elapsed() >= MARK_EVERY {
            self.write_mark(tip);
        } else {
            self.unmarked = Some(tip);
        }
    }

    /// The path of the chain file.
    pub fn blocks_path(&self) -> PathBuf {
        self.dir.join(BLOCKS_FILE)
    }

    /// The path of the key file.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    /// Writes a change and makes it durable, then moves the verified mark to the new tip: the
    /// chain validated every block before it handed them over.
    pub fn apply(&mut self, change: &Change) -> io::Result<()> {
        let blocks = match change {
            Change::Append(blocks) => {
                self.append_lines(blocks)?;
                blocks
            }
            Change::Reorg {
                fork_height,
                blocks,
            } => {
                self.rewrite(*fork_height + 1, blocks, true)?;
                blocks
            }
        };
        if let Some(tip) = blocks.last() {
            self.mark_tip(Mark {
                height: tip.height,
                hash: tip.hash,
            });
        }
        Ok(())
    }

    /// Appends blocks and syncs once.
    fn append_lines(&mut self, blocks: &[Block]) -> io::Result<()> {
        let base = *self.offsets.last().expect("genesis is stored");
        let mut buf = Vec::new();
        let mut ends = Vec::with_capacity(blocks.len());
        for block in blocks {
            serde_json::to_writer(&mut buf, block).map_err(io::Error::other)?;
            buf.push(b'\n');
            ends.push(base + buf.len() as u64);
        }
        self.file.write_all(&buf)?;
        self.file.sync_data()?;
        self.offsets.extend(ends);
        Ok(())
    }

    /// Replaces every line from height `keep` on with `blocks`: prepare the temporary file,
    /// then rename it into place.
    fn rewrite(&mut self, keep: u64, blocks: &[Block], copy_prefix: bool) -> io::Result<()> {
        let new_offsets = self.prepare_rewrite(keep, blocks, copy_prefix)?;
        self.commit_rewrite(new_offsets)
    }

    /// Step one of a rewrite: `blocks.jsonl.tmp` holds lines `0..keep` of the current file
    /// followed by `blocks`, synced. Returns the offsets the file will have. A test "crashes"
    /// between the two steps through `testing::interrupt_rewrite`.
    pub(crate) fn prepare_rewrite(
        &mut self,
        keep: u64,
        blocks: &[Block],
        copy_prefix: bool,
    ) -> io::Result<Vec<u64>> {
        let temp_path = self.dir.join(TEMP_FILE);
        let mut temp = File::create(&temp_path)?;
        let keep = keep as usize;
        let mut offsets: Vec<u64> = self.offsets[..=keep.min(self.offsets.len() - 1)].to_vec();
        if copy_prefix && keep > 0 {
            let prefix_len = offsets[keep];
            let old = File::open(self.blocks_path())?;
            let copied = io::copy(&mut old.take(prefix_len), &mut temp)?;
            if copied != prefix_len {
                return Err(io::Error::other(format!(
                    "{BLOCKS_FILE} is shorter than its first {keep} blocks"
                )));
            }
        }
        let mut buf = Vec::new();
        let base = *offsets.last().expect("non-empty");
        for block in blocks {
            serde_json::to_writer(&mut buf, block).map_err(io::Error::other)?;
            buf.push(b'\n');
            offsets.push(base + buf.len() as u64);
        }
        temp.write_all(&buf)?;
        temp.sync_all()?;
        Ok(offsets)
    }

    /// Step two: rename the temporary file over the chain file and sync the directory, so the
    /// rename itself survives a crash.
    fn commit_rewrite(&mut self, offsets: Vec<u64>) -> io::Result<()> {
        let path = self.blocks_path();
        fs::rename(self.dir.join(TEMP_FILE), &path)?;
        File::open(&self.dir)?.sync_all()?;
        self.file = OpenOptions::new().append(true).open(&path)?;
        self.offsets = offsets;
        Ok(())
    }

    /// Replaces `peers.txt` (through a temporary file, like the chain).
    pub fn save_peers(&self, peers: &[SocketAddr]) -> io::Result<()> {
        let temp = self.dir.join("peers.txt.tmp");
        let mut text = String::new();
        for peer in peers {
            text.push_str(&peer.to_string());
            text.push('\n');
        }
        let mut file = File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, self.dir.join(PEERS_FILE))?;
        Ok(())
    }
}

impl Drop for Store {
    /// Writes the mark the rate limit of `mark_tip` left behind.
    fn drop(&mut self) {
        if let Some(tip) = self.unmarked {
            self.write_mark(tip);
        }
    }
}
