//! The App: a JSON API and the explorer page, served over [`http`](crate::app::http) beside the
//! P2P node.
//!
//! Routing is a `match` on the method and the path's segments, as the P2P side matches on
//! [`Message`](crate::message::Message). Every handler reaches the node only through [`Node`]'s
//! methods, the same ones the console calls where the two have the same command (`mine`,
//! `send`, `balance`, `tx`, `peers`, ...), so the two never disagree. None holds the chain lock
//! while it encodes or talks to the socket: the node's methods copy out under the lock and
//! release it, and the handler builds its JSON from the copy (as the P2P side does for
//! `blocks`).
//!
//! # Who may change things
//!
//! Reading is open: a classroom projects the page and students browse each other's nodes.
//! Every request must name this server in its `Host` header by an IP address or `localhost`
//! (see `host_is_ours`: no other site's page can borrow the API through DNS rebinding).
//! Requests that change something (mine, send, submit, connect) must
//!
//! - come from a loopback address: on a classroom LAN (`--http-bind 0.0.0.0`) a neighbour may
//!   look, but not spend your coins;
//! - carry `Content-Type: application/json`: a plain HTML form on another site cannot send
//!   that type, and a script on another site that tries must ask the browser first (a CORS
//!   preflight), which this server never approves;
//! - when they carry an `Origin` header (browsers always add it to such requests), name this
//!   server itself. A page on `http://evil.example` that makes the student's own browser post to
//!   `http://127.0.0.1:8080/api/send` is stopped here: that is cross-site request forgery.
//!
//! Bitcoin Core's RPC instead asks for a password (a cookie file) on every call, and binds to
//! localhost only; its REST interface is read-only.
//!
//! See `tutorial/20-http-api-and-explorer.md`.

use crate::app::http::Response;
use crate::app::http::{HttpServer, Request};
use crate::hash::Hash;
use crate::node::Node;
use crate::transaction::{OutPoint, Transaction};
use crate::wallet::{format_coins, parse_address, parse_coins, Balance, DEFAULT_FEE};
use crate::Block;
use serde_json::{json, Value};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::Arc;

/// The explorer page: HTML, CSS and JavaScript in one file, built into the binary.
pub const PAGE: &str = include_str!("explorer.html");

/// The network page (`/network`): the block tree near the tip and where each peer is, drawn
/// as SVG by its own script from `/api/tree`, `/api/peers` and `/api/reorgs`.
pub const NETWORK_PAGE: &str = include_str!("network.html");

/// At most this many blocks in one `GET /api/blocks`.
pub const MAX_BLOCKS_PER_PAGE: u64 = 100;

/// An answer that lists blocks holds at most this many bytes of them, by their size estimate
/// (and always one): the P2P line limit. A page of 100 full blocks would be 400 MB.
pub const MAX_ANSWER_BYTES: usize = crate::message::MAX_LINE_BYTES;

/// How far back `GET /api/address/...` looks for transactions touching the address.
pub const ADDRESS_HISTORY_BLOCKS: u64 = 200;

/// At most this many of those transactions are listed (the newest).
pub const MAX_ADDRESS_HISTORY: usize = 100;

/// At most this many unspent outputs in one `GET /api/address/...` page (100 by default); the
/// answer's `next` is the cursor for the page after.
pub const MAX_COINS_PER_PAGE: usize = 1_000;

/// Starts the App for `node` on `listener` (bound by the caller).
pub fn start(listener: TcpListener, node: Arc<Node>) -> io::Result<HttpServer> {
    let own = listener.local_addr()?;
    HttpServer::start(listener, move |request| handle(&node, request, own))
}

/// The methods each path allows, or `None` for a path we do not have.
fn allowed(segments: &[&str]) -> Option<&'static str> {
    match segments {
        [] | ["network"] => Some("GET"),
        ["api", "status" | "mempool" | "reorgs" | "tree"] => Some("GET"),
        ["api", "blocks"] | ["api", "blocks", _] | ["api", "tx", _] | ["api", "address", _] => {
            Some("GET")
        }
        ["api", "peers"] => Some("GET, POST"),
        ["api", "mine" | "send" | "transactions"] => Some("POST"),
        _ => None,
    }
}

