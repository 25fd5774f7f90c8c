//! Reading a frame into the fields the engine needs (through wire's views,
//! never a second parser), emitting the engine's own segments, and the
//! switch's rewrite applied in place.

use core::net::Ipv4Addr;
use core::ops::Range;

use switchyard_wire::checksum::pseudo_header_v4;
use switchyard_wire::ethernet::{self, EthernetFrame, MacAddr, ETHERTYPE_IPV4};
use switchyard_wire::ipv4::{self, Ipv4Packet, Ipv4Repr, PROTO_TCP};
use switchyard_wire::reason::DropReason;
use switchyard_wire::tcp::{TcpRepr, TcpSegment};
use switchyard_wire::tcp_option::TcpOption;

use crate::limits::TTL;

/// The fields of a TCP/IPv4 frame the engine decides on.
#[derive(Debug, Clone)]
pub struct Seg {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Offset of the TCP header in the frame.
    pub tcp_at: usize,
    pub options: Range<usize>,
    pub payload: Range<usize>,
}

impl Seg {
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// Validates a frame from the switch side; errors name the registry's
/// drop reason.
pub fn parse(frame: &[u8]) -> Result<Seg, DropReason> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| DropReason::Truncated)?;
    if eth.ethertype() != ETHERTYPE_IPV4 {
        return Err(DropReason::NotIpv4);
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|_| DropReason::BadIpHeader)?;
    if ip.is_fragment() {
        return Err(DropReason::IpFragment);
    }
    if ip.header_len() != ipv4::MIN_HEADER_LEN {
        return Err(DropReason::IpOptions);
    }
    if ip.protocol() != PROTO_TCP {
        return Err(DropReason::NoRoute);
    }
    if !ip.verify_checksum() {
        return Err(DropReason::BadChecksum);
    }
    let tcp = TcpSegment::new_checked(ip.payload()).map_err(|_| DropReason::BadTcpHeader)?;
    if !tcp.verify_checksum(ip.pseudo_header_sum()) {
        return Err(DropReason::BadChecksum);
    }
    let f = tcp.flags();
    use switchyard_wire::tcp::{FIN, RST, SYN};
    if (f & SYN != 0 && f & (FIN | RST) != 0) || f == 0 {
        return Err(DropReason::BadTcpFlags);
    }
    let tcp_at = ethernet::HEADER_LEN + ip.header_len();
    let hl = tcp.header_len();
    Ok(Seg {
        src: ip.src(),
        dst: ip.dst(),
        sport: tcp.src_port(),
        dport: tcp.dst_port(),
        seq: tcp.seq(),
        ack: tcp.ack(),
        flags: f,
        window: tcp.window(),
        tcp_at,
        options: tcp_at + 20..tcp_at + hl,
        payload: tcp_at + hl..tcp_at + tcp.payload().len() + hl,
    })
}

/// One segment the engine writes itself.
#[derive(Debug, Clone, Copy)]
pub struct Out<'a> {
    pub src: Ipv4Addr,
    pub sport: u16,
    pub dst: Ipv4Addr,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub options: &'a [TcpOption<'a>],
    pub payload: &'a [u8],
}

/// Builds an Ethernet/IPv4/TCP frame towards the switch.
pub fn emit(o: &Out<'_>, mac: MacAddr, switch_mac: MacAddr) -> Vec<u8> {
    let mut f = Vec::new();
    emit_into(o, mac, switch_mac, &mut f);
    f
}

/// `emit` into a caller's buffer (replacing its contents), so the engine
/// can reuse frame buffers instead of allocating one per frame.
pub fn emit_into(o: &Out<'_>, mac: MacAddr, switch_mac: MacAddr, f: &mut Vec<u8>) {
    let tcp = TcpRepr {
        src_port: o.sport,
        dst_port: o.dport,
        seq: o.seq,
        ack: o.ack,
        flags: o.flags,
        window: o.window,
        options: o.options,
        payload: o.payload,
    };
    let l4 = tcp.wire_len();
    f.clear();
    f.resize(ethernet::HEADER_LEN + ipv4::MIN_HEADER_LEN + l4, 0);
    // The sizes are computed above and options are engine-chosen (at most
    // 12 bytes), so these emitters cannot fail; errors would be a bug.
    ethernet::emit(f, switch_mac, mac, ETHERTYPE_IPV4).expect("sized buffer");
    let ip = Ipv4Repr { src: o.src, dst: o.dst, protocol: PROTO_TCP, ttl: TTL, ident: 0, dont_fragment: true, payload_len: l4 as u16 };
    ip.emit(&mut f[ethernet::HEADER_LEN..]).expect("sized buffer");
    let pseudo = pseudo_header_v4(o.src, o.dst, PROTO_TCP, l4 as u16);
    tcp.emit(&mut f[ethernet::HEADER_LEN + ipv4::MIN_HEADER_LEN..], pseudo).expect("sized buffer");
}

/// Client -> backend: dst VIP:vport becomes DIP:dport (the switch's
/// ingress rewrite), checksums updated incrementally.
pub fn rewrite_to_backend(frame: &mut [u8], seg: &Seg, dip: Ipv4Addr, dport: u16, mac: MacAddr, switch_mac: MacAddr) {
    rewrite(frame, seg, mac, switch_mac, |ip| ip.set_dst(dip), |t| t.set_dst_port(dport), seg.dst, dip);
}

/// Backend -> client: src DIP:dport becomes VIP:vport.
pub fn rewrite_from_backend(frame: &mut [u8], seg: &Seg, vip: Ipv4Addr, vport: u16, mac: MacAddr, switch_mac: MacAddr) {
    rewrite(frame, seg, mac, switch_mac, |ip| ip.set_src(vip), |t| t.set_src_port(vport), seg.src, vip);
}

#[allow(clippy::too_many_arguments)]
fn rewrite(
    frame: &mut [u8],
    seg: &Seg,
    mac: MacAddr,
    switch_mac: MacAddr,
    ip_edit: impl FnOnce(&mut Ipv4Packet<&mut [u8]>),
    tcp_edit: impl FnOnce(&mut TcpSegment<&mut [u8]>),
    old_addr: Ipv4Addr,
    new_addr: Ipv4Addr,
) {
    {
        let mut eth = EthernetFrame::new_checked(&mut frame[..]).expect("parsed before");
        eth.set_dst(switch_mac);
        eth.set_src(mac);
    }
    let ip_end = seg.payload.end;
    {
        let mut ip = Ipv4Packet::new_checked(&mut frame[ethernet::HEADER_LEN..ip_end]).expect("parsed before");
        ip_edit(&mut ip);
    }
    let mut tcp = TcpSegment::new_checked(&mut frame[seg.tcp_at..ip_end]).expect("parsed before");
    tcp.update_for_address_change(old_addr, new_addr);
    tcp_edit(&mut tcp);
}

/// Rewrites the TCP window field of a parsed frame in place (checksum
/// updated incrementally).
pub fn set_window(frame: &mut [u8], seg: &Seg, window: u16) {
    let mut tcp = TcpSegment::new_checked(&mut frame[seg.tcp_at..seg.payload.end]).expect("parsed before");
    tcp.set_window(window);
}
