//! Ethernet II + IPv4 + TCP as one unit, the only kind of frame Switchyard
//! handles: `TcpFrame` is the view (checked once, then read and rewritten in
//! place with the checksums kept valid incrementally), `FrameRepr` the
//! fields (parsed from a view, or emitted as a whole frame). The front-end,
//! the agent's user space, the switch simulator's tools and the tests all
//! use these, so the header offsets are written here and nowhere else.

use core::net::Ipv4Addr;

use crate::checksum;
use crate::error::{Header, WireError, WireResult};
use crate::ethernet::{self, EthernetFrame, EthernetRepr, MacAddr, ETHERTYPE_IPV4};
use crate::ipv4::{self, Ipv4Packet, Ipv4Repr, PROTO_TCP};
use crate::tcp::{self, TcpRepr, TcpSegment};

/// A view over an Ethernet/IPv4/TCP frame whose three headers were checked
/// by `new_checked`; the header views it hands out are not checked again.
#[derive(Debug, Clone)]
pub struct TcpFrame<T> {
    buf: T,
    /// Offset of the TCP header (after the IPv4 header and its options).
    tcp_at: usize,
    /// End of the IPv4 packet (its total length): Ethernet padding after it
    /// is not part of the segment.
    end: usize,
}

impl<T: AsRef<[u8]>> TcpFrame<T> {
    /// Checks the Ethernet header, that it carries IPv4, the IPv4 header
    /// (`Ipv4Packet::new_checked`), that the packet is no fragment and
    /// carries TCP, and the TCP header (`TcpSegment::new_checked`).
    /// Checksums are checked only when asked (`check_checksums`).
    #[inline]
    pub fn new_checked(buf: T) -> WireResult<Self> {
        let eth = EthernetFrame::new_checked(buf.as_ref())?;
        if eth.ethertype() != ETHERTYPE_IPV4 {
            return Err(WireError::NotIpv4 { ethertype: eth.ethertype() });
        }
        let ip = Ipv4Packet::new_checked(eth.payload())?;
        if ip.is_fragment() {
            return Err(WireError::Ipv4Fragment);
        }
        if ip.protocol() != PROTO_TCP {
            return Err(WireError::NotTcp { protocol: ip.protocol() });
        }
        TcpSegment::new_checked(ip.payload())?;
        let (tcp_at, end) = (ethernet::HEADER_LEN + ip.header_len(), ethernet::HEADER_LEN + usize::from(ip.total_len()));
        Ok(Self { buf, tcp_at, end })
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
    pub fn ethernet(&self) -> EthernetFrame<&[u8]> {
        EthernetFrame::new_unchecked(&self.b()[..self.end])
    }

    #[inline]
    pub fn ipv4(&self) -> Ipv4Packet<&[u8]> {
        Ipv4Packet::new_unchecked(&self.b()[ethernet::HEADER_LEN..self.end])
    }

    #[inline]
    pub fn tcp(&self) -> TcpSegment<&[u8]> {
        TcpSegment::new_unchecked(&self.b()[self.tcp_at..self.end])
    }

    /// The frame's length without Ethernet padding.
    #[inline]
    pub fn frame_len(&self) -> usize {
        self.end
    }

    /// Offset of the TCP header in the frame.
    #[inline]
    pub fn tcp_offset(&self) -> usize {
        self.tcp_at
    }

    #[inline]
    fn payload_at(&self) -> usize {
        self.tcp_at + usize::from(self.b()[self.tcp_at + 12] >> 4) * 4
    }

    /// The TCP options area (as `TcpSegment::options`, borrowed from the
    /// frame rather than from a header view).
    #[inline]
    pub fn tcp_options(&self) -> &[u8] {
        &self.b()[self.tcp_at + tcp::MIN_HEADER_LEN..self.payload_at()]
    }

    /// The TCP payload.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.payload_at()..self.end]
    }

    /// Verifies the IPv4 header checksum, then the TCP checksum.
    #[inline]
    pub fn check_checksums(&self) -> WireResult<()> {
        let ip = self.ipv4();
        if !ip.verify_checksum() {
            return Err(WireError::BadChecksum { header: Header::Ipv4 });
        }
        if !self.tcp().verify_checksum(ip.pseudo_header_sum()) {
            return Err(WireError::BadChecksum { header: Header::Tcp });
        }
        Ok(())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpFrame<T> {
    #[inline]
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    #[inline]
    pub fn ethernet_mut(&mut self) -> EthernetFrame<&mut [u8]> {
        let end = self.end;
        EthernetFrame::new_unchecked(&mut self.bm()[..end])
    }

    /// The IPv4 header's setters keep its checksum; an address change also
    /// changes the TCP checksum: use `set_src_addr`/`set_dst_addr` for those.
    #[inline]
    pub fn ipv4_mut(&mut self) -> Ipv4Packet<&mut [u8]> {
        let end = self.end;
        Ipv4Packet::new_unchecked(&mut self.bm()[ethernet::HEADER_LEN..end])
    }

    #[inline]
    pub fn tcp_mut(&mut self) -> TcpSegment<&mut [u8]> {
        let (at, end) = (self.tcp_at, self.end);
        TcpSegment::new_unchecked(&mut self.bm()[at..end])
    }

    /// Rewrites the IPv4 source address; both checksums are updated
    /// incrementally (the TCP checksum covers it through the pseudo header).
    #[inline]
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        let old = self.ipv4().src();
        self.ipv4_mut().set_src(a);
        self.tcp_mut().update_for_address_change(old, a);
    }

    /// Rewrites the IPv4 destination address, as `set_src_addr`.
    #[inline]
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        let old = self.ipv4().dst();
        self.ipv4_mut().set_dst(a);
        self.tcp_mut().update_for_address_change(old, a);
    }

