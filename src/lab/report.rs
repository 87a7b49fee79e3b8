//! What a lab run found: the records kept while it runs, and the report made of them at the
//! end, as text for the terminal, JSON for programs and CSV for plotting.

use crate::block::Block;
use crate::hash::Hash;
use crate::lab::net::Net;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

/// A block the schedule gave to a miner.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its hash.
    pub hash: Hash,
    /// Its parent's.
    pub parent: Hash,
    /// Its height.
    pub height: u64,
    /// The member that mined it.
    pub miner: usize,
    /// When it was mined (the miner's first sighting), ms since 1970.
    pub found_ms: u64,
    /// Its transactions' ids, coinbase left out.
    pub txids: Vec<Hash>,
    /// When each member first saw it, once collected.
    pub seen_ms: Vec<Option<u64>>,
    /// Counted in the report: found during the run, not in the tail that settles it.
    pub counted: bool,
    /// Collected for good (old enough that every node that will see it has).
    done: bool,
}

/// What a run keeps while it runs.
#[derive(Debug, Default)]
pub struct Records {
    /// Every find, in order.
    pub found: Vec<Found>,
    /// Reorganizations seen: (member, when, new tip) → depth, and how long after the node
    /// first heard of its new tip it switched.
    reorgs: BTreeMap<(usize, u64, Hash), (u64, Option<u64>)>,
    /// How late each find came against the schedule, in ms.
    pub slips_ms: Vec<f64>,
    /// Reorganizations before this (the premine's) are not the run's.
    start_ms: u64,
}

impl Records {
    /// Records for a run whose clock starts at `start_ms` (ms since 1970).
    pub fn since(start_ms: u64) -> Records {
        Records {
            start_ms,
            ..Records::default()
        }
    }

    /// Notes `block`, just mined by member `miner`, `slip_ms` after its scheduled time.
    pub fn found(&mut self, net: &Net, miner: usize, block: &Block, slip_ms: f64) {
        let found_ms = net
            .node(miner)
            .and_then(|n| n.first_seen(&block.hash))
            .unwrap_or_else(crate::consensus::now_ms);
        self.found.push(Found {
            hash: block.hash,
            parent: block.previous_hash,
            height: block.height,
            miner,
            found_ms,
            txids: block.transactions.iter().skip(1).map(|t| t.txid).collect(),
            seen_ms: vec![None; net.members.len()],
            counted: true,
            done: false,
        });
        self.slips_ms.push(slip_ms.max(0.0));
    }

    /// Reads when each node first saw each recent block, and each node's reorganizations.
    /// Blocks older than `settle_ms` are then left alone; the block tree forgets them after
    /// 1 000 heights, so a run calls this every few dozen finds.
    pub fn collect(&mut self, net: &Net, settle_ms: u64) {
        let now = crate::consensus::now_ms();
        for f in self.found.iter_mut().filter(|f| !f.done) {
            for (i, member) in net.members.iter().enumerate() {
                if f.seen_ms[i].is_none() {
                    if let Some(node) = &member.node {
                        f.seen_ms[i] = node.first_seen(&f.hash);
                    }
                }
            }
            if now.saturating_sub(f.found_ms) > settle_ms {
                f.done = true;
            }
        }
        for (i, member) in net.members.iter().enumerate() {
            if let Some(node) = &member.node {
                for r in node
                    .reorgs()
                    .into_iter()
                    .filter(|r| r.at_ms >= self.start_ms)
                {
                    let heard = node.first_seen(&r.new_tip);
                    let delay = heard.map(|h| r.at_ms.saturating_sub(h));
                    self.reorgs
                        .insert((i, r.at_ms, r.new_tip), (r.depth, delay));
                }
            }
        }
    }

    /// How many reorganizations of each depth, over every node.
    pub fn reorgs_by_depth(&self) -> BTreeMap<u64, usize> {
        let mut by_depth = BTreeMap::new();
        for (depth, _) in self.reorgs.values() {
            *by_depth.entry(*depth).or_insert(0) += 1;
        }
        by_depth
    }

