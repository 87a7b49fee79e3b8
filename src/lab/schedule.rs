//! Who finds the next block, and when: the lab's stand-in for hash power.
//!
//! A laptop cannot give one node a third of the world's hashing, so the lab draws the finds
//! instead. Proof of work makes finding a block memoryless: each hash is a fresh lottery
//! ticket, so the time to the next block anywhere is exponential, and the finds form a
//! Poisson process with mean interval T. Each find goes to a miner with probability equal to
//! its share of the hash power. The miner then mines a real block, on its own tip at that
//! moment, at the lab network's tiny difficulty (see [`crate::params`]): the proof of work is
//! real, only its cost is not.
//!
//! A seed makes the schedule repeatable: the same seed draws the same intervals and the same
//! winners. What a seed does not fix is the network: threads, sockets and the operating
//! system's timer decide the microseconds, so a block found 2 ms after another may or may
//! not have reached its miner first. Two runs with one seed agree in their draws and, within
//! their confidence intervals, in their results.

/// A small, seedable random number generator (SplitMix64, Steele, Lea and Flood 2014):
/// enough for a schedule, and not for keys (those come from the operating system).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

/// SplitMix64's output function: scrambles a counter into 64 random-looking bits.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Exponential with mean `mean`: the wait for the next find.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        // 1 - unit() is in (0, 1], so the logarithm is finite.
        -mean * (1.0 - self.unit()).ln()
    }

    /// An index drawn with probability proportional to `weights` (which must not all be 0).
    pub fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        // Rounding left x a hair past the end: the last miner with a share.
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed draws the same schedule; another seed another one.
    #[test]
    fn seeds_repeat() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..5).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    /// Intervals average T, and finds go to miners by share (10 000 draws, within 5 sigma).
    #[test]
    fn intervals_and_shares() {
        let mut rng = Rng::new(1);
        let n = 10_000;
        let mean: f64 = (0..n).map(|_| rng.exponential(100.0)).sum::<f64>() / n as f64;
        // The mean of n exponentials has standard deviation T / sqrt(n) = 1.
        assert!((mean - 100.0).abs() < 5.0, "mean interval {mean}");
        let shares = [0.1, 0.0, 0.6, 0.3];
        let mut wins = [0usize; 4];
        for _ in 0..n {
            wins[rng.pick(&shares)] += 1;
        }
        assert_eq!(wins[1], 0, "a miner with no share never wins");
        for (w, s) in wins.iter().zip(shares) {
            let sd = (n as f64 * s * (1.0 - s)).sqrt();
            assert!(
                (*w as f64 - n as f64 * s).abs() <= 5.0 * sd + 1.0,
                "{wins:?}"
            );
        }
    }
}
