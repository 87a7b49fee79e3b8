//! The console: commands typed at a running node, one per line on standard input.
//!
//! [`execute`] turns one line into a reply, so the commands are tested without a terminal. It
//! is a short `match` on the first word, one arm per command, and each command is a function
//! of its own: a new command (several exercises add one) is an arm and a function.
//!
//! See `tutorial/07-client-and-server.md`.

use crate::app::resolve_peer;
use crate::block::Block;
use crate::hash::Hash;
use crate::log::plural;
use crate::node::Node;
use crate::transaction::{Address, Transaction};
use crate::wallet::{format_coins, parse_address, parse_coins, WalletError, DEFAULT_FEE};

/// What `help` prints.
pub const HELP: &str = "\
commands:
  mine [text...]   mine a block carrying the text and the mempool's best transactions
  mine -n N [text...]
                   mine N blocks (1 to 100) one after another, in the background
  mine stop        stop mining those
  chain            height, tip hash, total work, next difficulty and mempool size
  block <height>   the block at that height, as JSON
  peers            the connected peers
  address          this node's address and public key
  balance [addr]   spendable, immature and pending coins (ours, or those of addr)
  send <addr> <amount> [fee]
                   pay coins (e.g. 1.5; fee defaults to 0.0001) to an address
  tx <txid>        a transaction: where it is, its inputs and outputs
  mempool          the transactions waiting for a block
  utxos [addr]     the unspent outputs (ours, or those of addr)
  reorgs           the last reorganizations of our chain
  tree [N]         the last N heights (10): our chain and the blocks beside it
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

