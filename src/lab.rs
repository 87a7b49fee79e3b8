//! The lab: a whole network of real nodes in one process, with latency, partitions and
//! attackers, whose figures are checked against the papers. `cargo run -- lab FILE`.
//!
//! The course claims that forks come from blocks taking time to travel, that the longest
//! chain wins after a partition heals, that a merchant should wait for confirmations, and
//! that a third of the hash power can profit by withholding blocks. Simulators (SimBlock,
//! Eyal and Sirer's own) re-implement a toy node to test such claims; Bitcoin developers run
//! real nodes under Warnet (Kubernetes and `tc netem`). The lab is the small version of the
//! second: it runs *the node this course builds*, unchanged, many times over.
//!
//! The pieces, each in its file:
//!
//! - [`scenario`]: the scenario file, checked field by field.
//! - [`net`]: the nodes, each a real [`Node`](crate::Node) on its own loopback port.
//! - [`link`]: the wire between two nodes: a relay that delays each line, can be cut, and
//!   can carry an attacker's firewall (its [`Gate`](link::Gate)).
//! - [`schedule`]: who finds the next block, and when (a Poisson process, by hash share).
//! - [`selfish`] and [`double_spend`]: the attackers' minds, around unmodified nodes.
//! - [`papers`]: the published formulas the lab checks against.
//! - [`report`]: what a run measured, as text, JSON and CSV.
//!
//! What makes it honest: the lab decides only *who finds a block when* (the hash power it
//! cannot give a laptop) and *what the wire does*. Everything the papers are about, which
//! block wins, who switches, what reaches whom, is decided by the node code.

pub mod double_spend;
pub mod link;
pub mod net;
pub mod papers;
pub mod report;
pub mod scenario;
pub mod schedule;
pub mod selfish;

use crate::lab::double_spend::Clock;
use crate::lab::net::Net;
use crate::lab::report::{Check, PaymentLine, Records, Report};
use crate::lab::scenario::{Behaviour, Event, Scenario, ScenarioError};
use crate::lab::schedule::Rng;
use crate::lab::selfish::Pool;
use std::fmt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// Why a lab run could not be done. One enum for the lab.
#[derive(Debug)]
pub enum LabError {
    /// The scenario file could not be read.
    Read(PathBuf, std::io::Error),
    /// The scenario is wrong: the file and the field.
    Scenario(PathBuf, ScenarioError),
    /// A socket, a node or an output file failed.
    Io(std::io::Error),
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabError::Read(path, e) => write!(f, "cannot read {}: {e}", path.display()),
            LabError::Scenario(path, e) => write!(f, "{}: {e}", path.display()),
            LabError::Io(e) => write!(f, "lab: {e}"),
        }
    }
}

impl From<std::io::Error> for LabError {
    fn from(e: std::io::Error) -> Self {
        LabError::Io(e)
    }
}

/// When [`run`] shows its caller a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Its nodes and links are up, nothing mined yet.
    Started,
    /// The run is over and reported; the nodes still run until the callback returns.
    Finished,
}

/// What the command line may change about a scenario.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Another seed than the file's.
    pub seed: Option<u64>,
    /// Fewer (or more) finds than the file's `blocks`.
    pub blocks: Option<u64>,
    /// Fewer (or more) attacks than the file's `double_spend.trials`.
    pub trials: Option<u32>,
    /// Where to write `report.json` and `report.csv`.
    pub out: Option<PathBuf>,
}

/// Reads and checks a scenario file.
pub fn load(path: &Path) -> Result<Scenario, LabError> {
    let text = std::fs::read_to_string(path).map_err(|e| LabError::Read(path.into(), e))?;
    Scenario::parse(&text).map_err(|e| LabError::Scenario(path.into(), e))
}

/// Runs every point of `scenario` with `options`, calling `progress` with a line now and
/// then, and writes the reports if `options.out` says where. `watch` is called with each
/// point's network once it is up ([`Stage::Started`]: the `--http` page serves one of its
/// nodes) and once its report is made ([`Stage::Finished`]: a test can sync from it).
pub fn run(
    scenario: &Scenario,
    options: &Options,
    progress: &mut dyn FnMut(&str),
    watch: &mut dyn FnMut(&Net, Stage),
) -> Result<Vec<Report>, LabError> {
    let mut scenario = scenario.clone();
    if let Some(seed) = options.seed {
        scenario.seed = seed;
    }
    if let Some(blocks) = options.blocks {
        scenario.blocks = blocks;
    }
    if let (Some(trials), Some(ds)) = (options.trials, scenario.double_spend.as_mut()) {
        ds.trials = trials;
    }
    let mut reports = Vec::new();
    for (label, point) in scenario.points() {
        let report = run_point(&point, &label, progress, watch)?;
        progress(&report.text());
        reports.push(report);
    }
    if let Some(dir) = &options.out {
        write_reports(dir, &reports)?;
    }
    Ok(reports)
}

