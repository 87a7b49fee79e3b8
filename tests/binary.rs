//! The real `peerchain` binary: its command line, its console, and the seed's two-terminal
//! demo run as two processes.

mod common;

use common::DEADLINE;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_peerchain");

/// A node process whose stdout lines arrive on a channel.
struct Process {
    child: Child,
    /// `None` when the process was started with its input already at end.
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Process {
    fn spawn(args: &[&str]) -> Process {
        Process::spawn_with(args, Stdio::piped())
    }

    fn spawn_with(args: &[&str], stdin: Stdio) -> Process {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn peerchain");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        Process {
            child,
            stdin,
            lines,
        }
    }

    /// Waits for a stdout line containing `needle` and returns it.
    fn expect_line(&self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line containing {needle:?} before the deadline"),
            }
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("a console to type into");
        writeln!(stdin, "{line}").expect("write to console");
    }

    /// The port from the startup line "... listening on 127.0.0.1:PORT; ...".
    fn port(&self) -> String {
        let line = self.expect_line("listening on");
        let addr = line
            .split("listening on ")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        addr.rsplit(':').next().unwrap().to_string()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bad arguments print the usage on stderr and exit with code 2.
#[test]
fn bad_arguments_exit_2_with_usage() {
    for args in [
        &[][..],
        &["--bogus"],
        &["eighty"],
        &["8555", "--bind"],
        &["8555", "host:"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "args {args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("usage: peerchain <port>"),
            "args {args:?}: {stderr}"
        );
    }
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--regtest"));
}

/// A port already in use is one clear line and exit code 1.
#[test]
fn port_in_use_exits_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(BIN)
        .args([&port, "--regtest"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

/// The seed's demo as two processes: the second dials the first, a block mined on one
/// console shows up on the other, and the console commands answer.
#[test]
fn two_processes_sync_and_relay() {
    let mut a = Process::spawn(&["0", "--regtest"]);
    let port = a.port();
    let mut b = Process::spawn(&["0", &port, "--regtest"]);
    b.expect_line("Handshake with");
    a.type_line("mine hello from a");
    a.expect_line("mined block 1");
    b.expect_line("Accepted block 1");
    b.type_line("chain");
    let chain = b.expect_line("height 1, tip");
    b.type_line("block 1");
    let json = b.expect_line("\"height\":1");
    assert!(json.contains("\"data\":[\"hello from a\"]"), "{json}");
    assert!(chain.contains("next difficulty 1"), "{chain}");
    b.type_line("peers");
    b.expect_line(&format!("listens on 127.0.0.1:{port}"));
    b.type_line("frobnicate");
    b.expect_line("unknown command \"frobnicate\"; type help for the list");
    a.type_line("quit");
    assert!(a.child.wait().unwrap().success());
    b.expect_line("closed");
}

/// Closing stdin does not stop the node: it goes on serving peers.
#[test]
fn end_of_input_keeps_the_node_running() {
    let mut a = Process::spawn_with(&["0", "--regtest"], Stdio::null());
    let port = a.port();
    let mut b = Process::spawn(&["0", &port, "--regtest"]);
    b.expect_line("Handshake with");
    b.type_line("mine after eof");
    b.expect_line("mined block 1");
    a.expect_line("Accepted block 1");
    assert!(a.child.try_wait().unwrap().is_none(), "a is still running");
}
