//! Exercise 09: a `sync` console command that shows how catching up went.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};

/// After catching up 30 blocks (one batch of headers, then one of blocks), `sync` reports the
/// counters.
#[test]
fn sync_command_reports_counters() {
    let a = start_with(config(), regtest_chain(30));
    let b = start(config());
    b.connect(a.local_addr());
    wait_for_tip(&b, a.summary().tip, "b to catch up");
    let stats = b.sync_stats();
    let Reply::Text(text) = execute(&b, "sync") else {
        panic!("quit?")
    };
    assert_eq!(
        text,
        format!(
            "get_headers sent 1, headers 30, get_blocks sent 1, batches 1, blocks 30, largest line {} bytes",
            stats.largest_line
        )
    );
}
