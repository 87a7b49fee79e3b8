//! Exercise 07: a `disconnect <addr>` console command.

// Not followed by rustfmt: this file is checked both here and once copied into tests/,
// and only there does `common` exist.
#[rustfmt::skip]
mod common;

use common::*;
use peerchain::app::console::{execute, Reply};

/// Disconnecting from a peer closes the link on both sides; an address we are not connected
/// to gets a plain answer.
#[test]
fn disconnect_command() {
    let (a, b) = (start(config()), start(config()));
    a.connect(b.local_addr());
    wait_for("the link", || a.peers().len() == 1 && b.peers().len() == 1);
    let Reply::Text(text) = execute(&a, &format!("disconnect {}", b.local_addr())) else {
        panic!("quit?")
    };
    assert_eq!(text, format!("disconnected from {}", b.local_addr()));
    wait_for("both sides to drop the link", || {
        a.peers().is_empty() && b.peers().is_empty()
    });
    let Reply::Text(again) = execute(&a, &format!("disconnect {}", b.local_addr())) else {
        panic!("quit?")
    };
    assert_eq!(again, format!("not connected to {}", b.local_addr()));
}
