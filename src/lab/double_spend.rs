//! The double-spend attack, trial after trial (Nakamoto 2008 §11, Rosenfeld 2014).
//!
//! Each trial, as Rosenfeld models it:
//!
//! 1. The attacker goes private: its [`Gate`] holds back its blocks and its transactions, and
//!    lets no block reach it, so its node keeps mining its own branch however far behind it
//!    falls (an unmodified node would switch to the longer chain, as it should).
//! 2. It pre-mines one block on the tip. If an honest miner finds one first, it starts again
//!    on the new tip (Rosenfeld's model assumes this head start).
//! 3. It pays the merchant, publicly, and pays itself the same coin, privately.
//! 4. Both sides mine. Once the merchant has `z` confirmations and the private branch is
//!    longer than the public one, the attacker publishes it; every node switches to it by the
//!    ordinary most-work rule, and the merchant's payment is gone. If it falls `give_up`
//!    blocks behind, it gives up and rejoins the honest chain.
//!
//! The lab counts the attack a success only if, once every node agrees again, the merchant's
//! own chain holds the attacker's self-payment: the real nodes decide, not the counter.
//!
//! [`Gate`]: crate::lab::link::Gate

use crate::hash::Hash;
use crate::lab::net::Net;
use crate::lab::report::{Check, PaymentLine, Records};
use crate::lab::scenario::DoubleSpend;
use crate::lab::schedule::Rng;
use crate::transaction::{Output, Transaction};
use std::thread;
use std::time::{Duration, Instant};

/// The fee of each payment, in base units.
const FEE: u64 = 1_000;

/// What the trials came to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Attacks that ended with the merchant's chain holding the self-payment.
    pub successes: usize,
    /// Attacks that ended with it holding the payment to the merchant.
    pub failures: usize,
    /// Attacks whose end the nodes did not agree on in time (counted as neither).
    pub unsettled: usize,
    /// Why each unsettled attack was, counted.
    pub why_unsettled: std::collections::BTreeMap<&'static str, usize>,
    /// Each attack's payments (only the last few are kept for the report).
    pub payments: Vec<PaymentLine>,
}

/// The clock of a run: when the next find is due, in ms after the start.
pub struct Clock {
    start: Instant,
    next_ms: f64,
    interval_ms: f64,
}

impl Clock {
    /// A clock with mean interval `interval_ms`, its first find drawn from `rng`.
    pub fn new(interval_ms: f64, rng: &mut Rng) -> Clock {
        Clock {
            start: Instant::now(),
            next_ms: rng.exponential(interval_ms),
            interval_ms,
        }
    }

    /// Milliseconds since the start.
    pub fn now_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    /// Milliseconds until the next find (0 if it is due).
    pub fn until_next(&self) -> f64 {
        (self.next_ms - self.now_ms()).max(0.0)
    }

    /// Takes the due find: returns how late it is, and draws the one after.
    pub fn take(&mut self, rng: &mut Rng) -> f64 {
        let slip = self.now_ms() - self.next_ms;
        self.next_ms += rng.exponential(self.interval_ms);
        slip
    }

    /// Pauses the schedule for as long as `f` takes (the lab settling between trials).
    pub fn paused<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let before = self.now_ms();
        let result = f();
        self.next_ms += self.now_ms() - before;
        result
    }
}

/// Waits for the next find and has its miner mine it; returns the miner and the block.
fn next_find(
    net: &Net,
    clock: &mut Clock,
    rng: &mut Rng,
    records: &mut Records,
    shares: &[f64],
) -> Option<(usize, crate::block::Block)> {
    let wait = clock.until_next();
    if wait > 0.0 {
        thread::sleep(Duration::from_secs_f64(wait / 1000.0));
    }
    let slip = clock.take(rng);
    let miner = rng.pick(shares);
    let block = net.mine(miner)?;
    records.found(net, miner, &block, slip);
    Some((miner, block))
}

