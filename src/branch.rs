//! A branch being downloaded from one peer: headers first, then bodies, each checked once and
//! outside the chain lock.
//!
//! A branch starts at a fork point on our active chain. It holds a copy of the few headers the
//! rules need below the fork ([`context_len`]), the headers above it, and the bodies that have
//! arrived so far, in order. Everything that goes in is checked against every consensus rule
//! on the way in; [`Blockchain::connect_branch`](crate::chain::Blockchain::connect_branch) then
//! only has to see that the fork point is still ours and compare work, under the lock.
//!
//! Why headers first (Bitcoin Core has synced this way since 0.10): a header is about 128 bytes
//! in memory and carries all the proof of work; a body can be 64 KiB. Before headers first, a
//! node fetched a competing branch's bodies while it still had less work than ours, holding
//! them to judge the whole branch: a peer could make it hold gigabytes of a branch that would
//! never win, and a long honest branch was dropped at a block limit before it could. Now bodies
//! are fetched only once the branch's headers carry more work than our blocks above the fork.
//!
//! See `tutorial/09-handshake-and-sync.md`.

use crate::block::{Block, Header};
use crate::chain::more_work;
use crate::consensus::{
    check_bodies, check_body, check_header_alone, check_header_in_context, context_len, ChainError,
    ChainView,
};
use crate::hash::Hash;
use crate::params::Params;
use crate::pow::work;
use std::fmt;

/// The memory a header takes in a branch, for the byte caps.
pub const HEADER_MEMORY_BYTES: usize = std::mem::size_of::<Header>();

/// Why a branch refused headers or bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchError {
    /// A header or block breaks a consensus rule.
    Invalid(ChainError),
    /// A body whose header is not the one the peer sent for that height.
    NotTheHeader {
        /// Height of the body.
        height: u64,
        /// The body's hash.
        hash: Hash,
        /// The hash of the header the peer sent for that height.
        header: Hash,
    },
    /// Headers or bodies that do not continue the branch.
    DoesNotConnect {
        /// Height of the header or body that does not fit.
        height: u64,
        /// The parent it names.
        previous_hash: Hash,
    },
    /// One more header would pass the cap for a branch whose work is not proven.
    Unproven {
        /// Height of the fork point.
        fork: u64,
        /// How many headers the branch would hold.
        headers: usize,
        /// The cap in bytes (`max_unproven_header_bytes`).
        cap: usize,
    },
}

impl fmt::Display for BranchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BranchError::Invalid(e) => write!(f, "{e}"),
            BranchError::NotTheHeader {
                height,
                hash,
                header,
            } => write!(
                f,
                "block {height}: hash {hash} is not the header sent for that height, {header}"
            ),
            BranchError::DoesNotConnect {
                height,
                previous_hash,
            } => write!(
                f,
                "block {height}: previous_hash {previous_hash} does not continue the branch"
            ),
            BranchError::Unproven { fork, headers, cap } => write!(
                f,
                "a branch from height {fork} passed {cap} bytes of headers ({headers} headers) \
                 without more work than ours"
            ),
        }
    }
}

impl std::error::Error for BranchError {}

impl From<ChainError> for BranchError {
    fn from(e: ChainError) -> Self {
        BranchError::Invalid(e)
    }
}

/// A branch forking from our active chain, checked as it grows.
#[derive(Debug, Clone)]
pub struct Branch {
    params: &'static Params,
    /// Height of `context[0]`.
    first: u64,
    /// Our headers up to and including the fork point (the last one).
    context: Vec<Header>,
    /// The branch's headers above the fork, checked.
    headers: Vec<Header>,
    /// Work of `headers`.
    header_work: u128,
    /// Bodies for `headers[..bodies.len()]`, checked.
    bodies: Vec<Block>,
    /// Work of `bodies`.
    body_work: u128,
    /// Work of our own blocks above the fork when the branch was made.
    our_work: u128,
    /// Once proven, a branch stays proven: after its bodies become our chain, it forks from
    /// our tip, where every block adds work.
    proven: bool,
}

impl Branch {
    /// An empty branch on top of `context` (our headers from height `first` up to the fork
    /// point), where our blocks above the fork carry `our_work`.
    pub fn new(params: &'static Params, first: u64, context: Vec<Header>, our_work: u128) -> Self {
        assert!(!context.is_empty(), "a branch forks from a block");
        assert!(context.len() >= context_len(params) || first == 0);
        Branch {
            params,
            first,
            context,
            headers: Vec::new(),
            header_work: 0,
            bodies: Vec::new(),
            body_work: 0,
            our_work,
            proven: false,
        }
    }

