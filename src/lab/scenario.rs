//! A scenario file: the network to build, who mines, what happens when, and what to measure.
//!
//! One JSON object (see `tutorial/lab/*.json` and chapter 22 for every field). Unknown fields
//! are refused, so a typo is an error, not a silent default; every other mistake is refused
//! with the field's name before a single node starts.

use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;

/// What a miner does with the blocks it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Publishes every block at once, mines on the most-work tip: the protocol.
    #[default]
    Honest,
    /// Mines on its own branch, hears and tells nothing, until a `release` event (or, in a
    /// double-spend experiment, until its branch wins or it gives up).
    Private,
    /// Eyal and Sirer's selfish mining: withholds its blocks, publishes to match or to
    /// override the honest chain.
    Selfish,
}

impl fmt::Display for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Behaviour::Honest => "honest",
            Behaviour::Private => "private",
            Behaviour::Selfish => "selfish",
        })
    }
}

/// A named node with a share of the hash power.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Miner {
    /// Its name in events and the report.
    pub name: String,
    /// Its share of the hash power, 0 to 1 (0: a node that only relays, e.g. a merchant).
    pub share: f64,
    /// What it does with its blocks.
    #[serde(default)]
    pub behaviour: Behaviour,
    /// The one-way delay of what this node sends, instead of the links' (its blocks travel
    /// slowly; what it hears does not).
    #[serde(default)]
    pub latency_ms: Option<u64>,
}

/// The links between the nodes.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Links {
    /// Each node dials this many others at random; absent: every pair is linked.
    #[serde(default)]
    pub peers: Option<usize>,
    /// These pairs of names instead of either.
    #[serde(default)]
    pub edges: Vec<(String, String)>,
    /// One-way delay of every line, in ms.
    #[serde(default)]
    pub latency_ms: u64,
    /// Up to this many ms more, at random for each line.
    #[serde(default)]
    pub jitter_ms: u64,
    /// Kilobytes a second each way (0: no limit).
    #[serde(default)]
    pub bandwidth_kbps: u64,
}

/// Blocks one node mines before the clock starts, so it has coins to pay with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Premine {
    /// Which node.
    pub node: String,
    /// How many blocks.
    pub blocks: u64,
}

/// Something that happens at a time, in ms after the clock starts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// Cuts every link between `nodes` and the others.
    Partition {
        /// When.
        at_ms: u64,
        /// One side of the cut.
        nodes: Vec<String>,
    },
    /// Restores every cut link.
    Heal {
        /// When.
        at_ms: u64,
    },
    /// Stops a node (its chain is kept for `up`).
    Down {
        /// When.
        at_ms: u64,
        /// Which node.
        node: String,
    },
    /// Starts it again with the chain it had.
    Up {
        /// When.
        at_ms: u64,
        /// Which node.
        node: String,
    },
    /// `from` pays `to`.
    Pay {
        /// When.
        at_ms: u64,
        /// The payer, which needs mature coins (see `premine`).
        from: String,
        /// The payee.
        to: String,
        /// How much, in coins.
        coins: f64,
    },
    /// A `private` miner publishes its branch.
    Release {
        /// When.
        at_ms: u64,
        /// Which node.
        node: String,
    },
}

impl Event {
    /// When it happens.
    pub fn at_ms(&self) -> u64 {
        match self {
            Event::Partition { at_ms, .. }
            | Event::Heal { at_ms }
            | Event::Down { at_ms, .. }
            | Event::Up { at_ms, .. }
            | Event::Pay { at_ms, .. }
            | Event::Release { at_ms, .. } => *at_ms,
        }
    }
}

/// The double-spend experiment (chapter 23): `trials` attacks, one after another.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleSpend {
    /// The attacking miner (its behaviour is `private` during each attack).
    pub attacker: String,
    /// The node of the merchant it pays.
    pub merchant: String,
    /// Blocks the merchant waits for, the payment's own included.
    pub confirmations: u32,
    /// How many attacks.
    pub trials: u32,
    /// The attacker gives up this many blocks behind (20).
    #[serde(default = "default_give_up")]
    pub give_up: u64,
}

