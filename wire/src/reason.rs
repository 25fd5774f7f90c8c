//! The one registry of drop reasons and path counters, shared by the P4
//! program, the eBPF agent, the front-end and the metrics (Cilium's drop
//! reasons are the model). Each part keeps its own copy of the numbers in
//! its own language (P4 `#define`, C `enum`); a test of each part compares
//! that copy with this table, so a number means the same thing everywhere.
//!
//! Codes are stable: never renumber, only append.
//!
//! The front-end's own counters (`FRONTEND_COUNTERS`) are a third table of
//! the same shape: the engine's storage is an array sized from it and
//! indexed by `FrontendCounter`, the metrics exporter and the worker's
//! stats lines take their names and help text from it, so a counter is one
//! row here and nothing else to keep in step.

use crate::error::{Header, WireError};

/// A registry row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    pub code: u8,
    /// snake_case, used as the metrics label.
    pub name: &'static str,
    pub what: &'static str,
}

macro_rules! registry {
    ($(#[$m:meta])* $ty:ident, $table:ident { $($variant:ident = $code:literal, $name:literal, $what:literal;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $ty { $($variant = $code,)* }

        pub const $table: &[Reason] = &[$(Reason { code: $code, name: $name, what: $what },)*];

        impl $ty {
            /// Slots of an array indexed by code (`as usize`): the highest
            /// code + 1 (slot 0, "no reason", stays unused).
            pub const SLOTS: usize = slots(&[$($code),*]);

            pub fn from_code(code: u8) -> Option<Self> {
                match code { $($code => Some($ty::$variant),)* _ => None }
            }
            pub fn reason(self) -> &'static Reason {
                $table.iter().find(|r| r.code == self as u8).expect("every variant is in the table")
            }
        }
    };
}

/// The highest of `codes` + 1: the length of an array indexed by them.
const fn slots(codes: &[u8]) -> usize {
    let (mut max, mut i) = (0, 0);
    while i < codes.len() {
        if codes[i] > max {
            max = codes[i];
        }
        i += 1;
    }
    max as usize + 1
}

registry! {
    /// Why a packet was dropped (by any part).
    DropReason, DROP_REASONS {
        Truncated = 1, "truncated", "shorter than the headers it announces";
        BadIpHeader = 2, "bad_ip_header", "IPv4 version, IHL or total length invalid";
        IpFragment = 3, "ip_fragment", "IPv4 fragment addressed to a VIP";
        IpOptions = 4, "ip_options", "IPv4 options on a packet to or from a VIP";
        TtlExpired = 5, "ttl_expired", "TTL reached zero";
        BadTcpHeader = 6, "bad_tcp_header", "TCP data offset invalid";
        BadTcpOptions = 7, "bad_tcp_options", "TCP options malformed";
        BadCookie = 8, "bad_cookie", "ACK to a VIP whose SYN cookie does not validate";
        NoRoute = 9, "no_route", "no route for the destination";
        BadTcpFlags = 10, "bad_tcp_flags", "impossible TCP flag combination (SYN+FIN, SYN+RST, none)";
        BadChecksum = 11, "bad_checksum", "IP or TCP checksum wrong";
        FlowTableFull = 12, "flow_table_full", "front-end flow table full";
        NotIpv4 = 13, "not_ipv4", "non-IPv4 frame on a data port";
        NoFlow = 14, "no_flow", "packet for a flow nobody knows (not a valid new connection)";
        AgentNotTcp = 15, "agent_not_tcp", "agent: IPv4 but not TCP (passed unchanged)";
        AgentNotServicePort = 16, "agent_not_service_port", "agent: TCP not to/from a configured service port (passed unchanged)";
        AgentMapFull = 17, "agent_map_full", "agent: flow map update failed, fused SYN passed without recording";
        AgentNotFused = 18, "agent_not_fused", "agent: SYN without a fused switch ISN (plain connection, passed unchanged)";
        AgentSynAckMismatch = 19, "agent_syn_ack_mismatch", "agent: backend SYN-ACK does not acknowledge the recorded client ISN";
        AgentNotSpliced = 20, "agent_not_spliced", "agent: segment of a recorded flow before the backend's SYN-ACK";
        NoFrontend = 21, "no_frontend", "switch: VIP or backend packet needs a front-end but no front-end port is configured";
        SpoofedSource = 22, "spoofed_source", "switch: a client-facing port sent a packet from a backend or front-end address (protected_source)";
        DirectToBackend = 23, "direct_to_backend", "switch: a client-facing port sent a packet straight to a backend's service address:port (only the switch's own rewrite may reach it)";
    }
}