    /// How long after first hearing of the new tip each reorganization came, in ms, sorted:
    /// switching branches takes a round trip of headers and one of blocks (chapter 9), where
    /// a block that extends our tip is taken as it arrives.
    pub fn switch_delays(&self) -> Vec<f64> {
        let mut delays: Vec<f64> = self
            .reorgs
            .values()
            .filter_map(|(_, d)| d.map(|d| d as f64))
            .collect();
        delays.sort_by(f64::total_cmp);
        delays
    }

    /// The deepest reorganization at each member.
    pub fn deepest_reorg(&self, member: usize) -> u64 {
        self.reorgs
            .iter()
            .filter(|((m, _, _), _)| *m == member)
            .map(|(_, (d, _))| *d)
            .max()
            .unwrap_or(0)
    }

    /// Delays from a block's find to each other node's first sighting of it, in ms, for
    /// the blocks of honest miners (`honest`).
    pub fn propagation(&self, honest: &[bool]) -> Vec<u64> {
        let mut delays = Vec::new();
        for f in self.found.iter().filter(|f| f.counted && honest[f.miner]) {
            for (i, seen) in f.seen_ms.iter().enumerate() {
                if i != f.miner {
                    if let Some(seen) = seen {
                        delays.push(seen.saturating_sub(f.found_ms));
                    }
                }
            }
        }
        delays.sort_unstable();
        delays
    }
}

/// p50, p90, max and mean of a set of delays.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Spread {
    /// How many.
    pub samples: usize,
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The largest.
    pub max: f64,
    /// The mean.
    pub mean: f64,
}

impl Spread {
    /// The spread of `values`, which must be sorted.
    pub fn of_sorted(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Spread {
            samples: values.len(),
            p50: at(0.5),
            p90: at(0.9),
            max: values[values.len() - 1],
            mean: values.iter().sum::<f64>() / values.len() as f64,
        }
    }
}

/// One miner's line in the report.
#[derive(Debug, Clone, Serialize)]
pub struct MinerLine {
    /// Its name.
    pub name: String,
    /// Its behaviour.
    pub behaviour: String,
    /// Its share of the hash power.
    pub share: f64,
    /// Blocks it found.
    pub found: usize,
    /// Of those, in the final chain.
    pub in_chain: usize,
    /// Its part of the final chain's blocks found during the run.
    pub chain_share: f64,
    /// The deepest reorganization of its node's chain during the run.
    pub deepest_reorg: u64,
}

/// A payment and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentLine {
    /// When it was made, ms after the clock started.
    pub at_ms: u64,
    /// Payer and payee.
    pub from: String,
    /// Payee.
    pub to: String,
    /// Its txid, if it was made.
    pub txid: Option<String>,
    /// What became of it.
    pub fate: String,
}

/// A measured figure against a published one.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is measured.
    pub what: String,
    /// The measured value.
    pub measured: f64,
    /// The model's value.
    pub model: f64,
    /// The range the measured value should fall in 95 % of the time if the model holds.
    pub low: f64,
    /// Its top.
    pub high: f64,
    /// How many trials it rests on.
    pub trials: usize,
    /// Whether it does.
    pub inside: bool,
    /// The model's source.
    pub source: String,
}

impl Check {
    /// A proportion measured over `trials` against `model`, with its binomial interval.
    pub fn proportion(what: &str, measured: f64, model: f64, trials: usize, source: &str) -> Check {
        let (low, high) =
            crate::lab::papers::binomial_interval(model, trials, crate::lab::papers::Z95);
        Check {
            what: what.to_string(),
            measured,
            model,
            low,
            high,
            trials,
            inside: (low..=high).contains(&measured),
            source: source.to_string(),
        }
    }
}