fn default_give_up() -> u64 {
    20
}

/// Runs the scenario once for each combination of these values.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Values of `links.latency_ms`.
    #[serde(default)]
    pub latency_ms: Vec<u64>,
    /// Values of the first miner's share (the others' shares keep their proportions).
    #[serde(default)]
    pub share: Vec<f64>,
    /// Values of `double_spend.confirmations`.
    #[serde(default)]
    pub confirmations: Vec<u32>,
}

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name, for the report and the output files.
    pub name: String,
    /// What it shows, in a sentence.
    #[serde(default)]
    pub about: String,
    /// The published figure it is checked against.
    #[serde(default)]
    pub reference: String,
    /// Seed of the schedule (7).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// T: the mean interval between finds, in ms.
    pub interval_ms: u64,
    /// Stop after this many finds (not used by `double_spend`, which runs its trials).
    #[serde(default)]
    pub blocks: u64,
    /// Honest nodes beyond the named miners, sharing the rest of the hash power equally,
    /// named n0, n1, ...
    #[serde(default)]
    pub nodes: usize,
    /// Named nodes.
    #[serde(default)]
    pub miners: Vec<Miner>,
    /// The links.
    #[serde(default)]
    pub links: Links,
    /// Blocks mined before the clock starts.
    #[serde(default)]
    pub premine: Vec<Premine>,
    /// What happens when.
    #[serde(default)]
    pub events: Vec<Event>,
    /// Values to run the scenario with, one run each.
    #[serde(default)]
    pub sweep: Sweep,
    /// The double-spend experiment, instead of a run of `blocks` finds.
    #[serde(default)]
    pub double_spend: Option<DoubleSpend>,
}

fn default_seed() -> u64 {
    7
}

/// The most nodes a lab runs (each costs a few threads per link).
pub const MAX_NODES: usize = 200;

/// A scenario refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The field, e.g. `links.latency_ms` or `events[2].node`; empty for a JSON syntax error.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "field `{}`: {}", self.field, self.problem)
        }
    }
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> ScenarioError {
    ScenarioError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// One node of the network the scenario builds.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePlan {
    /// Its name.
    pub name: String,
    /// Its share of the hash power.
    pub share: f64,
    /// What it does with its blocks.
    pub behaviour: Behaviour,
    /// The delay of what it sends, if not the links'.
    pub latency_ms: Option<u64>,
}

