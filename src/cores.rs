//! How many cores the node's parallel work may use: the miner's nonce search and the
//! signature checks of a block.
//!
//! Its own module because both need it and neither should import the other for it: the
//! consensus rules must not depend on the miner.

/// One thread per core, asked once and remembered: on Linux the answer comes from reading
/// cgroup files, which cost more than checking a block without transactions. (Bitcoin Core
/// asks the same question for its script-check threads, `-par`, and for `-threads`.)
pub fn count() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}
