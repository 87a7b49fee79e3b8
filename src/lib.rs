//! # peerchain
//!
//! A small proof-of-work blockchain node to learn from: read it, run it, extend it. Every
//! module is short and explains *why* it is the way it is, and what a production node (Bitcoin
//! Core, mostly) does differently. The tutorial in `tutorial/` walks through it in order.
//!
//! # Layout
//!
//! Three layers, each a place in the tree, each using only the ones below it (as rust-bitcoin
//! keeps `blockdata`, `consensus` and `network` apart), and the lab beside the App on top:
//!
//! ```text
//! src/app.rs  + src/app/    the App: command line, console, HTTP API, explorer page
//! src/lab.rs  + src/lab/    the lab: many nodes in one process, links, attackers, reports
//! src/node.rs + src/node/   threads, sockets and shared state: the running node
//! src/*.rs                  the core: blocks, rules, chain, money, disk; no threads for peers
//! ```
//!
//! Nothing at the root imports `node`, `app` or `lab`, `node` imports neither of those two,
//! and `app` and `lab` do not import each other (the binary, `src/main.rs`, uses both): the
//! core can be tested with no socket, the node with no App, and the lab runs the node as it
//! is.
//!
//! ## The core
//!
//! The chain, bottom up:
//!
//! - [`hash`]: the 32-byte SHA-256 digest and its 64-hex-digit spelling.
//! - [`merkle`]: the merkle root that commits a block to its data items and transactions.
//! - [`block`]: the block, its JSON form and its 96 header bytes.
//! - [`pow`]: leading zero bits and the work a block proves.
//! - [`params`]: the `main` and `regtest` networks, their genesis blocks and numbers.
//! - [`consensus`]: the seven rules a block must pass, each one function, in three halves
//!   every path runs (all but the spending half of rule 7, which needs the UTXO set).
//! - [`chain`]: the active chain, the locator, and most-work fork choice, decided in one place.
//! - [`branch`]: a competing branch as it downloads: headers first, then bodies, checked once.
//! - [`miner`]: nonce search on every core, with a stop flag.
//! - [`cores`]: how many threads the miner and the signature checks use.
//! - [`crypto`]: secp256k1 and ECDSA by hand (for learning only): keys, signatures, addresses.
//! - [`identity`]: a node id nobody can copy: a key's short name, proven by signing a
//!   challenge in the handshake.
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
//! Beside the chain:
//!
//! - [`store`]: the data directory: the chain as JSON lines, crash-safe appends and rewrites,
//!   the node's key file, its lock, the verified mark that lets a restart skip the signatures
//!   it checked before, and the disk writer thread that applies the node's changes in order.
//! - [`message`]: the wire protocol, one JSON object per line, and the `Message` enum.
//! - [`log`]: log lines through a bounded queue to one logger thread.
//!
//! ## The node
//!
//! [`node`]: the TCP server and client in one. Requests flow down, from the socket to the
//! chain: listener → connection → message → session → node state → chain. Nothing calls back
//! up: what goes out to peers is put in their send queues (see [`node::state`]). Its parts:
//! `connection` (one socket split in two: whole messages in, whole lines out through a bounded
//! queue), `session` (one connection's life: handshake, the dispatch `match`, catching up),
//! `state` (what the threads share), `chain_state` (the `Arc<Mutex<Blockchain>>` and the duties
//! every change brings), `peer_table`, `address_book` and `config`.
//!
//! ## The lab
//!
//! [`lab`]: a whole network of real nodes in one process, for experiments (chapters 22 and
//! 23): `scenario` (the file), `net` (the nodes), `link` (a relay per link with delay,
//! bandwidth and cuts, and an attacker's gate), `schedule` (who finds the next block, when),
//! `selfish` and `double_spend` (the attackers' minds), `papers` (the published formulas) and
//! `report`.
//!
//! ## The App
//!
//! [`app`]: what a person uses to drive a node, through [`Node`]'s methods: `cli` (the command
//! line), `console` (commands typed at a running node), `http` (a small HTTP/1.1 server by
//! hand) and `api` (the JSON API and the explorer page).

#![warn(missing_docs)]

pub mod app;
pub mod block;
pub mod branch;
pub mod chain;
pub mod consensus;
pub mod cores;
pub mod crypto;
pub mod hash;
pub mod identity;
pub mod lab;
pub mod log;
pub mod mempool;
pub mod merkle;
pub mod message;
pub mod miner;
pub mod node;
pub mod params;
pub mod pow;
pub mod store;
#[doc(hidden)]
pub mod testing;
pub mod transaction;
pub mod utxo;
pub mod wallet;

pub use block::Block;
pub use chain::{Blockchain, Outcome};
pub use consensus::ChainError;
pub use hash::Hash;
pub use message::Message;
pub use node::config::Config;
pub use node::Node;
pub use params::Network;
