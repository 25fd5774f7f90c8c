//! Connection entries waiting to be deleted after a teardown digest (plain
//! state, time in ms passed in, bounded).
//!
//! Why a grace period: the switch reports the FIN (or RST) as it forwards
//! it, but the other side's FIN and the last ACK still have to be rewritten
//! by the switch; deleting at once would send them to the front-end, which
//! forgot the flow (connection mode) and drops them, leaving the peer to
//! retransmit its FIN until it gives up. `TEARDOWN_GRACE` covers the rest
//! of a normal close plus a few retransmissions.
//!
//! A half-closed connection may keep sending long after the first FIN, so
//! when a deletion falls due the control task asks the switch how long the
//! entry has been quiet (`time_since_last_hit`) and re-arms it while
//! packets still flow (`rearm`); only a quiet entry is deleted.
//!
//! Each pending deletion remembers the key's epoch (the latest write's tag,
//! `ConnEntries::epoch`) when it was scheduled; the driver skips it if a new
//! Install for the same key (port reuse) came since.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use switchyard_wire::flow::ConnKey;

/// Default grace between a teardown digest and the deletion of the entry:
/// the rest of the close (the other FIN, the last ACK) and a couple of
/// retransmissions of them (Linux's minimum RTO is 200 ms, doubling).
pub const TEARDOWN_GRACE: Duration = Duration::from_secs(2);

/// Default bound on pending deletions: 32,768 closes per second for the
/// 2 s grace. Beyond it a teardown is left to the entry's idle timeout
/// (counted), which removes it later without harm.
pub const MAX_PENDING_DELETIONS: usize = 65536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub key: ConnKey,
    /// `ConnEntries::epoch` when the teardown was seen.
    pub epoch: Option<u64>,
}

/// The schedule is full; the teardown was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

#[derive(Debug)]
pub struct PendingDeletions {
    grace_ms: u64,
    capacity: usize,
    /// (due, sequence) -> key, in due order.
    by_due: BTreeMap<(u64, u64), ConnKey>,
    by_key: HashMap<ConnKey, ((u64, u64), Option<u64>)>,
    seq: u64,
}

impl PendingDeletions {
    pub fn new(grace: Duration, capacity: usize) -> Self {
        PendingDeletions {
            grace_ms: grace.as_millis() as u64,
            capacity: capacity.max(1),
            by_due: BTreeMap::new(),
            by_key: HashMap::new(),
            seq: 0,
        }
    }

    pub fn grace_ms(&self) -> u64 {
        self.grace_ms
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// A teardown digest for `key` at `now`: delete after the grace. A
    /// second digest (the other side's FIN) re-arms from now.
    pub fn on_teardown(&mut self, key: ConnKey, epoch: Option<u64>, now: u64) -> Result<(), Overflow> {
        self.schedule(key, epoch, now + self.grace_ms)
    }

    /// The entry was still in use `quiet_ms` ago: try again when it will
    /// have been quiet for the whole grace.
    pub fn rearm(&mut self, key: ConnKey, epoch: Option<u64>, quiet_ms: u64, now: u64) -> Result<(), Overflow> {
        self.schedule(key, epoch, now + self.grace_ms.saturating_sub(quiet_ms).max(1))
    }

    fn schedule(&mut self, key: ConnKey, epoch: Option<u64>, due: u64) -> Result<(), Overflow> {
        if let Some((old, _)) = self.by_key.remove(&key) {
            self.by_due.remove(&old);
        } else if self.by_key.len() >= self.capacity {
            return Err(Overflow);
        }
        self.seq += 1;
        let slot = (due, self.seq);
        self.by_due.insert(slot, key);
        self.by_key.insert(key, (slot, epoch));
        Ok(())
    }

    /// The entry went away otherwise (idle timeout, a new install).
    pub fn cancel(&mut self, key: &ConnKey) {
        if let Some((slot, _)) = self.by_key.remove(key) {
            self.by_due.remove(&slot);
        }
    }

    /// Earliest due time.
    pub fn next_due(&self) -> Option<u64> {
        self.by_due.keys().next().map(|(d, _)| *d)
    }

    /// Removes and returns every deletion due at `now`.
    pub fn take_due(&mut self, now: u64, out: &mut Vec<Due>) {
        while let Some((&(due, seq), &key)) = self.by_due.iter().next() {
            if due > now {
                break;
            }
            self.by_due.remove(&(due, seq));
            let (_, epoch) = self.by_key.remove(&key).expect("both maps hold the key");
            out.push(Due { key, epoch });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: u16) -> ConnKey {
        ConnKey { client_ip: [198, 18, 0, 2].into(), client_port: p, vip_id: 1 }
    }

    #[test]
    fn due_after_the_grace_in_order() {
        let mut p = PendingDeletions::new(Duration::from_millis(100), 4);
        p.on_teardown(key(1), Some(7), 0).unwrap();
        p.on_teardown(key(2), None, 10).unwrap();
        let mut out = Vec::new();
        p.take_due(99, &mut out);
        assert!(out.is_empty());
        assert_eq!(p.next_due(), Some(100));
        p.take_due(110, &mut out);
        assert_eq!(out, vec![Due { key: key(1), epoch: Some(7) }, Due { key: key(2), epoch: None }]);
        assert!(p.is_empty());
    }

    #[test]
    fn second_digest_rearms_and_cancel_removes() {
        let mut p = PendingDeletions::new(Duration::from_millis(100), 4);
        p.on_teardown(key(1), Some(1), 0).unwrap();
        p.on_teardown(key(1), Some(1), 50).unwrap();
        assert_eq!(p.len(), 1);
        let mut out = Vec::new();
        p.take_due(100, &mut out);
        assert!(out.is_empty(), "re-armed from the second FIN");
        p.take_due(150, &mut out);
        assert_eq!(out.len(), 1);
        p.on_teardown(key(2), None, 0).unwrap();
        p.cancel(&key(2));
        assert_eq!(p.next_due(), None);
    }

    #[test]
    fn busy_entries_wait_for_quiet_and_the_bound_holds() {
        let mut p = PendingDeletions::new(Duration::from_millis(100), 2);
        p.rearm(key(1), None, 30, 1000).unwrap();
        assert_eq!(p.next_due(), Some(1070), "quiet for 30 of the 100 ms");
        p.on_teardown(key(2), None, 1000).unwrap();
        assert_eq!(p.on_teardown(key(3), None, 1000), Err(Overflow));
        assert!(p.on_teardown(key(2), None, 1001).is_ok(), "re-arming a known key is not growth");
    }
}
