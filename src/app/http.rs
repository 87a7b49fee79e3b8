//! A small HTTP/1.1 server, by hand: enough of the protocol for a JSON API and one page.
//!
//! # Format
//!
//! A request is a request line, header lines, an empty line, and a body of exactly
//! `Content-Length` bytes:
//!
//! ```text
//! POST /api/mine HTTP/1.1\r\n
//! Host: 127.0.0.1:8080\r\n
//! Content-Type: application/json\r\n
//! Content-Length: 16\r\n
//! \r\n
//! {"text":"hello"}
//! ```
//!
//! The answer has the same shape: a status line, headers, an empty line, the body. Every answer
//! here says `Connection: close` and the server closes after it, so one connection carries one
//! request: no keep-alive, no pipelining, no chunked bodies. That is all a browser and `curl`
//! need, and it keeps every connection's life to one read and one write.
//!
//! Like the P2P side (chapter 11), nothing a client sends is trusted: the request line and
//! headers together are at most 16 KiB (431 beyond), a body at most 1 MiB (413), the whole
//! request must arrive within a deadline (a client sending one byte a second is cut off), the
//! whole connection, answer included, lives at most 10 s (a client that reads its answer a
//! trickle at a time is cut off too), and at most 64 connections are served at once (the next
//! get 503), at most 8 of them from any one address other than this machine, and 8 kept for
//! this machine (see [`Slots`]). The Rust Book's final chapter
//! builds a server of the same shape; a production node uses a vetted HTTP library (Bitcoin
//! Core uses libevent's) and an authenticated RPC.
//!
//! See `tutorial/20-http-api-and-explorer.md`.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The request line and the headers together may take at most this many bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// A body may be at most this long.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// At most this many connections are served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// At most this many at once from one address that is not this machine's.
pub const MAX_PER_ADDRESS: usize = 8;
/// This many of the slots are kept for this machine (loopback): other addresses together
/// never hold more than `MAX_CONNECTIONS - RESERVED_FOR_LOOPBACK`.
pub const RESERVED_FOR_LOOPBACK: usize = 8;
/// A whole request must arrive within this long.
pub const READ_DEADLINE: Duration = Duration::from_secs(5);
/// A connection lives at most this long, from its accept to its close: reading the request,
/// writing the answer (however slowly the client reads it) and draining.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);
/// How long, in all, a connection is read after its answer before it is closed.
pub const DRAIN_WAIT: Duration = Duration::from_millis(500);

/// One request, read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query: `/api/blocks/5`.
    pub path: String,
    /// The query string after `?`, without it (empty if none).
    pub query: String,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// Exactly `Content-Length` bytes.
    pub body: Vec<u8>,
    /// Who sent it.
    pub peer: SocketAddr,
}

impl Request {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path's segments: `/api/blocks/5` → `["api", "blocks", "5"]`.
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    /// The value of query parameter `name` (`?from=5&limit=10`), as sent (no decoding).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers (such as `Allow`).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// `value` as JSON. Any `Serialize` type, so a big answer can be written straight from
    /// its copy, without a `serde_json::Value` tree (several times the JSON's size) between.
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Response {
        Response {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: serde_json::to_vec(value).expect("answers serialize"),
        }
    }

    /// `{"error":"<message>"}` with `status`.
    pub fn error(status: u16, message: impl fmt::Display) -> Response {
        Response::json(status, &serde_json::json!({ "error": message.to_string() }))
    }

