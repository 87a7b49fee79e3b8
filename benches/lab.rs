//! `cargo bench --bench lab`: how many nodes the lab runs on this machine without falling
//! behind its schedule.
//!
//! For N = 10, 25, 50, 100 and 150 nodes, each dialing 4 others at random through links of
//! 20 ms, the lab runs 60 finds at T = 250 ms and prints the clock slip (how late the finds
//! came against the schedule: p90 and max), the blocks' propagation (p50, p90) and whether every
//! node ended on one chain. N "holds" when the slip's 90th percentile stays under a tenth of T
//! and the nodes agree. The baseline, from the same run, is N = 10: each line gives its slip and
//! propagation as a ratio to it, so the growth with N shows apart from the machine's speed.
//!
//! The issue's figure, 50 nodes at T = 1 s for ten minutes, is `tutorial/lab/scale.json`
//! (`cargo run --release -- lab tutorial/lab/scale.json`); this bench is its quick look.
//!
//! All traffic stays on 127.0.0.1.

use peerchain::lab::scenario::Scenario;
use peerchain::lab::{run, Options};

fn main() {
    let sizes = [10usize, 25, 50, 100, 150];
    let interval = 250.0;
    let mut baseline: Option<(f64, f64)> = None;
    let mut largest = 0;
    println!("lab scale: N nodes, 4 random peers each, 20 ms links, 60 finds at T = 250 ms");
    for n in sizes {
        let json = format!(
            r#"{{"name": "scale-{n}", "interval_ms": 250, "blocks": 60, "nodes": {n},
                "links": {{"peers": 4, "latency_ms": 20}}}}"#
        );
        let scenario = Scenario::parse(&json).expect("a valid scenario");
        let started = std::time::Instant::now();
        let reports = match run(&scenario, &Options::default(), &mut |_| {}, &mut |_, _| {}) {
            Ok(reports) => reports,
            Err(e) => {
                println!("  N = {n:>3}: could not run: {e}");
                break;
            }
        };
        let r = &reports[0];
        let (slip, prop) = (r.slip_ms.p90, r.propagation_ms.p50);
        let (slip0, prop0) = *baseline.get_or_insert((slip.max(0.01), prop.max(0.01)));
        let holds = r.slip_ms.p90 < interval / 10.0 && r.converged;
        if holds {
            largest = n;
        }
        println!(
            "  N = {n:>3}: {} links, slip p90 {:.2} ms (x{:.1} of N = 10), max {:.1} ms; \
             propagation p50 {:.0} ms (x{:.2}), p90 {:.0} ms; one chain: {}; {:.0} s -> {}",
            r.links,
            slip,
            slip / slip0,
            r.slip_ms.max,
            prop,
            prop / prop0,
            r.propagation_ms.p90,
            r.converged,
            started.elapsed().as_secs_f64(),
            if holds { "holds" } else { "falls behind" }
        );
    }
    println!("largest N that holds: {largest}");
}
