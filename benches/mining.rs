//! `cargo bench --bench mining`: how fast the miner hashes, against plain SHA-256 measured in
//! the same run.
//!
//! It prints raw SHA-256 hashes/s of a 96-byte input on one thread (the baseline), the miner's
//! hashes/s on one thread and on every core, and two ratios. The miner should not be slower than
//! the baseline (its midstate means one compression per try instead of two, so it is usually
//! faster), and on n cores it should come close to n times its one-thread rate.

use peerchain::miner::{search_parallel, Midstate};
use peerchain::Network;
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Hashes per measurement on one thread. Enough for a stable rate, about a second each.
const HASHES: u64 = 4_000_000;

/// Best of a few runs, so a passing hiccup on a shared machine does not set the figure.
fn best_rate(runs: usize, hashes: u64, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            hashes as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn main() {
    let mut header = Network::Main.genesis().header_bytes();
    let raw = best_rate(3, HASHES, || {
        for nonce in 0..HASHES {
            header[88..96].copy_from_slice(&nonce.to_le_bytes());
            black_box(Sha256::digest(black_box(&header)));
        }
    });

    // Difficulty 255 is never met, so every search runs to its full count.
    let mut template = Network::Main.genesis();
    template.difficulty = 255;
    let mid = Midstate::new(&template);
    let never = AtomicBool::new(false);
    let one = best_rate(3, HASHES, || {
        black_box(mid.search(0, 1, HASHES, &never));
    });

    let threads = peerchain::cores::count();
    let all = best_rate(3, HASHES * threads as u64, || {
        black_box(search_parallel(&mid, threads, HASHES, &never));
    });

    println!("sha256 96-byte input, 1 thread: {:>12.0} hashes/s", raw);
    println!("miner, 1 thread:                {:>12.0} hashes/s", one);
    println!(
        "miner, {threads} threads:              {:>12.0} hashes/s",
        all
    );
    println!("mining/sha256 ratio: {:.2}", one / raw);
    println!("mining thread scaling: {:.2}", all / one);
}
