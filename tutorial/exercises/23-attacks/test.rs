//! Exercise 23: the double-spend report says what the attacks cost the attacker.

use peerchain::lab::scenario::Scenario;
use peerchain::lab::{run, Options};

/// Every attack that fails throws away the attacker's private branch, at least the block it
/// pre-mined: the report's `cost:` line counts the attacker's blocks that are not in the
/// final chain, at least one per failed attack and no more than it found.
#[test]
fn the_report_counts_the_attackers_lost_blocks() {
    let scenario = Scenario::parse(
        r#"{"name": "cost", "interval_ms": 5, "nodes": 1,
            "miners": [{"name": "eve", "share": 0.2, "behaviour": "private"},
                       {"name": "mia", "share": 0}],
            "links": {"latency_ms": 1},
            "double_spend": {"attacker": "eve", "merchant": "mia", "confirmations": 2,
                             "trials": 15}}"#,
    )
    .unwrap();
    let reports = run(&scenario, &Options::default(), &mut |_| {}, &mut |_, _| {}).unwrap();
    let report = &reports[0];
    println!("{}", report.text());
    let cost = report
        .notes
        .iter()
        .find(|n| n.starts_with("cost: "))
        .expect("a line starting `cost: `");
    let lost: usize = cost
        .split(' ')
        .find_map(|w| w.parse().ok())
        .expect("the number of blocks lost");
    let check = &report.checks[0];
    let failed = check.trials - (check.measured * check.trials as f64).round() as usize;
    let eve = &report.miners[0];
    assert_eq!(lost, eve.found - eve.in_chain, "{cost}");
    assert!(
        lost >= failed,
        "{failed} failed attacks lost at least one block each: {cost}"
    );
}
