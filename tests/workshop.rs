//! The judges of the workshop track (`tutorial/workshop/`): for each step, tests that use only
//! the functions of that step and the steps before it, so a student who has done steps 1 to N
//! sees steps 1 to N pass while the later ones are still `todo!()`. On the reference code they
//! all pass, like every other test. `bash tutorial/workshop/check.sh` runs them step by step.

mod common;

use common::*;
use peerchain::block::Header;
use peerchain::consensus::{check_header_alone, expected_difficulty, median_time_past, ChainView};
use peerchain::crypto::ecdsa;
use peerchain::crypto::field::{Fe, P};
use peerchain::crypto::keys::{PublicKey, SecretKey};
use peerchain::crypto::point::{Point, G};
use peerchain::crypto::u256::U256;
use peerchain::hash::Hash;
use peerchain::merkle::{block_merkle_root, merkle_root};
use peerchain::pow::{leading_zero_bits, meets_difficulty};
use peerchain::transaction::{Address, OutPoint, Output, Transaction, TxError};
use peerchain::{Block, Blockchain, ChainError, Network};

/// Appendix B's block at height 1, as JSON.
const BLOCK_1: &str = r#"{"version":1,"height":1,"timestamp":1231006506000,"previous_hash":"07dd9dfbb4a01f8fa132d8d5d1a6314b410f4984c1eb0224f09d7f7618e72355","merkle_root":"b735c95d06185033c1296e31c75657e11ab25237c238f98581081e82ad8f1ea7","difficulty":1,"nonce":3,"hash":"7de296c8a568c985d158e9f17f2c1af4d267d61e28286da1bc5dd6ac4c55e73f","data":["appendix B"],"transactions":[{"txid":"1fd69013945938380b5cf5dd59db1b41201ebf0fb3e607c557bc2e7a5d94433c","inputs":[{"prev_txid":"0000000000000000000000000000000000000000000000000000000000000000","prev_index":1,"public_key":"","signature":""}],"outputs":[{"address":"0f715baf5d4c2ed329785cef29e562f73488c8a2","amount":5000000000}]}]}"#;

fn key(n: u8) -> SecretKey {
    let mut bytes = [0u8; 32];
    bytes[31] = n;
    SecretKey::from_bytes(&bytes).unwrap()
}

/// Step 01: hex parses only in its one spelling, and a header's 96 bytes hash to its hash.
#[test]
fn step01_hex_and_header_bytes() {
    let hash: Hash = "07dd9dfbb4a01f8fa132d8d5d1a6314b410f4984c1eb0224f09d7f7618e72355"
        .parse()
        .expect("64 lowercase hex digits");
    assert_eq!(hash.0[0], 0x07);
    assert_eq!(hash.0[31], 0x55);
    assert!(
        "07DD9DFBB4A01F8FA132D8D5D1A6314B410F4984C1EB0224F09D7F7618E72355"
            .parse::<Hash>()
            .is_err()
    );
    assert!("07dd".parse::<Hash>().is_err());
    assert!("0g".repeat(32).parse::<Hash>().is_err());
    let address: Address = "0f715baf5d4c2ed329785cef29e562f73488c8a2".parse().unwrap();
    assert_eq!(address.0[19], 0xa2);

    let block: Block = serde_json::from_str(BLOCK_1).expect("appendix B's block parses");
    assert_eq!(
        hex::encode(block.header().header_bytes()),
        "010000000100000000000000109cb49d1e01000007dd9dfbb4a01f8fa132d8d5d1a6314b410f4984c1eb0224f09d7f7618e72355b735c95d06185033c1296e31c75657e11ab25237c238f98581081e82ad8f1ea7010000000300000000000000"
    );
    assert_eq!(block.header().compute_hash(), block.hash);
}