/// A lab run's report, one for each point of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The sweep point, e.g. `latency_ms=20`.
    pub point: String,
    /// The schedule's seed.
    pub seed: u64,
    /// T, in ms.
    pub interval_ms: u64,
    /// Nodes and links.
    pub nodes: usize,
    /// Links.
    pub links: usize,
    /// Wall-clock seconds the run took.
    pub seconds: f64,
    /// Blocks found.
    pub found: usize,
    /// Found but not in the final chain.
    pub stale: usize,
    /// stale ÷ found.
    pub stale_rate: f64,
    /// Reorganizations over all nodes, by depth.
    pub reorgs_by_depth: BTreeMap<u64, usize>,
    /// From a find to each other node's first sighting, honest miners' blocks, in ms.
    pub propagation_ms: Spread,
    /// From first hearing of a new tip to switching to it, over every reorganization, in ms.
    pub switch_ms: Spread,
    /// How late the finds came against the schedule, in ms.
    pub slip_ms: Spread,
    /// Each miner.
    pub miners: Vec<MinerLine>,
    /// Each payment.
    pub payments: Vec<PaymentLine>,
    /// Did every running node end on one tip?
    pub converged: bool,
    /// The final chain's height.
    pub final_height: u64,
    /// Measured against published.
    pub checks: Vec<Check>,
    /// Anything else worth a line (the attack's counts, the measured gamma).
    pub notes: Vec<String>,
}

