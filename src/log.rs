//! The node's log: lines go down a bounded channel to one logger thread that prints them.
//!
//! Why a thread: printing blocks when nobody reads standard output (Ctrl-S in a terminal, a
//! stalled `| grep`). When every thread printed for itself, the accept thread blocked in
//! `println!` after about 590 connections, and new peers stopped getting their `hello`. Now a
//! thread hands its line over with `try_send` and moves on; if the logger is that far behind,
//! the line is dropped and counted, and the logger says so when it can write again:
//!
//! ```text
//! [!] 37 log lines dropped
//! ```
//!
//! A line never quotes more than [`MAX_QUOTE_CHARS`] characters of what a peer sent (see
//! [`quote`]): a peer that sends a 4 MB `nonce` must not get 4 MB written to our terminal.
//! A production node (Bitcoin Core's `debug.log`) writes to a file, rate-limits repeated
//! lines and rotates the file; ours prints to the terminal, where students watch it.
//!
//! See `tutorial/11-defending-the-node.md`.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How many lines may wait for the logger thread before new ones are dropped.
pub const LOG_QUEUE_LINES: usize = 1_024;

/// The most characters of a peer's input a reason or a log line quotes.
pub const MAX_QUOTE_CHARS: usize = 200;

/// The longest log line written, in characters; a longer one is cut (a safety net behind
/// [`quote`]).
pub const MAX_LOG_LINE_CHARS: usize = 1_000;

/// A handle on the logger thread. Clones share the thread; a logger made with
/// [`Logger::off`] drops every line.
#[derive(Clone)]
pub struct Logger {
    lines: Option<SyncSender<String>>,
    dropped: Arc<AtomicU64>,
}

impl Logger {
    /// A logger that prints nothing (tests use it).
    pub fn off() -> Logger {
        Logger {
            lines: None,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A logger that prints to standard output.
    pub fn stdout() -> Logger {
        Logger::to(io::stdout())
    }

    /// A logger that writes to `sink` on a thread of its own. The thread ends when every
    /// handle is gone; it is not joined, so a sink that never accepts a byte cannot hold up
    /// a shutdown.
    pub fn to(mut sink: impl Write + Send + 'static) -> Logger {
        let (tx, rx) = mpsc::sync_channel::<String>(LOG_QUEUE_LINES);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&dropped);
        thread::spawn(move || loop {
            // Wake up now and then even without a line, so a count of dropped lines is
            // reported once the sink drains, not only when the next line comes.
            let line = rx.recv_timeout(Duration::from_millis(500));
            let lost = counter.swap(0, Ordering::Relaxed);
            // Write errors are ignored: a closed stdout (`peerchain 8555 | head`) must never
            // take a thread down.
            if lost > 0 {
                let _ = writeln!(sink, "[!] {lost} log lines dropped");
            }
            match line {
                Ok(line) => {
                    let _ = writeln!(sink, "{line}");
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let _ = sink.flush();
        });
        Logger {
            lines: Some(tx),
            dropped,
        }
    }

    /// Queues one line. Never blocks: when the queue is full the line is dropped and counted.
    pub fn log(&self, line: impl fmt::Display) {
        let Some(lines) = &self.lines else { return };
        let mut text = line.to_string();
        if text.len() > MAX_LOG_LINE_CHARS {
            text = quote_with_limit(&text, MAX_LOG_LINE_CHARS);
        }
        match lines.try_send(text) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// `text` as it may appear in a reason or a log line: at most [`MAX_QUOTE_CHARS`] characters,
/// and when it was longer, a note saying how long it really was. A reason's "(rule N)" tail is
/// kept whole, after the cut.
pub fn quote(text: &str) -> String {
    // A reason's "(rule N)" tail says which rule broke: cut the middle, never the tail.
    if let Some((body, rule)) = text.rsplit_once(" (rule ") {
        let is_rule = rule.len() <= 4
            && rule
                .strip_suffix(')')
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if is_rule {
            return match body.char_indices().nth(MAX_QUOTE_CHARS) {
                None => text.to_string(),
                Some((cut, _)) => {
                    format!(
                        "{}… ({} bytes in all) (rule {rule}",
                        &body[..cut],
                        text.len()
                    )
                }
            };
        }
    }
    quote_with_limit(text, MAX_QUOTE_CHARS)
}

fn quote_with_limit(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

/// `1 transaction`, `3 transactions`: a count with its noun.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A long reason keeps its "(rule N)" tail after the cut, so the peer still learns which
    /// rule broke; a tail that only looks like one is cut like any text.
    #[test]
    fn a_long_reason_keeps_its_rule() {
        let reason = format!("invalid block: block 3: {} (rule 7)", "x".repeat(500));
        let quoted = quote(&reason);
        assert!(
            quoted.ends_with("… (533 bytes in all) (rule 7)"),
            "{quoted}"
        );
        assert!(quoted.chars().count() < 250);
        assert_eq!(quote("short (rule 4)"), "short (rule 4)");
        let fake = format!("{} (rule seven)", "y".repeat(300));
        assert!(quote(&fake).ends_with("bytes in all)"));
    }

    /// Short text is quoted whole; long text is cut at a character boundary and says its size.
    #[test]
    fn quotes_are_bounded() {
        assert_eq!(quote("nonce"), "nonce");
        let long = "é".repeat(5_000);
        let quoted = quote(&long);
        assert!(quoted.starts_with(&"é".repeat(MAX_QUOTE_CHARS)));
        assert!(quoted.ends_with("… (10000 bytes in all)"), "{quoted}");
        assert_eq!(
            quoted.chars().count(),
            MAX_QUOTE_CHARS + "… (10000 bytes in all)".chars().count()
        );
    }

    /// A sink that blocks until it is opened, then records what it was given.
    struct Gate {
        open: Arc<Mutex<bool>>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            while !*self.open.lock().unwrap() {
                thread::sleep(Duration::from_millis(1));
            }
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// With the sink stuck, logging never blocks; the overflow is counted and reported once
    /// the sink moves again.
    #[test]
    fn a_stuck_sink_drops_and_counts() {
        let open = Arc::new(Mutex::new(false));
        let written = Arc::new(Mutex::new(Vec::new()));
        let log = Logger::to(Gate {
            open: Arc::clone(&open),
            written: Arc::clone(&written),
        });
        let extra = 500;
        for i in 0..LOG_QUEUE_LINES + extra {
            log.log(format_args!("line {i}"));
        }
        *open.lock().unwrap() = true;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
            // The count may come in more than one report, if the logger woke up part way
            // through the flood; together they must account for every dropped line. (The
            // thread may hold one line outside the queue while it is stuck: 499 or 500.)
            let reported: u64 = text
                .lines()
                .filter_map(|l| l.strip_prefix("[!] ")?.strip_suffix(" log lines dropped"))
                .map(|n| n.parse::<u64>().unwrap())
                .sum();
            let lines = text.lines().filter(|l| l.starts_with("line ")).count() as u64;
            if reported + lines == (LOG_QUEUE_LINES + extra) as u64 {
                assert!(
                    (extra as u64 - 1..=extra as u64).contains(&reported),
                    "{reported}"
                );
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no drop report");
            thread::sleep(Duration::from_millis(5));
        }
    }
}