/// Step 02: the merkle root, for data items and for transactions after them.
#[test]
fn step02_merkle_root() {
    let items = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(merkle_root(&[]), Hash::ZERO);
    assert_eq!(
        merkle_root(&items(&["a"])).to_string(),
        "022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c"
    );
    assert_eq!(
        merkle_root(&items(&["a", "b", "c"])).to_string(),
        "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1"
    );
    assert_eq!(
        merkle_root(&items(&["a", "b", "c", "d", "e"])).to_string(),
        "fe14a5426fbd70c0fa73f52342afed0da0bd23c4838662ccf6b88a3070ead97b"
    );
    let hash = |hex: &str| hex.parse::<Hash>().unwrap();
    let coinbase = (
        hash("1fd69013945938380b5cf5dd59db1b41201ebf0fb3e607c557bc2e7a5d94433c"),
        hash("af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"),
    );
    let spend = (
        hash("02031083a574d325fe44dfc055a5b194f47e539bdb633a0dca498866740d0005"),
        hash("36e05da6e75d5c2e1809c781dde46b54ab69db4d5491ab4730bba35fea67217d"),
    );
    assert_eq!(
        block_merkle_root(&items(&["a"]), [coinbase, spend].into_iter()).to_string(),
        "db67afa6f7d58c803835f7e3264e247510c5a64debad531f23298157225ce4bc"
    );
    assert_eq!(
        Network::Regtest.genesis().merkle_root.to_string(),
        "5b1165b203f6e0c93b615076ce58d8fb3c8bdde95987f16482281a623e7b3c59"
    );
}

/// Step 03: leading zero bits, the miner's midstate, and a mined block that meets its
/// difficulty.
#[test]
fn step03_proof_of_work() {
    let mut h = Hash([0xff; 32]);
    assert_eq!(leading_zero_bits(&h), 0);
    h.0[0] = 0x0f;
    assert_eq!(leading_zero_bits(&h), 4);
    h.0[0] = 0;
    h.0[1] = 0x01;
    assert_eq!(leading_zero_bits(&h), 15);
    assert_eq!(leading_zero_bits(&Hash::ZERO), 256);
    assert!(meets_difficulty(&h, 15) && !meets_difficulty(&h, 16));

    let mut block = Network::Regtest.genesis();
    let midstate = peerchain::miner::Midstate::new(&block);
    for nonce in [0, 1, 12_345, u64::MAX] {
        block.nonce = nonce;
        assert_eq!(midstate.hash_with_nonce(nonce), block.compute_hash());
    }
    block.difficulty = 10;
    let mined = peerchain::testing::mine_here(block);
    assert!(leading_zero_bits(&mined.hash) >= 10);
    assert_eq!(mined.hash, mined.compute_hash());
}

/// Step 04: the median time past and the retarget, on hand-made headers.
#[test]
fn step04_difficulty_and_median_time() {
    let times = [
        9000, 1000, 8000, 2000, 7000, 3000, 6000, 4000, 5000, 11000, 10000,
    ];
    let headers: Vec<Header> = times
        .iter()
        .enumerate()
        .map(|(h, t)| header(h as u64, *t, 1))
        .collect();
    assert_eq!(median_time_past(&ChainView::new(&headers, &[])), 6000);
    assert_eq!(median_time_past(&ChainView::new(&headers[..4], &[])), 8000);

    let params = Network::Regtest.params();
    let retarget = |difficulty: u32, span: i64| {
        let base: u64 = 1_700_000_000_000;
        let parent = base.checked_add_signed(span).unwrap();
        let headers: Vec<Header> = (0..10)
            .map(|h| header(h, if h == 0 { base } else { parent }, difficulty))
            .collect();
        expected_difficulty(&ChainView::new(&headers, &[]), params)
    };
    assert_eq!(retarget(5, 4499), 6);
    assert_eq!(retarget(5, 4500), 5);
    assert_eq!(retarget(5, 18000), 5);
    assert_eq!(retarget(5, 18001), 4);
    assert_eq!(retarget(5, -1000), 6);
    assert_eq!(retarget(16, 0), 16);
    assert_eq!(retarget(1, 18001), 1);
    // Not a retarget height: the parent's difficulty.
    let nine: Vec<Header> = (0..9).map(|h| header(h, h * 10, 7)).collect();
    assert_eq!(expected_difficulty(&ChainView::new(&nine, &[]), params), 7);
}

