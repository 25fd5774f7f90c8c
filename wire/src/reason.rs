//! The one registry of drop reasons and path counters, shared by the P4
//! program, the eBPF agent, the front-end and the metrics (Cilium's drop
//! reasons are the model). Each part keeps its own copy of the numbers in
//! its own language (P4 `#define`, C `enum`); a test of each part compares
//! that copy with this table, so a number means the same thing everywhere.
//!
//! Codes are stable: never renumber, only append.

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
            pub fn from_code(code: u8) -> Option<Self> {
                match code { $($code => Some($ty::$variant),)* _ => None }
            }
            pub fn reason(self) -> &'static Reason {
                $table.iter().find(|r| r.code == self as u8).expect("every variant is in the table")
            }
        }
    };
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
