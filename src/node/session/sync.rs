//! Catching up from one peer, headers first.
//!
//! The seed only handled a peer exactly one block ahead. Here is the whole algorithm:
//!
//! 1. A `block` from the peer that does not fit on our tip (an unknown parent, or a tip far
//!    ahead) makes us send `get_headers` with our locator.
//! 2. The peer answers with up to 2 000 headers after the highest locator hash it has. We find
//!    where they leave our chain (the fork point) and check each header against every rule a
//!    header alone can show, outside the chain lock (see [`Branch`]).
//! 3. While the branch's headers carry no more work than our blocks above the fork, the branch
//!    is *unproven*: we keep at most `max_unproven_header_bytes` of it. A full answer makes us
//!    ask for the next headers; a short one means the peer has nothing better than ours, and we
//!    drop the branch. A peer whose unproven branch passes the cap is dropped: it is feeding us
//!    a chain that does not win.
//! 4. Once the headers carry more work, the branch is *proven*, and we fetch bodies along it
//!    with `get_blocks`, 500 at a time, asking for the next batch before checking this one.
//!    Each body must match its header; only its body is left to check, still outside the lock.
//! 5. After each batch, [`connect_branch`](crate::chain::Blockchain::connect_branch) runs under
//!    the chain lock: the bodies so far become our chain as soon as they carry more work than
//!    our blocks above the fork (at once, when the fork point is our tip). Until then we hold
//!    them, which costs memory only for a branch whose work is proven.
//! 6. A proven branch is never extended by later headers: our chain may have grown since it
//!    was proven, so new headers start a new branch that must prove itself again. Likewise,
//!    bodies that still do not win once no proven header is left ahead of them (another peer
//!    moved our chain on meanwhile) are dropped, and we ask for headers afresh.
//!
//! When the fork point is our own tip (a plain catch-up), the first headers already prove the
//! branch, so sync costs one extra round trip of headers and then runs as fast as before.

use super::{Close, Handled, Session};
use crate::block::{Block, Header};
use crate::branch::{Branch, BranchError};
use crate::chain::Outcome;
use crate::consensus::{now_ms, ChainError};
use crate::hash::Hash;
use crate::message::{
    GetBlocks, GetHeaders, Message, MAX_BLOCKS_PER_MESSAGE, MAX_HEADERS_PER_MESSAGE,
};
use crate::node::peer_table::PeerTip;
use std::time::{Duration, Instant};

/// A request we sent and have no answer to yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Headers,
    Blocks,
}

/// Where catching up from this peer stands.
#[derive(Default)]
pub(super) struct SyncState {
    /// The request in flight, how many items it asked for, and when it was sent.
    in_flight: Option<(Request, usize, Instant)>,
    /// The newest tip this peer announced with `block`.
    pub peer_tip: Option<Hash>,
    /// The branch being downloaded from this peer, if any.
    branch: Option<Branch>,
}

impl SyncState {
    /// Forgets a request the peer has not answered for `after`, so a new one can be sent.
    pub fn expire_request(&mut self, after: Duration) {
        if self.in_flight.is_some_and(|(_, _, t)| t.elapsed() >= after) {
            self.in_flight = None;
        }
    }

    /// Takes the answer to `request` off the books: `Some(limit)` if it was the one in flight.
    fn answered(&mut self, request: Request) -> Option<usize> {
        match self.in_flight {
            Some((r, limit, _)) if r == request => {
                self.in_flight = None;
                Some(limit)
            }
            _ => None,
        }
    }
}

impl Session {
    /// Sends `get_headers` with `locator`, unless a request is in flight.
    pub(super) fn request_headers(&mut self, locator: Vec<Hash>) -> Handled {
        if self.sync.in_flight.is_some() {
            return Ok(());
        }
        let limit = MAX_HEADERS_PER_MESSAGE;
        self.sync.in_flight = Some((Request::Headers, limit, Instant::now()));
        self.state.count(|s| s.get_headers_sent += 1);
        self.send(&Message::GetHeaders(GetHeaders { locator, limit }))
    }

    /// Sends `get_blocks` with `locator`, unless a request is in flight.
    fn request_blocks(&mut self, locator: Vec<Hash>) -> Handled {
        if self.sync.in_flight.is_some() {
            return Ok(());
        }
        let limit = self
            .state
            .config
            .sync_batch
            .clamp(1, MAX_BLOCKS_PER_MESSAGE);
        self.sync.in_flight = Some((Request::Blocks, limit, Instant::now()));
        self.state.count(|s| s.get_blocks_sent += 1);
        self.send(&Message::GetBlocks(GetBlocks { locator, limit }))
    }

