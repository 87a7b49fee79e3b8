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
//! - [`consensus`]: the seven rules a block must pass, each one function, in three halves
//!   every path runs (all but the spending half of rule 7, which needs the UTXO set).
//! - [`chain`]: the active chain, the locator, and most-work fork choice.
//! - [`branch`]: a competing branch as it downloads: headers first, then bodies, checked once.
//! - [`miner`]: nonce search on every core, with a stop flag.
//! - [`crypto`]: secp256k1 and ECDSA by hand (for learning only): keys, signatures, addresses.
//!
//! Money, on the chain:
//!
//! - [`transaction`]: inputs, outputs, the txid and its bytes, signing, the coinbase, and the
//!   part of rule 7 a transaction can show alone.
//! - [`utxo`]: the unspent outputs of the active chain, undo records, and views that try a
//!   branch without touching the set: rule 7's spending half.
//! - [`mempool`]: valid transactions waiting for a block, conflicts, fee rates.
//! - [`wallet`]: amounts in coins, balances, and building a payment from the node's coins.
//!
//! Keeping it, beside the chain:
//!
//! - [`store`]: the data directory: the chain as JSON lines, crash-safe appends and rewrites,
//!   the node's key file, its lock, and the disk writer thread that applies the node's changes
//!   in order.
//!
//! The network, on top. Requests flow down, from the socket to the chain:
//! listener → connection → message → session → node state → chain. Nothing calls back up:
//! what goes out to peers is put in their send queues (see [`state`]).
//!
//! - [`node`]: the TCP server and client in one: the accept loop, dialing, the maintenance
//!   tick, mining, shutdown. It starts each peer's session thread; [`connection`] starts the
//!   writer thread behind each peer's queue.
//! - [`connection`]: one socket split in two: whole messages in; whole lines out through a
//!   bounded queue and a writer thread of its own.
//! - [`message`]: the wire protocol, one JSON object per line, and the `Message` enum.
//! - [`session`]: one connection's life: handshake, the dispatch `match`, catching up.
//! - [`state`]: what the threads share, in small parts with one job each:
//!   - [`chain_state`]: the `Arc<Mutex<Blockchain>>`, and the duties every change brings
//!     (record it for the disk, stop the mining round, wait for the disk before a peer sees it);
//!   - [`peer_table`]: connections, handshake slots, duplicates, eviction, relay targets;
//!   - [`address_book`]: known addresses, back-off and forgetting;
//!   - [`log`]: log lines through a bounded queue to one logger thread.
//! - [`config`]: a node's settings and their defaults.
//! - [`console`]: the commands typed at a running node (`mine`, `chain`, `peers`, ...).
//! - [`http`]: a small HTTP/1.1 server by hand, bounded like the P2P side.
//! - [`api`]: the App on top of it: the JSON API and the explorer page, calling the same node
//!   methods as the console.
//! - [`cli`]: the command line, parsed by hand.

#![warn(missing_docs)]

pub mod address_book;
pub mod api;
pub mod block;
pub mod branch;
pub mod chain;
pub mod chain_state;
pub mod cli;
pub mod config;
pub mod connection;
pub mod consensus;
pub mod console;
pub mod crypto;
pub mod hash;
pub mod http;
pub mod log;
pub mod mempool;
pub mod merkle;
pub mod message;
pub mod miner;
pub mod node;
pub mod params;
pub mod peer_table;
pub mod pow;
pub mod session;
pub mod state;
pub mod store;
#[doc(hidden)]
pub mod testing;
pub mod transaction;
pub mod utxo;
pub mod wallet;

pub use block::Block;
pub use chain::{Blockchain, Outcome};
pub use config::Config;
pub use consensus::ChainError;
pub use hash::Hash;
pub use message::Message;
pub use node::Node;
pub use params::Network;
