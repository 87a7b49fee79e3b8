//! The lab's network: real nodes, each on its own loopback port, wired through lab links.
//!
//! Every node is a [`Node`], started as `cargo run -- <port>` starts one, with three settings
//! changed for a crowd in one process: it follows the `lab` network (regtest with a pinned
//! difficulty), it dials only the links the lab gives it (no address-book dialing, which
//! would go around the links), and it takes more peers than a classroom node (a full mesh of
//! 50 is 49 peers each). Nothing else is special: the same validation, sync, relay and fork
//! choice as any node.

use crate::block::Block;
use crate::chain::Blockchain;
use crate::crypto::keys::SecretKey;
use crate::hash::Hash;
use crate::lab::link::{Gate, Link, LinkSettings, Toward};
use crate::lab::scenario::{Behaviour, NodePlan, Scenario};
use crate::lab::schedule::Rng;
use crate::message::Message;
use crate::node::{Config, Node};
use crate::params::Network;
use crate::transaction::Address;
use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// One lab node and what the lab keeps about it.
pub struct Member {
    /// Its name in the scenario.
    pub name: String,
    /// Its share of the hash power.
    pub share: f64,
    /// What it does with its blocks.
    pub behaviour: Behaviour,
    /// Its key (the lab signs an attacker's double-spends with it).
    pub key: SecretKey,
    /// The address its coinbases pay.
    pub address: Address,
    /// Its firewall, if its behaviour needs one.
    pub gate: Option<Arc<Gate>>,
    /// The running node, or `None` while it is down. (An `Arc` so the `--http` page can
    /// serve it; the node stops when the last copy is dropped.)
    pub node: Option<Arc<Node>>,
    /// Its port, kept across down and up.
    pub listen: SocketAddr,
    /// The chain it had when it went down.
    saved: Option<Blockchain>,
}

/// A link between two members: `dialer` dials `target` through it.
pub struct Wire {
    /// The member that dials.
    pub dialer: usize,
    /// The member it reaches.
    pub target: usize,
    /// The link.
    pub link: Link,
}

/// Every node and link of one lab run. Dropping it stops them all.
pub struct Net {
    /// The nodes, in the scenario's order (named miners, then n0, n1, ...).
    pub members: Vec<Member>,
    /// The links.
    pub wires: Vec<Wire>,
    config: Config,
}

/// The settings of a lab node whose links take at most `max_latency_ms` each way.
pub fn lab_config(max_latency_ms: u64) -> Config {
    let mut config = Config::new(Network::Lab);
    config.log = false;
    // Dial the links the lab gives, nothing else.
    config.target_outbound = 0;
    config.max_peers = 256;
    config.max_handshakes = 256;
    // Blocks come many times a second: a lost sync answer should cost a few blocks' time,
    // not ten seconds, but a round trip must fit.
    config.request_timeout = Duration::from_millis(2_000 + 4 * max_latency_ms);
    config
}

impl Net {
    /// Starts the scenario's nodes and links, and waits until every link is up.
    pub fn start(scenario: &Scenario, rng: &mut Rng) -> std::io::Result<Net> {
        let slowest = scenario.miners.iter().filter_map(|m| m.latency_ms);
        let max_latency = slowest
            .chain([scenario.links.latency_ms + scenario.links.jitter_ms])
            .max()
            .unwrap_or(0);
        let config = lab_config(max_latency);
        let plan = scenario.plan();
        let mut members = Vec::new();
        for node in &plan {
            members.push(Member::start(node, &config)?);
        }
        let mut net = Net {
            members,
            wires: Vec::new(),
            config,
        };
        for (a, b) in topology(scenario, &plan, rng) {
            net.wire(a, b, scenario, &plan, rng.next_u64())?;
        }
        net.wait_linked(Duration::from_secs(20));
        Ok(net)
    }

    fn wire(
        &mut self,
        a: usize,
        b: usize,
        scenario: &Scenario,
        plan: &[NodePlan],
        seed: u64,
    ) -> std::io::Result<()> {
        let base = scenario.links.latency_ms;
        let ms = |m: Option<u64>| Duration::from_millis(m.unwrap_or(base));
        let settings = LinkSettings {
            to_target: ms(plan[a].latency_ms),
            to_dialer: ms(plan[b].latency_ms),
            jitter: Duration::from_millis(scenario.links.jitter_ms),
            bytes_per_sec: match scenario.links.bandwidth_kbps {
                0 => None,
                kbps => Some(kbps * 1000),
            },
        };
        let link = Link::open(
            self.members[b].listen,
            settings,
            self.members[a].gate.clone(),
            self.members[b].gate.clone(),
            seed,
        )?;
        if let Some(node) = &self.members[a].node {
            node.connect(link.addr());
        }
        self.wires.push(Wire {
            dialer: a,
            target: b,
            link,
        });
        Ok(())
    }