    /// Headers answering our `get_headers`.
    pub(super) fn on_headers(&mut self, headers: Vec<Header>) -> Handled {
        if headers.len() > MAX_HEADERS_PER_MESSAGE {
            return Err(Close::Violation(format!(
                "headers message with {} headers, more than {MAX_HEADERS_PER_MESSAGE}",
                headers.len()
            )));
        }
        // One header we have on our chain already is a peer telling us its new tip (it took a
        // block of ours, appendix A), never an answer: an answer starts after the last block
        // we share. Note it for `peers`, and leave any request of ours waiting for its answer.
        if let [header] = headers.as_slice() {
            if self.state.chain.read(|chain| chain.contains(&header.hash)) {
                let _ = self.saw_tip_header(header);
                return Ok(());
            }
        }
        // Other headers nobody asked for are ignored for sync: they cost us nothing but the
        // read. One alone still tells us the peer's tip.
        let Some(requested) = self.sync.answered(Request::Headers) else {
            if let [header] = headers.as_slice() {
                let _ = self.saw_tip_header(header);
            }
            return Ok(());
        };
        self.state
            .count(|s| s.headers_received += headers.len() as u64);
        let full = headers.len() >= requested;
        let Some(last) = headers.last().map(|h| h.hash) else {
            return Ok(());
        };

        // Continue a branch whose headers are still proving their work, or else find where
        // these headers leave our chain now. (A branch proven earlier is not continued: our
        // chain may have grown since, and its proof must be made again against it.)
        let cap = self.state.config.max_unproven_header_bytes;
        let continued = match self.sync.branch.as_mut().filter(|b| !b.proven()) {
            Some(branch) => branch.add_headers(&headers, now_ms(), cap),
            None => Err(BranchError::DoesNotConnect {
                height: headers[0].height,
                previous_hash: headers[0].previous_hash,
            }),
        };
        match continued {
            Ok(_) => {}
            Err(BranchError::DoesNotConnect { .. }) => {
                let Some((new_from, mut branch)) =
                    self.state.chain.read(|chain| chain.fork_for(&headers))
                else {
                    // They do not start on our chain: we moved since we asked. The next
                    // announcement starts over.
                    self.sync.branch = None;
                    return Ok(());
                };
                branch
                    .add_headers(&headers[new_from..], now_ms(), cap)
                    .map_err(invalid)?;
                self.sync.branch = Some(branch);
            }
            Err(e) => return Err(invalid(e)),
        }
        let branch = self.sync.branch.as_ref().expect("set above");
        // These headers are the peer's chain, checked: its tip is at least their last, and it
        // left ours after the branch's fork.
        let tip = PeerTip {
            height: headers[headers.len() - 1].height,
            hash: last,
            fork: Some(branch.fork().0),
        };
        self.state.peers.saw_tip(self.id, tip, true);
        // Checked headers of a branch the peer offers: in the tree, as side until they win.
        let source = self.peer_label();
        for header in &headers {
            self.state.saw_header(header, &source, false);
        }

        if branch.proven() {
            // Work is proven: fetch the bodies, from the last one we have.
            let from = branch.bodies_tip();
            return self.request_blocks(vec![from]);
        }
        if full {
            // More headers may tip the balance: ask from the last one.
            let fork_hash = branch.fork().1;
            return self.request_headers(vec![last, fork_hash]);
        }
        // The peer has nothing more, and what it has does not beat ours.
        self.sync.branch = None;
        Ok(())
    }

    /// A peer's new tip, shown by its header alone: noted if the header shows the work it
    /// claims (one hash), with where it leaves our chain if its parent is on it.
    pub(super) fn saw_tip_header(&mut self, header: &Header) -> bool {
        let (fork, shows_work) = self.state.chain.read(|chain| {
            let alone = crate::consensus::check_header_alone(header, chain.params(), None);
            (chain.height_of(&header.previous_hash), alone.is_ok())
        });
        if shows_work {
            let tip = PeerTip {
                height: header.height,
                hash: header.hash,
                fork,
            };
            self.state.peers.saw_tip(self.id, tip, false);
        }
        shows_work
    }