    /// An HTML page.
    pub fn html(page: &str) -> Response {
        Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            headers: Vec::new(),
            body: page.as_bytes().to_vec(),
        }
    }

    /// The whole answer as bytes: status line, headers, empty line, body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.head();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// The status line, the headers and the empty line: what comes before the body.
    pub fn head(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
             Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// The standard phrase for the status codes we send.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Why a request could not be read. Each has its answer, except a client that vanished.
#[derive(Debug)]
pub enum HttpError {
    /// Not HTTP as we speak it: 400 with the reason.
    BadRequest(String),
    /// The request line and headers passed [`MAX_HEAD_BYTES`]: 431.
    HeadTooLarge,
    /// `Content-Length` over [`MAX_BODY_BYTES`]: 413.
    BodyTooLarge {
        /// The `Content-Length` the client sent.
        length: u64,
    },
    /// The request did not arrive within [`READ_DEADLINE`]: 408-like; we answer 400.
    TooSlow,
    /// The connection failed or closed early: no answer.
    Io(io::Error),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::BadRequest(reason) => write!(f, "{reason}"),
            HttpError::HeadTooLarge => write!(
                f,
                "request line and headers are longer than {MAX_HEAD_BYTES} bytes"
            ),
            HttpError::BodyTooLarge { length } => write!(
                f,
                "a body of {length} bytes is longer than {MAX_BODY_BYTES}"
            ),
            HttpError::TooSlow => write!(
                f,
                "the request did not arrive within {} ms",
                READ_DEADLINE.as_millis()
            ),
            HttpError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl HttpError {
    /// The answer to send, if any.
    pub fn response(&self) -> Option<Response> {
        let status = match self {
            HttpError::BadRequest(_) | HttpError::TooSlow => 400,
            HttpError::HeadTooLarge => 431,
            HttpError::BodyTooLarge { .. } => 413,
            HttpError::Io(_) => return None,
        };
        Some(Response::error(status, self))
    }
}

/// A stream whose every read must finish by one deadline: a client cannot keep a connection
/// by trickling a byte at a time, since the socket timeout shrinks as the deadline nears.
struct Deadlined {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

fn io_error(e: io::Error) -> HttpError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => HttpError::TooSlow,
        _ => HttpError::Io(e),
    }
}

/// Reads one request from `stream`, within [`READ_DEADLINE`] and the size limits.
pub fn read_request(stream: &TcpStream, peer: SocketAddr) -> Result<Request, HttpError> {
    let stream = stream.try_clone().map_err(HttpError::Io)?;
    let mut reader = BufReader::new(Deadlined {
        stream,
        deadline: Instant::now() + READ_DEADLINE,
    });
    let mut head_bytes = 0;
    let mut next_line = |reader: &mut BufReader<Deadlined>| -> Result<String, HttpError> {
        let mut line = Vec::new();
        let room = (MAX_HEAD_BYTES - head_bytes) as u64;
        // `take` bounds the read: a line without end stops at the limit, unbuffered beyond it.
        let n = reader
            .by_ref()
            .take(room + 1)
            .read_until(b'\n', &mut line)
            .map_err(io_error)?;
        head_bytes += n;
        if head_bytes > MAX_HEAD_BYTES {
            return Err(HttpError::HeadTooLarge);
        }
        if !line.ends_with(b"\n") {
            return Err(HttpError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
        String::from_utf8(line).map_err(|_| HttpError::BadRequest("the head is not UTF-8".into()))
    };

    let request_line = next_line(&mut reader)?;
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Err(HttpError::BadRequest(format!(
            "a request line is METHOD TARGET HTTP/1.1, not {:?}",
            shorten(&request_line)
        )));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HttpError::BadRequest(format!(
            "method {:?} is not an uppercase token",
            shorten(method)
        )));
    }
    if !matches!(*version, "HTTP/1.1" | "HTTP/1.0") {
        return Err(HttpError::BadRequest(format!(
            "version {:?} is not HTTP/1.1 or HTTP/1.0",
            shorten(version)
        )));
    }
    if !target.starts_with('/') {
        return Err(HttpError::BadRequest(format!(
            "target {:?} does not start with /",
            shorten(target)
        )));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));

    let mut headers = Vec::new();
    loop {
        let line = next_line(&mut reader)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::BadRequest(format!(
                "header line {:?} has no colon",
                shorten(&line)
            )));
        };
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(token) {
            return Err(HttpError::BadRequest(format!(
                "header name {:?} is not a token",
                shorten(name)
            )));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }

    if headers.iter().any(|(n, _)| n == "transfer-encoding") {
        return Err(HttpError::BadRequest(
            "Transfer-Encoding is not supported: send a Content-Length".into(),
        ));
    }
    let lengths: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v.as_str())
        .collect();
    let length = match lengths.as_slice() {
        [] => 0,
        [one] if !one.is_empty() && one.bytes().all(|b| b.is_ascii_digit()) => {
            one.parse::<u64>().unwrap_or(u64::MAX)
        }
        [one] => {
            return Err(HttpError::BadRequest(format!(
                "Content-Length {:?} is not a number",
                shorten(one)
            )))
        }
        _ => return Err(HttpError::BadRequest("more than one Content-Length".into())),
    };
    if length > MAX_BODY_BYTES as u64 {
        return Err(HttpError::BodyTooLarge { length });
    }
    let mut body = vec![0; length as usize];
    reader.read_exact(&mut body).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => HttpError::BadRequest(format!(
            "the body ended before its Content-Length of {length} bytes"
        )),
        _ => io_error(e),
    })?;
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
        peer,
    })
}

/// At most 100 characters of client input, for a reason.
fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

