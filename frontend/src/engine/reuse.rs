//! Port reuse (docs/ARCHITECTURE.md, "A reused client port"): a client
//! opens a new connection from a port whose previous connection still has
//! an entry in the switch (the entry outlives the close by the teardown
//! grace, the front-end's tombstone by `OFFLOADED_GRACE_MS`). Were the
//! switch to answer that SYN, the new connection's ACK and request would hit
//! the old entry and be carried to the old backend, which holds the 4-tuple
//! in TIME_WAIT: the request gets through only on a retransmission, if at
//! all. So the switch sends a client SYN that hits an entry to the
//! front-end, which forgets the old flow, detaches the entry and sends the
//! cookie SYN-ACK the switch would have sent only once the entry is gone:
//! the client's ACK then cannot reach the old backend.
//!
//! Plain state: the SYNs waiting for their entry to go (bounded; a SYN past
//! the bound is dropped and the client retransmits it).

use core::net::Ipv4Addr;
use std::collections::HashMap;

use switchyard_wire::flow::ConnKey;
use switchyard_wire::tcp_option::SynOptions;

/// A client SYN whose SYN-ACK waits for the old entry's detach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingSyn {
    pub vip: Ipv4Addr,
    pub vport: u16,
    pub client_isn: u32,
    pub opts: SynOptions,
    pub since: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// First SYN for the key: the driver must ask for the detach.
    New,
    /// A retransmission of a SYN already waiting (its ISN is kept).
    Waiting,
    /// Bound reached even after dropping stale entries.
    Full,
}

#[derive(Debug)]
pub struct Reopening {
    pending: HashMap<ConnKey, PendingSyn>,
    capacity: usize,
    stale_ms: u64,
}

impl Reopening {
    pub fn new(capacity: usize, stale_ms: u64) -> Self {
        Self { pending: HashMap::new(), capacity: capacity.max(1), stale_ms }
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn admit(&mut self, key: ConnKey, syn: PendingSyn) -> Admit {
        if let Some(p) = self.pending.get_mut(&key) {
            if p.client_isn == syn.client_isn {
                return Admit::Waiting;
            }
            // Another new connection on the same port: answer that one.
            *p = syn;
            return Admit::Waiting;
        }
        if self.pending.len() >= self.capacity {
            // A detach answer never came (a lost control task): the client
            // has retransmitted long since; forget those.
            let (now, stale) = (syn.since, self.stale_ms);
            self.pending.retain(|_, p| now.saturating_sub(p.since) < stale);
            if self.pending.len() >= self.capacity {
                return Admit::Full;
            }
        }
        self.pending.insert(key, syn);
        Admit::New
    }

    /// The entry is gone: the SYN to answer now, if one waited.
    pub fn detached(&mut self, key: &ConnKey) -> Option<PendingSyn> {
        self.pending.remove(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: u16) -> ConnKey {
        ConnKey { client_ip: Ipv4Addr::new(198, 18, 0, 2), client_port: p, vip_id: 0 }
    }

    fn syn(isn: u32, since: u64) -> PendingSyn {
        PendingSyn { vip: Ipv4Addr::new(198, 18, 100, 1), vport: 80, client_isn: isn, opts: SynOptions::default(), since }
    }

    #[test]
    fn admit_once_answer_once() {
        let mut r = Reopening::new(2, 1000);
        assert_eq!(r.admit(key(1), syn(7, 0)), Admit::New);
        assert_eq!(r.admit(key(1), syn(7, 5)), Admit::Waiting, "retransmitted SYN");
        assert_eq!(r.admit(key(1), syn(9, 6)), Admit::Waiting, "newer connection replaces");
        assert_eq!(r.detached(&key(1)).map(|p| p.client_isn), Some(9));
        assert_eq!(r.detached(&key(1)), None);
    }

    #[test]
    fn bounded_and_stale_entries_make_room() {
        let mut r = Reopening::new(2, 1000);
        assert_eq!(r.admit(key(1), syn(1, 0)), Admit::New);
        assert_eq!(r.admit(key(2), syn(1, 500)), Admit::New);
        assert_eq!(r.admit(key(3), syn(1, 900)), Admit::Full);
        assert_eq!(r.admit(key(3), syn(1, 1200)), Admit::New, "key 1 was stale");
        assert_eq!(r.len(), 2);
    }
}