impl Report {
    /// Fills the counts shared by every run from `records` and the final chain of `net`.
    pub fn new(
        scenario: &crate::lab::scenario::Scenario,
        point: &str,
        net: &Net,
        records: &Records,
        seconds: f64,
    ) -> Report {
        let reader = (0..net.members.len()).find(|i| {
            net.members[*i].behaviour == crate::lab::scenario::Behaviour::Honest
                && net.node(*i).is_some()
        });
        let reader = reader.or_else(|| (0..net.members.len()).find(|i| net.node(*i).is_some()));
        let (in_chain, final_height): (HashSet<Hash>, u64) = match reader.and_then(|i| net.node(i))
        {
            Some(node) => node.with_chain(|chain| {
                let hashes = records
                    .found
                    .iter()
                    .filter(|f| f.counted && chain.contains(&f.hash))
                    .map(|f| f.hash)
                    .collect();
                (hashes, chain.height())
            }),
            None => (HashSet::new(), 0),
        };
        let counted: Vec<&Found> = records.found.iter().filter(|f| f.counted).collect();
        let found = counted.len();
        let stale = counted
            .iter()
            .filter(|f| !in_chain.contains(&f.hash))
            .count();
        let honest: Vec<bool> = net
            .members
            .iter()
            .map(|m| m.behaviour == crate::lab::scenario::Behaviour::Honest)
            .collect();
        let delays: Vec<f64> = records
            .propagation(&honest)
            .into_iter()
            .map(|d| d as f64)
            .collect();
        let mut slips = records.slips_ms.clone();
        slips.sort_by(f64::total_cmp);
        let chain_blocks = in_chain.len().max(1);
        let miners = net
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mine: Vec<&&Found> = counted.iter().filter(|f| f.miner == i).collect();
                let kept = mine.iter().filter(|f| in_chain.contains(&f.hash)).count();
                MinerLine {
                    name: m.name.clone(),
                    behaviour: m.behaviour.to_string(),
                    share: m.share,
                    found: mine.len(),
                    in_chain: kept,
                    chain_share: kept as f64 / chain_blocks as f64,
                    deepest_reorg: records.deepest_reorg(i),
                }
            })
            .collect();
        Report {
            scenario: scenario.name.clone(),
            point: point.to_string(),
            seed: scenario.seed,
            interval_ms: scenario.interval_ms,
            nodes: net.members.len(),
            links: net.wires.len(),
            seconds,
            found,
            stale,
            stale_rate: if found == 0 {
                0.0
            } else {
                stale as f64 / found as f64
            },
            reorgs_by_depth: records.reorgs_by_depth(),
            propagation_ms: Spread::of_sorted(&delays),
            switch_ms: Spread::of_sorted(&records.switch_delays()),
            slip_ms: Spread::of_sorted(&slips),
            miners,
            payments: Vec::new(),
            converged: net.converge(std::time::Duration::ZERO),
            final_height,
            checks: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The report as lines for a terminal.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let title = if self.point.is_empty() {
            self.scenario.clone()
        } else {
            format!("{} [{}]", self.scenario, self.point)
        };
        let _ = writeln!(out, "== {title}");
        let _ = writeln!(
            out,
            "{} nodes, {} links, T = {} ms, seed {}, {:.1} s",
            self.nodes, self.links, self.interval_ms, self.seed, self.seconds
        );
        let _ = writeln!(
            out,
            "blocks found {}, stale {} ({:.2} %), final height {}, one chain at the end: {}",
            self.found,
            self.stale,
            100.0 * self.stale_rate,
            self.final_height,
            if self.converged { "yes" } else { "NO" }
        );
        let reorgs: Vec<String> = self
            .reorgs_by_depth
            .iter()
            .map(|(d, n)| format!("depth {d}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "reorganizations: {}",
            if reorgs.is_empty() {
                "none".to_string()
            } else {
                reorgs.join(", ")
            }
        );
        let p = &self.propagation_ms;
        let _ = writeln!(
            out,
            "propagation: p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms, mean {:.1} ms ({} sightings)",
            p.p50, p.p90, p.max, p.mean, p.samples
        );
        let w = &self.switch_ms;
        if w.samples > 0 {
            let _ = writeln!(
                out,
                "switching branches: p50 {:.0} ms, p90 {:.0} ms after first hearing of the new tip ({} reorganizations)",
                w.p50, w.p90, w.samples
            );
        }
        let s = &self.slip_ms;
        let _ = writeln!(
            out,
            "clock slip behind the schedule: mean {:.2} ms, p90 {:.1} ms, max {:.1} ms",
            s.mean, s.p90, s.max
        );
        for m in &self.miners {
            if m.found > 0 || m.share > 0.0 {
                let _ = writeln!(
                    out,
                    "  {:<8} {:<8} share {:>5.1} %  found {:>5}  in chain {:>5}  = {:>5.1} % of the chain; deepest reorganization {}",
                    m.name,
                    m.behaviour,
                    100.0 * m.share,
                    m.found,
                    m.in_chain,
                    100.0 * m.chain_share,
                    m.deepest_reorg
                );
            }
        }
        for p in &self.payments {
            let _ = writeln!(
                out,
                "  payment at {} ms {} -> {} {}: {}",
                p.at_ms,
                p.from,
                p.to,
                p.txid.as_deref().map(|t| &t[..12]).unwrap_or("-"),
                p.fate
            );
        }
        for n in &self.notes {
            let _ = writeln!(out, "{n}");
        }
        for c in &self.checks {
            let _ = writeln!(
                out,
                "check: {} = {:.4}, model {:.4}, 95 % range [{:.4}, {:.4}] over {} -> {} ({})",
                c.what,
                c.measured,
                c.model,
                c.low,
                c.high,
                c.trials,
                if c.inside { "inside" } else { "OUTSIDE" },
                c.source
            );
        }
        out
    }

    /// The CSV header matching [`csv_rows`](Self::csv_rows).
    pub const CSV_HEADER: &'static str = "scenario,point,seed,interval_ms,nodes,found,stale,stale_rate,propagation_p50_ms,propagation_p90_ms,propagation_mean_ms,slip_mean_ms,converged,check,measured,model,low,high,inside";

    /// One CSV row for each check (or one row without one).
    pub fn csv_rows(&self) -> Vec<String> {
        let base = format!(
            "{},{},{},{},{},{},{},{:.6},{:.1},{:.1},{:.2},{:.2},{}",
            self.scenario,
            self.point,
            self.seed,
            self.interval_ms,
            self.nodes,
            self.found,
            self.stale,
            self.stale_rate,
            self.propagation_ms.p50,
            self.propagation_ms.p90,
            self.propagation_ms.mean,
            self.slip_ms.mean,
            self.converged
        );
        if self.checks.is_empty() {
            return vec![format!("{base},,,,,,")];
        }
        self.checks
            .iter()
            .map(|c| {
                format!(
                    "{base},{},{:.6},{:.6},{:.6},{:.6},{}",
                    c.what, c.measured, c.model, c.low, c.high, c.inside
                )
            })
            .collect()
    }
}