/// Polls `done` every millisecond until it holds or `patience` runs out.
fn wait_for(patience: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `spec.trials` attacks by member `a` on merchant `m`.
pub fn run(
    net: &Net,
    spec: &DoubleSpend,
    (a, m): (usize, usize),
    clock: &mut Clock,
    rng: &mut Rng,
    records: &mut Records,
    progress: &mut dyn FnMut(&str),
) -> Outcome {
    let shares: Vec<f64> = net.members.iter().map(|x| x.share).collect();
    let mut outcome = Outcome::default();
    let (Some(attacker), Some(merchant)) = (net.node(a), net.node(m)) else {
        return outcome;
    };
    let gate = net.members[a].gate.clone().expect("an attacker has a gate");
    let key = &net.members[a].key;
    let own = net.members[a].address;
    let merchant_address = net.members[m].address;
    // Coins to attack with: coinbases mature after 10 blocks.
    while attacker.with_chain(|c| crate::wallet::spendable_coins(c, &own).is_empty()) {
        if net.mine(a).is_none() {
            return outcome;
        }
    }
    clock.paused(|| net.converge(Duration::from_secs(10)));
    let mut last_progress = Instant::now();
    for trial in 0..spec.trials {
        if last_progress.elapsed() >= Duration::from_secs(1) {
            progress(&format!(
                "[lab] attack {trial} of {}: {} succeeded, {} failed",
                spec.trials, outcome.successes, outcome.failures
            ));
            last_progress = Instant::now();
        }
        // 1 and 2: go private, pre-mine one block.
        let mut fork = attacker.summary().height;
        gate.go_private(fork);
        loop {
            let Some((miner, _)) = next_find(net, clock, rng, records, &shares) else {
                return outcome;
            };
            if miner == a {
                break;
            }
            // An honest block came first: start again on it.
            clock.paused(|| {
                gate.deafen(false);
                net.tell_tips(a);
                net.converge(Duration::from_secs(5));
                gate.deafen(true);
            });
            fork = attacker.summary().height;
            gate.hold_above(fork);
        }
        // 3: pay the merchant publicly, and ourselves privately, with one coin below the fork.
        let coin = attacker.with_chain(|c| {
            let mut coins = crate::wallet::spendable_coins(c, &own);
            // Spendable in the merchant's next block, which is at fork + 1.
            coins.retain(|(_, coin)| {
                coin.height <= fork && coin.spendable_from() <= fork + 1 && coin.amount > 2 * FEE
            });
            coins.into_iter().max_by_key(|(_, coin)| coin.amount)
        });
        let Some((outpoint, coin)) = coin else {
            outcome.unsettled += 1;
            *outcome
                .why_unsettled
                .entry("no mature coin below the fork")
                .or_default() += 1;
            end_attack(net, a, clock);
            continue;
        };
        let paid = coin.amount.min(crate::transaction::COIN);
        let mut outputs = vec![Output {
            address: merchant_address,
            amount: paid - FEE,
        }];
        if coin.amount > paid {
            outputs.push(Output {
                address: own,
                amount: coin.amount - paid,
            });
        }
        let mut payment = Transaction::new(&[outpoint], outputs);
        payment.sign(key);
        let mut theft = Transaction::new(
            &[outpoint],
            vec![Output {
                address: own,
                amount: coin.amount - FEE,
            }],
        );
        theft.sign(key);
        let (pay_id, theft_id) = (payment.txid, theft.txid);
        let made = attacker.submit_transaction(theft).is_ok()
            && merchant.submit_transaction(payment).is_ok();
        let honest: Vec<usize> = (0..net.members.len())
            .filter(|i| *i != a && shares[*i] > 0.0)
            .collect();
        let relayed = made
            && clock.paused(|| {
                wait_for(Duration::from_secs(2), || {
                    honest.iter().all(|i| {
                        net.node(*i)
                            .is_some_and(|n| n.transaction(&pay_id).is_some())
                    })
                })
            });
        if !relayed {
            outcome.unsettled += 1;
            let why = if made {
                "payment not relayed in 2 s"
            } else {
                "payment refused"
            };
            *outcome.why_unsettled.entry(why).or_default() += 1;
            end_attack(net, a, clock);
            continue;
        }
        // 4: race.
        let result = loop {
            let Some((miner, block)) = next_find(net, clock, rng, records, &shares) else {
                return outcome;
            };
            if miner != a {
                clock.paused(|| {
                    wait_for(Duration::from_secs(2), || {
                        merchant.with_chain(|c| c.contains(&block.hash))
                    })
                });
            }
            let confirmations = merchant
                .transaction(&pay_id)
                .map(|t| t.confirmations)
                .unwrap_or(0);
            let private = attacker.summary().height.saturating_sub(fork);
            let public = merchant.summary().height.saturating_sub(fork);
            if confirmations >= spec.confirmations as u64 && private > public {
                break Some(release(net, a, clock, &theft_id, m));
            }
            if public >= private + spec.give_up {
                end_attack(net, a, clock);
                break Some(false);
            }
        };
        let fate = match result {
            Some(true) => {
                outcome.successes += 1;
                "double-spent: the merchant's chain holds the attacker's self-payment"
            }
            Some(false)
                if merchant
                    .transaction(&pay_id)
                    .is_some_and(|t| t.height.is_some()) =>
            {
                outcome.failures += 1;
                "confirmed: the attack gave up"
            }
            _ => {
                outcome.unsettled += 1;
                *outcome
                    .why_unsettled
                    .entry("nodes did not agree after the attack")
                    .or_default() += 1;
                "unsettled"
            }
        };
        outcome.payments.push(PaymentLine {
            at_ms: clock.now_ms() as u64,
            from: net.members[a].name.clone(),
            to: net.members[m].name.clone(),
            txid: Some(pay_id.to_string()),
            fate: fate.to_string(),
        });
        if outcome.payments.len() > 5 {
            outcome.payments.remove(0);
        }
    }
    outcome
}

/// Publishes the attacker's branch and waits for the nodes to agree; did the theft stick?
fn release(net: &Net, a: usize, clock: &mut Clock, theft: &Hash, m: usize) -> bool {
    clock.paused(|| {
        let gate = net.members[a]
            .gate
            .as_ref()
            .expect("an attacker has a gate");
        gate.go_public();
        if let Some(tip) = net.node(a).and_then(|n| n.block(n.summary().height)) {
            net.announce(a, &tip);
        }
        net.converge(Duration::from_secs(10));
        net.node(m)
            .is_some_and(|n| n.transaction(theft).is_some_and(|t| t.height.is_some()))
    })
}

/// Gives up: opens the gate and brings the attacker back onto the honest chain.
fn end_attack(net: &Net, a: usize, clock: &mut Clock) {
    clock.paused(|| {
        let gate = net.members[a]
            .gate
            .as_ref()
            .expect("an attacker has a gate");
        gate.go_public();
        net.tell_tips(a);
        net.converge(Duration::from_secs(10));
    });
}

/// The success rate against Rosenfeld's exact figure, and Nakamoto's beside it.
pub fn checks(outcome: &Outcome, q: f64, z: u32) -> (Vec<Check>, Vec<String>) {
    let decided = outcome.successes + outcome.failures;
    let rate = if decided == 0 {
        0.0
    } else {
        outcome.successes as f64 / decided as f64
    };
    let exact = crate::lab::papers::rosenfeld(q, z);
    let nakamoto = crate::lab::papers::nakamoto(q, z);
    let check = Check::proportion(
        &format!("double-spend success, q = {q}, z = {z}"),
        rate,
        exact,
        decided,
        "Rosenfeld 2014, exact",
    );
    let why: Vec<String> = outcome
        .why_unsettled
        .iter()
        .map(|(why, n)| format!("{n} {why}"))
        .collect();
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({})", why.join(", "))
    };
    let notes = vec![format!(
        "attacks: {} succeeded, {} failed, {} unsettled{why}; Nakamoto's approximation {nakamoto:.4}",
        outcome.successes, outcome.failures, outcome.unsettled
    )];
    (vec![check], notes)
}
