//! A connection: one TCP socket, read as whole messages and written as whole lines.
//!
//! [`open`] splits a socket into its two halves:
//!
//! - a [`MessageReader`], owned by the connection's session thread. Framing lives here and
//!   nowhere else: [`MessageReader::read_message`] returns `Ok(Some(msg))` for each complete
//!   line, `Ok(None)` when the peer closed cleanly between messages, and an error otherwise. A
//!   line that passes [`MAX_LINE_BYTES`] without a newline is refused at that point: we never
//!   buffer more than the limit, however much the peer sends.
//! - a [`MessageWriter`], shared by every thread that sends to this peer. Sending only puts the
//!   line in the peer's own queue, bounded by [`MAX_QUEUED_BYTES`], and returns at once; the
//!   connection's writer thread takes lines from the queue and writes them to the socket.
//!
//! Reading is done by hand over `BufReader::fill_buf` rather than `read_line` for two reasons:
//! a read timeout can fire in the middle of a line, and the bytes we already have must survive
//! it; and a peer that dribbles one byte at a time must still hit a deadline, which a blocking
//! `read_line` would never notice.
//!
//! Why a queue and a writer thread per peer: a peer that stops reading, or reads 64 KiB every
//! five seconds, must not slow anyone else down. When relaying wrote to each peer in turn, on
//! the thread that accepted or mined the block, one such peer held a new block back from every
//! honest peer for 18–29 s, and held up `mine` as long (a socket write timeout restarts with
//! every partial write, so it did not help). Now the slow peer's lines pile up in its own queue,
//! and its writer thread gives up on it when either
//!
//! - the queue would pass [`MAX_QUEUED_BYTES`] (a peer that asks faster than it reads), or
//! - one line is not fully written within the write timeout: a deadline for the whole line,
//!   not for each `write` call.
//!
//! Either way the socket is shut down, the session's reader sees the end, and the session logs
//! why. Bitcoin Core does much the same with a send buffer per peer (`-maxsendbuffer`) and a
//! timeout on sends that make no progress.
//!
//! See `tutorial/08-messages-and-framing.md` and `tutorial/11-defending-the-node.md`.

use crate::message::{ErrorReason, Message, MAX_LINE_BYTES};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Read buffer size. Sync moves megabytes of blocks; a bigger buffer means fewer syscalls.
/// A production node would tune this, or read straight into a message buffer.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// The most bytes waiting in one peer's send queue: two full-size lines (an honest peer that
/// syncs from us has at most two `get_blocks` answered and unread) and room for relays.
pub const MAX_QUEUED_BYTES: usize = 2 * MAX_LINE_BYTES + (1 << 20);

/// Why a connection could not yield a message. One enum for the network layer.
#[derive(Debug)]
pub enum NetError {
    /// No complete message arrived before the deadline or the socket's read timeout.
    Timeout,
    /// A line reached the length limit without a newline.
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The peer closed the connection part way through a line.
    ClosedMidMessage {
        /// How many bytes of the unfinished line had arrived.
        bytes: usize,
    },
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

/// Why a line could not be queued for a peer, or why its writer gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The queue would pass [`MAX_QUEUED_BYTES`].
    QueueFull {
        /// Bytes already waiting in the queue.
        queued: usize,
        /// Bytes of the line that did not fit.
        line: usize,
    },
    /// A line was not fully written within the write timeout.
    WriteTimedOut {
        /// Bytes of the line being written.
        bytes: usize,
        /// The write timeout, in milliseconds.
        timeout_ms: u128,
    },
    /// The socket failed while writing.
    WriteFailed(String),
    /// The connection is closing or closed.
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::QueueFull { queued, line } => write!(
                f,
                "send queue full: {queued} bytes waiting, {line} more would pass the limit of {MAX_QUEUED_BYTES}"
            ),
            SendError::WriteTimedOut { bytes, timeout_ms } => write!(
                f,
                "a {bytes}-byte message was not written within {timeout_ms} ms"
            ),
            SendError::WriteFailed(e) => write!(f, "write failed: {e}"),
            SendError::Closed => write!(f, "connection closed"),
        }
    }
}

impl std::error::Error for SendError {}