/// Runs one console line against `node`: the first word picks the command, the rest are its
/// arguments. Each command is a function of its own below, so adding one is an arm here and a
/// function there.
pub fn execute(node: &Node, line: &str) -> Reply {
    let mut words = line.split_whitespace();
    let Some(command) = words.next() else {
        return Reply::Text(String::new());
    };
    let args: Vec<&str> = words.collect();
    Reply::Text(match command {
        "mine" => mine(node, &args),
        "chain" => chain(node),
        "block" => block(node, &args),
        "peers" => peers(node),
        "connect" => connect(node, &args),
        "reorgs" => reorgs(node),
        "tree" => tree(node, &args),
        "address" => address(node),
        "balance" => balance(node, &args),
        "utxos" => utxos(node, &args),
        "send" => send(node, &args),
        "tx" => tx(node, &args),
        "mempool" => mempool(node),
        "help" => HELP.to_string(),
        "quit" | "exit" => return Reply::Quit,
        other => format!("unknown command {other:?}; type help for the list"),
    })
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

/// The address named by a command's optional argument (the node's own when there is none), or
/// the line to print instead.
fn address_arg(node: &Node, command: &str, args: &[&str]) -> Result<Address, String> {
    match args {
        [] => Ok(node.address().parse().expect("our own address parses")),
        [text] => parse_address(text).map_err(|e| e.to_string()),
        _ => Err(format!("usage: {command} [address]")),
    }
}

/// `mine [text...]`: mines one block carrying the text.
fn mine(node: &Node, args: &[&str]) -> String {
    match args {
        ["stop"] => match node.stop_mining() {
            Some((done, count)) => format!("stopping: {done} of {count} blocks mined"),
            None => "not mining".to_string(),
        },
        ["-n", count, text @ ..] => {
            let Ok(count) = count.parse::<u64>() else {
                return format!("usage: mine -n N [text...] (N is a number, not {count:?})");
            };
            let data = if text.is_empty() {
                vec![]
            } else {
                vec![text.join(" ")]
            };
            match node.mine_many(count, data) {
                Ok(()) => format!(
                    "mining {} (`mine stop` stops)",
                    plural(count as usize, "block")
                ),
                Err(e) => format!("could not mine: {e}"),
            }
        }
        ["-n"] => "usage: mine -n N [text...]".to_string(),
        _ => {
            let data = if args.is_empty() {
                vec![]
            } else {
                vec![args.join(" ")]
            };
            match node.mine(data) {
                Ok(b) => {
                    let mut reply = format!(
                        "mined block {} {} (difficulty {}, {})",
                        b.height,
                        b.hash,
                        b.difficulty,
                        plural(b.transactions.len(), "transaction")
                    );
                    // `mine 11` is one block with the text "11": say so, in case that was
                    // not the idea.
                    if let [number] = args {
                        if number.parse::<u64>().is_ok() {
                            reply.push_str(&format!(
                                "\n(one block with the text \"{number}\"; for {number} blocks, type mine -n {number})"
                            ));
                        }
                    }
                    reply
                }
                Err(e) => format!("could not mine: {e}"),
            }
        }
    }
}

/// `chain`: the chain at a glance.
fn chain(node: &Node) -> String {
    let s = node.summary();
    format!(
        "height {}, tip {} ({}), total work {}, next difficulty {}, mempool {}",
        s.height,
        s.tip,
        plural(s.tip_transactions, "transaction"),
        s.total_work,
        s.next_difficulty,
        s.mempool
    )
}

/// `block <height>`: the block as JSON.
fn block(node: &Node, args: &[&str]) -> String {
    match block_arg(node, "block", args) {
        Ok(block) => serde_json::to_string(&block).expect("blocks serialize"),
        Err(e) => e,
    }
}

/// `peers`: one line per connected peer.
fn peers(node: &Node) -> String {
    let peers = node.peers();
    if peers.is_empty() {
        return "no peers".to_string();
    }
    peers
        .iter()
        .map(|p| {
            let listen = p.listen_addr.map_or("-".to_string(), |a| a.to_string());
            let dir = if p.outbound { "outbound" } else { "inbound" };
            let tip = match &p.tip {
                Some(tip) => format!("tip {} {}", tip.height, tip.hash.short()),
                None => "tip ?".to_string(),
            };
            format!(
                "{} node {} {dir}, listens on {listen}; {tip} ({})",
                p.addr, p.node_id, p.standing
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `tree [N]`: the last N heights, newest first: our block at each height (`*`), then the
/// others seen there (`o`), each with a few hex digits, its status and who gave it.
fn tree(node: &Node, args: &[&str]) -> String {
    let depth = match args {
        [] => 10,
        [n] => match n.parse::<u64>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return "usage: tree [N] (N from 1 to 1000 heights)".to_string(),
        },
        _ => return "usage: tree [N]".to_string(),
    };
    let entries = node.tree(depth);
    let mut lines = Vec::new();
    let mut heights: Vec<u64> = entries.iter().map(|(e, _)| e.height).collect();
    heights.dedup();
    for height in heights.into_iter().rev() {
        let here = entries.iter().filter(|(e, _)| e.height == height);
        let cells: Vec<String> = here
            .map(|(e, status)| {
                let mark = if *status == crate::node::block_tree::Status::Active {
                    "*"
                } else {
                    "o"
                };
                let from = if e.source.is_empty() {
                    String::new()
                } else {
                    format!(", from {}", e.source)
                };
                format!("{mark} {} {status}{from}", e.hash.short())
            })
            .collect();
        lines.push(format!("{height:>6}  {}", cells.join("   ")));
    }
    lines.join("\n")
}

/// `reorgs`: the last reorganizations, oldest first.
fn reorgs(node: &Node) -> String {
    let reorgs = node.reorgs();
    if reorgs.is_empty() {
        return "no reorganizations".to_string();
    }
    let now = crate::consensus::now_ms();
    reorgs
        .iter()
        .map(|r| {
            format!(
                "{} s ago: {} replaced by {}, tip {} -> {}, from {}",
                now.saturating_sub(r.at_ms) / 1000,
                plural(r.depth as usize, "block"),
                r.added,
                r.old_tip.short(),
                r.new_tip.short(),
                r.peer
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `connect <addr>`: dials a node and keeps redialing it.
fn connect(node: &Node, args: &[&str]) -> String {
    let [addr] = args else {
        return "usage: connect <port or host:port>".to_string();
    };
    match resolve_peer(addr) {
        Ok(a) => {
            node.connect(a);
            format!("connecting to {a}")
        }
        Err(e) => e,
    }
}

/// `address`: this node's address and public key.
fn address(node: &Node) -> String {
    format!(
        "address {}, public key {}",
        node.address(),
        node.public_key()
    )
}

/// `balance [addr]`: spendable, immature and pending coins.
fn balance(node: &Node, args: &[&str]) -> String {
    match address_arg(node, "balance", args) {
        Ok(address) => format!("{address}: {}", node.balance(&address)),
        Err(e) => e,
    }
}

/// `utxos [addr]`: the unspent outputs, oldest first.
fn utxos(node: &Node, args: &[&str]) -> String {
    let address = match address_arg(node, "utxos", args) {
        Ok(address) => address,
        Err(e) => return e,
    };
    let tip = node.summary().height;
    let lines: Vec<String> = node
        .utxos(&address)
        .iter()
        .map(|(outpoint, coin)| {
            let state = if tip + 1 >= coin.spendable_from() {
                String::new()
            } else {
                format!(", immature until height {}", coin.spendable_from())
            };
            format!(
                "{}:{} {} (block {}{state})",
                outpoint.txid,
                outpoint.index,
                format_coins(coin.amount),
                coin.height
            )
        })
        .collect();
    if lines.is_empty() {
        format!("{address} has no unspent outputs")
    } else {
        lines.join("\n")
    }
}

/// `send <address> <amount> [fee]`: parses the words and pays.
fn send(node: &Node, args: &[&str]) -> String {
    let paid = || -> Result<Hash, String> {
        let (to, amount, fee) = match args {
            [to, amount] => (to, amount, None),
            [to, amount, fee] => (to, amount, Some(fee)),
            _ => return Err("usage: send <address> <amount> [fee], amounts in coins".into()),
        };
        let to = parse_address(to).map_err(|e| e.to_string())?;
        let amount = parse_coins(amount).map_err(|e| e.to_string())?;
        let fee = match fee {
            Some(fee) => parse_coins(fee).map_err(|e| format!("fee: {e}"))?,
            None => DEFAULT_FEE,
        };
        node.send(to, amount, fee)
            .map_err(|e: WalletError| e.to_string())
    };
    match paid() {
        Ok(txid) => format!("sent: txid {txid}"),
        Err(e) => e,
    }
}

/// `tx <txid>`: where a transaction is, with its inputs and outputs.
fn tx(node: &Node, args: &[&str]) -> String {
    let [txid] = args else {
        return "usage: tx <txid>".to_string();
    };
    let txid = match txid.parse::<Hash>() {
        Ok(txid) => txid,
        Err(e) => return e.to_string(),
    };
    let Some(info) = node.transaction(&txid) else {
        if let Some(reason) = node.dropped_payment(&txid) {
            return format!("your payment {txid} left the mempool without being mined: {reason}");
        }
        return format!("no transaction {txid} in the mempool or the chain");
    };
    let place = match info.height {
        None => "in the mempool".to_string(),
        Some(h) => {
            let n = info.confirmations as usize;
            format!("in block {h}, {}", plural(n, "confirmation"))
        }
    };
    format!("tx {txid} {place}\n{}", describe(&info.tx))
}

/// A transaction's inputs and outputs, one per line.
fn describe(tx: &Transaction) -> String {
    let mut lines = Vec::new();
    for (i, input) in tx.inputs.iter().enumerate() {
        if tx.is_coinbase() {
            lines.push(format!(
                "  input {i}: coinbase (block {})",
                input.prev_index
            ));
        } else {
            lines.push(format!(
                "  input {i}: spends {}:{}",
                input.prev_txid, input.prev_index
            ));
        }
    }
    for (i, output) in tx.outputs.iter().enumerate() {
        lines.push(format!(
            "  output {i}: {} to {}",
            format_coins(output.amount),
            output.address
        ));
    }
    lines.join("\n")
}

/// `mempool`: the waiting transactions, with their fees.
fn mempool(node: &Node) -> String {
    let lines = node.mempool_lines();
    if lines.is_empty() {
        return "the mempool is empty".to_string();
    }
    lines
        .iter()
        .map(|l| {
            format!(
                "{} fee {} ({}, {}), {} units per input and output, waiting {} s",
                l.txid,
                format_coins(l.fee),
                plural(l.inputs, "input"),
                plural(l.outputs, "output"),
                l.fee_rate(),
                l.age.as_secs()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