/// Who may hold the server's connection slots. A classroom LAN (`--http-bind 0.0.0.0`) is the
/// threat: 64 connections from one laptop that read slowly once held the page at 503 for
/// everyone for a minute. So an address other than this machine's holds at most
/// [`MAX_PER_ADDRESS`] slots, and [`RESERVED_FOR_LOOPBACK`] slots are this machine's alone, so
/// the student's own page always loads. Loopback has no share of its own: on one machine every
/// client is `127.0.0.1`, and a program there could as well stop the node. (A classmate behind
/// one NAT address with others shares their 8; production servers rate-limit by address the
/// same way, with the same blind spot.)
#[derive(Debug, Default)]
pub struct Slots {
    held: std::sync::Mutex<SlotCounts>,
}

#[derive(Debug, Default)]
struct SlotCounts {
    total: usize,
    remote: usize,
    by_address: std::collections::HashMap<std::net::IpAddr, usize>,
}

/// A connection slot; it is given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    ip: std::net::IpAddr,
}

/// Why a connection got no slot: the 503's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoSlot {
    /// Every slot it may use is taken.
    Full,
    /// Its address holds its share already.
    AddressShare(std::net::IpAddr),
}

impl fmt::Display for NoSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoSlot::Full => write!(f, "too many connections; try again"),
            NoSlot::AddressShare(ip) => write!(
                f,
                "too many connections from {ip} ({MAX_PER_ADDRESS} at once); try again"
            ),
        }
    }
}

impl Slots {
    /// A slot for a client at `ip`, if the rules above leave one.
    pub fn take(slots: &Arc<Slots>, ip: std::net::IpAddr) -> Result<Slot, NoSlot> {
        let ip = ip.to_canonical();
        let mut held = slots.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.total >= MAX_CONNECTIONS {
            return Err(NoSlot::Full);
        }
        if !ip.is_loopback() {
            if held.remote >= MAX_CONNECTIONS - RESERVED_FOR_LOOPBACK {
                return Err(NoSlot::Full);
            }
            let mine = held.by_address.entry(ip).or_insert(0);
            if *mine >= MAX_PER_ADDRESS {
                return Err(NoSlot::AddressShare(ip));
            }
            *mine += 1;
            held.remote += 1;
        }
        held.total += 1;
        Ok(Slot {
            slots: Arc::clone(slots),
            ip,
        })
    }

    /// How many slots are held.
    pub fn held(&self) -> usize {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(|e| e.into_inner());
        held.total -= 1;
        if !self.ip.is_loopback() {
            held.remote -= 1;
            if let Some(mine) = held.by_address.get_mut(&self.ip) {
                *mine -= 1;
                if *mine == 0 {
                    held.by_address.remove(&self.ip);
                }
            }
        }
    }
}

/// A running HTTP server: an accept thread, and a thread per connection.
pub struct HttpServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves `listener` (bound by the caller), answering each request with `handle`.
    pub fn start(
        listener: TcpListener,
        handle: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> io::Result<HttpServer> {
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let handle = Arc::new(handle);
        let slots = Arc::new(Slots::default());
        let turned_away = Arc::new(AtomicUsize::new(0));
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else {
                    // Out of file descriptors, say: back off instead of spinning.
                    thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let deadline = Instant::now() + CONNECTION_DEADLINE;
                let Ok(peer) = stream.peer_addr() else {
                    continue;
                };
                let slot = match Slots::take(&slots, peer.ip()) {
                    Ok(slot) => slot,
                    Err(no_slot) => {
                        // Turned away on a short-lived thread of its own: answering takes a
                        // moment of reading too (see `finish`), which the accept thread must
                        // not spend. Past 64 of those at once, connections are just closed.
                        if turned_away.fetch_add(1, Ordering::SeqCst) < MAX_CONNECTIONS {
                            let turned_away = Arc::clone(&turned_away);
                            thread::spawn(move || {
                                let busy = Response::error(503, no_slot);
                                let deadline = Instant::now() + DRAIN_WAIT * 2;
                                finish(&stream, &busy, deadline);
                                turned_away.fetch_sub(1, Ordering::SeqCst);
                            });
                        } else {
                            turned_away.fetch_sub(1, Ordering::SeqCst);
                        }
                        continue;
                    }
                };
                let handle = Arc::clone(&handle);
                thread::spawn(move || {
                    serve(&stream, peer, &*handle, deadline);
                    drop(slot);
                });
            }
        });
        Ok(HttpServer {
            addr,
            stopping,
            accept: Some(accept),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept thread with a connection of our own, as the node does.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            if let Some(accept) = self.accept.take() {
                let _ = accept.join();
            }
        }
    }
}

