//! Exponential back-off for reconnects: `initial`, doubled per failure up to
//! `max`, with a deterministic jitter of up to a quarter (derived from the
//! attempt number and a seed) so many controllers restarting together do not
//! retry in lockstep. Plain state: the driver sleeps what `next_delay` says.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub initial: Duration,
    pub max: Duration,
    /// Give up after this many consecutive failures (None: never).
    pub max_attempts: Option<u32>,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy { initial: Duration::from_millis(50), max: Duration::from_secs(5), max_attempts: Some(20) }
    }
}

#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
    seed: u64,
}

impl Backoff {
    pub fn new(policy: BackoffPolicy, seed: u64) -> Self {
        Backoff { policy, failures: 0, seed }
    }

    /// Records a failure; the delay before the next attempt, or None to give up.
    pub fn next_delay(&mut self) -> Option<Duration> {
        self.failures += 1;
        if self.policy.max_attempts.is_some_and(|m| self.failures >= m) {
            return None;
        }
        let exp = self.policy.initial.saturating_mul(1u32 << (self.failures - 1).min(20));
        let base = exp.min(self.policy.max);
        // splitmix64 of (seed, attempt): cheap, deterministic jitter.
        let mut z = self.seed.wrapping_add(u64::from(self.failures).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let jitter = base.as_nanos() as u64 / 4;
        let j = if jitter == 0 { 0 } else { z % jitter };
        Some(base.saturating_sub(Duration::from_nanos(j)))
    }

    /// A success resets the sequence.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_gives_up() {
        let p = BackoffPolicy { initial: Duration::from_millis(100), max: Duration::from_millis(700), max_attempts: Some(6) };
        let mut b = Backoff::new(p, 7);
        let d: Vec<Duration> = (0..5).map(|_| b.next_delay().unwrap()).collect();
        for (i, x) in d.iter().enumerate() {
            let nominal = Duration::from_millis(100 * (1 << i)).min(Duration::from_millis(700));
            assert!(*x <= nominal && *x >= nominal * 3 / 4, "attempt {i}: {x:?} vs {nominal:?}");
        }
        assert_eq!(b.next_delay(), None, "sixth failure gives up");
        b.reset();
        assert!(b.next_delay().unwrap() <= Duration::from_millis(100));
    }
}
