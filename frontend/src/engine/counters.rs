//! What the engine did, for metrics. Drops are indexed by the registry's
//! `DropReason` code so every part's numbers mean the same thing.

use switchyard_wire::reason::DropReason;

use crate::http::ErrorReply;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Index = `DropReason as u8`.
    pub drops: [u64; 32],
    pub new_flows: u64,
    pub acks_sent: u64,
    pub replayed_syns: u64,
    pub syn_retransmits: u64,
    pub backend_syn_acks: u64,
    pub requests_sent: u64,
    pub request_retransmits: u64,
    pub forwarded_to_backend: u64,
    pub forwarded_to_client: u64,
    /// Index = position in `ErrorReply::ALL`.
    pub replies: [u64; 7],
    pub offload_requested: u64,
    pub offload_installed: u64,
    pub offload_refused: u64,
    pub forwarded_after_offload: u64,
    pub handovers: u64,
    /// Hand-overs that waited for the switch's entry to be detached first.
    pub handover_detaches: u64,
    /// Detach answers that did not come within the flow's timer: the
    /// hand-over went on anyway.
    pub detach_overdue: u64,
    /// FINs of backends a request-mode flow left before its latest
    /// hand-over, ACKed statelessly.
    pub former_backend_fins: u64,
    /// Flows whose response was held (zero window to the backend) until
    /// their switch entry was in (`hold_until_offloaded`).
    pub holds: u64,
    /// Holds ended (completion, timeout, hand-over), and the window updates
    /// sent to the backend for them.
    pub hold_releases: u64,
    pub window_updates: u64,
    /// Holds released by `HOLD_TIMEOUT_MS`, no completion in time.
    pub hold_timeouts: u64,
    /// Flows admitted with the shorter request timeout of a table under
    /// pressure, and flows without a backend (assembling, replied) evicted
    /// from a full table (`pressure`).
    pub pressure_timeouts: u64,
    pub assembling_evicted: u64,
    /// RSTs answering client segments of no connection (`stateless`; each
    /// also counts as a `bad_cookie` drop).
    pub stateless_resets: u64,
    /// Last-request connections whose response the front-end carried
    /// itself, never offloaded (`[frontend] carry_responses_up_to`).
    pub responses_carried: u64,
    pub flows_closed: u64,
    pub flows_aborted: u64,
    /// Client SYNs the switch sent because its table still held an entry
    /// for their key (a reused port): entry detached, then SYN-ACKed.
    pub reused_ports: u64,
    /// Cookie SYN-ACKs the engine sent itself (for reused ports).
    pub syn_acks_sent: u64,
    /// Backends passively ejected (`PASSIVE_EJECT_FAILURES` failed
    /// handshakes in a row).
    pub backend_ejections: u64,
    /// Frames from or to `[frontend] host_address`, left to the host.
    pub host_frames: u64,
}

impl Counters {
    pub fn drop(&mut self, r: DropReason) {
        self.drops[r as usize] += 1;
    }

    pub fn dropped(&self, r: DropReason) -> u64 {
        self.drops[r as usize]
    }

    pub fn reply(&mut self, r: ErrorReply) {
        if let Some(i) = ErrorReply::ALL.iter().position(|&x| x == r) {
            self.replies[i] += 1;
        }
    }

    pub fn replied(&self, r: ErrorReply) -> u64 {
        ErrorReply::ALL.iter().position(|&x| x == r).map_or(0, |i| self.replies[i])
    }
}