registry! {
    /// Where packets went: per-path counters of the switch and front-end.
    PathCounter, PATH_COUNTERS {
        SynAnswered = 1, "syn_answered", "SYN to a VIP answered by the switch with a cookie SYN-ACK";
        ToFrontend = 2, "to_frontend", "VIP or backend packet sent to a front-end (no entry, or a SYN)";
        OffloadedIn = 3, "offloaded_in", "client packet rewritten to its backend by the switch";
        OffloadedOut = 4, "offloaded_out", "backend packet rewritten to come from the VIP by the switch";
        Routed = 5, "routed", "packet routed unchanged (not VIP traffic, or from a front-end)";
        Dropped = 6, "dropped", "packet dropped (see the drop reasons)";
        TeardownDigest = 7, "teardown_digest", "FIN or RST on an offloaded flow reported to the control plane";
        AgentFusedSyn = 8, "agent_fused_syn", "agent: fused SYN recorded (switch ISN taken from the ack field, field cleared)";
        AgentSynAck = 9, "agent_syn_ack", "agent: backend SYN-ACK rewritten into the switch's sequence space";
        AgentEgress = 10, "agent_egress", "agent: backend segment rewritten (seq + delta, window rescaled)";
        AgentIngress = 11, "agent_ingress", "agent: client segment rewritten (ack - delta)";
        AgentSack = 12, "agent_sack", "agent: client segment whose SACK blocks were rewritten";
        AgentWindowClamped = 13, "agent_window_clamped", "agent: rescaled window clamped to 65535 or raised from 0 to 1";
        AgentFlowReplaced = 14, "agent_flow_replaced", "agent: a new fused SYN replaced the entry of its 4-tuple (re-dispatch)";
        AgentFlowClosed = 15, "agent_flow_closed", "agent: flow entry removed after both FINs were acknowledged, or an RST";
        SynRefused = 16, "syn_refused", "switch: SYN to a VIP refused with RST|ACK because no front-end is live (frontend_count 0)";
    }
}

/// A front-end counter row: `name` is the counter's one name, in the
/// metrics (`switchyard_frontend_<name>_total`, or the label value of its
/// family's series: `export`), the worker's stats lines and the docs
/// (docs/OPERATIONS.md, "Metrics"); `what` is the metric's help text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub code: u8,
    /// snake_case.
    pub name: &'static str,
    pub what: &'static str,
    pub export: Export,
}

/// How the metrics exporter writes a front-end counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// Its own metric: `switchyard_frontend_<name>_total`.
    Total,
    /// One series of a labeled counter family:
    /// `switchyard_frontend_<family.name>_total{<family.label>="<value>"}`.
    Series(&'static Family, &'static str),
}

/// A counter family several rows of `FRONTEND_COUNTERS` are the series of.
#[derive(Debug, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub label: &'static str,
    pub what: &'static str,
}

pub const FORWARDED_PACKETS: Family = Family {
    name: "forwarded_packets",
    label: "direction",
    what: "Packets the front-end forwarded itself (the front-end path), by direction",
};

/// Every family a row of `FRONTEND_COUNTERS` exports into.
pub const COUNTER_FAMILIES: &[&Family] = &[&FORWARDED_PACKETS];

macro_rules! counters {
    ($(#[$m:meta])* $ty:ident, $table:ident { $($variant:ident = $code:literal, $name:literal, $what:literal, $export:expr;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $ty { $($variant = $code,)* }

        pub const $table: &[Counter] = &[$(Counter { code: $code, name: $name, what: $what, export: $export },)*];

        impl $ty {
            /// Slots of an array indexed by `as usize` (slot 0 unused).
            pub const SLOTS: usize = slots(&[$($code),*]);
            pub const ALL: &[$ty] = &[$($ty::$variant,)*];

            pub fn from_code(code: u8) -> Option<Self> {
                match code { $($code => Some($ty::$variant),)* _ => None }
            }
            pub fn row(self) -> &'static Counter {
                $table.iter().find(|r| r.code == self as u8).expect("every variant is in the table")
            }
        }
    };
}

