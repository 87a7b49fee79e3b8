//! The real `peerchain` binary: its command line, its console, and the seed's two-terminal
//! demo run as two processes.

mod common;

use common::*;
use peerchain::{store, Network};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
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

/// Runs the binary with `args`, expects exit code 1 and exactly one line on stderr (a fatal
/// error is one clear line), and returns stderr and stdout.
fn fails_with_one_line_and_output(args: &[&str]) -> (String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A node that starts when it should have refused would run forever: fail at the deadline.
    let end = Instant::now() + DEADLINE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("args {args:?}: still running after {DEADLINE:?}; expected exit code 1");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "args {args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    (stderr, String::from_utf8_lossy(&out.stdout).to_string())
}

/// As [`fails_with_one_line_and_output`], returning stderr only.
fn fails_with_one_line(args: &[&str]) -> String {
    fails_with_one_line_and_output(args).0
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
        &["8555", "--http"],
        &["8555", "--http", "web"],
        &["8555", "--http", "1", "--http-bind", "lan"],
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
    let stderr = fails_with_one_line(&[&port, "--regtest"]);
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

/// Without `--data-dir` the node says the chain is in memory; with it, the chain survives a
/// restart of the real binary.
#[test]
fn data_dir_keeps_the_chain_across_restarts() {
    let memory = Process::spawn(&["0", "--regtest"]);
    memory.expect_line("chain kept in memory; use --data-dir DIR to keep it");
    let dir = TempDir::new();
    let path = dir.0.to_str().unwrap();
    let mut a = Process::spawn(&["0", "--regtest", "--data-dir", path]);
    a.expect_line("chain kept in");
    for i in 0..3 {
        a.type_line(&format!("mine kept {i}"));
        a.expect_line(&format!("mined block {}", i + 1));
    }
    a.type_line("quit");
    assert!(a.child.wait().unwrap().success());
    let b = Process::spawn(&["0", "--regtest", "--data-dir", path]);
    b.expect_line("chain height 3");
}

/// With `--data-dir` the node's key is created once (mode 0600), kept across restarts, and
/// its address printed at start; without it the key is fresh and the node says it is lost
/// on quit.
#[test]
fn the_wallet_key_is_created_once_and_kept() {
    let memory = Process::spawn(&["0", "--regtest"]);
    memory.expect_line(
        "key kept in memory: whatever this address receives is lost when the node quits",
    );
    let dir = TempDir::new();
    let path = dir.0.to_str().unwrap();
    let mut first = Process::spawn(&["0", "--regtest", "--data-dir", path]);
    let address = first.expect_line("address ");
    first.expect_line("key created in");
    first.type_line("address");
    let line = first.expect_line("public key");
    assert!(
        line.starts_with(&format!("{address}, public key 0")),
        "{line}"
    );
    first.type_line("quit");
    assert!(first.child.wait().unwrap().success());
    let key_file = dir.0.join("regtest").join("wallet.key");
    let text = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(text.len(), 65, "64 hex digits and a newline");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let second = Process::spawn(&["0", "--regtest", "--data-dir", path]);
    assert_eq!(second.expect_line("address "), address);
    second.expect_line("key kept in");
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        text,
        "never rewritten"
    );
}

/// A key file that does not hold a key stops the node (exit 1, one line), untouched.
#[test]
fn a_damaged_key_file_exits_1_untouched() {
    let dir = TempDir::new();
    write_store(&dir, &regtest_chain(1));
    let key_file = dir.0.join("regtest").join("wallet.key");
    std::fs::write(&key_file, "not a key\n").unwrap();
    let stderr = fails_with_one_line(&["0", "--regtest", "--data-dir", dir.0.to_str().unwrap()]);
    assert!(stderr.contains("wallet.key: not a key file"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), "not a key\n");
}