/// Writes `report.json` (every point, in full) and `report.csv` (a row per point and check:
/// one per point, since each point has at most one check).
pub fn write_reports(dir: &Path, reports: &[Report]) -> Result<(), LabError> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(reports).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json + "\n")?;
    let mut csv = String::from(Report::CSV_HEADER);
    csv.push('\n');
    for r in reports {
        for row in r.csv_rows() {
            csv.push_str(&row);
            csv.push('\n');
        }
    }
    std::fs::write(dir.join("report.csv"), csv)?;
    Ok(())
}

/// Runs one point of a scenario: starts its network, runs its clock, reports.
pub fn run_point(
    scenario: &Scenario,
    label: &str,
    progress: &mut dyn FnMut(&str),
    watch: &mut dyn FnMut(&Net, Stage),
) -> Result<Report, LabError> {
    let started = Instant::now();
    let mut rng = Rng::new(scenario.seed);
    let mut net = Net::start(scenario, &mut rng)?;
    watch(&net, Stage::Started);
    for p in &scenario.premine {
        if let Some(i) = scenario.index_of(&p.node) {
            for _ in 0..p.blocks {
                net.mine(i);
            }
        }
        // Every node has these before the next node premines on top of them.
        net.converge(Duration::from_secs(10));
    }
    let mut records = Records::since(crate::consensus::now_ms());
    let mut clock = Clock::new(scenario.interval_ms as f64, &mut rng);

    if let Some(ds) = &scenario.double_spend {
        let a = scenario.index_of(&ds.attacker).unwrap_or(0);
        let m = scenario.index_of(&ds.merchant).unwrap_or(0);
        let outcome = double_spend::run(
            &net,
            ds,
            (a, m),
            &mut clock,
            &mut rng,
            &mut records,
            progress,
        );
        records.collect(&net, 0);
        let mut report = Report::new(
            scenario,
            label,
            &net,
            &records,
            started.elapsed().as_secs_f64(),
        );
        let (checks, notes) =
            double_spend::checks(&outcome, net.members[a].share, ds.confirmations);
        report.checks = checks;
        report.notes = notes;
        report.payments = outcome.payments;
        watch(&net, Stage::Finished);
        return Ok(report);
    }

    // Private miners hold and hear nothing until released; selfish ones get a mind.
    for member in &net.members {
        if member.behaviour == Behaviour::Private {
            if let (Some(gate), Some(node)) = (&member.gate, &member.node) {
                gate.go_private(node.summary().height);
            }
        }
    }
    let mut pools: Vec<Pool> = (0..net.members.len())
        .filter(|i| net.members[*i].behaviour == Behaviour::Selfish)
        .map(|i| Pool::new(&net, i))
        .collect();

    let mut events: Vec<Event> = scenario.events.clone();
    events.sort_by_key(Event::at_ms);
    let mut events = events.into_iter().peekable();
    let mut payments: Vec<(PaymentLine, Option<crate::hash::Hash>)> = Vec::new();
    let shares: Vec<f64> = net.members.iter().map(|m| m.share).collect();
    let mut finds = 0;
    let mut last_progress = Instant::now();
    while finds < scenario.blocks {
        // Until the next find: events as they fall due, and the pools' ears.
        loop {
            let now = clock.now_ms();
            while events
                .peek()
                .is_some_and(|e| (e.at_ms() as f64) <= now && clock.until_next() > 0.0)
            {
                let event = events.next().expect("peeked");
                apply(&mut net, scenario, &event, &mut payments, now)?;
            }
            for pool in &mut pools {
                pool.poll(&net);
            }
            let wait = clock.until_next();
            if wait <= 0.0 {
                break;
            }
            thread::sleep(Duration::from_secs_f64(wait.min(1.0) / 1000.0));
        }
        let slip = clock.take(&mut rng);
        let miner = rng.pick(&shares);
        finds += 1;
        // A node that is down mines nothing: its find is lost, as its hash power is.
        let Some(block) = net.mine(miner) else {
            continue;
        };
        records.found(&net, miner, &block, slip);
        for pool in &mut pools {
            if pool.member == miner {
                pool.mined(&net, block.clone());
            } else {
                pool.honest_found(&block);
            }
        }
        if finds % 25 == 0 {
            records.collect(&net, 3_000);
        }
        if last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            let slip = records.slips_ms.iter().copied().fold(0.0, f64::max);
            progress(&format!(
                "[lab] {finds} of {} finds, {:.1} s, clock slip up to {slip:.1} ms",
                scenario.blocks,
                clock.now_ms() / 1000.0
            ));
        }
    }
    // Events after the last find still happen, in order (a late `heal` must).
    for event in events {
        let now = clock.now_ms();
        apply(&mut net, scenario, &event, &mut payments, now)?;
    }
    for pool in &mut pools {
        pool.poll(&net);
        pool.publish_all(&net);
        if let Some(gate) = &net.members[pool.member].gate {
            gate.open();
        }
    }
    let settled = settle(&net, scenario, &mut clock, &mut rng, &mut records);
    records.collect(&net, 0);
    let mut report = Report::new(
        scenario,
        label,
        &net,
        &records,
        started.elapsed().as_secs_f64(),
    );
    report.notes.push(format!(
        "settling: {settled} more finds (not counted) until every node agreed on one tip"
    ));
    report.payments = payment_fates(&net, &records, payments);
    add_checks(&mut report, scenario, &net, &records, &pools);
    watch(&net, Stage::Finished);
    Ok(report)
}