/// Answers one request.
pub fn handle(node: &Node, request: &Request, own: SocketAddr) -> Response {
    if let Err(refused) = host_is_ours(request) {
        return refused;
    }
    let segments = request.segments();
    let Some(methods) = allowed(&segments) else {
        return Response::error(404, format!("no such path: {}", shorten(&request.path)));
    };
    if !methods.split(", ").any(|m| m == request.method) {
        let mut response = Response::error(
            405,
            format!(
                "{} {} is not allowed; use {methods}",
                shorten(&request.method),
                shorten(&request.path)
            ),
        );
        response.headers.push(("Allow", methods.to_string()));
        return response;
    }
    if request.method == "POST" {
        if let Err(refused) = may_write(request, own) {
            return refused;
        }
    }
    let answer = match (request.method.as_str(), segments.as_slice()) {
        ("GET", []) => return Response::html(PAGE),
        ("GET", ["network"]) => return Response::html(NETWORK_PAGE),
        ("GET", ["api", "status"]) => Ok(status(node)),
        ("GET", ["api", "blocks"]) => return blocks(node, request).unwrap_or_else(|e| e),
        ("GET", ["api", "blocks", id]) => return block(node, id).unwrap_or_else(|e| e),
        ("GET", ["api", "tx", txid]) => transaction(node, txid),
        ("GET", ["api", "address", text]) => address(node, text, request),
        ("GET", ["api", "peers"]) => Ok(peers(node)),
        ("GET", ["api", "mempool"]) => Ok(mempool(node)),
        ("GET", ["api", "reorgs"]) => Ok(reorgs(node)),
        ("GET", ["api", "tree"]) => tree(node, request),
        ("POST", ["api", "mine"]) => mine(node, request),
        ("POST", ["api", "send"]) => send(node, request),
        ("POST", ["api", "transactions"]) => submit(node, request),
        ("POST", ["api", "peers"]) => connect(node, request),
        _ => unreachable!("`allowed` lists every route"),
    };
    match answer {
        Ok(value) => Response::json(200, &value),
        Err(refused) => refused,
    }
}

/// DNS rebinding: a page on `evil.example` can point its own name at 127.0.0.1 and then read
/// this API from the student's browser as if it were its own site. The browser still sends
/// `Host: evil.example`, so only names that are this machine's by construction pass: an IP
/// address (what a classmate types for a teacher's node) or `localhost`. Jupyter and Bitcoin
/// Core's RPC check `Host` (or ask for a password) for the same reason.
fn host_is_ours(request: &Request) -> Result<(), Response> {
    let Some(host) = request.header("host") else {
        return Err(Response::error(400, "a Host header is required (HTTP/1.1)"));
    };
    let name = match host.strip_prefix('[') {
        // [v6]:port
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        },
    };
    let ours = name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok();
    if !ours {
        return Err(Response::error(
            403,
            format!(
                "Host {} is not this server's address or localhost: the API answers no other name",
                shorten(host)
            ),
        ));
    }
    Ok(())
}

/// The write rules of the module docs: loopback, JSON, and our own origin (if any).
fn may_write(request: &Request, own: SocketAddr) -> Result<(), Response> {
    // `to_canonical`: on a dual-stack socket (`--http-bind ::`) a local IPv4 client arrives as
    // ::ffff:127.0.0.1, which is loopback too.
    if !request.peer.ip().to_canonical().is_loopback() {
        return Err(Response::error(
            403,
            format!(
                "requests that change anything must come from this machine, not {}",
                request.peer.ip()
            ),
        ));
    }
    let json = request
        .header("content-type")
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        // 403 like the other two write rules, though HTTP's own code for a wrong body type
        // is 415: this is a refusal for safety, not a format we might learn to read.
        return Err(Response::error(
            403,
            "requests that change anything must have Content-Type: application/json",
        ));
    }
    if let Some(origin) = request.header("origin") {
        let port = own.port();
        let ours = [
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
            format!("http://[::1]:{port}"),
            format!("http://{own}"),
        ];
        if !ours.iter().any(|o| o == origin) {
            return Err(Response::error(
                403,
                format!("origin {} is not this server", shorten(origin)),
            ));
        }
    }
    Ok(())
}

fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

fn bad(message: impl std::fmt::Display) -> Response {
    Response::error(400, message)
}

fn not_found(message: impl std::fmt::Display) -> Response {
    Response::error(404, message)
}

/// The JSON body of a POST, or a 400 naming the problem.
fn body(request: &Request) -> Result<Value, Response> {
    if request.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&request.body).map_err(|e| bad(format!("the body is not JSON: {e}")))
}

/// A string field of a JSON body.
fn field<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, Response> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{name} must be a string"))),
    }
}

/// An amount in base units, with its `_coins` twin, as every answer shows amounts.
fn amount(value: &mut serde_json::Map<String, Value>, name: &str, units: u64) {
    value.insert(name.to_string(), json!(units));
    value.insert(format!("{name}_coins"), json!(format_coins(units)));
}

fn balance_json(balance: &Balance) -> Value {
    let mut value = serde_json::Map::new();
    amount(&mut value, "spendable", balance.spendable);
    amount(&mut value, "immature", balance.immature);
    amount(&mut value, "pending_in", balance.pending_in);
    amount(&mut value, "pending_out", balance.pending_out);
    Value::Object(value)
}

fn status(node: &Node) -> Value {
    let summary = node.summary();
    json!({
        "network": node.network().name(),
        "node_id": node.node_id(),
        "height": summary.height,
        "tip": summary.tip,
        // A string: chain work passes 2^53, past what JavaScript's numbers hold exactly.
        "work": summary.total_work.to_string(),
        "next_difficulty": summary.next_difficulty,
        "peers": node.peers().len(),
        "mempool": summary.mempool,
        "address": node.address(),
        "mining": node.mining().map(|(done, count)| json!({"done": done, "count": count})),
    })
}

/// A block with a `tx_count` and each transaction's total output, for the page.
fn block_json(block: &Block) -> Value {
    let mut value = serde_json::to_value(block).expect("blocks serialize");
    value["tx_count"] = json!(block.transactions.len());
    value
}

/// A block and its `tx_count`, serialized straight to JSON: a page of blocks never becomes a
/// `Value` tree, which would take several times the bytes of its text.
#[derive(serde::Serialize)]
struct BlockWithCount<'a> {
    #[serde(flatten)]
    block: &'a Block,
    tx_count: usize,
}

/// A page of `GET /api/blocks`: `next` is the `from` of the page below, if any.
#[derive(serde::Serialize)]
struct BlocksPage<'a> {
    tip: u64,
    blocks: Vec<BlockWithCount<'a>>,
    next: Option<u64>,
}

/// At most this many threads build big answers (pages of blocks) at once; the others wait
/// their turn, asleep.
///
/// Why: the server serves 64 connections at once, each on its own thread. With 64 readers of
/// heavy pages on 2 cores, each thread got 1/64 of the machine, the node's peer threads
/// included: an honest peer's `latest_block` waited 250 ms (p99) and the pages took 400 MB
/// together. With one builder per core the work is the same, done in turn: the heap holds two
/// pages, not 64, and the peer threads get their share of the CPU. A production server bounds
/// its work the same way, with a fixed pool of workers behind a queue.
struct Gate {
    busy: std::sync::Mutex<usize>,
    turn: std::sync::Condvar,
}

/// A turn at the [`Gate`], given back when dropped.
struct Turn<'a>(&'a Gate);

impl Gate {
    const fn new() -> Gate {
        Gate {
            busy: std::sync::Mutex::new(0),
            turn: std::sync::Condvar::new(),
        }
    }

    /// Waits for a turn: at most [`cores::count`](crate::cores::count) at once.
    fn enter(&self) -> Turn<'_> {
        let room = crate::cores::count().max(1);
        let busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let mut busy = self
            .turn
            .wait_while(busy, |busy| *busy >= room)
            .unwrap_or_else(|e| e.into_inner());
        *busy += 1;
        Turn(self)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.turn.notify_one();
    }
}

/// The gate for pages of blocks.
static BIG_ANSWERS: Gate = Gate::new();

