//! Rust mirrors of bpf/agent_abi.h: map names, program names, the map key
//! and value layouts and the counter array layout. `tests/abi.rs` parses the
//! header and checks every number here and in wire's reason registry.

use core::net::Ipv4Addr;

/// Names of the programs in the object (their C function names).
pub const PROG_INGRESS: &str = "sy_ingress";
pub const PROG_EGRESS: &str = "sy_egress";

/// Names of the maps, also their file names under the pin directory.
pub const MAP_FLOWS: &str = "sy_flows";
pub const MAP_PORTS: &str = "sy_ports";
pub const MAP_CONFIG: &str = "sy_config";
pub const MAP_COUNTERS: &str = "sy_counters";
pub const ALL_MAPS: [&str; 4] = [MAP_FLOWS, MAP_PORTS, MAP_CONFIG, MAP_COUNTERS];

/// Counter array layout: path code p at index p, reason code r at
/// `REASON_BASE + r` (SY_REASON_BASE, SY_COUNTERS in the header).
pub const REASON_BASE: u32 = 64;
pub const COUNTERS: u32 = 128;

/// Service ports are a 65536-bit bitmap of u64 words.
pub const PORT_WORDS: u32 = 1024;

/// TC verdict of every path: TC_ACT_UNSPEC, "continue with the next
/// program", which ends in pass. The agent never drops.
pub const VERDICT_NEXT: i32 = -1;

/// `SY_F_*` flow flags.
pub mod flags {
    pub const SPLICED: u32 = 0x01;
    pub const WSCALE: u32 = 0x02;
    pub const BACKEND_WS: u32 = 0x04;
    pub const FIN_IN: u32 = 0x08;
    pub const FIN_OUT: u32 = 0x10;
    pub const FIN_IN_ACKED: u32 = 0x20;
    pub const FIN_OUT_ACKED: u32 = 0x40;
}

/// `struct sy_flow_key`: addresses and ports in network byte order.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    pub client_ip: u32,
    pub backend_ip: u32,
    pub client_port: u16,
    pub backend_port: u16,
}

impl FlowKey {
    pub fn new(client: Ipv4Addr, client_port: u16, backend: Ipv4Addr, backend_port: u16) -> Self {
        // Stored exactly as the bytes sit in the packet.
        Self {
            client_ip: u32::from_ne_bytes(client.octets()),
            backend_ip: u32::from_ne_bytes(backend.octets()),
            client_port: u16::from_ne_bytes(client_port.to_be_bytes()),
            backend_port: u16::from_ne_bytes(backend_port.to_be_bytes()),
        }
    }
    pub fn client(&self) -> (Ipv4Addr, u16) {
        (Ipv4Addr::from(self.client_ip.to_ne_bytes()), u16::from_be_bytes(self.client_port.to_ne_bytes()))
    }
    pub fn backend(&self) -> (Ipv4Addr, u16) {
        (Ipv4Addr::from(self.backend_ip.to_ne_bytes()), u16::from_be_bytes(self.backend_port.to_ne_bytes()))
    }
}

/// `struct sy_flow`: sequence numbers in host order.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flow {
    pub switch_isn: u32,
    pub client_isn: u32,
    pub delta: u32,
    pub fin_in_end: u32,
    pub fin_out_end: u32,
    pub flags: u32,
    pub client_ws: u8,
    pub backend_ws: u8,
    pub pad: [u8; 2],
}

impl Flow {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag == flag
    }
    /// The backend's ISN, once the SYN-ACK was seen.
    pub fn backend_isn(&self) -> Option<u32> {
        self.has(flags::SPLICED).then(|| self.switch_isn.wrapping_sub(self.delta))
    }
}

/// `struct sy_config`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    pub switch_ws: u8,
    pub pad: [u8; 3],
}

// SAFETY: plain-old-data, repr(C), every bit pattern valid, explicit padding.
unsafe impl aya::Pod for FlowKey {}
// SAFETY: as above.
unsafe impl aya::Pod for Flow {}
// SAFETY: as above.
unsafe impl aya::Pod for Config {}

/// Bitmap words (index, value) that mark `ports` as service ports.
pub fn port_bitmap(ports: &[u16]) -> Vec<(u32, u64)> {
    let mut words = std::collections::BTreeMap::<u32, u64>::new();
    for &p in ports {
        *words.entry(u32::from(p) >> 6).or_default() |= 1u64 << (p & 63);
    }
    words.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_c_sizes() {
        assert_eq!(core::mem::size_of::<FlowKey>(), 12);
        assert_eq!(core::mem::size_of::<Flow>(), 28);
        assert_eq!(core::mem::size_of::<Config>(), 4);
    }

    #[test]
    fn flow_key_holds_wire_bytes() {
        let k = FlowKey::new(Ipv4Addr::new(198, 18, 0, 2), 40000, Ipv4Addr::new(198, 18, 1, 10), 80);
        let bytes: [u8; 12] = unsafe { core::mem::transmute(k) };
        assert_eq!(bytes, [198, 18, 0, 2, 198, 18, 1, 10, 0x9c, 0x40, 0, 80]);
        assert_eq!(k.client(), (Ipv4Addr::new(198, 18, 0, 2), 40000));
        assert_eq!(k.backend(), (Ipv4Addr::new(198, 18, 1, 10), 80));
    }

    #[test]
    fn port_bitmap_sets_one_bit_per_port() {
        let w = port_bitmap(&[80, 443, 8080, 81]);
        assert_eq!(w, vec![(1, (1 << 16) | (1 << 17)), (6, 1 << 59), (126, 1 << 16)]);
    }

    #[test]
    fn backend_isn_from_delta() {
        let f = Flow { switch_isn: 5, delta: 10, flags: flags::SPLICED, ..Default::default() };
        assert_eq!(f.backend_isn(), Some(5u32.wrapping_sub(10)));
        assert_eq!(Flow::default().backend_isn(), None);
    }
}
