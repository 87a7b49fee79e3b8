//! The three built-in networks and their chain parameters.
//!
//! A network is identified by its genesis hash: nodes with different geneses refuse each other
//! at the handshake. `main` has a real proof of work (difficulty 20, about a million hashes a
//! block) and ten-second blocks; `regtest` is for tests and quick classroom demos, where a block
//! costs a couple of hashes; `lab` is regtest with its difficulty pinned, for the lab
//! (`src/lab.rs`, chapter 22), which finds blocks many times a second: regtest would retarget upwards
//! every ten blocks, and blocks of different difficulty carry different work, while the papers
//! the lab checks count blocks, all of equal work.
//!
//! Bitcoin retargets every 2016 blocks towards ten minutes; our numbers are small so that a
//! student sees difficulty move within a minute of mining.
//!
//! See `tutorial/04-difficulty.md` and, for every number in one table,
//! `tutorial/B-consensus-rules.md`.

use crate::block::Block;
use std::fmt;
use std::str::FromStr;

/// Timestamp of every genesis block: Bitcoin's genesis time, in milliseconds.
pub const GENESIS_TIMESTAMP: u64 = 1_231_006_505_000;

/// Which chain a node follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Network {
    /// The default network: real proof of work, ten-second blocks.
    Main,
    /// Easy proof of work for tests and demos.
    Regtest,
    /// Regtest's rules with a fixed difficulty of 8 (256 hashes a block): the lab's network.
    Lab,
}

/// The numbers that define a network's consensus.
#[derive(Debug)]
pub struct Params {
    /// Which network these are.
    pub network: Network,
    /// Data items of the genesis block.
    pub genesis_data: &'static str,
    /// Difficulty of the genesis block.
    pub genesis_difficulty: u32,
    /// Nonce of the genesis block, found once and fixed here.
    pub genesis_nonce: u64,
    /// T: the block interval the difficulty aims at, in milliseconds.
    pub target_block_ms: u64,
    /// R: difficulty may change at heights that are multiples of this.
    pub retarget_interval: u64,
    /// Difficulty never drops below this.
    pub min_difficulty: u32,
    /// Difficulty never rises above this.
    pub max_difficulty: u32,
    /// How far ahead of our clock a block's timestamp may be, in milliseconds.
    pub max_future_drift_ms: u64,
    /// At most this many data items per block.
    pub max_data_items: usize,
    /// At most this many data bytes (UTF-8, summed over items) per block.
    pub max_data_bytes: usize,
    /// The block subsidy halves every this many blocks.
    pub halving_interval: u64,
}

static MAIN: Params = Params {
    network: Network::Main,
    genesis_data: "The Times 03/Jan/2009 Chancellor on brink of second bailout for banks",
    genesis_difficulty: 20,
    genesis_nonce: 1_194_660,
    target_block_ms: 10_000,
    retarget_interval: 10,
    min_difficulty: 16,
    max_difficulty: 64,
    max_future_drift_ms: 120_000,
    max_data_items: 256,
    max_data_bytes: 65_536,
    halving_interval: 210_000,
};

static REGTEST: Params = Params {
    network: Network::Regtest,
    genesis_data: "peerchain regtest",
    genesis_difficulty: 1,
    genesis_nonce: 1,
    target_block_ms: 1_000,
    retarget_interval: 10,
    min_difficulty: 1,
    max_difficulty: 16,
    max_future_drift_ms: 120_000,
    max_data_items: 256,
    max_data_bytes: 65_536,
    halving_interval: 150,
};

static LAB: Params = Params {
    network: Network::Lab,
    genesis_data: "peerchain lab",
    genesis_difficulty: 8,
    genesis_nonce: GENESIS_NONCE_LAB,
    target_block_ms: 1_000,
    retarget_interval: 10,
    // min = max: retargeting can never move it.
    min_difficulty: 8,
    max_difficulty: 8,
    max_future_drift_ms: 120_000,
    max_data_items: 256,
    max_data_bytes: 65_536,
    // A lab run mines tens of thousands of blocks; the subsidy should not run out.
    halving_interval: 210_000,
};

const GENESIS_NONCE_LAB: u64 = 26;