fn blocks(node: &Node, request: &Request) -> Result<Response, Response> {
    let tip = node.summary().height;
    let from = number(request, "from", tip)?.min(tip);
    let limit = number(request, "limit", 10)?.clamp(1, MAX_BLOCKS_PER_PAGE);
    let _turn = BIG_ANSWERS.enter();
    // Copied out under the lock (only what fits in the byte cap), encoded here after it is
    // released.
    let copies = node.blocks_down_from(from, limit, MAX_ANSWER_BYTES);
    let next = match copies.last() {
        Some(last) if last.height > 0 => Some(last.height - 1),
        _ => None,
    };
    let blocks = copies
        .iter()
        .map(|block| BlockWithCount {
            block,
            tx_count: block.transactions.len(),
        })
        .collect();
    Ok(Response::json(200, &BlocksPage { tip, blocks, next }))
}

/// The number in query parameter `name`, `default` if absent, a 400 if not a number.
fn number(request: &Request, name: &str, default: u64) -> Result<u64, Response> {
    match request.query_param(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| bad(format!("{name} must be a number, not {:?}", shorten(text)))),
    }
}

/// One block, with its `tx_count` and `confirmations`: serialized straight to JSON, in turn at
/// the [`Gate`], since a full block is 4 MiB of it.
#[derive(serde::Serialize)]
struct OneBlock<'a> {
    #[serde(flatten)]
    block: BlockWithCount<'a>,
    confirmations: u64,
}

fn block(node: &Node, id: &str) -> Result<Response, Response> {
    let _turn = BIG_ANSWERS.enter();
    let found = if let Ok(height) = id.parse::<u64>() {
        node.block(height)
    } else if let Ok(hash) = id.parse::<Hash>() {
        node.block_by_hash(&hash)
    } else {
        return Err(bad(format!(
            "{:?} is neither a height nor a block hash",
            shorten(id)
        )));
    };
    let block = found.ok_or_else(|| not_found(format!("no block {}", shorten(id))))?;
    // Saturating: the chain may have been reorganized below this block since we read it.
    let confirmations = (node.summary().height + 1).saturating_sub(block.height);
    let one = OneBlock {
        block: BlockWithCount {
            block: &block,
            tx_count: block.transactions.len(),
        },
        confirmations,
    };
    Ok(Response::json(200, &one))
}

fn transaction(node: &Node, txid: &str) -> Result<Value, Response> {
    let txid: Hash = txid.parse().map_err(bad)?;
    let info = node
        .transaction(&txid)
        .ok_or_else(|| match node.dropped_payment(&txid) {
            Some(reason) => not_found(format!(
                "your payment {txid} left the mempool without being mined: {reason}"
            )),
            None => not_found(format!("no transaction {txid} in the mempool or the chain")),
        })?;
    Ok(json!({
        "transaction": info.tx,
        "in_mempool": info.height.is_none(),
        "height": info.height,
        "confirmations": info.confirmations,
    }))
}

/// A coin's place in an address's pages, as text: `<height>:<txid>:<index>`.
fn cursor_text(height: u64, outpoint: &OutPoint) -> String {
    format!("{height}:{}:{}", outpoint.txid, outpoint.index)
}

/// Reads a cursor written by [`cursor_text`].
fn parse_cursor(text: &str) -> Result<(u64, OutPoint), Response> {
    let wrong = || {
        bad(format!(
            "after must be <height>:<txid>:<index>, not {:?}",
            shorten(text)
        ))
    };
    // A browser's URLSearchParams sends ':' as %3A.
    let text = text.replace("%3A", ":").replace("%3a", ":");
    let mut parts = text.split(':');
    let (Some(height), Some(txid), Some(index), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(wrong());
    };
    let height = height.parse().map_err(|_| wrong())?;
    let txid = txid.parse().map_err(|_| wrong())?;
    let index = index.parse().map_err(|_| wrong())?;
    Ok((height, OutPoint { txid, index }))
}

