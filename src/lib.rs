//! # peerchain
//!
//! A small proof-of-work blockchain node to learn from: read it, run it, extend it. Every
//! module is short and explains *why* it is the way it is, and what a production node (Bitcoin
//! Core, mostly) does differently. The tutorial in `tutorial/` walks through it in order.
//!
//! # Layout
//!
//! The chain, bottom up:
//!
//! - [`hash`]: the 32-byte SHA-256 digest and its 64-hex-digit spelling.
//! - [`merkle`]: the merkle root that commits a block to its data items.
//! - [`block`]: the block, its JSON form and its 96 header bytes.
//! - [`pow`]: leading zero bits and the work a block proves.
//! - [`params`]: the `main` and `regtest` networks, their genesis blocks and numbers.
//! - [`consensus`]: the six rules a block must pass, in one function every path calls.
//! - [`chain`]: the active chain, the locator, and most-work fork choice.
//! - [`miner`]: nonce search on every core, with a stop flag.
//!
//! The network, on top:
//!
//! - [`message`]: the wire protocol, one JSON object per line, and the `Message` enum.
//! - [`connection`]: framing: whole messages in, whole lines out, bounded and with timeouts.
//! - [`node`]: the TCP server and client in one: shared state, accept loop, dialing, relay.
//! - [`peer`]: one connection's session: handshake, the dispatch `match`, catching up.
//! - [`store`]: the data directory: the chain as JSON lines, crash-safe appends and rewrites.
//! - [`console`]: the commands typed at a running node (`mine`, `chain`, `peers`, ...).
//! - [`cli`]: the command line, parsed by hand.

pub mod block;
pub mod chain;
pub mod cli;
pub mod connection;
pub mod consensus;
pub mod console;
pub mod hash;
pub mod merkle;
pub mod message;
pub mod miner;
pub mod node;
pub mod params;
pub mod peer;
pub mod pow;
pub mod store;

pub use block::Block;
pub use chain::{Blockchain, Outcome};
pub use consensus::ChainError;
pub use hash::Hash;
pub use message::Message;
pub use node::{Config, Node};
pub use params::Network;