use Export::{Series, Total};

counters! {
    /// What the front-end engine did (its drops are `DropReason`s, its
    /// HTTP error replies `ErrorReply`s: arrays of their own).
    FrontendCounter, FRONTEND_COUNTERS {
        NewFlows = 1, "setups", "Connections set up (a valid SYN cookie ACK: a new flow)", Total;
        RequestsSent = 2, "requests", "Requests sent to a backend (first and later requests)", Total;
        ForwardedToBackend = 3, "forwarded_to_backend", "Client packets the front-end forwarded to their backend itself, with the switch's rewrite", Series(&FORWARDED_PACKETS, "to_backend");
        ForwardedToClient = 4, "forwarded_to_client", "Backend packets the front-end forwarded to the client itself, with the switch's rewrite", Series(&FORWARDED_PACKETS, "to_client");
        ForwardedAfterOffload = 5, "forwarded_after_offload", "Packets forwarded by the front-end although the flow's switch entry was in (in flight before it)", Total;
        ResponsesCarried = 6, "responses_carried", "Small last responses carried by the front-end, never offloaded", Total;
        HostFrames = 7, "host_frames", "Frames from or to [frontend] host_address (the host's own traffic, such as its health checks), left to its kernel", Total;
        StatelessResets = 8, "stateless_resets", "RSTs sent for client segments of no connection (each also a bad_cookie drop)", Total;
        AcksSent = 9, "acks_sent", "ACKs the engine built itself (to clients, and to backends' FINs)", Total;
        ReplayedSyns = 10, "replayed_syns", "Client SYNs replayed to a backend with the switch's ISN fused in", Total;
        SynRetransmits = 11, "syn_retransmits", "Replayed SYNs sent again (no SYN-ACK in time)", Total;
        BackendSynAcks = 12, "backend_syn_acks", "Backend SYN-ACKs taken (the backend handshake done, the flow spliced)", Total;
        RequestRetransmits = 13, "request_retransmits", "Buffered requests sent to the backend again (not acknowledged in time, or a retransmitted SYN-ACK)", Total;
        OffloadRequested = 14, "engine_offload_requests", "Switch entries the engine asked for (the control task's count is offload_requests)", Total;
        OffloadInstalled = 15, "engine_offloads_installed", "Install completions the engine received", Total;
        OffloadRefused = 16, "engine_offload_refusals", "Install refusals the engine received (the flow stays on the front-end path)", Total;
        Handovers = 17, "handovers", "Request mode: requests handed over to another backend on a keep-alive connection", Total;
        HandoverDetaches = 18, "handover_detaches", "Hand-overs that waited for the switch's entry to be detached first", Total;
        DetachOverdue = 19, "detach_overdue", "Detach answers that did not come in time (the hand-over went on anyway)", Total;
        FormerBackendFins = 20, "former_backend_fins", "FINs of backends a request-mode flow left, ACKed by the engine", Total;
        Holds = 21, "holds", "Responses held (zero window to the backend) until the switch entry was in (hold_until_offloaded)", Total;
        HoldReleases = 22, "hold_releases", "Holds ended (completion, timeout, hand-over)", Total;
        WindowUpdates = 23, "window_updates", "Window updates sent to backends for released holds", Total;
        HoldTimeouts = 24, "hold_timeouts", "Holds released by their timeout, no install completion in time", Total;
        PressureTimeouts = 25, "pressure_timeouts", "Flows admitted with the shorter request timeout of a table under pressure", Total;
        AssemblingEvicted = 26, "assembling_evicted", "Flows without a backend (assembling, replied) evicted from a full table", Total;
        FlowsClosed = 27, "flows_closed", "Flows removed from the table at their end (closed, replied, offloaded and ended)", Total;
        FlowsAborted = 28, "flows_aborted", "Flows given up (a backend that never answered, a request never acknowledged)", Total;
        ReusedPorts = 29, "reused_ports", "Client SYNs on a port whose switch entry was still in: entry detached, then SYN-ACKed", Total;
        SynAcksSent = 30, "syn_acks_sent", "Cookie SYN-ACKs the engine sent itself (for reused ports)", Total;
        BackendEjections = 31, "passive_ejections", "Passive ejections of any backend (failed handshakes in a row; per backend: backend_ejections)", Total;
    }
}

