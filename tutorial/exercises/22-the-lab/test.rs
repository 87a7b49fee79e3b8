//! Exercise 22: an `isolate` event cuts one node off from all the others.

use peerchain::lab::scenario::Scenario;
use peerchain::lab::{run, Options};

/// A miner with 20 % of the hash power, isolated from 100 ms on and healed at the end,
/// mines a branch of its own that loses: almost none of its blocks are in the final chain
/// (mining with the others, it would keep about a fifth of it), and the nodes end on one
/// chain.
#[test]
fn an_isolated_miner_loses_its_blocks() {
    let scenario = Scenario::parse(
        r#"{"name": "isolate", "interval_ms": 40, "blocks": 80,
            "miners": [{"name": "lone", "share": 0.2}], "nodes": 2,
            "links": {"latency_ms": 1},
            "events": [{"at_ms": 100, "do": "isolate", "node": "lone"},
                       {"at_ms": 1000000, "do": "heal"}]}"#,
    )
    .expect("the scenario parses: isolate is an event");
    let reports = run(&scenario, &Options::default(), &mut |_| {}, &mut |_, _| {}).unwrap();
    let report = &reports[0];
    println!("{}", report.text());
    let lone = &report.miners[0];
    assert!(lone.found >= 5, "it found blocks: {}", lone.found);
    assert!(
        lone.in_chain <= 2,
        "its blocks after 100 ms lost: {} of {} kept",
        lone.in_chain,
        lone.found
    );
    assert!(report.converged, "one chain after the heal");
}

/// Isolating a node that does not exist is refused, naming the field.
#[test]
fn isolating_an_unknown_node_is_refused() {
    let refused = Scenario::parse(
        r#"{"name": "isolate", "interval_ms": 40, "blocks": 8, "nodes": 2,
            "events": [{"at_ms": 100, "do": "isolate", "node": "zed"}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("field `events[0].node`: no node is named \"zed\""),
        "{refused}"
    );
}