impl Scenario {
    /// Parses and checks a scenario file's text.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = serde_json::from_str(text).map_err(|e| bad("", e.to_string()))?;
        scenario.check()?;
        Ok(scenario)
    }

    /// Every node: the named miners, then the honest n0, n1, ... sharing what is left.
    pub fn plan(&self) -> Vec<NodePlan> {
        let named: f64 = self.miners.iter().map(|m| m.share).sum();
        let rest = (1.0 - named).max(0.0) / self.nodes.max(1) as f64;
        let mut plan: Vec<NodePlan> = self
            .miners
            .iter()
            .map(|m| NodePlan {
                name: m.name.clone(),
                share: m.share,
                behaviour: m.behaviour,
                latency_ms: m.latency_ms,
            })
            .collect();
        for i in 0..self.nodes {
            plan.push(NodePlan {
                name: format!("n{i}"),
                share: rest,
                behaviour: Behaviour::Honest,
                latency_ms: None,
            });
        }
        plan
    }

    /// The index of the node named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.plan().iter().position(|n| n.name == name)
    }

    /// Checks everything serde cannot: ranges, names, and that the pieces fit.
    pub fn check(&self) -> Result<(), ScenarioError> {
        if self.name.trim().is_empty() {
            return Err(bad("name", "must not be empty"));
        }
        if self.interval_ms == 0 {
            return Err(bad("interval_ms", "must be at least 1"));
        }
        if self.interval_ms > 3_600_000 {
            return Err(bad("interval_ms", "at most 3600000 (an hour)"));
        }
        let delays = [
            ("links.latency_ms", Some(self.links.latency_ms)),
            ("links.jitter_ms", Some(self.links.jitter_ms)),
        ]
        .into_iter()
        .chain(
            self.miners
                .iter()
                .map(|m| ("miners[].latency_ms", m.latency_ms)),
        );
        for (field, ms) in delays {
            if ms.is_some_and(|ms| ms > 60_000) {
                return Err(bad(field, "at most 60000 (a minute)"));
            }
        }
        if self.links.bandwidth_kbps > 10_000_000 {
            return Err(bad(
                "links.bandwidth_kbps",
                "at most 10000000 (10 GB/s; 0 for no limit)",
            ));
        }
        if self.double_spend.is_none() && self.blocks == 0 {
            return Err(bad("blocks", "must be at least 1 (how many finds to run)"));
        }
        let plan = self.plan();
        if plan.len() < 2 || plan.len() > MAX_NODES {
            return Err(bad(
                "nodes",
                format!(
                    "the scenario has {} nodes; a lab runs 2 to {MAX_NODES}",
                    plan.len()
                ),
            ));
        }
        let mut names = HashSet::new();
        for (i, m) in self.miners.iter().enumerate() {
            let field = format!("miners[{i}]");
            if m.name.trim().is_empty() {
                return Err(bad(format!("{field}.name"), "must not be empty"));
            }
            if !(0.0..=1.0).contains(&m.share) {
                return Err(bad(
                    format!("{field}.share"),
                    format!("{} is not between 0 and 1", m.share),
                ));
            }
        }
        for node in &plan {
            if !names.insert(node.name.as_str()) {
                return Err(bad(
                    "miners",
                    format!(
                        "two nodes are named {:?} (n0, n1, ... name the honest nodes)",
                        node.name
                    ),
                ));
            }
        }
        let named: f64 = self.miners.iter().map(|m| m.share).sum();
        if named > 1.0 + 1e-9 {
            return Err(bad(
                "miners",
                format!("the shares add up to {named}, more than 1"),
            ));
        }
        if self.nodes == 0 && (named - 1.0).abs() > 1e-6 {
            return Err(bad(
                "nodes",
                format!("the miners' shares add up to {named} and no honest nodes take the rest"),
            ));
        }
        let known = |field: String, name: &str| -> Result<usize, ScenarioError> {
            plan.iter()
                .position(|n| n.name == name)
                .ok_or_else(|| bad(field, format!("no node is named {name:?}")))
        };
        if let Some(k) = self.links.peers {
            if k == 0 || k >= plan.len() {
                return Err(bad(
                    "links.peers",
                    format!("{k} peers each: must be 1 to {}", plan.len() - 1),
                ));
            }
        }
        for (i, (a, b)) in self.links.edges.iter().enumerate() {
            let field = format!("links.edges[{i}]");
            let (a, b) = (known(field.clone(), a)?, known(field.clone(), b)?);
            if a == b {
                return Err(bad(field, "a node cannot link to itself"));
            }
        }
        for (i, p) in self.premine.iter().enumerate() {
            known(format!("premine[{i}].node"), &p.node)?;
            if p.blocks > 1_000 {
                return Err(bad(format!("premine[{i}].blocks"), "at most 1000"));
            }
        }
        for (i, event) in self.events.iter().enumerate() {
            let field = format!("events[{i}]");
            match event {
                Event::Partition { nodes, .. } => {
                    if nodes.is_empty() || nodes.len() >= plan.len() {
                        return Err(bad(
                            format!("{field}.nodes"),
                            "one side of a partition needs 1 to all-but-one of the nodes",
                        ));
                    }
                    for name in nodes {
                        known(format!("{field}.nodes"), name)?;
                    }
                }
                Event::Heal { .. } => {}
                Event::Down { node, .. } | Event::Up { node, .. } => {
                    known(format!("{field}.node"), node)?;
                }
                Event::Release { node, .. } => {
                    let i = known(format!("{field}.node"), node)?;
                    if plan[i].behaviour != Behaviour::Private {
                        return Err(bad(
                            format!("{field}.node"),
                            format!("{node:?} is not a private miner; only those release"),
                        ));
                    }
                }
                Event::Pay {
                    from, to, coins, ..
                } => {
                    known(format!("{field}.from"), from)?;
                    known(format!("{field}.to"), to)?;
                    if !(coins.is_finite() && *coins > 0.0 && *coins <= 1e6) {
                        return Err(bad(
                            format!("{field}.coins"),
                            format!("{coins} is not an amount"),
                        ));
                    }
                }
            }
        }
        for share in &self.sweep.share {
            if !(0.0..1.0).contains(share) {
                return Err(bad(
                    "sweep.share",
                    format!("{share} is not between 0 and 1"),
                ));
            }
        }
        if !self.sweep.share.is_empty() && self.miners.is_empty() {
            return Err(bad(
                "sweep.share",
                "sweeps the first miner's share: name a miner",
            ));
        }
        if let Some(ds) = &self.double_spend {
            let a = known("double_spend.attacker".into(), &ds.attacker)?;
            let m = known("double_spend.merchant".into(), &ds.merchant)?;
            if a == m {
                return Err(bad(
                    "double_spend.merchant",
                    "the attacker cannot be its own merchant",
                ));
            }
            if plan[a].behaviour != Behaviour::Private {
                return Err(bad(
                    "double_spend.attacker",
                    format!("{:?} needs \"behaviour\": \"private\"", ds.attacker),
                ));
            }
            if !self.events.is_empty() {
                return Err(bad(
                    "events",
                    "a double-spend run makes its own payments and releases; it takes no events",
                ));
            }
            if ds.confirmations == 0 || ds.confirmations > 20 {
                return Err(bad("double_spend.confirmations", "must be 1 to 20"));
            }
            if ds.trials == 0 {
                return Err(bad("double_spend.trials", "must be at least 1"));
            }
            if ds.give_up == 0 {
                return Err(bad("double_spend.give_up", "must be at least 1"));
            }
            if plan.iter().filter(|n| n.share > 0.0).count() < 2 {
                return Err(bad(
                    "miners",
                    "a double spend needs the attacker and honest miners",
                ));
            }
        }
        if self.sweep.confirmations.iter().any(|z| *z == 0 || *z > 20) {
            return Err(bad("sweep.confirmations", "each must be 1 to 20"));
        }
        Ok(())
    }

    /// The scenario at each point of its sweep, with a label such as `latency_ms=20`.
    pub fn points(&self) -> Vec<(String, Scenario)> {
        let latencies: Vec<Option<u64>> = if self.sweep.latency_ms.is_empty() {
            vec![None]
        } else {
            self.sweep.latency_ms.iter().copied().map(Some).collect()
        };
        let shares: Vec<Option<f64>> = if self.sweep.share.is_empty() {
            vec![None]
        } else {
            self.sweep.share.iter().copied().map(Some).collect()
        };
        let zs: Vec<Option<u32>> = if self.sweep.confirmations.is_empty() {
            vec![None]
        } else {
            self.sweep.confirmations.iter().copied().map(Some).collect()
        };
        let mut points = Vec::new();
        for share in &shares {
            for z in &zs {
                for latency in &latencies {
                    let mut s = self.clone();
                    let mut label = Vec::new();
                    if let Some(l) = latency {
                        s.links.latency_ms = *l;
                        label.push(format!("latency_ms={l}"));
                    }
                    if let Some(q) = share {
                        s.miners[0].share = *q;
                        label.push(format!("share={q}"));
                    }
                    if let (Some(z), Some(ds)) = (z, s.double_spend.as_mut()) {
                        ds.confirmations = *z;
                        label.push(format!("confirmations={z}"));
                    }
                    s.sweep = Sweep::default();
                    points.push((label.join(" "), s));
                }
            }
        }
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"{"name": "t", "interval_ms": 100, "blocks": 10, "nodes": 3}"#;

    fn refused(text: &str) -> String {
        Scenario::parse(text).unwrap_err().to_string()
    }

    /// A small file parses, with the defaults filled in and honest nodes named n0, n1, ...
    #[test]
    fn parses_with_defaults() {
        let s = Scenario::parse(SMALL).unwrap();
        assert_eq!(s.seed, 7);
        let plan = s.plan();
        assert_eq!(plan.len(), 3);
        assert_eq!(plan[2].name, "n2");
        assert!((plan[0].share - 1.0 / 3.0).abs() < 1e-12);
    }

    /// Each mistake is refused naming its field.
    #[test]
    fn mistakes_name_their_field() {
        assert!(refused(r#"{"name": "t", "intervl_ms": 1}"#).contains("unknown field `intervl_ms`"));
        assert!(refused(r#"{"name": "t", "blocks": 1}"#).contains("missing field `interval_ms`"));
        assert!(
            refused(r#"{"name": "t", "interval_ms": 0, "blocks": 1, "nodes": 2}"#)
                .contains("field `interval_ms`")
        );
        assert!(refused(
            r#"{"name": "t", "interval_ms": 1, "blocks": 1, "nodes": 2,
                "miners": [{"name": "a", "share": 1.5}]}"#
        )
        .contains("field `miners[0].share`"));
        assert!(refused(
            r#"{"name": "t", "interval_ms": 1, "blocks": 1, "nodes": 2,
                "events": [{"do": "down", "at_ms": 5, "node": "zed"}]}"#
        )
        .contains("field `events[0].node`: no node is named \"zed\""));
        assert!(refused(
            r#"{"name": "t", "interval_ms": 1, "blocks": 1, "nodes": 2,
                "events": [{"do": "explode", "at_ms": 5}]}"#
        )
        .contains("unknown variant `explode`"));
        assert!(refused(
            r#"{"name": "t", "interval_ms": 1, "blocks": 1, "nodes": 2, "links": {"peers": 2}}"#
        )
        .contains("field `links.peers`"));
        assert!(refused(
            r#"{"name": "t", "interval_ms": 1, "blocks": 1, "nodes": 2,
                "events": [{"do": "heal", "at_ms": 5, "nodes": []}]}"#
        )
        .contains("unknown field `nodes`"));
        assert!(refused(
            r#"{"name": "t", "interval_ms": 1, "nodes": 1,
                "miners": [{"name": "eve", "share": 0.3}, {"name": "mia", "share": 0}],
                "double_spend": {"attacker": "eve", "merchant": "mia", "confirmations": 1,
                                 "trials": 5}}"#
        )
        .contains("field `double_spend.attacker`: \"eve\" needs \"behaviour\": \"private\""));
    }

    /// A sweep runs every combination, each labelled.
    #[test]
    fn sweeps_multiply() {
        let s = Scenario::parse(
            r#"{"name": "t", "interval_ms": 10, "nodes": 1,
                "miners": [{"name": "eve", "share": 0.1, "behaviour": "private"},
                           {"name": "mia", "share": 0}],
                "double_spend": {"attacker": "eve", "merchant": "mia", "confirmations": 1,
                                 "trials": 5},
                "sweep": {"share": [0.1, 0.3], "confirmations": [1, 2, 3]}}"#,
        )
        .unwrap();
        let points = s.points();
        assert_eq!(points.len(), 6);
        assert_eq!(points[5].0, "share=0.3 confirmations=3");
        assert_eq!(points[5].1.double_spend.as_ref().unwrap().confirmations, 3);
        assert_eq!(points[5].1.double_spend.as_ref().unwrap().give_up, 20);
    }
}
