//! Flow keys, and the hash that ties a flow to one front-end.

use core::net::Ipv4Addr;

/// A VIP:port service, as numbered in the switch's VIP table.
pub type VipId = u16;
/// A backend, as numbered in the switch's backend table.
pub type BackendIndex = u16;

/// A directed TCP/IPv4 4-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourTuple {
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
}

impl FourTuple {
    pub fn reversed(&self) -> Self {
        Self { src: self.dst, src_port: self.dst_port, dst: self.src, dst_port: self.src_port }
    }
}

/// The key of the switch's connection table: one entry serves both
/// directions of a client's connection to a VIP (the backend is the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    pub client_ip: Ipv4Addr,
    pub client_port: u16,
    pub vip_id: VipId,
}

/// CRC-32 (IEEE 802.3, reflected, as bmv2's `HashAlgorithm.crc32`
/// computes it) of the client address and port in network byte order.
///
/// The switch picks a front-end with this hash (modulo the number of
/// front-end ports) and the front-end picks a worker core with it, so both
/// directions of a flow always meet the same state.
pub fn client_hash(client_ip: Ipv4Addr, client_port: u16) -> u32 {
    let o = client_ip.octets();
    let p = client_port.to_be_bytes();
    crc32(&[o[0], o[1], o[2], o[3], p[0], p[1]])
}

/// CRC-32/ISO-HDLC: poly 0x04C11DB7 reflected, init and xor-out all ones.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The catalogue check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn client_hash_depends_on_ip_and_port() {
        let a = client_hash(Ipv4Addr::new(198, 18, 0, 2), 40000);
        assert_ne!(a, client_hash(Ipv4Addr::new(198, 18, 0, 2), 40001));
        assert_ne!(a, client_hash(Ipv4Addr::new(198, 18, 0, 3), 40000));
        assert_eq!(a, crc32(&[198, 18, 0, 2, 0x9c, 0x40]));
    }

    #[test]
    fn reversed_twice_is_identity() {
        let t = FourTuple { src: Ipv4Addr::new(1, 2, 3, 4), src_port: 5, dst: Ipv4Addr::new(6, 7, 8, 9), dst_port: 10 };
        assert_eq!(t.reversed().reversed(), t);
        assert_eq!(t.reversed().src_port, 10);
    }
}