    /// Height and hash of the fork point.
    pub fn fork(&self) -> (u64, Hash) {
        let fork = self.context.last().expect("non-empty");
        (fork.height, fork.hash)
    }

    /// The branch's headers above the fork.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The hash of the branch's highest header (the fork point's if it has none).
    pub fn tip_hash(&self) -> Hash {
        self.headers.last().map_or(self.fork().1, |h| h.hash)
    }

    /// The bodies downloaded so far, in order from the fork.
    pub fn bodies(&self) -> &[Block] {
        &self.bodies
    }

    /// The hash of the last body, or of the fork point: where the next `get_blocks` starts.
    pub fn bodies_tip(&self) -> Hash {
        self.bodies.last().map_or(self.fork().1, |b| b.hash)
    }

    /// Work of the downloaded bodies.
    pub fn body_work(&self) -> u128 {
        self.body_work
    }

    /// Do the headers carry more work than our blocks above the fork (the fork-choice rule,
    /// [`more_work`])? Only then are bodies worth fetching.
    pub fn proven(&self) -> bool {
        self.proven || more_work(self.header_work, self.our_work)
    }

    /// Memory the headers take, for the cap on branches not yet proven.
    pub fn header_bytes(&self) -> usize {
        self.headers.len() * HEADER_MEMORY_BYTES
    }