/// The drop reason of a frame a wire parser refused, for every part that
/// drops what it cannot read (the P4 parser's `drop_with` codes follow the
/// same split by header).
impl From<WireError> for DropReason {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Truncated { header, .. } | WireError::Malformed { header, .. } => match header {
                Header::Ethernet => DropReason::Truncated,
                Header::Ipv4 => DropReason::BadIpHeader,
                Header::Tcp => DropReason::BadTcpHeader,
                Header::TcpOptions => DropReason::BadTcpOptions,
            },
            WireError::NotIpv4 { .. } => DropReason::NotIpv4,
            // TCP is the only protocol the load balancer carries: nothing
            // routes anything else through the front-end.
            WireError::NotTcp { .. } => DropReason::NoRoute,
            WireError::Ipv4Fragment => DropReason::IpFragment,
            WireError::BadChecksum { .. } => DropReason::BadChecksum,
            // Only emitters report NoSpace: what was to be written did not
            // fit the frame.
            WireError::NoSpace { .. } => DropReason::Truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_unique() {
        for table in [DROP_REASONS, PATH_COUNTERS] {
            for (i, a) in table.iter().enumerate() {
                assert_ne!(a.code, 0, "0 means 'no reason'");
                for b in &table[i + 1..] {
                    assert_ne!(a.code, b.code);
                    assert_ne!(a.name, b.name);
                }
                assert!(a.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            }
        }
    }

    #[test]
    fn counter_codes_and_names_unique() {
        for (i, a) in FRONTEND_COUNTERS.iter().enumerate() {
            assert_ne!(a.code, 0);
            assert!((a.code as usize) < FrontendCounter::SLOTS);
            assert_eq!(FrontendCounter::from_code(a.code).map(|c| c.row()), Some(a));
            assert!(a.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{}", a.name);
            assert!(!a.what.is_empty());
            for b in &FRONTEND_COUNTERS[i + 1..] {
                assert_ne!(a.code, b.code);
                assert_ne!(a.name, b.name);
                assert!(a.export != b.export || a.export == Export::Total, "{} and {} are one series", a.name, b.name);
            }
            if let Export::Series(f, _) = a.export {
                assert!(COUNTER_FAMILIES.iter().any(|g| *g == f), "{}: family {} not listed", a.name, f.name);
                assert!(FRONTEND_COUNTERS.iter().all(|b| b.name != f.name), "family {} is a counter's name", f.name);
            }
        }
        assert_eq!(FrontendCounter::ALL.len(), FRONTEND_COUNTERS.len());
        assert_eq!(DropReason::SLOTS, DROP_REASONS.iter().map(|r| r.code as usize).max().unwrap() + 1);
        assert_eq!(PathCounter::SLOTS, PATH_COUNTERS.len() + 1);
    }

    #[test]
    fn lookup_both_ways() {
        assert_eq!(DropReason::from_code(8), Some(DropReason::BadCookie));
        assert_eq!(DropReason::BadCookie.reason().name, "bad_cookie");
        assert_eq!(DropReason::from_code(0), None);
        assert_eq!(PathCounter::SynAnswered.reason().code, 1);
    }

    #[test]
    fn wire_errors_name_their_header() {
        let f = |b: &[u8]| DropReason::from(crate::frame::TcpFrame::new_checked(b).unwrap_err());
        assert_eq!(f(&[0u8; 13]), DropReason::Truncated);
        let mut v = [0u8; 60];
        assert_eq!(f(&v), DropReason::NotIpv4);
        v[12] = 0x08;
        assert_eq!(f(&v), DropReason::BadIpHeader, "version 0");
        assert_eq!(DropReason::from(crate::tcp_option::parse(&[2, 9]).next().unwrap().unwrap_err()), DropReason::BadTcpOptions);
        assert_eq!(DropReason::from(WireError::BadChecksum { header: Header::Tcp }), DropReason::BadChecksum);
    }
}
