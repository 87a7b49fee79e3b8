//! The `peerchain` binary: parse the command line, start a node, read console commands.
//! Everything else lives in the library.

use peerchain::app::cli::{self, Command, USAGE};
use peerchain::app::console::{self, Reply};
use peerchain::store::Store;
use peerchain::{Config, Node};
use std::io::BufRead;
use std::net::TcpListener;
use std::process::exit;
use std::sync::Arc;

/// Prints a line to stdout, ignoring a closed stdout (`peerchain 8555 | head` must not panic).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn main() {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Lab(lab)) => exit(run_lab(lab)),
        Ok(Command::Help) => {
            say!("{USAGE}");
            return;
        }
        Err(msg) => usage_error(&msg),
    };
    let peers: Vec<_> = args
        .peers
        .iter()
        .map(|p| peerchain::app::resolve_peer(p).unwrap_or_else(|e| usage_error(&e)))
        .collect();

    // Load the chain before listening: a damaged data directory stops the node here, with the
    // file untouched, before any peer can see it.
    let store = args
        .data_dir
        .as_ref()
        .map(|dir| match Store::open(dir, args.network) {
            Ok(opened) => opened,
            Err(e) => {
                eprintln!("peerchain: {e}");
                exit(1);
            }
        });
    let listener = match TcpListener::bind((args.bind, args.port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "peerchain: cannot listen on {}:{}: {e}",
                args.bind, args.port
            );
            exit(1);
        }
    };
    let config = Config::new(args.network);
    let (started, kept) = match store {
        Some((store, loaded)) => {
            for warning in &loaded.warnings {
                say!("[!] {warning}");
            }
            let wallet = store.key_path();
            let mut kept = format!("chain kept in {}", store.blocks_path().display());
            if let Some(mark) = loaded.trusted.filter(|mark| mark.height > 0) {
                kept.push_str(&format!(
                    "\nsignatures up to height {} not checked again: this node checked them \
                     before it wrote them ({})",
                    mark.height,
                    peerchain::store::MARK_FILE
                ));
            }
            if let Some((_, created)) = &loaded.key {
                let how = if *created { "created" } else { "kept" };
                kept.push_str(&format!("\nkey {how} in {}", wallet.display()));
            }
            (
                Node::start_with_store(listener, config, store, loaded),
                kept,
            )
        }
        None => (
            Node::start(listener, config),
            "chain kept in memory; use --data-dir DIR to keep it\n\
             key kept in memory: whatever this address receives is lost when the node quits"
                .to_string(),
        ),
    };
    let node = Arc::new(started.unwrap_or_else(|e| {
        eprintln!("peerchain: cannot start the node: {e}");
        exit(1);
    }));
    let http = args.http.map(|addr| {
        let served =
            TcpListener::bind(addr).and_then(|l| peerchain::app::api::start(l, Arc::clone(&node)));
        served.unwrap_or_else(|e| {
            eprintln!("peerchain: cannot serve HTTP on {addr}: {e}");
            exit(1);
        })
    });
    let summary = node.summary();
    say!(
        "peerchain node {} on {}, listening on {}; chain height {}",
        node.node_id(),
        args.network,
        node.local_addr(),
        summary.height
    );
    say!("address {}", node.address());
    say!("{kept}");
    if let Some(http) = &http {
        let mut url = http.local_addr();
        if url.ip().is_unspecified() {
            url.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            say!("explorer and API on http://{url}/");
            // Bound to every address: classmates need this machine's address on the LAN.
            match lan_address() {
                Some(ip) => say!(
                    "on the LAN: http://{}/ (read-only for other machines)",
                    std::net::SocketAddr::new(ip, url.port())
                ),
                None => say!("on the LAN: this machine's address, port {}", url.port()),
            }
        } else {
            say!("explorer and API on http://{url}/");
        }
    }
    say!("type help for commands");
    for peer in peers {
        node.connect(peer);
    }

    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match console::execute(&node, &line) {
            Reply::Text(text) if text.is_empty() => {}
            Reply::Text(text) => say!("{text}"),
            Reply::Quit => {
                shut_down(node, http);
                return;
            }
        }
    }
    // End of input: keep serving peers, so the node works in the background and in scripts.
    loop {
        std::thread::park();
    }
}

/// Runs a lab scenario (see `peerchain::lab`); returns the exit code: 2 for a scenario that
/// is wrong (one line naming the field), 1 if the run itself failed.
fn run_lab(args: cli::LabArgs) -> i32 {
    use peerchain::lab;
    let scenario = match lab::load(&args.scenario) {
        Ok(scenario) => scenario,
        Err(e) => {
            eprintln!("peerchain lab: {e}");
            return 2;
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| std::path::Path::new("target/lab").join(&scenario.name));
    let options = lab::Options {
        seed: args.seed,
        blocks: args.blocks,
        trials: args.trials,
        out: Some(out.clone()),
    };
    say!("lab {}: {}", scenario.name, scenario.about);
    if !scenario.reference.is_empty() {
        say!("reference: {}", scenario.reference);
    }
    let mut http: Option<peerchain::app::http::HttpServer> = None;
    let mut watch = |net: &lab::net::Net, stage: lab::Stage| {
        let Some(addr) = args.http.filter(|_| stage == lab::Stage::Started) else {
            return;
        };
        drop(http.take());
        // An honest node's view: an attacker's own page would show its private branch.
        let honest = |m: &&lab::net::Member| m.behaviour == lab::scenario::Behaviour::Honest;
        let running = net.members.iter().filter(|m| m.node.is_some());
        let Some(member) = running.clone().find(honest).or(running.clone().next()) else {
            return;
        };
        let node = Arc::clone(member.node.as_ref().expect("found running"));
        // The previous point's server may hold the port for a moment.
        for _ in 0..50 {
            if let Ok(listener) = TcpListener::bind(addr) {
                http = peerchain::app::api::start(listener, Arc::clone(&node)).ok();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        match &http {
            Some(_) => say!(
                "network page of lab node {}: http://{addr}/network",
                member.name
            ),
            None => say!("[!] cannot serve HTTP on {addr}"),
        }
    };
    let mut progress = |line: &str| say!("{line}");
    match lab::run(&scenario, &options, &mut progress, &mut watch) {
        Ok(_) => {
            say!(
                "report written to {}/report.json and report.csv",
                out.display()
            );
            0
        }
        Err(e) => {
            eprintln!("peerchain lab: {e}");
            1
        }
    }
}

/// This machine's address on its LAN, as the system would pick it to reach another network:
/// a UDP socket "connected" to a documentation address (192.0.2.1, RFC 5737) has that source
/// address. Connecting a UDP socket sends nothing.
fn lan_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// Stops the HTTP server, then the node. An HTTP request still being answered holds a
/// reference to the node; it ends within the server's connection deadline, so wait for it
/// rather than exit with the disk writer's last changes unwritten.
fn shut_down(mut node: Arc<Node>, http: Option<peerchain::app::http::HttpServer>) {
    drop(http);
    let patience = peerchain::app::http::CONNECTION_DEADLINE;
    let end = std::time::Instant::now() + patience;
    loop {
        match Arc::try_unwrap(node) {
            Ok(node) => return node.shutdown(),
            Err(shared) if std::time::Instant::now() < end => {
                node = shared;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(_) => {
                eprintln!("peerchain: an HTTP request is still running; quitting without it");
                return;
            }
        }
    }
}

fn usage_error(msg: &str) -> ! {
    eprintln!("peerchain: {msg}\n\n{USAGE}");
    exit(2);
}