/// Splits `stream` into its reading half and its writing half, and starts the writer thread.
/// A line that takes longer than `write_timeout` to write closes the connection.
pub fn open(
    stream: TcpStream,
    write_timeout: Duration,
) -> io::Result<(MessageReader, Arc<MessageWriter>)> {
    // Every message leaves in one piece, so Nagle's algorithm has nothing to merge; it would
    // only hold a small message back waiting for an ACK (up to 40 ms on Linux).
    stream.set_nodelay(true)?;
    let addr = stream.peer_addr()?;
    let control = stream.try_clone()?;
    let out = stream.try_clone()?;
    let queue = Arc::new(Queue {
        state: Mutex::new(QueueState {
            lines: VecDeque::new(),
            bytes: 0,
            phase: Phase::Open,
        }),
        ready: Condvar::new(),
    });
    let thread_queue = Arc::clone(&queue);
    let thread = thread::Builder::new()
        .name(format!("writer {addr}"))
        .spawn(move || write_loop(&thread_queue, out, write_timeout))?;
    let writer = MessageWriter {
        queue,
        control,
        addr,
        thread: Mutex::new(Some(thread)),
    };
    Ok((MessageReader::new(stream), Arc::new(writer)))
}

/// Where the first `\n` in `bytes` is. Eight bytes at a time: a 600 KB batch of blocks is
/// scanned for its end as it arrives, and the byte-by-byte `iter().position` took 9 % of a
/// catch-up's time in the profile. XORed with eight newlines, a word's newline bytes become
/// zero bytes. Then `(x − 0x01…01) & !x & 0x80…80` is non-zero exactly when some byte of x is
/// zero: subtracting 1 from a zero byte borrows and sets its top bit; `& !x` drops the bytes
/// whose top bit was set already; and a borrow can only start at a zero byte, so nothing is
/// flagged in a word without one (a classic bit trick; `memchr` does the same, wider). The
/// word that has a newline, and the last few bytes, are then searched one byte at a time.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut start = 0;
    for word in bytes.chunks_exact(8) {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ NEWLINES;
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        start += 8;
    }
    bytes[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| start + i)
}

/// The reading half of a peer's socket.
pub struct MessageReader {
    reader: BufReader<TcpStream>,
    /// The line read so far (without its newline); kept across timeouts.
    line: Vec<u8>,
    /// The next complete message must arrive by then, whatever trickles in meanwhile.
    deadline: Option<Instant>,
    /// The longest line read on this connection, in bytes (for sync statistics).
    pub largest_line: usize,
}

