//! A flow table under pressure (issue 10, point 6): idle handshakes — a
//! client that completes the switch's handshake and never sends a request,
//! from as many source addresses as an attacker has — must not lock
//! legitimate clients out until their 408s free slots. Two defences, as
//! HAProxy's and nginx's request timeouts are used:
//! * above `PRESSURE_PERCENT` of the table, a new flow gets
//!   `PRESSURE_REQUEST_MS` instead of `[timeouts] request_ms` to complete
//!   its request head;
//! * when the table is full, the oldest flow that never reached a backend
//!   — still assembling its request, or answered by the engine itself (a
//!   408 to an idle handshake waits there for the client's FIN) — is
//!   evicted (RST to its client) to make room for the new one. A flow on a
//!   backend (routed, spliced) is never evicted.
//!
//! `AssemblingQueue` remembers flows in the order they were admitted; it
//! is checked lazily (an entry whose flow has moved on or gone is skipped),
//! and bounded.

use std::collections::VecDeque;

use switchyard_wire::flow::ConnKey;

use super::conn::{ConnEntry, SpliceState};
use crate::flow_table::FlowTable;

#[derive(Debug, Default)]
pub struct AssemblingQueue {
    /// (key, cookie): the cookie tells this connection from a later one
    /// on the same key.
    order: VecDeque<(ConnKey, u32)>,
}

impl AssemblingQueue {
    /// A new flow (always assembling at first).
    pub fn admitted(&mut self, key: ConnKey, cookie: u32, capacity: usize) {
        // Entries of flows long gone are dropped from the front; the
        // bound keeps the queue within twice the table.
        while self.order.len() >= 2 * capacity.max(1) {
            self.order.pop_front();
        }
        self.order.push_back((key, cookie));
    }

    /// The oldest flow with no backend (assembling, or replied by the
    /// engine), taken out of the queue.
    pub fn oldest_without_backend(&mut self, flows: &FlowTable<ConnEntry>) -> Option<ConnKey> {
        while let Some((key, cookie)) = self.order.pop_front() {
            if flows.get(&key).is_some_and(|f| f.cookie == cookie && matches!(f.state, SpliceState::Assembling | SpliceState::Replied { .. })) {
                return Some(key);
            }
        }
        None
    }
}