    fn view(&self) -> ChainView<'_> {
        ChainView::starting_at(self.first, &self.context, &self.headers)
    }

    /// Checks `header` as the next one on top of the branch.
    fn check_header(&self, header: &Header, now: u64) -> Result<(), ChainError> {
        check_header_alone(header, self.params, Some(now))?;
        check_header_in_context(header, &self.view(), self.params)
    }

    /// Adds a checked header on top of the branch.
    fn push_header(&mut self, header: Header) {
        self.header_work = self.header_work.saturating_add(work(header.difficulty));
        self.headers.push(header);
    }

    /// Adds headers from a `headers` message. Headers the branch already has are skipped, so
    /// overlapping answers are harmless. Returns how many were new. While the branch is not
    /// proven, it never holds more than `cap` bytes of headers: the header that would pass the
    /// cap is refused instead (so the memory is bounded before it is spent, not after).
    pub fn add_headers(
        &mut self,
        headers: &[Header],
        now: u64,
        cap: usize,
    ) -> Result<usize, BranchError> {
        let mut added = 0;
        for header in headers {
            let at = header.height.checked_sub(self.fork().0 + 1);
            let known = at.and_then(|i| self.headers.get(i as usize));
            match known {
                Some(h) if h.hash == header.hash => continue,
                // The peer's chain changed under us; the caller starts a new branch.
                Some(_) => {
                    return Err(BranchError::DoesNotConnect {
                        height: header.height,
                        previous_hash: header.previous_hash,
                    })
                }
                None => {}
            }
            if header.previous_hash != self.tip_hash() {
                return Err(BranchError::DoesNotConnect {
                    height: header.height,
                    previous_hash: header.previous_hash,
                });
            }
            if !self.proven() && (self.headers.len() + 1) * HEADER_MEMORY_BYTES > cap {
                return Err(BranchError::Unproven {
                    fork: self.fork().0,
                    headers: self.headers.len() + 1,
                    cap,
                });
            }
            self.check_header(header, now)?;
            self.push_header(*header);
            added += 1;
        }
        Ok(added)
    }

    /// Adds bodies from a `blocks` message, in order. A body for a height we have a header for
    /// must match it, and only its body is checked (the header was); beyond the known headers,
    /// the block's header is checked too.
    pub fn add_bodies(&mut self, blocks: Vec<Block>, now: u64) -> Result<(), BranchError> {
        // The usual batch: bodies for headers we have, each on the one before. The cheap checks
        // (the link, the header) run first for the whole run, then the bodies are checked
        // together on every core (`check_bodies`); whatever follows the run, or fails, goes
        // through the loop below one block at a time, as before.
        let known = self.headers.len().saturating_sub(self.bodies.len());
        let mut run = 0;
        let mut tip = self.bodies_tip();
        for block in blocks.iter().take(known) {
            let expected = &self.headers[self.bodies.len() + run];
            if block.previous_hash != tip || *expected != block.header() {
                break;
            }
            tip = block.hash;
            run += 1;
        }
        let mut blocks = blocks.into_iter();
        if run > 0 {
            let checked: Vec<Block> = blocks.by_ref().take(run).collect();
            let failure = check_bodies(&checked, self.params).err();
            let good = failure.as_ref().map_or(run, |(i, _)| *i);
            for block in checked.into_iter().take(good) {
                self.body_work = self.body_work.saturating_add(work(block.difficulty));
                self.bodies.push(block);
            }
            if let Some((_, e)) = failure {
                return Err(e.into());
            }
        }
        for block in blocks {
            if block.previous_hash != self.bodies_tip() {
                return Err(BranchError::DoesNotConnect {
                    height: block.height,
                    previous_hash: block.previous_hash,
                });
            }
            let i = self.bodies.len();
            let header = block.header();
            let new_header = match self.headers.get(i) {
                Some(expected) if *expected == header => false,
                Some(expected) => {
                    return Err(BranchError::NotTheHeader {
                        height: block.height,
                        hash: block.hash,
                        header: expected.hash,
                    })
                }
                None => {
                    self.check_header(&header, now)?;
                    true
                }
            };
            check_body(&block, self.params)?;
            // Only now, with the body checked too: a refused block leaves nothing behind.
            if new_header {
                self.push_header(header);
            }
            self.body_work = self.body_work.saturating_add(work(block.difficulty));
            self.bodies.push(block);
        }
        Ok(())
    }

    /// For [`connect_branch`](crate::chain::Blockchain::connect_branch), once it has decided
    /// to make the bodies our chain: hands them over (moved, not copied, since this happens
    /// under the chain lock) and leaves the same branch forking from the last of them, with
    /// the headers still ahead.
    pub(crate) fn advance(&mut self) -> Vec<Block> {
        let connected = self.bodies.len();
        if connected == 0 {
            return Vec::new();
        }
        let mut all = std::mem::take(&mut self.context);
        all.extend_from_slice(&self.headers[..connected]);
        let keep = context_len(self.params).min(all.len());
        self.first += (all.len() - keep) as u64;
        self.context = all.split_off(all.len() - keep);
        self.headers.drain(..connected);
        self.header_work = self.headers.iter().map(|h| work(h.difficulty)).sum();
        self.body_work = 0;
        self.our_work = 0;
        self.proven = true;
        std::mem::take(&mut self.bodies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{Blockchain, Outcome};
    use crate::consensus::now_ms;
    use crate::params::Network;
    use crate::testing::mine_blocks;

    /// A cap no test reaches.
    const CAP: usize = 1 << 20;

    /// Two blocks everyone shares; ours adds 3 more, theirs 5 (all at difficulty 1, work 2
    /// each). So above the fork at height 2, ours has work 6 and theirs 10.
    fn chains() -> (Blockchain, Blockchain, Blockchain) {
        let mut shared = Blockchain::new(Network::Regtest);
        let spacing = shared.params().target_block_ms;
        mine_blocks(&mut shared, 2, spacing, "shared");
        let (mut ours, mut theirs) = (shared.clone(), shared.clone());
        mine_blocks(&mut ours, 3, spacing, "ours");
        mine_blocks(&mut theirs, 5, spacing, "theirs");
        (shared, ours, theirs)
    }

    fn above(chain: &Blockchain, height: u64) -> Vec<Header> {
        chain.headers()[height as usize + 1..].to_vec()
    }

    /// Headers go in checked; overlapping answers add only what is new; the branch is proven
    /// once its headers carry more work than our blocks above the fork, not at a tie.
    #[test]
    fn headers_prove_a_branch_by_work() {
        let (_, ours, theirs) = chains();
        let headers = above(&theirs, 2);
        let mut branch = ours.branch_at(2);
        assert_eq!(branch.fork(), (2, ours.block(2).unwrap().hash));
        assert_eq!(branch.tip_hash(), ours.block(2).unwrap().hash);
        assert_eq!(branch.add_headers(&headers[..2], now_ms(), CAP), Ok(2));
        assert_eq!(
            branch.add_headers(&headers[..3], now_ms(), CAP),
            Ok(1),
            "the overlap is skipped"
        );
        assert_eq!(branch.headers(), &headers[..3]);
        assert_eq!(branch.header_bytes(), 3 * HEADER_MEMORY_BYTES);
        assert_eq!(branch.tip_hash(), headers[2].hash);
        assert!(!branch.proven(), "a tie: work 6 against our 6");
        assert_eq!(branch.add_headers(&headers[..4], now_ms(), CAP), Ok(1));
        assert!(branch.proven(), "work 8 against our 6");
    }

    /// A header that differs from the one the branch has at its height means the peer's chain
    /// changed; a header that does not continue the branch is refused as well.
    #[test]
    fn headers_that_do_not_continue_the_branch() {
        let (_, ours, theirs) = chains();
        let headers = above(&theirs, 2);
        let mut branch = ours.branch_at(2);
        branch.add_headers(&headers[..2], now_ms(), CAP).unwrap();
        let mut changed = headers[1];
        changed.timestamp += 1;
        changed.hash = changed.compute_hash();
        let does_not_connect = |h: &Header| {
            Err(BranchError::DoesNotConnect {
                height: h.height,
                previous_hash: h.previous_hash,
            })
        };
        assert_eq!(
            branch.add_headers(&[changed], now_ms(), CAP),
            does_not_connect(&changed)
        );
        assert_eq!(
            branch.add_headers(&headers[3..], now_ms(), CAP),
            does_not_connect(&headers[3])
        );
        assert_eq!(branch.headers(), &headers[..2], "nothing was added");
        let mut forged = headers[2];
        forged.nonce += 1;
        assert!(matches!(
            branch.add_headers(&[forged], now_ms(), CAP),
            Err(BranchError::Invalid(ChainError::BadHash { height: 5, .. }))
        ));
    }

    /// A branch not yet proven holds at most `cap` bytes of headers, exactly: the header that
    /// would pass the cap is refused, and the refusal says how many headers it would make. A
    /// proven branch has no such cap.
    #[test]
    fn the_cap_on_unproven_headers_is_exact() {
        let (shared, ours, theirs) = chains();
        let headers = above(&theirs, 2);
        let cap = 2 * HEADER_MEMORY_BYTES;
        let mut branch = ours.branch_at(2);
        assert_eq!(branch.add_headers(&headers[..2], now_ms(), cap), Ok(2));
        assert_eq!(
            branch.add_headers(&headers[2..3], now_ms(), cap),
            Err(BranchError::Unproven {
                fork: 2,
                headers: 3,
                cap
            })
        );
        // From the tip of the shared chain the first header proves the branch.
        let mut ahead = shared.branch_at(2);
        assert_eq!(ahead.add_headers(&headers, now_ms(), cap), Ok(5));
    }

    /// A batch of bodies for known headers, checked together on every core, keeps the bodies
    /// before its first bad one and refuses that one with its rule (a later bad one is not
    /// what is reported).
    #[test]
    fn a_batch_keeps_the_bodies_before_its_first_bad_one() {
        let (_, ours, theirs) = chains();
        let headers = above(&theirs, 2);
        let mut blocks = theirs.blocks()[3..].to_vec();
        blocks[2].data.push("not in the merkle root".into());
        blocks[3].data.push("nor this".into());
        let mut branch = ours.branch_at(2);
        branch.add_headers(&headers, now_ms(), CAP).unwrap();
        assert!(matches!(
            branch.add_bodies(blocks.clone(), now_ms()),
            Err(BranchError::Invalid(ChainError::BadMerkleRoot {
                height: 5,
                ..
            }))
        ));
        assert_eq!(branch.bodies(), &blocks[..2]);
        assert_eq!(branch.body_work(), 4);
    }

    /// Bodies must match the headers sent for their heights and continue the branch, and pass
    /// the body rules; past the headers, a body brings its own header, checked. Their work
    /// adds up as they come.
    #[test]
    fn bodies_follow_their_headers() {
        let (_, ours, theirs) = chains();
        let headers = above(&theirs, 2);
        let blocks = theirs.blocks()[3..].to_vec();
        let mut branch = ours.branch_at(2);
        branch.add_headers(&headers[..2], now_ms(), CAP).unwrap();
        let wrong = ours.block(3).unwrap().clone();
        assert_eq!(
            branch.add_bodies(vec![wrong.clone()], now_ms()),
            Err(BranchError::NotTheHeader {
                height: 3,
                hash: wrong.hash,
                header: headers[0].hash
            })
        );
        assert_eq!(
            branch.add_bodies(vec![blocks[1].clone()], now_ms()),
            Err(BranchError::DoesNotConnect {
                height: 4,
                previous_hash: blocks[1].previous_hash
            })
        );
        assert!(branch.bodies().is_empty());
        branch.add_bodies(blocks[..3].to_vec(), now_ms()).unwrap();
        assert_eq!(branch.bodies(), &blocks[..3]);
        assert_eq!(branch.bodies_tip(), blocks[2].hash);
        assert_eq!(branch.body_work(), 6);
        assert_eq!(
            branch.headers(),
            &headers[..3],
            "the third brought its header"
        );
        let mut broken = blocks[3].clone();
        broken.data.push("not in the merkle root".into());
        assert!(matches!(
            branch.add_bodies(vec![broken], now_ms()),
            Err(BranchError::Invalid(ChainError::BadMerkleRoot {
                height: 6,
                ..
            }))
        ));
        let mut forged = blocks[3].clone();
        forged.difficulty += 1;
        assert!(matches!(
            branch.add_bodies(vec![forged], now_ms()),
            Err(BranchError::Invalid(ChainError::BadHash { height: 6, .. }))
        ));
        assert_eq!(branch.bodies().len(), 3, "nothing more was added");
    }

    /// Connecting moves the bodies into our chain only once they carry more work (a tie keeps
    /// ours), and the branch goes on from its last body with the headers still ahead of it.
    #[test]
    fn a_connected_branch_goes_on_from_its_last_body() {
        let (_, mut ours, theirs) = chains();
        let mut branch = ours.branch_at(2);
        branch
            .add_headers(&above(&theirs, 2), now_ms(), CAP)
            .unwrap();
        let body = |h: usize| theirs.blocks()[h..h + 1].to_vec();
        for (height, theirs_work) in [(3, 2), (4, 4), (5, 6)] {
            branch.add_bodies(body(height), now_ms()).unwrap();
            assert_eq!(
                ours.connect_branch(&mut branch),
                Ok(Outcome::NotMoreWork {
                    branch_work: theirs_work,
                    our_work: 6
                })
            );
        }
        branch.add_bodies(body(6), now_ms()).unwrap();
        let old_tip = ours.tip().hash;
        assert_eq!(
            ours.connect_branch(&mut branch),
            Ok(Outcome::Reorganized {
                old_tip,
                new_tip: theirs.block(6).unwrap().hash,
                depth: 3,
                added: 4
            })
        );
        assert_eq!(branch.fork(), (6, theirs.block(6).unwrap().hash));
        assert_eq!(branch.headers(), &above(&theirs, 6)[..]);
        assert!(branch.bodies().is_empty() && branch.proven());
        branch.add_bodies(body(7), now_ms()).unwrap();
        assert_eq!(
            ours.connect_branch(&mut branch),
            Ok(Outcome::Extended {
                added: 1,
                tip: theirs.tip().hash,
                height: 7
            })
        );
        assert_eq!(ours.total_work(), theirs.total_work());
    }

    /// After connecting, the branch keeps exactly the headers the rules need below its new
    /// fork point, each at its own height, however long the chain below is.
    #[test]
    fn a_connected_branch_keeps_its_context_at_the_right_heights() {
        let mut ours = Blockchain::new(Network::Regtest);
        let spacing = ours.params().target_block_ms;
        mine_blocks(&mut ours, 30, spacing, "shared");
        let mut theirs = ours.clone();
        mine_blocks(&mut theirs, 6, spacing, "theirs");
        let mut branch = ours.branch_at(30);
        let need = context_len(ours.params()) as u64;
        assert_eq!(
            branch.view().get(30 - need),
            None,
            "only the context is copied"
        );
        branch
            .add_headers(&above(&theirs, 30), now_ms(), CAP)
            .unwrap();
        branch
            .add_bodies(theirs.blocks()[31..35].to_vec(), now_ms())
            .unwrap();
        ours.connect_branch(&mut branch).unwrap();
        assert_eq!(branch.fork().0, 34);
        for height in 34 + 1 - need..=34 {
            let header = branch.view().get(height).map(|h| h.hash);
            assert_eq!(
                header,
                Some(theirs.headers()[height as usize].hash),
                "{height}"
            );
        }
        assert_eq!(branch.view().get(34 - need), None);
        branch
            .add_bodies(theirs.blocks()[35..].to_vec(), now_ms())
            .unwrap();
        assert_eq!(
            ours.connect_branch(&mut branch).map(|_| ours.tip().hash),
            Ok(theirs.tip().hash)
        );
    }

    /// Every refusal names the rule's numbers.
    #[test]
    fn refusals_say_what_and_where() {
        let (one, two) = (Hash([1; 32]), Hash([2; 32]));
        let cases = [
            (
                BranchError::NotTheHeader {
                    height: 3,
                    hash: one,
                    header: two,
                },
                format!("block 3: hash {one} is not the header sent for that height, {two}"),
            ),
            (
                BranchError::DoesNotConnect {
                    height: 4,
                    previous_hash: one,
                },
                format!("block 4: previous_hash {one} does not continue the branch"),
            ),
            (
                BranchError::Unproven {
                    fork: 2,
                    headers: 9,
                    cap: 1024,
                },
                "a branch from height 2 passed 1024 bytes of headers (9 headers) without more \
                 work than ours"
                    .to_string(),
            ),
            (
                BranchError::Invalid(ChainError::BadVersion {
                    height: 5,
                    version: 2,
                }),
                "block 5: version 2 is not 1 (rule 1)".to_string(),
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
