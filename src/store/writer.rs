//! The disk writer: the one thread that writes the data directory while the node runs.
//!
//! Chain changes get a sequence number and go down a channel while the chain lock is held, so
//! the file sees them in the chain's order; the writing and syncing happen on the writer
//! thread, with no lock held, so a slow disk never holds up the chain. Before a peer may see a
//! block (a relay, a `latest_block` or `blocks` answer), the thread that will show it waits
//! until the writer has synced that far ([`DiskWriter::wait_durable`]): a block a peer got from
//! us is never lost in a crash. Only that thread waits, and only for one sync.
//!
//! See `tutorial/12-persistence.md`.

use super::{Change, Store};
use crate::log::Logger;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

enum Job {
    Chain(u64, Change),
    Peers(Vec<SocketAddr>),
}

/// The hand-over to the thread that writes the data directory.
pub struct DiskWriter {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// The number of the last change handed over.
    recorded: AtomicU64,
    /// The number of the last change on disk (`u64::MAX` once the writer has stopped).
    durable: Mutex<u64>,
    synced: Condvar,
    /// Taken by the writer around each write: [`hold`](Self::hold) makes it wait.
    hold: Mutex<()>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DiskWriter {
    /// Starts the writer thread on `store`.
    pub fn start(store: Store, log: Logger) -> std::sync::Arc<DiskWriter> {
        let (tx, rx) = mpsc::channel();
        let writer = std::sync::Arc::new(DiskWriter {
            jobs: Mutex::new(Some(tx)),
            recorded: AtomicU64::new(0),
            durable: Mutex::new(0),
            synced: Condvar::new(),
            hold: Mutex::new(()),
            thread: Mutex::new(None),
        });
        let shared = std::sync::Arc::clone(&writer);
        let thread = thread::spawn(move || shared.write_loop(store, rx, &log));
        *lock(&writer.thread) = Some(thread);
        writer
    }

    /// Hands a chain change to the writer; call it with the chain lock held, right after the
    /// change. Returns the number to pass to [`wait_durable`](Self::wait_durable).
    pub fn record(&self, change: Change) -> u64 {
        let seq = self.recorded.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(jobs) = lock(&self.jobs).as_ref() {
            let _ = jobs.send(Job::Chain(seq, change));
        }
        seq
    }

    /// The number of the last change handed over (read it under the chain lock).
    pub fn recorded(&self) -> u64 {
        self.recorded.load(Ordering::SeqCst)
    }

    /// The number of the last change on disk.
    pub fn durable(&self) -> u64 {
        *lock(&self.durable)
    }

    /// Holds the writer before its next write until the guard is dropped: a slow disk on
    /// demand, so tests can show that nothing reaches a peer before it is written.
    pub fn hold(&self) -> MutexGuard<'_, ()> {
        lock(&self.hold)
    }

    /// Blocks until change `seq` is on disk.
    pub fn wait_durable(&self, seq: u64) {
        let mut durable = lock(&self.durable);
        while *durable < seq {
            durable = self.synced.wait(durable).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Replaces `peers.txt` with `peers`, in order with the chain changes.
    pub fn save_peers(&self, peers: Vec<SocketAddr>) {
        if let Some(jobs) = lock(&self.jobs).as_ref() {
            let _ = jobs.send(Job::Peers(peers));
        }
    }

    /// Lets the writer finish its queue and waits for it. Call it once nothing can change the
    /// chain any more.
    pub fn finish(&self) {
        lock(&self.jobs).take();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }

    /// Applies chain changes in order, syncing each, and wakes whoever waits.
    fn write_loop(&self, mut store: Store, jobs: mpsc::Receiver<Job>, log: &Logger) {
        let mut failed = false;
        for job in jobs {
            match job {
                Job::Chain(seq, change) => {
                    let _held = lock(&self.hold);
                    if !failed {
                        if let Err(e) = store.apply(&change) {
                            // A production node would stop here; we say so loudly and carry on
                            // in memory, so a classroom demo survives a full disk.
                            log.log(format_args!(
                                "[!] Cannot write {}: {e}; the chain is kept in memory only from now on",
                                store.blocks_path().display()
                            ));
                            failed = true;
                        }
                    }
                    *lock(&self.durable) = seq;
                    self.synced.notify_all();
                }
                Job::Peers(peers) => {
                    if let Err(e) = store.save_peers(&peers) {
                        log.log(format_args!("[!] Cannot save peers: {e}"));
                    }
                }
            }
        }
        *lock(&self.durable) = u64::MAX;
        self.synced.notify_all();
    }
}