/// A damaged data directory stops the node before it listens: exit code 1, one message with
/// the file, line and rule, and the file byte for byte as it was.
#[test]
fn damaged_data_dir_exits_1_untouched() {
    let dir = TempDir::new();
    write_store(&dir, &regtest_chain(4));
    let path = dir.blocks_file(Network::Regtest);
    let damaged = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("\"main 3\"", "\"main Z\"", 1);
    std::fs::write(&path, &damaged).unwrap();
    let (stderr, stdout) =
        fails_with_one_line_and_output(&["0", "--regtest", "--data-dir", dir.0.to_str().unwrap()]);
    assert!(
        stderr.contains("blocks.jsonl line 4: block 3: merkle_root"),
        "{stderr}"
    );
    assert!(stderr.contains("(rule 4)"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), damaged);
    assert!(stdout.is_empty(), "it never started listening");
}

/// Two node processes cannot share a data directory: the second exits 1 naming it.
#[test]
fn a_second_node_on_one_data_dir_exits_1() {
    let dir = TempDir::new();
    let path = dir.0.to_str().unwrap();
    let first = Process::spawn(&["0", "--regtest", "--data-dir", path]);
    first.expect_line("chain kept in");
    let stderr = fails_with_one_line(&["0", "--regtest", "--data-dir", path]);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "peerchain: {} is in use by another node",
            dir.0.join("regtest").display()
        )
    );
}

/// Nobody reads the node's standard output (Ctrl-S in a terminal, a stalled pipe): after more
/// log lines than the pipe and the log queue hold, a new peer still gets its `hello`, and once
/// output flows again the node says how many lines it dropped.
#[test]
fn unread_stdout_does_not_block_the_node() {
    let mut node = Process {
        child: Command::new(BIN)
            .args(["0", "--regtest"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn peerchain"),
        stdin: None,
        lines: mpsc::channel().1,
    }; // killed on drop, even when the test fails
    let mut stdout = BufReader::new(node.child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        stdout.read_line(&mut line).unwrap();
    }
    let addr = line.split("listening on ").nth(1).unwrap();
    let addr: std::net::SocketAddr = addr.split(';').next().unwrap().parse().unwrap();
    // From here on nobody reads stdout. Each connection sends a bad line and leaves, which
    // logs three lines, two of them quoting 200 characters of the line: about 650 bytes.
    // 600 connections are more than the pipe (64 KiB) and the log queue (1 024 lines) hold.
    let bad = format!(
        "{{\"type\":\"ping\",\"payload\":{{\"nonce\":\"{}\"}}}}\n",
        "x".repeat(300)
    );
    for _ in 0..600 {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let _ = stream.write_all(bad.as_bytes());
    }
    // A blocked accept thread never answers; a busy one (a burst of 600 connections can
    // overflow the listen backlog, and the kernel then retries after a second) answers late.
    // Ten seconds tells the two apart on a loaded CI machine. A connection can also be pushed
    // out of its handshake slot by the last of the burst (sessions start in any order), as an
    // honest node would be: like one, we dial again.
    let end = Instant::now() + std::time::Duration::from_secs(10);
    let first = loop {
        let stream = std::net::TcpStream::connect(addr).unwrap();
        let left = end.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(std::time::Duration::from_millis(1))))
            .unwrap();
        let mut first = String::new();
        let read = BufReader::new(stream).read_line(&mut first);
        if read.is_ok_and(|n| n > 0) || Instant::now() >= end {
            break first;
        }
    };
    assert!(
        first.contains("\"type\":\"hello\""),
        "no hello within 10 s: {first:?}"
    );
    // Read again, on a thread, so a missing report fails at the deadline instead of hanging.
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).expect("a report of dropped lines");
        if line.contains("log lines dropped") {
            break;
        }
    }
}

