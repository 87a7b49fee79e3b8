//! The data directory: the chain survives restarts, reorganizations are rewritten atomically,
//! and damage is either repaired (a torn last line) or refused without touching the file.

mod common;

use common::*;
use peerchain::store::{self, Change, Store, StoreError};
use peerchain::testing::mine_blocks;
use peerchain::{ChainError, Network, Node};
use std::net::TcpListener;

/// Starts a regtest node that keeps its chain in `dir`.
fn start_kept(dir: &TempDir, mut config: peerchain::Config) -> Node {
    config.network = Network::Regtest;
    let (store, loaded) = Store::open(&dir.0, Network::Regtest).expect("open data dir");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    Node::start_with_store(listener, config, store, loaded).unwrap()
}

/// Blocks mined on a node are there, in order, after a restart.
#[test]
fn restart_keeps_the_chain() {
    let dir = TempDir::new();
    let node = start_kept(&dir, config());
    for i in 0..5 {
        node.mine(vec![format!("kept {i}")]).unwrap();
    }
    let before = node.summary();
    node.shutdown();
    let again = start_kept(&dir, config());
    assert_eq!(again.summary(), before);
    assert_eq!(again.block(3).unwrap().data, ["kept 2"]);
    let text = std::fs::read_to_string(dir.blocks_file(Network::Regtest)).unwrap();
    assert_eq!(
        text.lines().count(),
        6,
        "genesis and five blocks, one per line"
    );
    assert!(text.starts_with("{\"version\":1,\"height\":0,"));
}

