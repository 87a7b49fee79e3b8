//! The `peerchain` binary: parse the command line, start a node, read console commands.
//! Everything else lives in the library.

use peerchain::cli::{self, Command, USAGE};
use peerchain::console::{self, Reply};
use peerchain::{Config, Node};
use std::io::BufRead;
use std::net::TcpListener;
use std::process::exit;

fn main() {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return;
        }
        Err(msg) => usage_error(&msg),
    };
    let peers: Vec<_> = args
        .peers
        .iter()
        .map(|p| cli::resolve_peer(p).unwrap_or_else(|e| usage_error(&e)))
        .collect();

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
    let node = match Node::start(listener, Config::new(args.network)) {
        Ok(node) => node,
        Err(e) => {
            eprintln!("peerchain: cannot start the node: {e}");
            exit(1);
        }
    };
    let summary = node.summary();
    println!(
        "peerchain node {} on {}, listening on {}; chain height {} (chain kept in memory)",
        node.node_id(),
        args.network,
        node.local_addr(),
        summary.height
    );
    println!("type help for commands");
    for peer in peers {
        node.connect(peer);
    }

    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match console::execute(&node, &line) {
            Reply::Text(text) if text.is_empty() => {}
            Reply::Text(text) => println!("{text}"),
            Reply::Quit => {
                node.shutdown();
                return;
            }
        }
    }
    // End of input: keep serving peers, so the node works in the background and in scripts.
    loop {
        std::thread::park();
    }
}

fn usage_error(msg: &str) -> ! {
    eprintln!("peerchain: {msg}\n\n{USAGE}");
    exit(2);
}
