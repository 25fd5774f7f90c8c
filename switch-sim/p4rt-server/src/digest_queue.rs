//! Digest batching for one digest type, as a state machine with time passed
//! in (ns): digests wait until `max_list_size` are pending or the oldest has
//! waited `max_timeout_ns`; a sent list stays outstanding until the
//! controller acks it or `ack_timeout_ns` passes, and while it is outstanding
//! the same data is not reported again (bmv2's de-duplication).

use std::collections::{BTreeMap, HashSet};

/// `DigestEntry.Config`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestConfig {
    pub max_timeout_ns: u64,
    /// 0: no limit (the timeout alone closes a list).
    pub max_list_size: usize,
    pub ack_timeout_ns: u64,
}

/// One digest's member values, in declaration order.
pub type DigestData = Vec<u64>;

#[derive(Debug)]
pub struct DigestQueue {
    pub config: DigestConfig,
    pending: Vec<DigestData>,
    first_at: u64,
    outstanding: BTreeMap<u64, (u64, Vec<DigestData>)>,
    in_flight: HashSet<DigestData>,
    next_list_id: u64,
    /// Digests dropped because the pending list hit its bound.
    pub dropped: u64,
}

/// Pending digests never exceed this, whatever the config says: a
/// controller that never reads must not grow the server without bound.
pub const MAX_PENDING: usize = 65536;

impl DigestQueue {
    pub fn new(config: DigestConfig) -> Self {
        DigestQueue { config, pending: Vec::new(), first_at: 0, outstanding: BTreeMap::new(), in_flight: HashSet::new(), next_list_id: 1, dropped: 0 }
    }

    pub fn push(&mut self, data: DigestData, now: u64) {
        self.expire(now);
        if self.in_flight.contains(&data) || self.pending.contains(&data) {
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            self.dropped += 1;
            return;
        }
        if self.pending.is_empty() {
            self.first_at = now;
        }
        self.pending.push(data);
    }

    /// A list ready to send now: (list id, data).
    pub fn poll(&mut self, now: u64) -> Option<(u64, Vec<DigestData>)> {
        self.expire(now);
        if self.pending.is_empty() {
            return None;
        }
        let full = self.config.max_list_size > 0 && self.pending.len() >= self.config.max_list_size;
        let waited = now.saturating_sub(self.first_at) >= self.config.max_timeout_ns;
        if !full && !waited {
            return None;
        }
        let n = if self.config.max_list_size > 0 { self.config.max_list_size.min(self.pending.len()) } else { self.pending.len() };
        let list: Vec<DigestData> = self.pending.drain(..n).collect();
        self.first_at = now;
        let id = self.next_list_id;
        self.next_list_id += 1;
        for d in &list {
            self.in_flight.insert(d.clone());
        }
        self.outstanding.insert(id, (now, list.clone()));
        Some((id, list))
    }

    /// DigestListAck: false when the list id is unknown (already acked or expired).
    pub fn ack(&mut self, list_id: u64) -> bool {
        match self.outstanding.remove(&list_id) {
            Some((_, list)) => {
                for d in list {
                    self.in_flight.remove(&d);
                }
                true
            }
            None => false,
        }
    }

    fn expire(&mut self, now: u64) {
        let timeout = self.config.ack_timeout_ns;
        let old: Vec<u64> = self.outstanding.iter().filter(|(_, (at, _))| now.saturating_sub(*at) >= timeout).map(|(id, _)| *id).collect();
        for id in old {
            self.ack(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(size: usize, timeout: u64) -> DigestQueue {
        DigestQueue::new(DigestConfig { max_timeout_ns: timeout, max_list_size: size, ack_timeout_ns: 1000 })
    }

    #[test]
    fn list_closes_on_size_or_timeout() {
        let mut d = q(2, 100);
        d.push(vec![1], 0);
        assert!(d.poll(10).is_none());
        d.push(vec![2], 10);
        assert_eq!(d.poll(10), Some((1, vec![vec![1], vec![2]])));
        d.push(vec![3], 20);
        assert!(d.poll(119).is_none());
        assert_eq!(d.poll(120), Some((2, vec![vec![3]])));
    }

    #[test]
    fn duplicates_suppressed_until_ack_or_ack_timeout() {
        let mut d = q(1, 0);
        d.push(vec![7], 0);
        assert!(d.poll(0).is_some());
        d.push(vec![7], 1);
        assert!(d.poll(1).is_none(), "same data while unacked");
        assert!(d.ack(1));
        assert!(!d.ack(1));
        d.push(vec![7], 2);
        let (id, _) = d.poll(2).unwrap();
        assert_eq!(id, 2);
        // Not acked: after ack_timeout the data may be reported again.
        d.push(vec![7], 500);
        assert!(d.poll(500).is_none());
        d.push(vec![7], 1002);
        assert!(d.poll(1002).is_some());
    }
}
