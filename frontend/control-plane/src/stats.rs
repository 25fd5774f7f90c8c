//! Control-task counters and the install-latency histogram. Written by the
//! control thread (relaxed atomics; the worker writes only
//! `refused_queue_full`), read by the worker's stats line, the exit
//! summary and the admin API's metrics without locks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Log-linear buckets over microseconds: values below 16 µs exactly, then 8
/// buckets per power of two (at most 12.5 % relative error) up to 2^40 µs.
const LINEAR: u64 = 16;
const SUB: u32 = 8;
const BUCKETS: usize = 16 + (40 - 4) * SUB as usize;

pub struct LatencyHistogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

fn bucket_of(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let e = 63 - us.leading_zeros(); // >= 4
    let sub = (us >> (e - 3)) & u64::from(SUB - 1);
    (16 + (e - 4) * SUB + sub as u32).min(BUCKETS as u32 - 1) as usize
}

/// The largest value of a bucket.
fn bucket_top(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let j = (i - 16) as u32;
    let e = j / SUB + 4;
    let sub = u64::from(j % SUB);
    ((8 + sub + 1) << (e - 3)) - 1
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// For each bound (µs, ascending), how many values are surely at or
    /// below it: the counts of the buckets whose top is within the bound
    /// (Prometheus's cumulative `le` buckets; a value in a bucket the
    /// bound cuts counts above it, at most 12.5 % off).
    pub fn cumulative(&self, bounds_us: &[u64]) -> Vec<u64> {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        bounds_us
            .iter()
            .map(|&bound| counts.iter().enumerate().filter(|&(i, _)| bucket_top(i) <= bound).map(|(_, c)| c).sum())
            .collect()
    }

    pub fn sum_us(&self) -> u64 {
        self.sum_us.load(Relaxed)
    }

    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        self.buckets[bucket_of(us)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    pub fn mean(&self) -> Duration {
        let n = self.count();
        Duration::from_micros(self.sum_us.load(Relaxed).checked_div(n).unwrap_or(0))
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max_us.load(Relaxed))
    }

    /// The `q` quantile (0..=1), as the top of its bucket (never below the
    /// true value, at most 12.5 % above it).
    pub fn quantile(&self, q: f64) -> Duration {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_micros(bucket_top(i).min(self.max_us.load(Relaxed)));
            }
        }
        self.max()
    }
}

#[derive(Default)]
pub struct ControlStats {
    /// Install requests received from the workers.
    pub install_requests: AtomicU64,
    pub installed: AtomicU64,
    /// Installs that were moves of an existing entry (MODIFY, request mode).
    pub moved: AtomicU64,
    pub refused_table_full: AtomicU64,
    pub refused_unreachable: AtomicU64,
    pub refused_failed: AtomicU64,
    /// Installs for a backend a reload is moving to another service, from
    /// that service's flows (carried until the move completes).
    pub refused_moving: AtomicU64,
    /// Installs the worker could not queue (the request queue was full):
    /// refused at once, never seen by the control thread.
    pub refused_queue_full: AtomicU64,
    /// Deletes asked by the engine (flow closed before or after install).
    pub engine_deletes: AtomicU64,
    /// Detaches asked by the engine (request-mode hand-overs; answered).
    pub detaches: AtomicU64,
    /// Entries deleted after a teardown digest and the grace period.
    pub teardown_deletes: AtomicU64,
    /// Teardown digests received (one per FIN/RST the switch carried).
    pub teardown_digests: AtomicU64,
    /// Teardowns left to the idle timeout (the pending set was full).
    pub teardown_overflow: AtomicU64,
    /// Entries deleted on an idle-timeout notification.
    pub idle_deletes: AtomicU64,
    pub delete_failed: AtomicU64,
    pub rotations: AtomicU64,
    /// Connection keys the control task believes installed, and the
    /// table's size from the P4Info (0: unknown).
    pub conn_entries_tracked: AtomicU64,
    pub conn_table_size: AtomicU64,
    /// Install latency: the worker's submit to the switch's answer.
    pub install_latency: LatencyHistogram,
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1e3)
}

impl ControlStats {
    pub fn line(&self) -> String {
        let l = &self.install_latency;
        let g = |a: &AtomicU64| a.load(Relaxed);
        format!(
            "switch: install req {} ok {} (moved {}) refused full {} unreachable {} failed {} moving {}; latency n {} mean {} p50 {} p99 {} max {}; \
             deletes engine {} detach {} teardown {} (digests {} overflow {}) idle {} failed {}; rotations {}",
            g(&self.install_requests),
            g(&self.installed),
            g(&self.moved),
            g(&self.refused_table_full),
            g(&self.refused_unreachable),
            g(&self.refused_failed),
            g(&self.refused_moving),
            l.count(),
            ms(l.mean()),
            ms(l.quantile(0.5)),
            ms(l.quantile(0.99)),
            ms(l.max()),
            g(&self.engine_deletes),
            g(&self.detaches),
            g(&self.teardown_deletes),
            g(&self.teardown_digests),
            g(&self.teardown_overflow),
            g(&self.idle_deletes),
            g(&self.delete_failed),
            g(&self.rotations),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_their_values() {
        for us in [0u64, 1, 15, 16, 17, 100, 1000, 12345, 1 << 30, (1 << 40) - 1] {
            let b = bucket_of(us);
            assert!(bucket_top(b) >= us, "{us} in bucket {b} topping at {}", bucket_top(b));
            if b > 0 {
                assert!(bucket_top(b - 1) < us, "{us}: previous bucket already holds it");
            }
            assert!(bucket_top(b) as f64 <= us as f64 * 1.125 + 1.0);
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1, "beyond 2^40 µs (12 days) is clamped into the last bucket");
    }

    #[test]
    fn cumulative_counts_only_buckets_within_the_bound() {
        let h = LatencyHistogram::default();
        for us in [3u64, 10, 100, 1000, 1000, 50_000] {
            h.record(Duration::from_micros(us));
        }
        // 1000 µs falls in the bucket [960, 1023]: within a 1023 bound,
        // not within 999.
        assert_eq!(h.cumulative(&[5, 10, 999, 1023, 100_000]), vec![1, 2, 3, 5, 6]);
        assert_eq!(h.sum_us(), 52_113);
    }

    #[test]
    fn quantiles_within_a_bucket() {
        let h = LatencyHistogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5).as_micros() as f64;
        let p99 = h.quantile(0.99).as_micros() as f64;
        assert!((500.0..=500.0 * 1.125).contains(&p50), "p50 {p50}");
        assert!((990.0..=1000.0).contains(&p99), "p99 {p99} (capped by the max)");
        assert_eq!(h.count(), 1000);
        assert_eq!(h.mean(), Duration::from_micros(500));
    }
}