/// A torn last line is cut off with a warning and the node starts.
#[test]
fn torn_last_line_warns_and_starts() {
    let dir = TempDir::new();
    write_store(&dir, &regtest_chain(4));
    let path = dir.blocks_file(Network::Regtest);
    let mut bytes = std::fs::read(&path).unwrap();
    let fragment = b"{\"version\":1,\"hei";
    bytes.extend_from_slice(fragment);
    std::fs::write(&path, &bytes).unwrap();
    let a = Process::spawn(&["0", "--regtest", "--data-dir", dir.0.to_str().unwrap()]);
    a.expect_line(&format!(
        "line 6: dropped a torn last line ({} bytes) left by a crash",
        fragment.len()
    ));
    a.expect_line("chain height 4");
}

/// A regtest data directory is never read as main: copied into main's place it is refused.
#[test]
fn regtest_data_is_not_main() {
    let dir = TempDir::new();
    write_store(&dir, &regtest_chain(2));
    std::fs::create_dir_all(dir.0.join("main")).unwrap();
    std::fs::copy(
        dir.blocks_file(Network::Regtest),
        dir.blocks_file(Network::Main),
    )
    .unwrap();
    let stderr = fails_with_one_line(&["0", "--data-dir", dir.0.to_str().unwrap()]);
    assert!(stderr.contains("is not the main genesis"), "{stderr}");
}

/// Kill -9 while the node mines and accepts a stream of blocks, three times. Every restart
/// loads without error, and nothing a peer received from the node is lost: the chain on disk
/// holds the watching peer's tip, or one with more work.
#[test]
fn kill_9_loses_nothing_a_peer_saw() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = TempDir::new();
    let path = dir.0.to_str().unwrap().to_string();
    // The watcher only listens to the node; the feeder mines blocks that the node accepts.
    let watcher = start(config());
    let feeder = Arc::new(start(config()));
    let (watch_port, feed_port) = (
        watcher.local_addr().port().to_string(),
        feeder.local_addr().port().to_string(),
    );
    for round in 0..3 {
        let mut node = Process::spawn(&[
            "0",
            &watch_port,
            &feed_port,
            "--regtest",
            "--data-dir",
            &path,
        ]);
        node.expect_line("chain kept in");
        wait_for("the node to reach both peers", || {
            watcher.peers().len() == 1 && feeder.peers().len() == 1
        });
        let start_height = watcher.summary().height;
        let stop = Arc::new(AtomicBool::new(false));
        let mining = {
            let (feeder, stop) = (Arc::clone(&feeder), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let _ = feeder.mine(vec![format!("feed {round}-{i}")]);
                    i += 1;
                }
            })
        };
        for i in 0..300 {
            node.type_line(&format!("mine node {round}-{i}"));
        }
        wait_for("the watcher to see the node's blocks", || {
            watcher.summary().height >= start_height + 15
        });
        node.child.kill().unwrap();
        node.child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        mining.join().unwrap();
        wait_for("the watcher to notice", || watcher.peers().is_empty());

        let seen = watcher.summary();
        let loaded = store::read(&dir.0, Network::Regtest).expect("loads after kill -9");
        assert!(
            loaded.chain.contains(&seen.tip) || loaded.chain.total_work() > seen.total_work,
            "round {round}: the watcher has block {} ({}) but the disk holds height {} with less work",
            seen.height,
            seen.tip,
            loaded.chain.height()
        );
        wait_for("the feeder to notice", || feeder.peers().is_empty());
    }
}

/// `--http 0` serves the explorer beside the node: the banner prints its URL, on 127.0.0.1
/// even with `--bind 0.0.0.0`, and the page and the API answer there.
#[test]
fn http_serves_the_explorer_on_loopback() {
    let node = Process::spawn(&["0", "--regtest", "--bind", "0.0.0.0", "--http", "0"]);
    let line = node.expect_line("explorer and API on ");
    let url = line.split("explorer and API on ").nth(1).unwrap();
    let addr = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("not a loopback URL: {url}"));
    let ask = |request: &str| {
        let mut stream = TcpStream::connect(format!("127.0.0.1:{addr}")).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let page = ask("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.contains("<title>peerchain explorer</title>"));
    let status = ask("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert!(status.contains("\"network\":\"regtest\""), "{status}");
}
