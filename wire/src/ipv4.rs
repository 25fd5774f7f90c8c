//! IPv4 headers.
//!
//! `new_checked` enforces what every Switchyard part relies on: version 4,
//! IHL >= 5, the header inside the buffer, total length >= header length and
//! inside the buffer. Bytes past the total length (Ethernet padding) are not
//! part of the packet and are excluded from `payload()`.

use core::net::Ipv4Addr;

use crate::checksum;
use crate::error::{need, Header, WireError, WireResult};

pub const MIN_HEADER_LEN: usize = 20;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMP: u8 = 1;
/// Don't Fragment, in the flags/fragment-offset word.
pub const FLAG_DF: u16 = 0x4000;
/// More Fragments.
pub const FLAG_MF: u16 = 0x2000;

#[derive(Debug, Clone)]
pub struct Ipv4Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    #[inline]
    pub fn new_checked(buf: T) -> WireResult<Self> {
        let b = buf.as_ref();
        need(Header::Ipv4, "ipv4 header", MIN_HEADER_LEN, b.len())?;
        if b[0] >> 4 != 4 {
            return Err(WireError::Malformed { header: Header::Ipv4, what: "ipv4 header", why: "version is not 4" });
        }
        let hl = usize::from(b[0] & 0x0f) * 4;
        if hl < MIN_HEADER_LEN {
            return Err(WireError::Malformed { header: Header::Ipv4, what: "ipv4 header", why: "IHL below 5" });
        }
        need(Header::Ipv4, "ipv4 header with options", hl, b.len())?;
        let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if total < hl {
            return Err(WireError::Malformed { header: Header::Ipv4, what: "ipv4 header", why: "total length below header length" });
        }
        need(Header::Ipv4, "ipv4 packet (total length)", total, b.len())?;
        Ok(Self { buf })
    }

    /// Wraps a packet a caller in this crate has checked already
    /// (`frame::TcpFrame`), so a rewrite does not validate it again.
    #[inline]
    pub(crate) fn new_unchecked(buf: T) -> Self {
        Self { buf }
    }

    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[0] & 0x0f) * 4
    }

    #[inline]
    pub fn dscp_ecn(&self) -> u8 {
        self.b()[1]
    }

    #[inline]
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }

    #[inline]
    pub fn ident(&self) -> u16 {
        u16::from_be_bytes([self.b()[4], self.b()[5]])
    }

    /// Flags and fragment offset, as the 16-bit word on the wire.
    #[inline]
    pub fn frag_word(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }

    /// A fragment is any packet with MF set or a non-zero offset.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.frag_word() & (FLAG_MF | 0x1fff) != 0
    }

    #[inline]
    pub fn ttl(&self) -> u8 {
        self.b()[8]
    }

    #[inline]
    pub fn protocol(&self) -> u8 {
        self.b()[9]
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[10], self.b()[11]])
    }

    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }

    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }

    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.b()[MIN_HEADER_LEN..self.header_len()]
    }

    /// The bytes after the header, up to the total length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..usize::from(self.total_len())]
    }

    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(&self.b()[..self.header_len()])) == 0xffff
    }

    /// The pseudo-header partial sum for the L4 checksum of this packet.
    #[inline]
    pub fn pseudo_header_sum(&self) -> u32 {
        let l4_len = self.total_len() - self.header_len() as u16;
        checksum::pseudo_header_v4(self.src(), self.dst(), self.protocol(), l4_len)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    #[inline]
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        self.bm()[10..12].copy_from_slice(&c.to_be_bytes());
    }

    /// Recomputes the header checksum from scratch.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = checksum::finish(checksum::sum(&self.b()[..hl]));
        self.set_checksum(c);
    }

    /// Sets the source address and updates the header checksum incrementally.
    /// The caller owns the L4 checksum (it covers the address too): see
    /// `tcp::TcpSegment::update_for_address_change`.
    #[inline]
    pub fn set_src(&mut self, a: Ipv4Addr) {
        let old = u32::from(self.src());
        self.bm()[12..16].copy_from_slice(&a.octets());
        let c = checksum::update32(self.checksum(), old, u32::from(a));
        self.set_checksum(c);
    }

    #[inline]
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        let old = u32::from(self.dst());
        self.bm()[16..20].copy_from_slice(&a.octets());
        let c = checksum::update32(self.checksum(), old, u32::from(a));
        self.set_checksum(c);
    }

    /// Decrements the TTL with an incremental checksum update; returns the
    /// new TTL (a router drops at 0).
    #[inline]
    pub fn decrement_ttl(&mut self) -> u8 {
        let old = u16::from_be_bytes([self.b()[8], self.b()[9]]);
        let ttl = self.ttl().saturating_sub(1);
        self.bm()[8] = ttl;
        let new = u16::from_be_bytes([self.b()[8], self.b()[9]]);
        let c = checksum::update16(self.checksum(), old, new);
        self.set_checksum(c);
        ttl
    }

    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (hl, tl) = (self.header_len(), usize::from(self.total_len()));
        &mut self.bm()[hl..tl]
    }
}

