//! The console: commands typed at a running node, one per line on standard input.
//!
//! [`execute`] turns one line into a reply, so the commands are tested without a terminal.
//!
//! See `tutorial/07-client-and-server.md`.

use crate::block::Block;
use crate::cli::resolve_peer;
use crate::node::Node;

/// What `help` prints.
pub const HELP: &str = "\
commands:
  mine [text...]   mine a block carrying the text, append it and relay it
  chain            height, tip hash, total work and next difficulty
  block <height>   the block at that height, as JSON
  peers            the connected peers
  address          this node's address and public key
  connect <addr>   connect to a node: a port on this machine or host:port
  help             this list
  quit             stop the node";

/// The result of one console line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Print this (may be empty).
    Text(String),
    /// Stop the node.
    Quit,
}

/// The block named by a command's one argument, a height; or the line to print instead.
fn block_arg(node: &Node, command: &str, args: &[&str]) -> Result<Block, String> {
    let [height] = args else {
        return Err(format!("usage: {command} <height>"));
    };
    let Ok(height) = height.parse::<u64>() else {
        return Err(format!(
            "usage: {command} <height>, where height is a number, not {height:?}"
        ));
    };
    node.block(height).ok_or_else(|| {
        format!(
            "no block at height {height} (the tip is at {})",
            node.summary().height
        )
    })
}

/// Runs one console line against `node`.
pub fn execute(node: &Node, line: &str) -> Reply {
    let mut words = line.split_whitespace();
    let Some(command) = words.next() else {
        return Reply::Text(String::new());
    };
    let rest: Vec<&str> = words.collect();
    Reply::Text(match command {
        "mine" => {
            let data = if rest.is_empty() {
                vec![]
            } else {
                vec![rest.join(" ")]
            };
            match node.mine(data) {
                Ok(b) => format!(
                    "mined block {} {} (difficulty {})",
                    b.height, b.hash, b.difficulty
                ),
                Err(e) => format!("could not mine: {e}"),
            }
        }
        "chain" => {
            let s = node.summary();
            format!(
                "height {}, tip {}, total work {}, next difficulty {}",
                s.height, s.tip, s.total_work, s.next_difficulty
            )
        }
        "block" => match block_arg(node, "block", &rest) {
            Ok(block) => serde_json::to_string(&block).expect("blocks serialize"),
            Err(e) => e,
        },
        "peers" => {
            let peers = node.peers();
            if peers.is_empty() {
                "no peers".to_string()
            } else {
                peers
                    .iter()
                    .map(|p| {
                        let listen = p.listen_addr.map_or("-".to_string(), |a| a.to_string());
                        let dir = if p.outbound { "outbound" } else { "inbound" };
                        format!("{} node {} {dir}, listens on {listen}", p.addr, p.node_id)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        "connect" => match rest.as_slice() {
            [addr] => match resolve_peer(addr) {
                Ok(a) => {
                    node.connect(a);
                    format!("connecting to {a}")
                }
                Err(e) => e,
            },
            _ => "usage: connect <port or host:port>".to_string(),
        },
        "address" => format!(
            "address {}, public key {}",
            node.address(),
            node.public_key()
        ),
        "help" => HELP.to_string(),
        "quit" | "exit" => return Reply::Quit,
        other => format!("unknown command {other:?}; type help for the list"),
    })
}