/// One connection: read a request, answer it, close, all before `deadline`.
fn serve(
    stream: &TcpStream,
    peer: SocketAddr,
    handle: &dyn Fn(&Request) -> Response,
    deadline: Instant,
) {
    let response = match read_request(stream, peer) {
        Ok(request) => handle(&request),
        Err(e) => match e.response() {
            Some(response) => response,
            None => return,
        },
    };
    finish(stream, &response, deadline);
}

/// Writes `response` and closes, reading for a moment first what the client may still be
/// sending (a body longer than declared, a request we did not read), so that closing does not
/// reset the connection before our answer arrives. The moment is [`DRAIN_WAIT`] in all, not
/// per read: a client that trickles a byte now and then after its answer would otherwise keep
/// the connection's slot for as long as it likes.
///
/// Everything ends by `deadline`, the write too. A write timeout alone is not enough: it
/// bounds one `write` call, and a client that reads a few kilobytes just before each timeout
/// keeps every call alive, so the answer is written in pieces, each given what is left.
fn finish(stream: &TcpStream, response: &Response, deadline: Instant) {
    let mut stream = stream;
    // The head, then the body from where it lies: no copy of a 4 MiB answer per connection.
    let head = response.head();
    for piece in head
        .chunks(64 * 1024)
        .chain(response.body.chunks(64 * 1024))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero()
            || stream.set_write_timeout(Some(left)).is_err()
            || stream.write_all(piece).is_err()
        {
            return;
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let until = deadline.min(Instant::now() + DRAIN_WAIT);
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < MAX_BODY_BYTES {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Query parameters and path segments come apart as a router wants them.
    #[test]
    fn request_parts() {
        let request = Request {
            method: "GET".into(),
            path: "/api/blocks/5".into(),
            query: "from=7&limit=3".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Vec::new(),
            peer: "127.0.0.1:1".parse().unwrap(),
        };
        assert_eq!(request.segments(), ["api", "blocks", "5"]);
        assert_eq!(request.query_param("limit"), Some("3"));
        assert_eq!(request.query_param("nope"), None);
        assert_eq!(request.header("Content-Type"), Some("application/json"));
        let bytes = Response::error(404, "no such path").to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("Content-Length: 24\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"error\":\"no such path\"}"));
    }

    /// One address on the LAN holds at most its share; the LAN together leaves this machine
    /// its reserve; this machine may use every slot; and a slot given back can be taken again.
    #[test]
    fn slots_are_shared() {
        use std::net::{IpAddr, Ipv4Addr};
        let lan = |n: u8| IpAddr::V4(Ipv4Addr::new(192, 168, 1, n));
        let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let slots = Arc::new(Slots::default());
        let mut held: Vec<Slot> = (0..MAX_PER_ADDRESS)
            .map(|_| Slots::take(&slots, lan(1)).unwrap())
            .collect();
        assert_eq!(
            Slots::take(&slots, lan(1)).unwrap_err(),
            NoSlot::AddressShare(lan(1))
        );
        // The same address written as IPv6 is the same address.
        let mapped: IpAddr = "::ffff:192.168.1.1".parse().unwrap();
        assert!(Slots::take(&slots, mapped).is_err());
        let remote_room = MAX_CONNECTIONS - RESERVED_FOR_LOOPBACK;
        for n in 2.. {
            if held.len() == remote_room {
                break;
            }
            held.push(Slots::take(&slots, lan(n)).unwrap());
        }
        assert_eq!(Slots::take(&slots, lan(200)).unwrap_err(), NoSlot::Full);
        for _ in 0..RESERVED_FOR_LOOPBACK {
            held.push(Slots::take(&slots, local).unwrap());
        }
        assert_eq!(slots.held(), MAX_CONNECTIONS);
        assert_eq!(Slots::take(&slots, local).unwrap_err(), NoSlot::Full);
        held.truncate(MAX_PER_ADDRESS - 1);
        assert_eq!(slots.held(), MAX_PER_ADDRESS - 1);
        assert!(
            Slots::take(&slots, lan(1)).is_ok(),
            "given back, taken again"
        );
        let loopback_only: Vec<Slot> = (0..MAX_CONNECTIONS - MAX_PER_ADDRESS + 1)
            .map(|_| Slots::take(&slots, local).unwrap())
            .collect();
        assert_eq!(slots.held(), MAX_CONNECTIONS);
        drop(loopback_only);
    }
}
