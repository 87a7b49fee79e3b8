//! The command line: `peerchain <port> [peer ...] [options]`, parsed by hand (no `clap`: the
//! design allows four crates, and a parser for a port, some peers and a few options is a
//! short loop over the arguments).
//!
//! See `tutorial/13-classroom-network.md`.

use crate::params::Network;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// What `--help` prints, and what a bad command line prints after its error.
pub const USAGE: &str = "\
usage: peerchain <port> [peer ...] [options]
       peerchain lab <scenario.json> [--seed N] [--blocks N] [--trials N] [--out DIR] [--http PORT]

  <port>         port to listen on, e.g. 8555
  [peer ...]     nodes to connect to: a port on this machine (8555) or host:port

options:
  --bind ADDR    address to listen on (default 127.0.0.1; 0.0.0.0 for a classroom LAN)
  --regtest      follow the regtest network (easy proof of work, for tests and demos)
  --data-dir DIR keep the chain in DIR/<network>/blocks.jsonl across restarts
                 (without it the chain is kept in memory only)
  --http PORT    serve the explorer page and the JSON API on PORT (off by default)
  --http-bind ADDR
                 address for --http (default 127.0.0.1; --bind does not change it)
  --help         show this help

lab options (a whole network in one process; see tutorial/22-the-lab.md):
  --seed N       another seed for the schedule than the file's
  --blocks N     run N finds instead of the file's `blocks`
  --trials N     run N attacks instead of the file's `double_spend.trials`
  --out DIR      write report.json and report.csv to DIR (default target/lab/<name>)
  --http PORT    serve the explorer and network page of one lab node on PORT

example: cargo run -- 8555        then, in another terminal: cargo run -- 8556 8555
         cargo run --release -- lab tutorial/lab/stale.json";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Port to listen on.
    pub port: u16,
    /// Peers to dial, as given (resolve with [`resolve_peer`](super::resolve_peer)).
    pub peers: Vec<String>,
    /// Address to listen on.
    pub bind: IpAddr,
    /// Network to follow.
    pub network: Network,
    /// Where to keep the chain, if anywhere.
    pub data_dir: Option<PathBuf>,
    /// Where to serve the HTTP API and the explorer, if anywhere.
    pub http: Option<SocketAddr>,
}

/// A parsed `lab` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--blocks`.
    pub blocks: Option<u64>,
    /// `--trials`.
    pub trials: Option<u32>,
    /// `--out`.
    pub out: Option<PathBuf>,
    /// `--http`, on 127.0.0.1.
    pub http: Option<SocketAddr>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run a node.
    Run(Args),
    /// Run a lab scenario.
    Lab(LabArgs),
    /// Print the usage and exit successfully.
    Help,
}

/// Parses the arguments after the program name. The error says what is wrong, for a line
/// above the usage.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter().peekable();
    if args.peek().is_some_and(|a| a == "lab") {
        args.next();
        return parse_lab(args);
    }
    let mut positional = Vec::new();
    let mut bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut network = Network::Main;
    let mut data_dir = None;
    let mut http_port = None;
    let mut http_bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--regtest" => network = Network::Regtest,
            "--data-dir" => {
                let value = args.next().ok_or("--data-dir needs a directory")?;
                data_dir = Some(PathBuf::from(value));
            }
            "--bind" => {
                let value = args
                    .next()
                    .ok_or("--bind needs an address, e.g. --bind 0.0.0.0")?;
                bind = value
                    .parse()
                    .map_err(|_| format!("--bind: {value:?} is not an IP address"))?;
            }
            "--http" => {
                let value = args.next().ok_or("--http needs a port, e.g. --http 8080")?;
                let port = value
                    .parse::<u16>()
                    .map_err(|_| format!("--http: {value:?} is not a port"))?;
                http_port = Some(port);
            }
            "--http-bind" => {
                let value = args
                    .next()
                    .ok_or("--http-bind needs an address, e.g. --http-bind 0.0.0.0")?;
                http_bind = value
                    .parse()
                    .map_err(|_| format!("--http-bind: {value:?} is not an IP address"))?;
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let port = positional.next().ok_or("missing <port>")?;
    let port = port
        .parse()
        .map_err(|_| format!("<port> must be a number from 0 to 65535, got {port:?}"))?;
    let peers: Vec<String> = positional.collect();
    for peer in &peers {
        check_peer_syntax(peer)?;
    }
    Ok(Command::Run(Args {
        port,
        peers,
        bind,
        network,
        data_dir,
        // The API's bind address is its own: `--bind 0.0.0.0` opens the P2P port to a LAN,
        // not the wallet.
        http: http_port.map(|port| SocketAddr::new(http_bind, port)),
    }))
}