    /// Recomputes both checksums from scratch (a test that edited bytes).
    #[inline]
    pub fn fill_checksums(&mut self) {
        self.ipv4_mut().fill_checksum();
        let pseudo = self.ipv4().pseudo_header_sum();
        self.tcp_mut().fill_checksum(pseudo);
    }

    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (at, end) = (self.payload_at(), self.end);
        &mut self.bm()[at..end]
    }
}

/// The fields of an Ethernet/IPv4/TCP frame. The IPv4 header is written
/// without options, protocol TCP, its length from the segment's; both
/// checksums are computed by `emit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRepr<'a> {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub ident: u16,
    pub dont_fragment: bool,
    pub tcp: TcpRepr<'a>,
}

/// TTL of the frames `FrameRepr::new` builds (Linux's default).
pub const DEFAULT_TTL: u8 = 64;

impl<'a> FrameRepr<'a> {
    /// A frame with the usual IPv4 fields: TTL 64, ident 0, DF.
    #[inline]
    pub fn new(src_mac: MacAddr, dst_mac: MacAddr, src: Ipv4Addr, dst: Ipv4Addr, tcp: TcpRepr<'a>) -> Self {
        Self { src_mac, dst_mac, src, dst, ttl: DEFAULT_TTL, ident: 0, dont_fragment: true, tcp }
    }

    /// The fields of a checked frame (options and payload borrow it;
    /// IPv4 options are not represented, see `Ipv4Repr::parse`).
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(f: &'a TcpFrame<T>) -> Self {
        let eth = EthernetRepr::parse(&f.ethernet());
        let ip = Ipv4Repr::parse(&f.ipv4());
        Self {
            src_mac: eth.src,
            dst_mac: eth.dst,
            src: ip.src,
            dst: ip.dst,
            ttl: ip.ttl,
            ident: ip.ident,
            dont_fragment: ip.dont_fragment,
            tcp: TcpRepr::parse(&f.tcp()),
        }
    }

    /// The IPv4 header this frame is written with.
    #[inline]
    pub fn ipv4(&self) -> WireResult<Ipv4Repr> {
        let payload_len = u16::try_from(self.tcp.wire_len())
            .map_err(|_| WireError::Malformed { header: Header::Ipv4, what: "frame repr", why: "segment longer than an IPv4 packet" })?;
        Ok(Ipv4Repr {
            src: self.src,
            dst: self.dst,
            protocol: PROTO_TCP,
            ttl: self.ttl,
            ident: self.ident,
            dont_fragment: self.dont_fragment,
            payload_len,
        })
    }

    #[inline]
    pub fn wire_len(&self) -> usize {
        ethernet::HEADER_LEN + ipv4::MIN_HEADER_LEN + self.tcp.wire_len()
    }

    /// Writes the frame at the start of `out`; returns its length.
    #[inline]
    pub fn emit(&self, out: &mut [u8]) -> WireResult<usize> {
        let ip = self.ipv4()?;
        if out.len() < self.wire_len() {
            return Err(WireError::NoSpace { what: "frame", need: self.wire_len(), have: out.len() });
        }
        EthernetRepr { src: self.src_mac, dst: self.dst_mac, ethertype: ETHERTYPE_IPV4 }.emit(out)?;
        ip.emit(&mut out[ethernet::HEADER_LEN..])?;
        let pseudo = checksum::pseudo_header_v4(self.src, self.dst, PROTO_TCP, ip.payload_len);
        self.tcp.emit(&mut out[ethernet::HEADER_LEN + ipv4::MIN_HEADER_LEN..], pseudo)?;
        Ok(self.wire_len())
    }

    /// `emit` into `out`, replacing its contents (a reused buffer).
    #[inline]
    pub fn emit_into(&self, out: &mut Vec<u8>) -> WireResult<()> {
        out.clear();
        out.resize(self.wire_len(), 0);
        self.emit(out).map(|_| ())
    }

