//! The `peerchain` binary. For now it mines a few regtest blocks locally and prints them; the
//! P2P node arrives with the next chapter.

use peerchain::{miner, Blockchain, Network};
use std::sync::atomic::AtomicBool;

fn main() {
    println!("peerchain: the P2P node is not built yet; mining 5 regtest blocks locally instead.");
    let mut chain = Blockchain::new(Network::Regtest);
    for i in 1..=5 {
        let template = chain
            .template(vec![format!("block {i}")], peerchain::consensus::now_ms())
            .expect("small data fits a block");
        let block = miner::mine(template, &AtomicBool::new(false)).expect("not stopped");
        println!(
            "mined block {} {} (difficulty {})",
            block.height, block.hash, block.difficulty
        );
        chain
            .append(block)
            .expect("a block we just mined on our tip is valid");
    }
}