    /// Waits until every uncut link between two running nodes carries a connection.
    pub fn wait_linked(&self, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        loop {
            let up = |i: usize| self.members[i].node.is_some();
            let all = self
                .wires
                .iter()
                .filter(|w| !w.link.is_cut() && up(w.dialer) && up(w.target))
                .all(|w| w.link.is_connected());
            if all || Instant::now() >= deadline {
                return all;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The running node of member `i`.
    pub fn node(&self, i: usize) -> Option<&Node> {
        self.members[i].node.as_deref()
    }

    /// The tip of every running node.
    pub fn tips(&self) -> Vec<Option<Hash>> {
        self.members
            .iter()
            .map(|m| m.node.as_ref().map(|n| n.summary().tip))
            .collect()
    }

    /// Waits until every running node has the same tip; says whether they got there.
    pub fn converge(&self, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        loop {
            let tips: HashSet<Hash> = self.tips().into_iter().flatten().collect();
            if tips.len() <= 1 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Member `i` mines one block on its tip, now.
    pub fn mine(&self, i: usize) -> Option<Block> {
        let block = self.node(i)?.mine(Vec::new()).ok()?;
        if let Some(gate) = &self.members[i].gate {
            gate.mined(block.hash);
        }
        Some(block)
    }

    /// Cuts every link between `side` and the other nodes.
    pub fn partition(&self, side: &[usize]) {
        for w in &self.wires {
            if side.contains(&w.dialer) != side.contains(&w.target) {
                w.link.cut();
            }
        }
    }

    /// Heals every cut link, and has each dialer dial again at once.
    pub fn heal(&self) {
        for w in self.wires.iter().filter(|w| w.link.is_cut()) {
            w.link.heal();
            if let Some(node) = self.node(w.dialer) {
                node.connect(w.link.addr());
            }
        }
    }

    /// Stops member `i`, keeping its chain.
    pub fn down(&mut self, i: usize) {
        if let Some(node) = self.members[i].node.take() {
            self.members[i].saved = Some(node.with_chain(|c| c.clone()));
            if let Ok(node) = Arc::try_unwrap(node) {
                node.shutdown();
            }
        }
    }

    /// Starts member `i` again on its port, with its chain and key; it redials its links.
    pub fn up(&mut self, i: usize) -> std::io::Result<()> {
        if self.members[i].node.is_some() {
            return Ok(());
        }
        let member = &mut self.members[i];
        let chain = member
            .saved
            .take()
            .unwrap_or_else(|| Blockchain::new(Network::Lab));
        let listener = bind_again(member.listen)?;
        let node = Node::start_with_key(listener, self.config.clone(), chain, member.key.clone())?;
        member.node = Some(Arc::new(node));
        for w in self.wires.iter().filter(|w| w.dialer == i) {
            if let Some(node) = self.node(i) {
                node.connect(w.link.addr());
            }
        }
        Ok(())
    }

    /// Sends `block` (held by member `i`'s gate until now) to each of `i`'s peers, as if `i`
    /// had just announced it: each peer then asks `i` for the branch below it.
    pub fn announce(&self, i: usize, block: &Block) {
        let message = Message::Block(block.clone());
        for w in &self.wires {
            if w.dialer == i {
                w.link.inject(Toward::Target, &message);
            } else if w.target == i {
                w.link.inject(Toward::Dialer, &message);
            }
        }
    }

    /// Tells member `i` each peer's tip, as if each peer had announced it.
    pub fn tell_tips(&self, i: usize) {
        for w in &self.wires {
            let (peer, toward) = if w.dialer == i {
                (w.target, Toward::Dialer)
            } else if w.target == i {
                (w.dialer, Toward::Target)
            } else {
                continue;
            };
            if let Some(tip) = self.node(peer).and_then(|n| n.block(n.summary().height)) {
                w.link.inject(toward, &Message::Block(tip));
            }
        }
    }
}

impl Member {
    fn start(plan: &NodePlan, config: &Config) -> std::io::Result<Member> {
        let key = SecretKey::generate();
        let address = Address::of(&key.public_key());
        let gate = match plan.behaviour {
            Behaviour::Honest => None,
            Behaviour::Private | Behaviour::Selfish => Some(Arc::new(Gate::new(address))),
        };
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let listen = listener.local_addr()?;
        let node = Node::start_with_key(
            listener,
            config.clone(),
            Blockchain::new(Network::Lab),
            key.clone(),
        )?;
        Ok(Member {
            name: plan.name.clone(),
            share: plan.share,
            behaviour: plan.behaviour,
            key,
            address,
            gate,
            node: Some(Arc::new(node)),
            listen,
            saved: None,
        })
    }
}

/// Binds `addr` again after its node stopped (the port may take a moment to free).
fn bind_again(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The pairs to link, each once, the first dialing the second.
fn topology(scenario: &Scenario, plan: &[NodePlan], rng: &mut Rng) -> Vec<(usize, usize)> {
    let n = plan.len();
    let index = |name: &str| plan.iter().position(|p| p.name == name);
    if !scenario.links.edges.is_empty() {
        return scenario
            .links
            .edges
            .iter()
            .filter_map(|(a, b)| Some((index(a)?, index(b)?)))
            .collect();
    }
    let mut pairs = Vec::new();
    match scenario.links.peers {
        None => {
            for a in 0..n {
                for b in a + 1..n {
                    pairs.push((a, b));
                }
            }
        }
        Some(k) => {
            let mut linked = HashSet::new();
            for a in 0..n {
                let mut tries = 0;
                let mut dialed = 0;
                while dialed < k && tries < 100 * n {
                    tries += 1;
                    let b = (rng.next_u64() % n as u64) as usize;
                    let key = (a.min(b), a.max(b));
                    if b != a && linked.insert(key) {
                        pairs.push((a, b));
                        dialed += 1;
                    }
                }
            }
        }
    }
    pairs
}