    #[inline]
    pub fn to_vec(&self) -> WireResult<Vec<u8>> {
        let mut v = Vec::new();
        self.emit_into(&mut v)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{ACK, PSH, SYN};
    use crate::tcp_option::{TcpOption, TcpOptions};

    const OPTS: [TcpOption<'static>; 2] = [TcpOption::Mss(1460), TcpOption::WindowScale(7)];

    fn repr(payload: &[u8]) -> FrameRepr<'_> {
        FrameRepr {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src: Ipv4Addr::new(198, 18, 0, 2),
            dst: Ipv4Addr::new(198, 18, 100, 1),
            ttl: 64,
            ident: 7,
            dont_fragment: true,
            tcp: TcpRepr { src_port: 40000, dst_port: 80, seq: 1, ack: 2, flags: ACK | PSH, window: 512, options: TcpOptions::List(&OPTS), payload },
        }
    }

    #[test]
    fn emit_parse_emit_round_trip() {
        let v = repr(b"GET / HTTP/1.1\r\n\r\n").to_vec().unwrap();
        assert_eq!(v.len(), 14 + 20 + 28 + 18);
        let f = TcpFrame::new_checked(&v[..]).unwrap();
        f.check_checksums().unwrap();
        assert_eq!((f.tcp_offset(), f.payload(), f.tcp_options().len()), (34, &b"GET / HTTP/1.1\r\n\r\n"[..], 8));
        let parsed = FrameRepr::parse(&f);
        assert_eq!(parsed.tcp.options, TcpOptions::Bytes(f.tcp_options()));
        assert_eq!(parsed.to_vec().unwrap(), v, "parse then emit gives the same bytes");
    }

    #[test]
    fn ethernet_padding_is_not_segment() {
        let mut v = repr(b"").to_vec().unwrap();
        let n = v.len();
        v.resize(n.max(60) + 4, 0xee);
        let f = TcpFrame::new_checked(&v[..]).unwrap();
        assert_eq!((f.frame_len(), f.payload().len()), (n, 0));
        f.check_checksums().unwrap();
    }

    #[test]
    fn setters_keep_both_checksums() {
        let mut v = repr(b"data").to_vec().unwrap();
        let mut f = TcpFrame::new_checked(&mut v[..]).unwrap();
        f.set_dst_addr(Ipv4Addr::new(198, 18, 2, 10));
        f.set_src_addr(Ipv4Addr::new(10, 0, 0, 1));
        f.tcp_mut().set_dst_port(8080);
        f.tcp_mut().set_window(0);
        f.ipv4_mut().decrement_ttl();
        f.ethernet_mut().set_src([9; 6]);
        f.check_checksums().unwrap();
        let p = FrameRepr::parse(&f);
        assert_eq!((p.src_mac, p.dst, p.src, p.ttl, p.tcp.dst_port, p.tcp.window), ([9; 6], Ipv4Addr::new(198, 18, 2, 10), Ipv4Addr::new(10, 0, 0, 1), 63, 8080, 0));
    }

    #[test]
    fn what_is_not_a_tcp_frame() {
        let good = repr(b"").to_vec().unwrap();
        let with = |at: usize, b: u8| {
            let mut v = good.clone();
            v[at] = b;
            v
        };
        let err = |v: Vec<u8>| TcpFrame::new_checked(v).unwrap_err();
        assert!(matches!(err(good[..13].to_vec()), WireError::Truncated { header: Header::Ethernet, .. }));
        assert_eq!(err(with(12, 0x86)), WireError::NotIpv4 { ethertype: 0x86 << 8 });
        assert!(matches!(err(with(14, 0x65)), WireError::Malformed { header: Header::Ipv4, .. }), "version 6");
        assert_eq!(err(with(14 + 6, 0x20)), WireError::Ipv4Fragment, "MF set");
        assert_eq!(err(with(14 + 7, 1)), WireError::Ipv4Fragment, "offset 8");
        assert_eq!(err(with(14 + 9, 17)), WireError::NotTcp { protocol: 17 });
        assert!(matches!(err(with(34 + 12, 0x40)), WireError::Malformed { header: Header::Tcp, .. }));
        assert!(matches!(err(good[..40].to_vec()), WireError::Truncated { header: Header::Ipv4, .. }));
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert_eq!(TcpFrame::new_checked(&bad[..]).unwrap().check_checksums(), Err(WireError::BadChecksum { header: Header::Tcp }));
        assert_eq!(TcpFrame::new_checked(with(14 + 8, 1)).unwrap().check_checksums(), Err(WireError::BadChecksum { header: Header::Ipv4 }));
    }

    #[test]
    fn emit_refuses_small_buffers() {
        let r = FrameRepr { tcp: TcpRepr { flags: SYN, ..repr(b"").tcp }, ..repr(b"") };
        assert!(matches!(r.emit(&mut [0u8; 40]), Err(WireError::NoSpace { .. })));
    }
}
