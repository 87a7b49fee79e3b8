//! A connection: one TCP socket, read as whole messages and written as whole lines.
//!
//! Framing lives here and nowhere else. [`Connection::read_message`] returns `Ok(Some(msg))`
//! for each complete line, `Ok(None)` when the peer closed cleanly between messages, and an
//! error otherwise. A line that reaches [`MAX_LINE_BYTES`] without a newline is refused at that
//! point: we never buffer more than the limit, however much the peer sends.
//!
//! Reading is done by hand over `BufReader::fill_buf` rather than `read_line` for two reasons:
//! a read timeout can fire in the middle of a line, and the bytes we already have must survive
//! it; and a peer that dribbles one byte at a time must still hit a deadline, which a blocking
//! `read_line` would never notice.
//!
//! Writing goes through a [`Sender`], which other threads share to relay blocks. The socket has
//! a write timeout, so a peer that stops reading costs us at most that long, once: a failed
//! write shuts the socket down and its reader thread ends.
//!
//! See `tutorial/08-messages-and-framing.md`.

use crate::message::{ErrorReason, Message, MAX_LINE_BYTES};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Read buffer size. Sync moves megabytes of blocks; a bigger buffer means fewer syscalls.
/// A production node would tune this, or read straight into a message buffer.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Why a connection could not yield a message. One enum for the network layer.
#[derive(Debug)]
pub enum NetError {
    /// No complete message arrived before the deadline or the socket's read timeout.
    Timeout,
    /// A line reached the length limit without a newline.
    LineTooLong { limit: usize },
    /// The peer closed the connection part way through a line.
    ClosedMidMessage { bytes: usize },
    /// A complete line that is not a valid message; the string is the reason.
    Malformed(String),
    /// The socket failed.
    Io(io::Error),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Timeout => write!(f, "timed out waiting for a message"),
            NetError::LineTooLong { limit } => write!(f, "line longer than {limit} bytes"),
            NetError::ClosedMidMessage { bytes } => {
                write!(
                    f,
                    "connection closed after {bytes} bytes of an unfinished line"
                )
            }
            NetError::Malformed(reason) => f.write_str(reason),
            NetError::Io(e) => write!(f, "socket error: {e}"),
        }
    }
}

impl std::error::Error for NetError {}

impl From<io::Error> for NetError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => NetError::Timeout,
            _ => NetError::Io(e),
        }
    }
}

/// The reading half of a peer's socket.
pub struct Connection {
    reader: BufReader<TcpStream>,
    /// The line read so far (without its newline); kept across timeouts.
    line: Vec<u8>,
    /// The next complete message must arrive by then, whatever trickles in meanwhile.
    deadline: Option<Instant>,
    /// The longest line read on this connection, in bytes (for sync statistics).
    pub largest_line: usize,
}

impl Connection {
    /// Wraps `stream` for reading. Clone the stream first to keep a writing half.
    pub fn new(stream: TcpStream) -> Self {
        Connection {
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, stream),
            line: Vec::new(),
            deadline: None,
            largest_line: 0,
        }
    }

    /// Waits at most `wait` for the next message: sets the socket's read timeout and a deadline
    /// that also catches a peer sending a byte at a time.
    pub fn set_wait(&mut self, wait: Duration) -> io::Result<()> {
        self.deadline = Some(Instant::now() + wait);
        self.reader
            .get_ref()
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
    }

    /// Reads the next whole message. See the module docs for what each result means.
    pub fn read_message(&mut self) -> Result<Option<Message>, NetError> {
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return match self.line.len() {
                    0 => Ok(None),
                    bytes => Err(NetError::ClosedMidMessage { bytes }),
                };
            }
            let newline = chunk.iter().position(|&b| b == b'\n');
            let take = newline.unwrap_or(chunk.len());
            if self.line.len() + take > MAX_LINE_BYTES {
                return Err(NetError::LineTooLong {
                    limit: MAX_LINE_BYTES,
                });
            }
            self.line.extend_from_slice(&chunk[..take]);
            self.reader.consume(take + usize::from(newline.is_some()));
            if newline.is_some() {
                self.largest_line = self.largest_line.max(self.line.len() + 1);
                let parsed = Message::decode(&self.line).map_err(NetError::Malformed);
                self.line.clear();
                return parsed.map(Some);
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(NetError::Timeout);
            }
        }
    }

    /// Reads and discards what the peer still sends, for up to `wait` or `max_bytes`, so that
    /// closing does not reset the connection before the peer has read our `error` line (a
    /// socket closed with unread input sends a TCP reset, which can destroy data in flight).
    pub fn drain(&mut self, wait: Duration, max_bytes: usize) {
        let end = Instant::now() + wait;
        let _ = self
            .reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)));
        let mut scratch = [0u8; 8192];
        let mut drained = 0;
        while drained < max_bytes && Instant::now() < end {
            match self.reader.read(&mut scratch) {
                Ok(0) => return,
                Ok(n) => drained += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    }
}

/// The writing half of a peer's socket, shared by every thread that sends to this peer.
pub struct Sender {
    stream: Mutex<TcpStream>,
    /// A second handle on the same socket, so `close` never waits behind a stuck writer.
    control: TcpStream,
    /// The peer's address, for log lines.
    pub addr: SocketAddr,
}

impl Sender {
    /// Wraps a clone of the peer's socket, with a write timeout so a stuck peer cannot hold a
    /// sending thread for longer than `write_timeout`.
    pub fn new(stream: TcpStream, write_timeout: Duration) -> io::Result<Self> {
        stream.set_write_timeout(Some(write_timeout))?;
        // Every message leaves in one `write_all`, so Nagle's algorithm has nothing to merge;
        // it would only hold a small message back waiting for an ACK (up to 40 ms on Linux).
        stream.set_nodelay(true)?;
        let addr = stream.peer_addr()?;
        let control = stream.try_clone()?;
        Ok(Sender {
            stream: Mutex::new(stream),
            control,
            addr,
        })
    }

    /// Sends one message.
    pub fn send(&self, message: &Message) -> io::Result<()> {
        self.send_line(&message.encode())
    }

    /// Sends an already encoded line (so a relay encodes once for every peer). If the write
    /// fails or times out, the socket is shut down: a half-written line cannot be taken back,
    /// so the connection is useless anyway, and its reader thread will see the end.
    pub fn send_line(&self, line: &[u8]) -> io::Result<()> {
        // A poisoned lock only means another sender panicked mid-write; the socket is still a
        // socket, and `shutdown` below handles a broken one.
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        let result = stream.write_all(line);
        if result.is_err() {
            self.close();
        }
        result
    }

    /// Sends `error` with `reason` and shuts down our sending side. The reader should then
    /// [`drain`](Connection::drain) before dropping the socket.
    pub fn send_error(&self, reason: &str) {
        let _ = self.send(&Message::Error(ErrorReason {
            reason: reason.to_string(),
        }));
        let _ = self.control.shutdown(Shutdown::Write);
    }

    /// Closes both directions, which wakes the peer's reader thread with end-of-stream.
    pub fn close(&self) {
        let _ = self.control.shutdown(Shutdown::Both);
    }
}