/// Step 05: the rules on a chain: a block that breaks one is refused with that rule.
#[test]
fn step05_chain_rules() {
    let mut chain = regtest_chain(12);
    assert_eq!(chain.height(), 12);
    let ts = chain.tip().timestamp + T;
    let next = chain
        .template(vec!["next".into()], miner_address(), ts)
        .unwrap();

    let mut orphan = next.clone();
    orphan.previous_hash = Hash([1; 32]);
    let err = chain
        .append(peerchain::testing::mine_here(orphan))
        .unwrap_err();
    assert!(matches!(err, ChainError::BadPreviousHash { .. }), "{err}");

    let mut old = next.clone();
    old.timestamp = chain.block(7).unwrap().timestamp;
    let err = chain
        .append(peerchain::testing::mine_here(old))
        .unwrap_err();
    assert!(
        matches!(err, ChainError::TimestampNotAfterMedian { .. }),
        "{err}"
    );

    let mut lying = peerchain::testing::mine_here(next.clone());
    lying.hash = Hash([0; 32]);
    let err = chain.append(lying).unwrap_err();
    assert!(matches!(err, ChainError::BadHash { .. }), "{err}");

    let params = Network::Regtest.params();
    let future = peerchain::testing::mine_here(Block {
        timestamp: 2_000_000_000_000,
        ..next.clone()
    });
    let err = check_header_alone(&future.header(), params, Some(1_000_000_000_000)).unwrap_err();
    assert!(
        matches!(err, ChainError::TimestampTooFarAhead { .. }),
        "{err}"
    );

    chain
        .append(peerchain::testing::mine_here(next))
        .expect("the honest block is valid");
    assert_eq!(chain.height(), 13);
}

/// Step 06: the locator's heights, the work above a height, and a switch to more work.
#[test]
fn step06_forks_and_locators() {
    let chain = regtest_chain(15);
    let heights: Vec<u64> = chain
        .locator()
        .iter()
        .map(|h| chain.height_of(h).unwrap())
        .collect();
    assert_eq!(heights, [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 4, 0]);
    assert_eq!(chain.work_above(15), 0);
    assert_eq!(chain.work_above(13), 4, "two blocks of difficulty 1");

    let mut ours = regtest_chain(3);
    let mut theirs = fork_at(&ours, 1);
    peerchain::testing::mine_blocks(&mut theirs, 4, T, "theirs");
    let outcome = ours.evaluate_branch(&above(&theirs, 1)).unwrap();
    assert!(
        matches!(outcome, peerchain::Outcome::Reorganized { depth: 2, .. }),
        "{outcome:?}"
    );
    assert_eq!(ours.tip().hash, theirs.tip().hash);
}

/// Step 08: whole messages out of a byte stream, however the bytes were split, and a line past
/// the limit refused.
#[test]
fn step08_framing() {
    use peerchain::message::{Message, Nonce};
    use peerchain::node::connection::{open, NetError};
    use std::io::Write;
    use std::time::Duration;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let (mut reader, _writer) = open(server, Duration::from_secs(5)).unwrap();
    reader.set_wait(DEADLINE).unwrap();
    client
        .write_all(b"{\"type\":\"ping\",\"payload\":{\"nonce\":1}}\n{\"type\":\"get_peers\"}\n{\"type\":\"pi")
        .unwrap();
    assert_eq!(
        reader.read_message().unwrap(),
        Some(Message::Ping(Nonce { nonce: 1 }))
    );
    assert_eq!(reader.read_message().unwrap(), Some(Message::GetPeers));
    client
        .write_all(b"ng\",\"payload\":{\"nonce\":2}}\n")
        .unwrap();
    assert_eq!(
        reader.read_message().unwrap(),
        Some(Message::Ping(Nonce { nonce: 2 }))
    );
    // Written from another thread: 4 MiB do not fit in the socket's buffers, so the write
    // finishes only as the reader reads.
    let flood = std::thread::spawn(move || {
        let _ = client.write_all(&vec![b'x'; 4_194_305]);
    });
    assert!(matches!(
        reader.read_message(),
        Err(NetError::LineTooLong { .. })
    ));
    drop(reader);
    flood.join().unwrap();
}