/// Parses what follows `lab`.
fn parse_lab(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
        let value = value.ok_or(format!("{flag} needs a number"))?;
        value
            .parse()
            .map_err(|_| format!("{flag}: {value:?} is not a number"))
    }
    let mut lab = LabArgs {
        scenario: PathBuf::new(),
        seed: None,
        blocks: None,
        trials: None,
        out: None,
        http: None,
    };
    let mut scenario = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--seed" => lab.seed = Some(number("--seed", args.next())?),
            "--blocks" => lab.blocks = Some(number("--blocks", args.next())?),
            "--trials" => lab.trials = Some(number("--trials", args.next())?),
            "--out" => lab.out = Some(PathBuf::from(args.next().ok_or("--out needs a directory")?)),
            "--http" => {
                let port: u16 = number("--http", args.next())?;
                lab.http = Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
            }
            flag if flag.starts_with("--") => return Err(format!("unknown lab option {flag}")),
            _ if scenario.is_none() => scenario = Some(PathBuf::from(arg)),
            _ => return Err(format!("lab takes one scenario file; {arg:?} is a second")),
        }
    }
    lab.scenario = scenario.ok_or("lab needs a scenario file, e.g. tutorial/lab/stale.json")?;
    Ok(Command::Lab(lab))
}

fn check_peer_syntax(peer: &str) -> Result<(), String> {
    let port = peer.rsplit_once(':').map_or(peer, |(_, port)| port);
    port.parse::<u16>()
        .map(|_| ())
        .map_err(|_| format!("peer {peer:?} must be a port (8555) or host:port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    /// `lab` takes one file and its own options; mistakes are explained.
    #[test]
    fn parses_lab() {
        let Command::Lab(lab) = parse_strs(&[
            "lab", "x.json", "--seed", "3", "--trials", "10", "--http", "8080",
        ])
        .unwrap() else {
            panic!("not a lab command");
        };
        assert_eq!(lab.scenario, PathBuf::from("x.json"));
        assert_eq!(
            (lab.seed, lab.trials, lab.blocks),
            (Some(3), Some(10), None)
        );
        assert_eq!(lab.http.unwrap().port(), 8080);
        assert!(parse_strs(&["lab"]).unwrap_err().contains("scenario file"));
        assert!(parse_strs(&["lab", "a", "b"])
            .unwrap_err()
            .contains("second"));
        assert!(parse_strs(&["lab", "a", "--seed", "x"])
            .unwrap_err()
            .contains("not a number"));
        assert!(parse_strs(&["lab", "a", "--fast"])
            .unwrap_err()
            .contains("unknown lab option"));
    }

    /// The seed's two-terminal demo parses, options go anywhere, bad input is explained.
    #[test]
    fn parses_the_demo_and_refuses_junk() {
        let Command::Run(args) = parse_strs(&["8556", "8555", "--regtest"]).unwrap() else {
            panic!("not a run")
        };
        assert_eq!(args.port, 8556);
        assert_eq!(args.peers, ["8555"]);
        assert_eq!(args.network, Network::Regtest);
        assert_eq!(args.bind, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(parse_strs(&["--help"]).unwrap(), Command::Help);
        assert_eq!(parse_strs(&[]).unwrap_err(), "missing <port>");
        assert!(parse_strs(&["eighty"])
            .unwrap_err()
            .contains("<port> must be a number"));
        assert!(parse_strs(&["8555", "--bind"])
            .unwrap_err()
            .contains("--bind needs"));
        assert!(parse_strs(&["8555", "--bind", "lan"])
            .unwrap_err()
            .contains("not an IP"));
        assert!(parse_strs(&["8555", "--fast"])
            .unwrap_err()
            .contains("unknown option --fast"));
        assert!(parse_strs(&["8555", "--data-dir"])
            .unwrap_err()
            .contains("needs a directory"));
        let Command::Run(args) = parse_strs(&["8555", "--data-dir", "d"]).unwrap() else {
            panic!("not a run")
        };
        assert_eq!(args.data_dir, Some(PathBuf::from("d")));
        assert_eq!(args.http, None);
        let Command::Run(args) =
            parse_strs(&["8555", "--bind", "0.0.0.0", "--http", "8080"]).unwrap()
        else {
            panic!("not a run")
        };
        assert_eq!(args.http.unwrap().to_string(), "127.0.0.1:8080");
        let Command::Run(args) =
            parse_strs(&["8555", "--http", "1", "--http-bind", "0.0.0.0"]).unwrap()
        else {
            panic!("not a run")
        };
        assert_eq!(args.http.unwrap().to_string(), "0.0.0.0:1");
        assert!(parse_strs(&["8555", "--http"])
            .unwrap_err()
            .contains("--http needs a port"));
        assert!(parse_strs(&["8555", "--http", "web"])
            .unwrap_err()
            .contains("not a port"));
        assert!(parse_strs(&["8555", "host:"])
            .unwrap_err()
            .contains("host:port"));
    }
}