    /// A batch answering our `get_blocks`.
    pub(super) fn on_blocks(&mut self, batch: Vec<Block>) -> Handled {
        if batch.len() > MAX_BLOCKS_PER_MESSAGE {
            return Err(Close::Violation(format!(
                "blocks message with {} blocks, more than {MAX_BLOCKS_PER_MESSAGE}",
                batch.len()
            )));
        }
        let largest_line = self.reader.largest_line;
        self.state.count(|stats| {
            stats.batches_received += 1;
            stats.blocks_received += batch.len() as u64;
            stats.largest_line = stats.largest_line.max(largest_line);
        });
        let requested = self.sync.answered(Request::Blocks);
        let was_requested = requested.is_some();
        let full = batch.len() >= requested.unwrap_or(MAX_BLOCKS_PER_MESSAGE);
        let Some(last) = batch.last().map(|b| b.hash) else {
            return Ok(());
        };
        // Blocks only ever go into a branch whose work is proven.
        if self.sync.branch.as_ref().is_none_or(|b| !b.proven()) {
            return Ok(());
        }

        // Ask for the next batch before checking this one, so the peer prepares it while we
        // check: sync then keeps both ends busy instead of taking turns. We keep asking until
        // we reach the tip the peer announced (a batch may be cut short by the line limit) or,
        // if it announced none, while batches come back full. If this batch turns out invalid
        // we close the connection and the answer goes nowhere.
        let peer_tip = self.sync.peer_tip;
        let behind_peer_tip = self
            .state
            .chain
            .read(|chain| peer_tip.map(|t| t != last && !chain.contains(&t)));
        if was_requested && behind_peer_tip.unwrap_or(full) {
            self.request_blocks(vec![last])?;
        }

        // Check the bodies against their headers, outside the lock.
        let branch = self.sync.branch.as_mut().expect("checked above");
        match branch.add_bodies(batch, now_ms()) {
            Ok(()) => {}
            // Not the bodies we are downloading: stale, or the peer moved. Start over later.
            Err(BranchError::DoesNotConnect { .. }) => {
                self.sync.branch = None;
                return Ok(());
            }
            Err(e) => return Err(invalid(e)),
        }
        self.connect_branch()
    }

    /// Under the chain lock, makes the downloaded bodies our chain if they now carry more work.
    fn connect_branch(&mut self) -> Handled {
        let branch = self.sync.branch.as_mut().expect("a branch to connect");
        match self.state.chain.connect_branch(branch) {
            Ok(Outcome::Extended { height, tip, added }) => {
                self.state.log.log(format_args!(
                    "[*] Accepted {added} blocks from {}, now at {height} {}",
                    self.addr,
                    tip.short()
                ));
                self.adopt(added);
            }
            Ok(Outcome::Reorganized {
                old_tip,
                new_tip,
                depth,
                added,
            }) => {
                self.state.log.log(format_args!(
                    "[*] Reorganized to the chain of {}: {depth} blocks replaced by {added}, tip {} -> {}",
                    self.addr,
                    old_tip.short(),
                    new_tip.short()
                ));
                let peer = self.peer_label();
                self.state.note_reorg(crate::node::Reorg {
                    at_ms: now_ms(),
                    depth,
                    added,
                    old_tip,
                    new_tip,
                    peer,
                });
                self.adopt(added);
            }
            // Proven by its headers, but the bodies so far do not carry the work yet: hold
            // them while proven headers lie ahead.
            Ok(Outcome::NotMoreWork { .. } | Outcome::Known)
                if branch.headers().len() > branch.bodies().len() => {}
            // No proven header is left ahead, and the bodies do not beat our chain (another
            // peer moved it on meanwhile): drop them, and have the peer prove its chain again.
            Ok(Outcome::NotMoreWork { .. } | Outcome::Known) => {
                self.sync.branch = None;
                self.sync.in_flight = None;
                let locator = self.state.chain.read(|chain| chain.locator());
                return self.request_headers(locator);
            }
            // Our chain moved below the fork point since the branch began.
            Err(ChainError::UnknownParent { .. }) => self.sync.branch = None,
            Err(e) => return Err(Close::Broke(format!("invalid block: {e}"))),
        }
        Ok(())
    }

    /// The branch's bodies are now our chain: announce our tip. It is read for peers, so it is
    /// on disk even if another session moved it on since our branch connected.
    fn adopt(&mut self, added: usize) {
        let (tip, joined) = self.state.chain.read_for_peers(|chain| {
            let top = chain.headers().len();
            let joined = chain.headers()[top.saturating_sub(added)..].to_vec();
            (chain.tip().clone(), joined)
        });
        let source = self.peer_label();
        for header in &joined {
            self.state.saw_header(header, &source, true);
        }
        self.state.peers.gave_block(self.id, Instant::now());
        self.state.relay(&tip, Some(self.id));
        // The peer has the block already; its header alone tells it where we are now.
        let _ = self.send(&Message::Headers(vec![tip.header()]));
    }
}

/// The reason for a branch the peer got wrong.
fn invalid(e: BranchError) -> Close {
    match e {
        // Not a broken rule: a chain that does not win, sent for longer than we listen.
        BranchError::Unproven { .. } => Close::Violation(e.to_string()),
        // Too far ahead of our clock: maybe only our clock is behind. Not discouraged.
        BranchError::Invalid(ChainError::TimestampTooFarAhead { .. }) => {
            Close::Violation(format!("invalid block: {e}"))
        }
        // A broken consensus rule: the peer is discouraged.
        BranchError::Invalid(_) => Close::Broke(format!("invalid block: {e}")),
        // Not a broken rule either: an honest peer that reorganizes between our requests
        // sends bodies of its new branch for the headers of its old one. Close (we cannot
        // use them) but do not hold it against the peer.
        BranchError::NotTheHeader { .. } | BranchError::DoesNotConnect { .. } => {
            Close::Violation(format!("invalid block: {e}"))
        }
    }
}