/// A synced chain and a reorganization both reach the disk: a reload after switching to a
/// peer's heavier branch finds the branch, not the old blocks.
#[test]
fn sync_and_reorg_are_written() {
    let dir = TempDir::new();
    let base = regtest_chain(3);
    write_store(&dir, &base);
    let mut mine = base.clone();
    mine_blocks(&mut mine, 2, T, "ours");
    let mut heavier = base.clone();
    mine_blocks(&mut heavier, 600, T, "theirs");

    let node = start_kept(&dir, config());
    let ours = start_with(config(), mine.clone());
    node.connect(ours.local_addr());
    wait_for_tip(&node, mine.tip().hash, "node to take our 2 blocks");
    let theirs = start_with(config(), heavier.clone());
    node.connect(theirs.local_addr());
    wait_for_tip(
        &node,
        heavier.tip().hash,
        "node to reorganize to the heavier chain",
    );
    node.shutdown();

    let loaded = store::read(&dir.0, Network::Regtest).unwrap();
    assert_eq!(loaded.chain.blocks(), heavier.blocks());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

/// A data directory holding a 6-block chain, and a heavier branch forking from it at height 2.
fn stored_chain_and_branch() -> (TempDir, peerchain::Blockchain, peerchain::Blockchain) {
    let dir = TempDir::new();
    let old = regtest_chain(6);
    write_store(&dir, &old);
    let mut branch = fork_at(&old, 2);
    mine_blocks(&mut branch, 8, T, "branch");
    (dir, old, branch)
}

/// A crash after the temporary file is written but before the rename leaves the old chain,
/// which loads (with a warning), and the leftover is cleaned up.
#[test]
fn interrupted_reorg_leaves_the_old_chain() {
    let (dir, old, branch) = stored_chain_and_branch();
    {
        let (mut store, _) = Store::open(&dir.0, Network::Regtest).unwrap();
        peerchain::testing::interrupt_rewrite(&mut store, 3, &above(&branch, 2)).unwrap();
        // The process dies here: no rename.
    }
    assert!(dir.0.join("regtest/blocks.jsonl.tmp").exists());
    let loaded = store::read(&dir.0, Network::Regtest).unwrap();
    assert_eq!(loaded.chain.blocks(), old.blocks());
    assert!(
        loaded.warnings[0].contains("unfinished rewrite"),
        "{:?}",
        loaded.warnings
    );
    let (_, reopened) = Store::open(&dir.0, Network::Regtest).unwrap();
    assert_eq!(reopened.chain.tip(), old.tip());
    assert!(!dir.0.join("regtest/blocks.jsonl.tmp").exists());
}

/// A completed rewrite keeps the shared prefix byte for byte and replaces the rest.
#[test]
fn completed_reorg_rewrite() {
    let (dir, old, branch) = stored_chain_and_branch();
    let before = std::fs::read(dir.blocks_file(Network::Regtest)).unwrap();
    let (mut store, _) = Store::open(&dir.0, Network::Regtest).unwrap();
    store
        .apply(&Change::Reorg {
            fork_height: 2,
            blocks: above(&branch, 2),
        })
        .unwrap();
    drop(store);
    let after = std::fs::read(dir.blocks_file(Network::Regtest)).unwrap();
    // Lines 1-3 (heights 0-2) are shared: the same bytes, copied, not re-encoded.
    let prefix = before
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(2)
        .unwrap()
        .0
        + 1;
    assert_eq!(after[..prefix], before[..prefix]);
    let loaded = store::read(&dir.0, Network::Regtest).unwrap();
    assert_eq!(loaded.chain.blocks(), branch.blocks());
    assert!(
        !loaded.chain.contains(&old.tip().hash),
        "the old tip is gone"
    );
}

/// A block that breaks a rule in the middle of the file is refused with its line number and
/// rule, and the file is left exactly as it was.
#[test]
fn damaged_middle_line_is_refused_untouched() {
    let dir = TempDir::new();
    write_store(&dir, &regtest_chain(5));
    let path = dir.blocks_file(Network::Regtest);
    let text = std::fs::read_to_string(&path).unwrap();
    let damaged = text.replacen("\"main 2\"", "\"main X\"", 1);
    std::fs::write(&path, &damaged).unwrap();
    let err = Store::open(&dir.0, Network::Regtest)
        .err()
        .expect("refused");
    match &err {
        StoreError::Invalid {
            line: 3,
            error: ChainError::BadMerkleRoot { height: 2, .. },
            ..
        } => {}
        other => panic!("wrong error: {other}"),
    }
    assert!(
        err.to_string()
            .contains("blocks.jsonl line 3: block 2: merkle_root"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        damaged,
        "file untouched"
    );

    let garbage = text.replacen("{\"version\":1,\"height\":2,", "{\"versi", 1);
    std::fs::write(&path, &garbage).unwrap();
    let err = Store::open(&dir.0, Network::Regtest)
        .err()
        .expect("refused");
    assert!(
        matches!(err, StoreError::NotABlock { line: 3, .. }),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        garbage,
        "file untouched"
    );
}

/// A torn last line, as a crash mid-append leaves, is cut off with a warning naming it.
#[test]
fn torn_last_line_is_truncated() {
    let dir = TempDir::new();
    let chain = regtest_chain(4);
    write_store(&dir, &chain);
    let path = dir.blocks_file(Network::Regtest);
    let whole = std::fs::read(&path).unwrap();
    let mut torn = whole.clone();
    let fragment = b"{\"version\":1,\"height\":5,\"timest";
    torn.extend_from_slice(fragment);
    std::fs::write(&path, &torn).unwrap();
    let (_, loaded) = Store::open(&dir.0, Network::Regtest).unwrap();
    assert_eq!(loaded.chain.tip(), chain.tip());
    assert_eq!(loaded.warnings.len(), 1);
    let expected = format!(
        "line 6: dropped a torn last line ({} bytes)",
        fragment.len()
    );
    assert!(
        loaded.warnings[0].contains(&expected),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        whole,
        "cut back to the whole lines"
    );
}

/// Each network has its own directory, and a chain file of one is never read as the other.
#[test]
fn networks_never_mix() {
    let dir = TempDir::new();
    write_store(&dir, &regtest_chain(3));
    let (_, main) = Store::open(&dir.0, Network::Main).unwrap();
    assert_eq!(main.chain.height(), 0, "main starts its own chain");
    std::fs::copy(
        dir.blocks_file(Network::Regtest),
        dir.blocks_file(Network::Main),
    )
    .unwrap();
    let err = Store::open(&dir.0, Network::Main).err().expect("refused");
    assert!(
        matches!(
            err,
            StoreError::WrongGenesis {
                network: Network::Main,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("line 1: genesis 07dd9dfbb4a0"),
        "{err}"
    );
    // And the other way: main's file in regtest's place.
    let other = TempDir::new();
    Store::open(&other.0, Network::Main).unwrap();
    std::fs::create_dir_all(other.0.join("regtest")).unwrap();
    std::fs::copy(
        other.blocks_file(Network::Main),
        other.blocks_file(Network::Regtest),
    )
    .unwrap();
    let err = Store::open(&other.0, Network::Regtest)
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("line 1: genesis 00000550a771"),
        "{err}"
    );
    assert!(
        err.to_string().contains("is not the regtest genesis"),
        "{err}"
    );
}

/// Peers that completed a handshake are remembered, and a restarted node dials them again.
#[test]
fn known_peers_are_redialed() {
    let dir = TempDir::new();
    let other = start(config());
    let mut redial = config();
    redial.target_outbound = 8;
    let node = start_kept(&dir, redial.clone());
    node.connect(other.local_addr());
    wait_for("the handshake", || node.peers().len() == 1);
    let peers_file = dir.0.join("regtest/peers.txt");
    wait_for("peers.txt to name the peer", || {
        std::fs::read_to_string(&peers_file)
            .unwrap_or_default()
            .contains(&other.local_addr().to_string())
    });
    node.shutdown();
    wait_for("the peer to notice", || other.peers().is_empty());
    let again = start_kept(&dir, redial);
    wait_for("the restarted node to redial", || again.peers().len() == 1);
    assert_eq!(again.peers()[0].node_id, other.node_id());
}

/// A last line that ends in its newline but is damaged (a flipped bit) is damage, not a torn
/// write: opening refuses it with the line number, and the file is left as it was.
#[test]
fn a_damaged_last_line_is_refused_untouched() {
    let dir = TempDir::new();
    let chain = regtest_chain(4);
    write_store(&dir, &chain);
    let path = dir.blocks_file(Network::Regtest);
    let mut bytes = std::fs::read(&path).unwrap();
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    // `{"version":1,...` becomes `{"version";1,...`: one bit pattern changed, newline kept.
    let colon = last_start + bytes[last_start..].iter().position(|&b| b == b':').unwrap();
    bytes[colon] = b';';
    std::fs::write(&path, &bytes).unwrap();
    let Err(err) = Store::open(&dir.0, Network::Regtest) else {
        panic!("a damaged last line must not load")
    };
    assert!(err.to_string().contains("line 5: not a block"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "file untouched");
}

/// One data directory, one node: a second `Store::open` of the same directory is refused
/// while the first is open, and allowed once it is closed.
#[test]
fn a_data_dir_is_locked_while_in_use() {
    let dir = TempDir::new();
    let (first, _) = Store::open(&dir.0, Network::Regtest).unwrap();
    let Err(err) = Store::open(&dir.0, Network::Regtest) else {
        panic!("two stores on one directory")
    };
    assert_eq!(
        err.to_string(),
        format!(
            "{} is in use by another node",
            dir.0.join("regtest").display()
        )
    );
    drop(first);
    assert!(Store::open(&dir.0, Network::Regtest).is_ok());
}

/// A tip read to show a peer waits until every change made before the read is on disk, whoever
/// made it: a block appended by another session meanwhile is not relayed before it is written.
#[test]
fn reads_for_peers_wait_for_every_change_before_them() {
    use peerchain::log::Logger;
    use peerchain::node::chain_state::ChainState;
    use peerchain::store::DiskWriter;
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    let dir = TempDir::new();
    let (store, loaded) = Store::open(&dir.0, Network::Regtest).unwrap();
    let mut ahead = loaded.chain.clone();
    let block = mine_blocks(&mut ahead, 1, T, "appended meanwhile").remove(0);
    let disk = DiskWriter::start(store, Logger::off());
    let chain = Arc::new(ChainState::new(loaded.chain, Some(Arc::clone(&disk))));
    let held = disk.hold();
    // Another session appends a block; the disk is slow.
    let appender = {
        let chain = Arc::clone(&chain);
        std::thread::spawn(move || chain.append(&block).map(|_| block.hash))
    };
    wait_for("the block recorded", || disk.recorded() == 1);
    // This session reads the tip to relay it, as `adopt` does after connecting its branch.
    // (Before, it read the tip and waited only for its own change: it got this block at once.)
    let (sender, read) = mpsc::channel();
    {
        let (chain, disk) = (Arc::clone(&chain), Arc::clone(&disk));
        std::thread::spawn(move || {
            let tip = chain.read_for_peers(|chain| chain.tip().hash);
            let _ = sender.send((tip, disk.durable()));
        });
    }
    assert!(
        read.recv_timeout(Duration::from_millis(300)).is_err(),
        "the tip was handed out before its block was on disk"
    );
    drop(held);
    let (tip, durable) = read.recv_timeout(DEADLINE).expect("the read ends");
    assert!(durable >= 1, "read the tip {tip} with durable {durable}");
    assert_eq!(tip, appender.join().unwrap().expect("appended"));
}

/// The key is tied to its directory by the address kept beside it: a key file deleted, or
/// replaced by another key, is refused with both addresses named, instead of the node starting
/// quietly with a new address (and the old one's coins no longer its own).
#[test]
fn a_changed_or_missing_key_is_refused() {
    let dir = TempDir::new();
    let net = dir.0.join("regtest");
    let address = {
        let (_store, loaded) = Store::open(&dir.0, Network::Regtest).unwrap();
        let (key, created) = loaded.key.expect("a key");
        assert!(created);
        key.public_key().address()
    };
    let kept = std::fs::read_to_string(net.join(store::ADDRESS_FILE)).unwrap();
    assert_eq!(kept, format!("{address}\n"));
    let key_path = net.join(store::KEY_FILE);
    let original = std::fs::read_to_string(&key_path).unwrap();

    // Another key in its place (one hex digit changed).
    let last = if original.as_bytes()[10] == b'1' {
        "2"
    } else {
        "1"
    };
    let changed = format!("{}{last}{}", &original[..10], &original[11..]);
    std::fs::write(&key_path, changed).unwrap();
    let refused = Store::open(&dir.0, Network::Regtest)
        .err()
        .expect("refused");
    assert!(
        matches!(refused, StoreError::KeyMismatch { .. }),
        "{refused}"
    );
    assert!(
        refused
            .to_string()
            .contains(&format!("but this directory's node had address {address}")),
        "{refused}"
    );

    // No key at all.
    std::fs::remove_file(&key_path).unwrap();
    let refused = Store::open(&dir.0, Network::Regtest)
        .err()
        .expect("refused");
    assert!(
        refused.to_string().contains(&format!(
            "it is missing, but this directory's node had address {address}"
        )),
        "{refused}"
    );
    assert!(!key_path.exists(), "no new key was made");

    // The right key back: it starts, with the same address.
    std::fs::write(&key_path, &original).unwrap();
    let (_store, loaded) = Store::open(&dir.0, Network::Regtest).unwrap();
    assert_eq!(loaded.key.unwrap().0.public_key().address(), address);
}

/// Copies `from`'s chain file and verified mark into `to` (another node's directory).
fn copy_chain_and_mark(from: &TempDir, to: &TempDir) {
    let (from, to) = (from.0.join("regtest"), to.0.join("regtest"));
    for file in [store::BLOCKS_FILE, store::MARK_FILE] {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
}

/// A restart skips only the signatures this node checked before it wrote its blocks: the
/// verified mark written beside them names the tip, and the next open loads under it.
#[test]
fn a_restart_skips_the_signatures_it_checked_before() {
    let dir = TempDir::new();
    let chain = peerchain::testing::full_blocks_chain(2);
    write_store(&dir, &chain);
    let (_store, loaded) = Store::open(&dir.0, Network::Regtest).unwrap();
    assert_eq!(loaded.chain.tip(), chain.tip());
    let mark = loaded
        .trusted
        .expect("the mark of the node that wrote the blocks");
    assert_eq!((mark.height, mark.hash), (chain.height(), chain.tip().hash));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    // The public reader has no key, so it trusts no mark.
    assert!(store::read(&dir.0, Network::Regtest)
        .unwrap()
        .trusted
        .is_none());
}

/// A chain file and mark copied from another node's directory are not trusted: the mark's tag
/// was made with the other node's key, so every signature is checked.
#[test]
fn a_mark_copied_from_another_node_is_not_used() {
    let (theirs, ours) = (TempDir::new(), TempDir::new());
    let chain = peerchain::testing::full_blocks_chain(1);
    write_store(&theirs, &chain);
    drop(Store::open(&ours.0, Network::Regtest).unwrap()); // our key
    copy_chain_and_mark(&theirs, &ours);
    let (_store, loaded) = Store::open(&ours.0, Network::Regtest).unwrap();
    assert_eq!(loaded.chain.tip(), chain.tip(), "the chain itself is valid");
    assert!(loaded.trusted.is_none());
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("verified: not used") && w.contains("its tag is not this node's")),
        "{:?}",
        loaded.warnings
    );
    // Checked in full, it is ours now: the next start uses our own mark.
    drop(_store);
    let (_store, loaded) = Store::open(&ours.0, Network::Regtest).unwrap();
    assert_eq!(loaded.trusted.map(|m| m.hash), Some(chain.tip().hash));
}

/// A forged signature below the mark is still found: a block rebuilt around it (new merkle
/// root, new proof of work) has another hash than the one the mark names, so the loader
/// checks every signature and refuses the block with its line and rule.
#[test]
fn a_forged_signature_below_the_mark_is_found() {
    let dir = TempDir::new();
    let chain = peerchain::testing::full_blocks_chain(1);
    write_store(&dir, &chain);
    let mut forged = chain.tip().clone();
    let tx = &mut forged.transactions[1];
    let other = peerchain::crypto::ecdsa::sign(&peerchain::testing::miner_key(), &[7; 32]);
    tx.inputs[0].signature = other.to_hex();
    let template = peerchain::block::Block::new(
        forged.height,
        forged.timestamp,
        forged.previous_hash,
        forged.difficulty,
        0,
        forged.data.clone(),
        forged.transactions.clone(),
    );
    let forged = peerchain::testing::mine_here(template);
    let path = dir.blocks_file(Network::Regtest);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    *lines.last_mut().unwrap() = serde_json::to_string(&forged).unwrap();
    let damaged = lines.join("\n") + "\n";
    std::fs::write(&path, &damaged).unwrap();

    let err = Store::open(&dir.0, Network::Regtest)
        .err()
        .expect("refused");
    let line = chain.height() as usize + 1;
    match &err {
        StoreError::Invalid {
            line: l,
            error: ChainError::Transaction { .. },
            ..
        } if *l == line => {}
        other => panic!("wrong error: {other}"),
    }
    assert!(err.to_string().contains("signature"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        damaged,
        "untouched"
    );
}

/// A mark whose block is no longer in the file (here the file was cut back by hand to an
/// earlier tip) is not used: every signature is checked, the warning names the block, and the
/// next start is under a mark for the tip that is there.
#[test]
fn a_mark_whose_block_is_gone_is_not_used() {
    let dir = TempDir::new();
    let chain = peerchain::testing::full_blocks_chain(2);
    write_store(&dir, &chain);
    let path = dir.blocks_file(Network::Regtest);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let shorter = lines[..lines.len() - 1].join("\n") + "\n";
    std::fs::write(&path, shorter).unwrap();

    let (store, loaded) = Store::open(&dir.0, Network::Regtest).unwrap();
    assert_eq!(loaded.chain.height(), chain.height() - 1);
    assert!(loaded.trusted.is_none());
    let gone = format!(
        "block {} at height {} is not in blocks.jsonl; every signature is checked",
        chain.tip().hash.short(),
        chain.height()
    );
    assert!(
        loaded.warnings.iter().any(|w| w.contains(&gone)),
        "{:?}",
        loaded.warnings
    );
    drop(store);
    let (_store, loaded) = Store::open(&dir.0, Network::Regtest).unwrap();
    assert_eq!(loaded.trusted.map(|m| m.height), Some(chain.height() - 1));
}

/// A chain file and mark copied into a directory that has no key yet: the mark cannot be this
/// node's, so it is not used, and the node says so.
#[test]
fn a_mark_in_a_directory_without_a_key_is_not_used() {
    let (theirs, fresh) = (TempDir::new(), TempDir::new());
    let chain = peerchain::testing::full_blocks_chain(1);
    write_store(&theirs, &chain);
    std::fs::create_dir_all(fresh.0.join("regtest")).unwrap();
    copy_chain_and_mark(&theirs, &fresh);
    let (_store, loaded) = Store::open(&fresh.0, Network::Regtest).unwrap();
    assert_eq!(loaded.chain.tip(), chain.tip());
    assert!(loaded.trusted.is_none());
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("verified: not used (this directory has no wallet.key yet")),
        "{:?}",
        loaded.warnings
    );
}

/// A mark behind the tip (as a crash leaves it: the store moves the mark at most once a
/// second, and when it stops) still counts up to its height; the blocks above it are checked
/// in full.
#[test]
fn a_mark_behind_the_tip_counts_up_to_its_height() {
    let dir = TempDir::new();
    let chain = peerchain::testing::full_blocks_chain(2);
    write_store(&dir, &chain);
    let net = dir.0.join("regtest");
    let key_hex = std::fs::read_to_string(net.join(store::KEY_FILE)).unwrap();
    let key = peerchain::crypto::keys::SecretKey::from_hex(key_hex.trim_end()).unwrap();
    let behind = store::Mark {
        height: chain.height() - 2,
        hash: chain.block(chain.height() - 2).unwrap().hash,
    };
    std::fs::write(
        net.join(store::MARK_FILE),
        behind.line(&key, Network::Regtest),
    )
    .unwrap();
    let (_store, loaded) = Store::open(&dir.0, Network::Regtest).unwrap();
    assert_eq!(loaded.chain.tip(), chain.tip());
    assert_eq!(loaded.trusted, Some(behind));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}