/// Step 08, the edges: a line that is not a message is `Malformed` with its reason; a peer
/// trickling a byte at a time, which never trips the socket's timeout, hits the deadline; a
/// stream that ends inside a line is `ClosedMidMessage` with the bytes it had, and one that ends
/// between lines is `Ok(None)`.
#[test]
fn step08_framing_edges() {
    use peerchain::message::Message;
    use peerchain::node::connection::{open, NetError};
    use std::io::Write;
    use std::time::{Duration, Instant};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let pair = || {
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let (reader, _writer) = open(server, Duration::from_secs(5)).unwrap();
        (client, reader)
    };

    let (mut client, mut reader) = pair();
    reader.set_wait(DEADLINE).unwrap();
    client
        .write_all(b"{\"type\":\"nope\"}\n{\"type\":\"get_peers\"}\n")
        .unwrap();
    match reader.read_message() {
        Err(NetError::Malformed(reason)) => assert!(reason.contains("nope"), "{reason}"),
        other => panic!("want Malformed, got {other:?}"),
    }
    assert_eq!(reader.read_message().unwrap(), Some(Message::GetPeers));
    drop(client);
    assert!(matches!(reader.read_message(), Ok(None)), "a clean end");

    // One byte every 20 ms, for up to 5 s: the socket's 400 ms timeout never fires.
    let (mut client, mut reader) = pair();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = std::sync::Arc::clone(&stop);
    let trickle = std::thread::spawn(move || {
        for _ in 0..250 {
            if stopped.load(std::sync::atomic::Ordering::Relaxed) || client.write_all(b" ").is_err()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let started = Instant::now();
    reader.set_wait(Duration::from_millis(400)).unwrap();
    assert!(matches!(reader.read_message(), Err(NetError::Timeout)));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the deadline ends the wait, not the trickle: {:?}",
        started.elapsed()
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    trickle.join().unwrap();

    let (mut client, mut reader) = pair();
    reader.set_wait(DEADLINE).unwrap();
    client.write_all(b"{\"type\":\"pi").unwrap();
    drop(client);
    assert!(matches!(
        reader.read_message(),
        Err(NetError::ClosedMidMessage { bytes: 11 })
    ));
}

/// Step 09: the dispatch: a peer's ping is answered, and a fresh node catches up.
#[test]
fn step09_handshake_and_dispatch() {
    use peerchain::message::{Message, Nonce};
    let chain = regtest_chain(30);
    let source = start_with(config(), chain.clone());
    let mut peer = RawPeer::connect(&source);
    peer.handshake();
    peer.send(&Message::Ping(Nonce { nonce: 9 }));
    peer.recv_until(|m| (m == Message::Pong(Nonce { nonce: 9 })).then_some(()));
    let fresh = start(config());
    fresh.connect(source.local_addr());
    wait_for_tip(&fresh, chain.tip().hash, "the fresh node to catch up");
}

/// Step 14: field multiplication and point addition, against secp256k1's published points.
#[test]
fn step14_fields_and_curves() {
    let p_minus_1 = Fe::new(P.sub_borrow(&U256::ONE).0).unwrap();
    assert_eq!(p_minus_1.mul(&p_minus_1), Fe::ONE, "(-1)·(-1) = 1");
    assert_eq!(Fe::from_u64(6), Fe::from_u64(2).mul(&Fe::from_u64(3)));
    let x = Fe::from_u64(123_456_789);
    assert_eq!(x.mul(&x.invert()), Fe::ONE);

    let g = Point::from_affine(&G);
    let two = g.add(&g).to_affine().unwrap();
    assert_eq!(
        hex::encode(two.x.value().to_be_bytes()),
        "c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5"
    );
    assert!(g.add(&g).same_as(&g.double()));
    let three = g.add(&g).add(&g).to_affine().unwrap();
    assert_eq!(
        hex::encode(three.x.value().to_be_bytes()),
        "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
    );
    assert!(g.add(&g.neg()).is_infinity());
    assert_eq!(
        key(2).public_key().address(),
        "b1c9938f01121e159887ac2c8d393a22e4476ff8"
    );
}

/// Step 15: ECDSA verification: a signature verifies under its key only, and only low-S.
#[test]
fn step15_verify() {
    let z = [7u8; 32];
    let signature = ecdsa::sign(&key(1), &z);
    assert!(ecdsa::verify(&key(1).public_key(), &z, &signature));
    assert!(!ecdsa::verify(&key(2).public_key(), &z, &signature));
    assert!(!ecdsa::verify(&key(1).public_key(), &[8u8; 32], &signature));
    let high = ecdsa::Signature {
        r: signature.r,
        s: peerchain::crypto::scalar::N.sub_borrow(&signature.s).0,
    };
    assert!(!ecdsa::verify(&key(1).public_key(), &z, &high));

    // Appendix B's spend: secret key 1 signed its txid.
    let txid: Hash = "02031083a574d325fe44dfc055a5b194f47e539bdb633a0dca498866740d0005"
        .parse()
        .unwrap();
    let published = hex::decode("b1ca5df739a1ee6409e9e014b7a974bab566941c6f478c5ff97a1924c3faa2bf5cf9a21efe704a81c7ae1eebf35397454d2b0288d0d0b732d46976d9311a8f7e").unwrap();
    let published = ecdsa::Signature::from_bytes(&published).unwrap();
    let g =
        PublicKey::from_hex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
            .unwrap();
    assert!(ecdsa::verify(&g, &txid.0, &published));
}

/// Step 16: a transaction's rules on its own, and its signatures.
#[test]
fn step16_transactions_alone() {
    let spend = OutPoint {
        txid: Hash([1; 32]),
        index: 0,
    };
    let to = Output {
        address: Address::of(&key(2).public_key()),
        amount: 5,
    };
    let signed = |spends: &[OutPoint], outputs: Vec<Output>| {
        let mut tx = Transaction::new(spends, outputs);
        tx.sign(&key(1));
        tx
    };
    let good = signed(&[spend], vec![to]);
    assert_eq!(good.check_alone(), Ok(()));
    assert_eq!(good.check_signature(0), Ok(()));
    assert_eq!(
        signed(&[], vec![to]).check_alone(),
        Err(TxError::InputCount { count: 0 })
    );
    assert_eq!(
        signed(&[spend], vec![Output { amount: 0, ..to }]).check_alone(),
        Err(TxError::ZeroAmount { output: 0 })
    );
    assert_eq!(
        signed(&[spend, spend], vec![to]).check_alone(),
        Err(TxError::SpentTwice {
            input: 1,
            outpoint: spend
        })
    );
    let mut changed = good.clone();
    changed.outputs[0].amount = 6;
    assert!(matches!(
        changed.check_alone(),
        Err(TxError::BadTxid { .. })
    ));
    let mut stolen = good.clone();
    stolen.inputs[0].public_key = key(3).public_key().to_hex();
    assert_eq!(
        stolen.check_signature(0),
        Err(TxError::BadSignature { input: 0 })
    );
    // The chain's own blocks still pass: a coinbase is checked apart.
    let mut chain = Blockchain::new(Network::Regtest);
    peerchain::testing::mine_blocks(&mut chain, 2, T, "alone");
    assert_eq!(chain.height(), 2);
}