/// The fields of an option-less IPv4 header to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub ident: u16,
    pub dont_fragment: bool,
    /// Length of everything after the IP header.
    pub payload_len: u16,
}

impl Ipv4Repr {
    /// The fields of a checked packet. Options and DSCP/ECN are not
    /// represented (every header Switchyard writes has neither), so a packet
    /// with options parses to the option-less header of the same payload.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Self {
        Self {
            src: p.src(),
            dst: p.dst(),
            protocol: p.protocol(),
            ttl: p.ttl(),
            ident: p.ident(),
            dont_fragment: p.frag_word() & FLAG_DF != 0,
            payload_len: p.total_len() - p.header_len() as u16,
        }
    }

    /// Writes a 20-byte header with a correct checksum at the start of `out`.
    #[inline]
    pub fn emit(&self, out: &mut [u8]) -> WireResult<()> {
        if out.len() < MIN_HEADER_LEN {
            return Err(WireError::NoSpace { what: "ipv4 header", need: MIN_HEADER_LEN, have: out.len() });
        }
        let total = self
            .payload_len
            .checked_add(MIN_HEADER_LEN as u16)
            .ok_or(WireError::Malformed { header: Header::Ipv4, what: "ipv4 repr", why: "payload too long" })?;
        out[0] = 0x45;
        out[1] = 0;
        out[2..4].copy_from_slice(&total.to_be_bytes());
        out[4..6].copy_from_slice(&self.ident.to_be_bytes());
        let frag = if self.dont_fragment { FLAG_DF } else { 0 };
        out[6..8].copy_from_slice(&frag.to_be_bytes());
        out[8] = self.ttl;
        out[9] = self.protocol;
        out[10..12].copy_from_slice(&[0, 0]);
        out[12..16].copy_from_slice(&self.src.octets());
        out[16..20].copy_from_slice(&self.dst.octets());
        let c = checksum::finish(checksum::sum(&out[..MIN_HEADER_LEN]));
        out[10..12].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> [u8; 24] {
        let mut b = [0u8; 24];
        Ipv4Repr {
            src: Ipv4Addr::new(198, 18, 0, 1),
            dst: Ipv4Addr::new(198, 18, 1, 10),
            protocol: PROTO_TCP,
            ttl: 64,
            ident: 7,
            dont_fragment: true,
            payload_len: 4,
        }
        .emit(&mut b)
        .unwrap();
        b
    }

    #[test]
    fn emit_parse_round_trip() {
        let b = sample();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        let mut again = [0u8; 24];
        Ipv4Repr::parse(&p).emit(&mut again).unwrap();
        assert_eq!(again[..20], b[..20]);
        assert!(p.verify_checksum());
        assert_eq!(p.src(), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(p.dst(), Ipv4Addr::new(198, 18, 1, 10));
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), PROTO_TCP);
        assert_eq!(p.payload().len(), 4);
        assert!(!p.is_fragment());
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut b = [0u8; 60];
        b[..24].copy_from_slice(&sample());
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.payload().len(), 4);
    }

    #[test]
    fn rewrites_keep_checksum_valid() {
        let mut b = sample();
        let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
        p.set_dst(Ipv4Addr::new(198, 19, 2, 3));
        p.set_src(Ipv4Addr::new(198, 19, 200, 1));
        assert_eq!(p.decrement_ttl(), 63);
        assert!(p.verify_checksum());
    }

    #[test]
    fn malformed_rejected() {
        let good = sample();
        let mut v6 = good;
        v6[0] = 0x65;
        assert!(Ipv4Packet::new_checked(&v6[..]).is_err());
        let mut short_ihl = good;
        short_ihl[0] = 0x44;
        assert!(Ipv4Packet::new_checked(&short_ihl[..]).is_err());
        let mut long_ihl = good;
        long_ihl[0] = 0x4f; // 60-byte header in a 24-byte buffer
        assert!(Ipv4Packet::new_checked(&long_ihl[..]).is_err());
        let mut total_small = good;
        total_small[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert!(Ipv4Packet::new_checked(&total_small[..]).is_err());
        let mut total_big = good;
        total_big[2..4].copy_from_slice(&100u16.to_be_bytes());
        assert!(Ipv4Packet::new_checked(&total_big[..]).is_err());
        assert!(Ipv4Packet::new_checked(&good[..19]).is_err());
    }
}