impl Params {
    /// The new coins the block at `height` may create: 50 coins, halved every
    /// `halving_interval` blocks, and 0 after 64 halvings (as Bitcoin's `GetBlockSubsidy`).
    pub fn subsidy(&self, height: u64) -> u64 {
        let halvings = height / self.halving_interval;
        if halvings >= 64 {
            0
        } else {
            (50 * crate::transaction::COIN) >> halvings
        }
    }
}

impl Network {
    /// This network's consensus parameters.
    pub fn params(self) -> &'static Params {
        match self {
            Network::Main => &MAIN,
            Network::Regtest => &REGTEST,
            Network::Lab => &LAB,
        }
    }

    /// The lowercase name, as used on the command line and in data directories.
    pub fn name(self) -> &'static str {
        match self {
            Network::Main => "main",
            Network::Regtest => "regtest",
            Network::Lab => "lab",
        }
    }

    /// This network's genesis block, built from its parameters.
    pub fn genesis(self) -> Block {
        let p = self.params();
        Block::new(
            0,
            GENESIS_TIMESTAMP,
            crate::hash::Hash::ZERO,
            p.genesis_difficulty,
            p.genesis_nonce,
            vec![p.genesis_data.to_string()],
            Vec::new(),
        )
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "main" => Ok(Network::Main),
            "regtest" => Ok(Network::Regtest),
            "lab" => Ok(Network::Lab),
            other => Err(format!(
                "unknown network {other:?} (expected main, regtest or lab)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pow::meets_difficulty;

    /// The genesis hashes are the network identities; if any drifts, nodes stop agreeing.
    #[test]
    fn genesis_hashes_are_fixed() {
        let main = Network::Main.genesis();
        assert_eq!(
            main.hash.to_string(),
            "00000550a7710908dbee75a215e45c9a25ba83c5f86917712f9411b0516fcf55"
        );
        assert_eq!(
            main.merkle_root.to_string(),
            "eee126eef2e2489163058bf7aff0378a917c1d4817295883592a32b25a4ad81e"
        );
        assert!(meets_difficulty(&main.hash, main.difficulty));

        let regtest = Network::Regtest.genesis();
        assert_eq!(
            regtest.hash.to_string(),
            "07dd9dfbb4a01f8fa132d8d5d1a6314b410f4984c1eb0224f09d7f7618e72355"
        );
        assert_eq!(
            regtest.merkle_root.to_string(),
            "5b1165b203f6e0c93b615076ce58d8fb3c8bdde95987f16482281a623e7b3c59"
        );
        assert!(meets_difficulty(&regtest.hash, regtest.difficulty));

        let lab = Network::Lab.genesis();
        assert_eq!(
            lab.hash.to_string(),
            "008b83f2d04a585c3ef4f79d823479e0e1ae6b73e6172659d384f492c3de75db"
        );
        assert_eq!(
            lab.merkle_root.to_string(),
            "f44c1d46a8cb4520a9892de18f3df220a63f07da9476b42f999b81a2613f51dc"
        );
        assert!(meets_difficulty(&lab.hash, lab.difficulty));
    }

    /// 50 coins, halving on schedule, and nothing after 64 halvings (where a plain shift
    /// would wrap around in Rust's release builds, and panic in debug ones).
    #[test]
    fn subsidy_halves() {
        let p = Network::Regtest.params();
        assert_eq!(p.subsidy(1), 5_000_000_000);
        assert_eq!(p.subsidy(149), 5_000_000_000);
        assert_eq!(p.subsidy(150), 2_500_000_000);
        assert_eq!(p.subsidy(300), 1_250_000_000);
        assert_eq!(p.subsidy(150 * 32), 1);
        assert_eq!(p.subsidy(150 * 33), 0);
        assert_eq!(p.subsidy(150 * 64), 0);
        assert_eq!(p.subsidy(u64::MAX), 0);
        assert_eq!(Network::Main.params().subsidy(209_999), 5_000_000_000);
        assert_eq!(Network::Main.params().subsidy(210_000), 2_500_000_000);
    }

    /// Network names round-trip and unknown names are refused with a helpful message.
    #[test]
    fn network_names() {
        for n in [Network::Main, Network::Regtest, Network::Lab] {
            assert_eq!(n.name().parse::<Network>().unwrap(), n);
        }
        assert!("testnet"
            .parse::<Network>()
            .unwrap_err()
            .contains("main, regtest or lab"));
    }
}
