//! A node's settings, with the defaults a classroom needs. The timeouts are here so tests can
//! shorten them.
//!
//! See `tutorial/11-defending-the-node.md`.

use crate::message::MAX_BLOCKS_PER_MESSAGE;
use crate::params::Network;
use std::time::Duration;

/// Default limit on connections that finished their handshake, inbound and outbound together.
pub const MAX_PEERS: usize = 32;
/// Default limit on inbound connections still in their handshake (kept apart from
/// [`MAX_PEERS`], so half-open connections can never take the slots of real peers).
pub const MAX_HANDSHAKES: usize = 16;
/// Default cap on the memory of one peer's branch while its headers carry no more work than
/// our chain (16 MiB: about 131 000 headers, so a fork that deep can still win).
pub const MAX_UNPROVEN_HEADER_BYTES: usize = 16 << 20;
/// Default number of outbound connections the node keeps from its address book.
pub const TARGET_OUTBOUND: usize = 8;

/// A node's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which chain to follow.
    pub network: Network,
    /// The peer must complete its `hello` within this long (5 s).
    pub handshake_timeout: Duration,
    /// Send a `ping` after this long without a message (30 s).
    pub ping_interval: Duration,
    /// Close after this long without any message (90 s).
    pub idle_timeout: Duration,
    /// A message not fully written within this long closes the connection (10 s).
    pub write_timeout: Duration,
    /// A sync request (`get_headers`, `get_blocks`) the peer has not answered within this long
    /// is forgotten, so the peer's next announcement can ask again (10 s). A busy peer is
    /// never quiet long enough for the ping interval to do it.
    pub request_timeout: Duration,
    /// At most this many handshaken connections (32).
    pub max_peers: usize,
    /// At most this many inbound connections in their handshake; a new one past it pushes out
    /// the oldest (16).
    pub max_handshakes: usize,
    /// Keep this many outbound connections, dialing from the address book (8).
    pub target_outbound: usize,
    /// How often the maintenance tick runs: redial, back off, refresh addresses (1 s).
    pub maintenance_interval: Duration,
    /// How often the tick asks a peer for addresses (60 s).
    pub address_refresh_interval: Duration,
    /// Two links to one node are a simultaneous dial, and the duplicate may replace the first
    /// link, only if both handshakes finished within this long of each other (2 s). Past it
    /// the established link stays and the newcomer is refused.
    pub duplicate_window: Duration,
    /// How many blocks to ask for in one `get_blocks` (500, the protocol's maximum).
    pub sync_batch: usize,
    /// A peer's branch may take this much memory in headers before its work beats ours; past
    /// it the peer is dropped (16 MiB).
    pub max_unproven_header_bytes: usize,
    /// Print log lines to stdout.
    pub log: bool,
    /// How long a peer that broke a consensus rule is refused (see
    /// [`discouraged`](crate::node::discouraged)); zero turns discouragement off.
    pub discourage_for: Duration,
}

impl Config {
    /// Defaults for `network`.
    pub fn new(network: Network) -> Self {
        Config {
            network,
            handshake_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            write_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            max_peers: MAX_PEERS,
            max_handshakes: MAX_HANDSHAKES,
            target_outbound: TARGET_OUTBOUND,
            maintenance_interval: Duration::from_secs(1),
            address_refresh_interval: Duration::from_secs(60),
            duplicate_window: Duration::from_secs(2),
            sync_batch: MAX_BLOCKS_PER_MESSAGE,
            max_unproven_header_bytes: MAX_UNPROVEN_HEADER_BYTES,
            log: true,
            discourage_for: crate::node::discouraged::DISCOURAGE_FOR,
        }
    }
}