/// The tail of a run: a tie between equal branches lasts until the next block, so to know
/// which of the counted blocks went stale the lab goes on finding blocks (honestly, and not
/// counted) until every node has one tip, at most 50 of them. Returns how many it took.
fn settle(
    net: &Net,
    scenario: &Scenario,
    clock: &mut Clock,
    rng: &mut Rng,
    records: &mut Records,
) -> usize {
    let patience = Duration::from_millis(500 + 5 * scenario.links.latency_ms);
    let shares: Vec<f64> = net.members.iter().map(|m| m.share).collect();
    let mut tail = 0;
    while !net.converge(patience) && tail < 50 {
        let wait = clock.until_next();
        thread::sleep(Duration::from_secs_f64(wait / 1000.0));
        let slip = clock.take(rng);
        let miner = rng.pick(&shares);
        if let Some(block) = net.mine(miner) {
            records.found(net, miner, &block, slip);
            // Neither the block nor its slip is the run's.
            records.slips_ms.pop();
            if let Some(last) = records.found.last_mut() {
                last.counted = false;
            }
        }
        tail += 1;
    }
    tail
}

/// Does what `event` says.
fn apply(
    net: &mut Net,
    scenario: &Scenario,
    event: &Event,
    payments: &mut Vec<(PaymentLine, Option<crate::hash::Hash>)>,
    now_ms: f64,
) -> Result<(), LabError> {
    let index = |name: &str| scenario.index_of(name).unwrap_or(0);
    match event {
        Event::Partition { nodes, .. } => {
            let side: Vec<usize> = nodes.iter().map(|n| index(n)).collect();
            net.partition(&side);
        }
        Event::Heal { .. } => net.heal(),
        Event::Down { node, .. } => net.down(index(node)),
        Event::Up { node, .. } => net.up(index(node))?,
        Event::Release { node, .. } => {
            let i = index(node);
            if let Some(gate) = &net.members[i].gate {
                gate.go_public();
            }
            if let Some(tip) = net.node(i).and_then(|n| n.block(n.summary().height)) {
                net.announce(i, &tip);
            }
            net.tell_tips(i);
        }
        Event::Pay {
            from, to, coins, ..
        } => {
            let (f, t) = (index(from), index(to));
            let amount = (coins * crate::transaction::COIN as f64).round() as u64;
            let sent = net
                .node(f)
                .map(|n| n.send(net.members[t].address, amount, 1_000));
            let (txid, fate) = match sent {
                Some(Ok(txid)) => (Some(txid), String::new()),
                Some(Err(e)) => (None, format!("not sent: {e}")),
                None => (None, "not sent: the payer is down".to_string()),
            };
            payments.push((
                PaymentLine {
                    at_ms: now_ms as u64,
                    from: from.clone(),
                    to: to.clone(),
                    txid: txid.map(|t| t.to_string()),
                    fate,
                },
                txid,
            ));
        }
    }
    Ok(())
}