impl MessageReader {
    /// Wraps `stream` for reading only (a connection refused before it starts needs no writer).
    pub fn new(stream: TcpStream) -> Self {
        MessageReader {
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
            let newline = find_newline(chunk);
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

/// Where a connection's writing stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Taking lines.
    Open,
    /// Write what is queued, then shut down our sending side (after an `error`).
    Finishing,
    /// Done; the reason, if it ended by failure.
    Closed(Option<SendError>),
}

struct QueueState {
    lines: VecDeque<Arc<[u8]>>,
    /// The bytes in `lines`.
    bytes: usize,
    phase: Phase,
}

struct Queue {
    state: Mutex<QueueState>,
    /// Signalled when a line is queued or the phase changes.
    ready: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Nothing under this lock can panic; recover the data rather than spread a poison.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writing half of a peer's socket: a bounded queue in front of the connection's writer
/// thread. Shared (`Arc`) by every thread that sends to this peer; no method ever waits for
/// the network.
pub struct MessageWriter {
    queue: Arc<Queue>,
    /// A handle on the same socket, so `close` never waits behind the writer thread.
    control: TcpStream,
    /// The peer's address, for log lines.
    pub addr: SocketAddr,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl MessageWriter {
    /// Queues one message.
    pub fn send(&self, message: &Message) -> Result<(), SendError> {
        self.send_line(message.encode().into())
    }

    /// Queues an already encoded line; a relay encodes once and shares the bytes with every
    /// peer. If the queue would pass its limit the connection is closed: the peer is not
    /// reading, and waiting for it would make the sender as slow as the peer.
    pub fn send_line(&self, line: Arc<[u8]>) -> Result<(), SendError> {
        let mut state = self.queue.lock();
        if let Phase::Closed(failure) = &state.phase {
            return Err(failure.clone().unwrap_or(SendError::Closed));
        }
        if state.phase != Phase::Open {
            return Err(SendError::Closed);
        }
        if state.bytes + line.len() > MAX_QUEUED_BYTES {
            let full = SendError::QueueFull {
                queued: state.bytes,
                line: line.len(),
            };
            state.phase = Phase::Closed(Some(full.clone()));
            drop(state);
            self.shut(Shutdown::Both);
            return Err(full);
        }
        state.bytes += line.len();
        state.lines.push_back(line);
        drop(state);
        self.queue.ready.notify_one();
        Ok(())
    }

    /// Queues `error` with `reason`, then lets the writer thread send what is queued and shut
    /// down our sending side. The reader should then [`drain`](MessageReader::drain) before
    /// the connection is closed.
    pub fn send_error(&self, reason: &str) {
        let _ = self.send(&Message::Error(ErrorReason {
            reason: reason.to_string(),
        }));
        let mut state = self.queue.lock();
        if state.phase == Phase::Open {
            state.phase = Phase::Finishing;
        }
        drop(state);
        self.queue.ready.notify_one();
    }

    /// Closes both directions at once, dropping whatever is queued. This wakes the session's
    /// reader with the end of the stream, and the writer thread if it is stuck in a write.
    pub fn close(&self) {
        let mut state = self.queue.lock();
        if !matches!(state.phase, Phase::Closed(_)) {
            state.phase = Phase::Closed(None);
        }
        state.lines.clear();
        state.bytes = 0;
        drop(state);
        self.queue.ready.notify_one();
        self.shut(Shutdown::Both);
    }

    /// Closes the connection and waits for its writer thread to end (quick: a closed socket
    /// fails any write in progress).
    pub fn close_and_join(&self) {
        self.close();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Why the writer gave up on this peer, if it did.
    pub fn failure(&self) -> Option<SendError> {
        match &self.queue.lock().phase {
            Phase::Closed(failure) => failure.clone(),
            _ => None,
        }
    }

    /// Bytes waiting to be written.
    pub fn queued_bytes(&self) -> usize {
        self.queue.lock().bytes
    }

    fn shut(&self, how: Shutdown) {
        let _ = self.control.shutdown(how);
    }
}

/// The writer thread: one line at a time from the queue to the socket, each within its
/// deadline. Ends when the connection closes, or after `Finishing` has sent the last line.
fn write_loop(queue: &Queue, mut stream: TcpStream, timeout: Duration) {
    loop {
        let line = {
            let mut state = queue.lock();
            loop {
                if matches!(state.phase, Phase::Closed(_)) {
                    return;
                }
                if let Some(line) = state.lines.pop_front() {
                    break line;
                }
                if state.phase == Phase::Finishing {
                    state.phase = Phase::Closed(None);
                    drop(state);
                    let _ = stream.shutdown(Shutdown::Write);
                    return;
                }
                state = queue.ready.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = write_within(&mut stream, &line, Instant::now() + timeout);
        let mut state = queue.lock();
        state.bytes -= line.len().min(state.bytes);
        if let Err(e) = result {
            if !matches!(state.phase, Phase::Closed(_)) {
                let failure = match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        SendError::WriteTimedOut {
                            bytes: line.len(),
                            timeout_ms: timeout.as_millis(),
                        }
                    }
                    _ => SendError::WriteFailed(e.to_string()),
                };
                state.phase = Phase::Closed(Some(failure));
            }
            state.lines.clear();
            state.bytes = 0;
            drop(state);
            // Wakes the session's reader, which then ends the session and logs the failure.
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Writes all of `buf` before `deadline`. The socket's write timeout is set to the time left
/// before each `write`, so a peer that takes a few bytes now and then still runs out of time.
fn write_within(stream: &mut TcpStream, buf: &[u8], deadline: Instant) -> io::Result<()> {
    let mut written = 0;
    while written < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(&buf[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `find_newline` agrees with the byte-by-byte search for every length up to three words
    /// and every position, among bytes one bit away from a newline (0x0b, 0x8a) and with a
    /// second newline after the first (the first counts).
    #[test]
    fn find_newline_finds_the_first() {
        for len in 0..24 {
            for at in 0..=len {
                let mut bytes: Vec<u8> =
                    (0..len).map(|i| [b'a', 0x0b, 0x8a, 0x09][i % 4]).collect();
                if at < len {
                    bytes[at] = b'\n';
                    if at + 3 < len {
                        bytes[at + 3] = b'\n';
                    }
                }
                let expected = bytes.iter().position(|&b| b == b'\n');
                assert_eq!(find_newline(&bytes), expected, "{bytes:?}");
            }
        }
    }
}