/// An address: its balance, one page of its unspent outputs (oldest first; `after` is the
/// cursor of the last one seen, `limit` how many, and `next` the cursor for the next page),
/// and its newest transactions. Every part is bounded, whatever the address holds.
fn address(node: &Node, text: &str, request: &Request) -> Result<Value, Response> {
    let address = parse_address(text).map_err(bad)?;
    let after = request.query_param("after").map(parse_cursor).transpose()?;
    let limit = number(request, "limit", 100)?.clamp(1, MAX_COINS_PER_PAGE as u64) as usize;
    let balance = node.balance(&address);
    let tip = node.summary().height;
    // One more than asked, to know whether a page follows: `next` is null on the last.
    let (mut page, total) = node.utxos_page(&address, after, limit + 1);
    let more = page.len() > limit;
    page.truncate(limit);
    let next = match page.last() {
        Some((outpoint, coin)) if more => Some(cursor_text(coin.height, outpoint)),
        _ => None,
    };
    let utxos: Vec<Value> = page
        .iter()
        .map(|(outpoint, coin)| {
            let mut value = serde_json::Map::new();
            value.insert("txid".into(), json!(outpoint.txid));
            value.insert("index".into(), json!(outpoint.index));
            amount(&mut value, "amount", coin.amount);
            value.insert("height".into(), json!(coin.height));
            value.insert("coinbase".into(), json!(coin.coinbase));
            value.insert("mature".into(), json!(tip + 1 >= coin.spendable_from()));
            Value::Object(value)
        })
        .collect();
    let low = tip.saturating_sub(ADDRESS_HISTORY_BLOCKS);
    let recent: Vec<Value> = node
        .history(&address, tip, low, MAX_ADDRESS_HISTORY)
        .into_iter()
        .map(|(txid, height)| json!({ "txid": txid, "height": height }))
        .collect();
    let mut value = serde_json::Map::new();
    value.insert("address".into(), json!(address));
    value.insert("balance".into(), balance_json(&balance));
    value.insert("utxo_count".into(), json!(total));
    value.insert("utxos".into(), json!(utxos));
    value.insert("next".into(), json!(next));
    value.insert("recent".into(), json!(recent));
    Ok(Value::Object(value))
}

fn peers(node: &Node) -> Value {
    let list: Vec<Value> = node
        .peers()
        .iter()
        .map(|p| {
            json!({
                "addr": p.addr.to_string(),
                "node_id": p.node_id,
                "outbound": p.outbound,
                "listen_addr": p.listen_addr.map(|a| a.to_string()),
                "tip": p.tip.as_ref().map(|t| json!({
                    "height": t.height,
                    "hash": t.hash,
                    "fork": t.fork,
                })),
                "standing": p.standing.to_string(),
            })
        })
        .collect();
    // The addresses the node knows of, dialed or not: a teacher's page shows who is around.
    let known: Vec<String> = node
        .known_addresses()
        .iter()
        .take(100)
        .map(|a| a.to_string())
        .collect();
    json!({ "peers": list, "known": known })
}

/// The block tree near the tip: `depth` heights (10 by default, at most 1 000), lowest first.
fn tree(node: &Node, request: &Request) -> Result<Value, Response> {
    let depth = number(request, "depth", 10)?.clamp(1, 1_000);
    let list: Vec<Value> = node
        .tree(depth)
        .iter()
        .map(|(e, status)| {
            let (status, rule) = match status {
                crate::node::block_tree::Status::Invalid(rule) => ("invalid", Some(rule)),
                other => (
                    match other {
                        crate::node::block_tree::Status::Active => "active",
                        crate::node::block_tree::Status::Stale => "stale",
                        _ => "side",
                    },
                    None,
                ),
            };
            json!({
                "hash": e.hash,
                "parent": e.parent,
                "height": e.height,
                "difficulty": e.difficulty,
                "first_seen_ms": e.first_seen_ms,
                "source": e.source,
                "status": status,
                "rule": rule,
            })
        })
        .collect();
    Ok(json!({ "tip": node.summary().height, "blocks": list }))
}

/// The last reorganizations, oldest first (at most 100).
fn reorgs(node: &Node) -> Value {
    let list: Vec<Value> = node
        .reorgs()
        .iter()
        .map(|r| {
            json!({
                "at_ms": r.at_ms,
                "depth": r.depth,
                "added": r.added,
                "old_tip": r.old_tip,
                "new_tip": r.new_tip,
                "peer": r.peer,
            })
        })
        .collect();
    json!({ "reorgs": list })
}

