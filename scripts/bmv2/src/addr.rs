//! The testbed's address plan. Every address sits in 198.18.0.0/15, the
//! range RFC 2544 reserves for benchmarking, so it can never collide with a
//! real network.

use std::net::Ipv4Addr;

/// Client subnet 198.18.0.0/24: the client is .2, the switch's side .1.
/// Spoofed SYN floods stay inside this /24.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const CLIENT_GW: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const CLIENT_NET: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 18, 0, 0), 24);

/// Front-end subnet 198.18.2.0/24.
pub const FRONTEND: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 2);
pub const FRONTEND_GW: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);

/// The virtual service address clients connect to (switch/front-end modes).
pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 1);

/// Backend i (0-based) lives in 198.18.(10+i).0/24 at .2; the switch's side
/// is .1. 10+i keeps room below for infrastructure subnets.
pub fn backend(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 10 + i as u8, 2)
}

pub fn backend_gw(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 10 + i as u8, 1)
}

/// At most this many backends: the third octet must stay below the VIP's.
pub const MAX_BACKENDS: usize = 64;

/// Locally administered, deterministic MACs (02:53:59 = "SY"), so static
/// neighbour entries can be written before any interface exists.
/// `host` numbers the host (0 client, 1 front-end, 10+i backend i) and
/// `switch_side` picks the switch's end of that host's link.
pub fn mac(host: u8, switch_side: bool) -> [u8; 6] {
    [0x02, 0x53, 0x59, u8::from(switch_side), 0x00, host]
}

pub fn mac_str(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// The management link between the front-end and the switch namespace in
/// P4 modes (P4Runtime travels here, never over the data ports, whose
/// interfaces carry no address).
pub const MGMT_SWITCH: Ipv4Addr = Ipv4Addr::new(198, 18, 254, 1);
pub const MGMT_FRONTEND: Ipv4Addr = Ipv4Addr::new(198, 18, 254, 2);

/// P4Runtime's registered port (bmv2 and Tofino use it too).
pub const P4RUNTIME_PORT: u16 = 9559;

/// The port every backend's agent answers its presence probe on.
pub const AGENT_PROBE_PORT: u16 = 9100;