/// Where each payment ended: in the final chain, back in a mempool, or gone; and whether a
/// block that went stale had held it.
fn payment_fates(
    net: &Net,
    records: &Records,
    payments: Vec<(PaymentLine, Option<crate::hash::Hash>)>,
) -> Vec<PaymentLine> {
    let reader = (0..net.members.len()).find(|i| net.node(*i).is_some());
    payments
        .into_iter()
        .map(|(mut line, txid)| {
            let (Some(txid), Some(node)) = (txid, reader.and_then(|i| net.node(i))) else {
                return line;
            };
            let stale_at: Vec<u64> = records
                .found
                .iter()
                .filter(|f| f.txids.contains(&txid) && !node.with_chain(|c| c.contains(&f.hash)))
                .map(|f| f.height)
                .collect();
            let now = match node.transaction(&txid) {
                Some(t) => match t.height {
                    Some(h) => format!(
                        "confirmed at height {h} ({} confirmations)",
                        t.confirmations
                    ),
                    None => "waiting in the mempool".to_string(),
                },
                None => "gone from the chain and the mempool".to_string(),
            };
            line.fate = if stale_at.is_empty() {
                now
            } else {
                format!(
                    "in a block at height {} that went stale; now {now}",
                    stale_at[0]
                )
            };
            line
        })
        .collect()
}

/// The checks a run's shape calls for: the stale-rate model for a plain honest network,
/// Eyal and Sirer's share for a selfish pool, and for a partition the reorganization depth
/// against the branch that lost.
fn add_checks(
    report: &mut Report,
    scenario: &Scenario,
    net: &Net,
    records: &Records,
    pools: &[Pool],
) {
    let t = scenario.interval_ms as f64;
    let all_honest = net.members.iter().all(|m| m.behaviour == Behaviour::Honest);
    if all_honest && scenario.events.is_empty() && report.found > 0 {
        // Each block goes stale when another miner finds one before it arrives.
        let d = report.propagation_ms.mean;
        let expected: f64 = records
            .found
            .iter()
            .filter(|f| f.counted)
            .map(|f| papers::stale_rate(d, t, net.members[f.miner].share))
            .sum::<f64>()
            / report.found as f64;
        report.checks.push(Check::proportion(
            &format!("stale rate, d/T = {:.3}", d / t),
            report.stale_rate,
            expected,
            report.found,
            "Decker & Wattenhofer 2013, 1 - e^(-d/T), counting only other miners' finds",
        ));
        report.notes.push(format!(
            "Decker & Wattenhofer's 1 - e^(-d/T) itself: {:.4}",
            papers::decker_stale(d, t)
        ));
    }
    for pool in pools {
        let member = &net.members[pool.member];
        let line = &report.miners[pool.member];
        let gamma = pool.gamma().unwrap_or(0.0);
        let chain_blocks = report.found - report.stale;
        report.checks.push(Check::proportion(
            &format!(
                "selfish pool's share of the chain, alpha = {}, gamma = {gamma:.3}",
                member.share
            ),
            line.chain_share,
            papers::eyal_sirer(member.share, gamma),
            chain_blocks,
            "Eyal & Sirer 2014",
        ));
        // The schedule's luck: the share of finds the pool actually drew. R is steep (about
        // 2.4 per unit of alpha at 0.4), so a percent of luck moves it more than a percent.
        let drawn = line.found as f64 / report.found.max(1) as f64;
        report.notes.push(format!(
            "{}: measured gamma {gamma:.3} over {} ties; {} blocks published; it drew {:.4} of the finds, where R would be {:.4}",
            member.name,
            pool.gamma_hits + pool.gamma_misses,
            pool.published,
            drawn,
            papers::eyal_sirer(drawn, gamma)
        ));
    }
    if scenario
        .events
        .iter()
        .any(|e| matches!(e, Event::Partition { .. }))
    {
        // The longest run of stale blocks, parent to child: the branch that lost.
        let stale: std::collections::HashMap<_, _> = records
            .found
            .iter()
            .filter(|f| {
                net.node(0)
                    .is_some_and(|n| !n.with_chain(|c| c.contains(&f.hash)))
            })
            .map(|f| (f.hash, f.parent))
            .collect();
        let longest = stale
            .keys()
            .map(|h| {
                let mut depth = 0;
                let mut at = *h;
                while let Some(parent) = stale.get(&at) {
                    depth += 1;
                    at = *parent;
                }
                depth
            })
            .max()
            .unwrap_or(0);
        let deepest = (0..net.members.len())
            .map(|i| records.deepest_reorg(i))
            .max()
            .unwrap_or(0);
        report.notes.push(format!(
            "partition: the losing branch was {longest} blocks long; the deepest reorganization took {deepest} blocks off a node's chain"
        ));
    }
}