fn mempool(node: &Node) -> Value {
    let list: Vec<Value> = node
        .mempool_lines()
        .iter()
        .map(|l| {
            let mut value = serde_json::Map::new();
            value.insert("txid".into(), json!(l.txid));
            amount(&mut value, "fee", l.fee);
            value.insert("inputs".into(), json!(l.inputs));
            value.insert("outputs".into(), json!(l.outputs));
            value.insert("fee_rate".into(), json!(l.fee_rate()));
            value.insert("age_s".into(), json!(l.age.as_secs()));
            Value::Object(value)
        })
        .collect();
    json!({ "transactions": list })
}

/// `{"text": "..."}` mines one block and answers it; with `"count": N` (1 to 100) it starts a
/// batch in the background and answers at once (`GET /api/status` shows its progress);
/// `{"stop": true}` stops a batch.
fn mine(node: &Node, request: &Request) -> Result<Value, Response> {
    let body = body(request)?;
    let data = match field(&body, "text")? {
        Some(text) if !text.is_empty() => vec![text.to_string()],
        _ => vec![],
    };
    if body.get("stop") == Some(&Value::Bool(true)) {
        let stopped = node
            .stop_mining()
            .map(|(done, count)| json!({"done": done, "count": count}));
        return Ok(json!({ "stopped": stopped }));
    }
    match body.get("count") {
        None | Some(Value::Null) => {}
        Some(count) => {
            let count = count
                .as_u64()
                .ok_or_else(|| bad("count must be a whole number"))?;
            node.mine_many(count, data)
                .map_err(|e| Response::error(400, format!("could not mine: {e}")))?;
            return Ok(json!({ "mining": count }));
        }
    }
    let block = node
        .mine(data)
        .map_err(|e| Response::error(400, format!("could not mine: {e}")))?;
    Ok(block_json(&block))
}

fn send(node: &Node, request: &Request) -> Result<Value, Response> {
    let body = body(request)?;
    let to = field(&body, "to")?.ok_or_else(|| bad("to is missing"))?;
    let amount = field(&body, "amount")?.ok_or_else(|| bad("amount is missing"))?;
    let to = parse_address(to).map_err(bad)?;
    let amount = parse_coins(amount).map_err(bad)?;
    let fee = match field(&body, "fee")? {
        Some(fee) => parse_coins(fee).map_err(|e| bad(format!("fee: {e}")))?,
        None => DEFAULT_FEE,
    };
    let txid = node.send(to, amount, fee).map_err(bad)?;
    Ok(json!({ "txid": txid }))
}

fn submit(node: &Node, request: &Request) -> Result<Value, Response> {
    let tx: Transaction = serde_json::from_slice(&request.body)
        .map_err(|e| bad(format!("not a transaction: {e}")))?;
    let txid = tx.txid;
    let fee = node
        .submit_transaction(tx)
        .map_err(|rejected| bad(format!("tx {}…: {rejected}", txid.short())))?;
    let mut value = serde_json::Map::new();
    value.insert("txid".into(), json!(txid));
    amount(&mut value, "fee", fee);
    Ok(Value::Object(value))
}

fn connect(node: &Node, request: &Request) -> Result<Value, Response> {
    let body = body(request)?;
    let addr = field(&body, "addr")?.ok_or_else(|| bad("addr is missing"))?;
    let addr = crate::app::resolve_peer(addr).map_err(bad)?;
    node.connect(addr);
    Ok(json!({ "connecting": addr.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// However many threads want a turn at once, at most one per core has it, and every one
    /// gets it in the end.
    #[test]
    fn the_gate_admits_one_builder_per_core() {
        let gate = Gate::new();
        let (inside, most, done) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| {
                    let _turn = gate.enter();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(done.load(Ordering::SeqCst), 16);
        let most = most.load(Ordering::SeqCst);
        assert!(
            (1..=crate::cores::count().max(1)).contains(&most),
            "{most} at once"
        );
    }
}
