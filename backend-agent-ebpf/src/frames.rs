//! Ethernet/IPv4/TCP frames for the fixture tests, the benchmark and the
//! end-to-end peer, built and checked with the wire crate (no second parser).

use core::net::Ipv4Addr;

use switchyard_wire::checksum;
use switchyard_wire::ethernet::{self, EthernetFrame, ETHERTYPE_IPV4};
use switchyard_wire::ipv4::{Ipv4Packet, Ipv4Repr, PROTO_TCP};
use switchyard_wire::tcp::{TcpRepr, TcpSegment};
use switchyard_wire::tcp_option::TcpOption;
use switchyard_wire::{WireError, WireResult};

pub const CLIENT_MAC: [u8; 6] = [0x02, 0x53, 0x59, 0, 0, 1];
pub const BACKEND_MAC: [u8; 6] = [0x02, 0x53, 0x59, 0, 0, 2];

/// One TCP segment to put on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub options: &'a [TcpOption<'a>],
    pub payload: &'a [u8],
}

impl Segment<'_> {
    /// The frame with valid IPv4 and TCP checksums.
    pub fn frame(&self, src_mac: [u8; 6], dst_mac: [u8; 6]) -> WireResult<Vec<u8>> {
        let tcp = TcpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            options: self.options,
            payload: self.payload,
        };
        let l4 = tcp.wire_len();
        let l4_len = u16::try_from(l4).map_err(|_| WireError::Malformed { what: "segment", why: "too long" })?;
        let mut out = vec![0u8; ethernet::HEADER_LEN + 20 + l4];
        ethernet::emit(&mut out, dst_mac, src_mac, ETHERTYPE_IPV4)?;
        let ip = Ipv4Repr {
            src: self.src,
            dst: self.dst,
            protocol: PROTO_TCP,
            ttl: 64,
            ident: 0x5359,
            dont_fragment: true,
            payload_len: l4_len,
        };
        ip.emit(&mut out[ethernet::HEADER_LEN..])?;
        let pseudo = checksum::pseudo_header_v4(self.src, self.dst, PROTO_TCP, l4_len);
        tcp.emit(&mut out[ethernet::HEADER_LEN + 20..], pseudo)?;
        Ok(out)
    }
}

/// What a checked frame holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
}

/// Parses a frame and recomputes both checksums from scratch.
pub fn check(frame: &[u8]) -> Result<Parsed, String> {
    let eth = EthernetFrame::new_checked(frame).map_err(|e| e.to_string())?;
    let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|e| e.to_string())?;
    if !ip.verify_checksum() {
        return Err("bad IPv4 checksum".into());
    }
    let tcp = TcpSegment::new_checked(ip.payload()).map_err(|e| e.to_string())?;
    if !tcp.verify_checksum(ip.pseudo_header_sum()) {
        return Err(format!("bad TCP checksum {:#06x}", tcp.checksum()));
    }
    Ok(Parsed {
        seq: tcp.seq(),
        ack: tcp.ack(),
        flags: tcp.flags(),
        window: tcp.window(),
        options: tcp.options().to_vec(),
        payload: tcp.payload().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_wire::tcp::{ACK, PSH};

    #[test]
    fn built_frames_check() {
        let s = Segment {
            src: Ipv4Addr::new(198, 18, 0, 2),
            src_port: 40000,
            dst: Ipv4Addr::new(198, 18, 1, 10),
            dst_port: 80,
            seq: 1,
            ack: 2,
            flags: ACK | PSH,
            window: 100,
            options: &[TcpOption::Mss(1460)],
            payload: b"hello",
        };
        let mut f = s.frame(CLIENT_MAC, BACKEND_MAC).unwrap();
        let p = check(&f).unwrap();
        assert_eq!((p.seq, p.ack, p.window, &p.payload[..]), (1, 2, 100, &b"hello"[..]));
        let n = f.len();
        f[n - 1] ^= 1;
        assert!(check(&f).unwrap_err().contains("TCP checksum"));
    }
}
