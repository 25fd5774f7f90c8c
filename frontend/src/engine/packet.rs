//! The engine's frames, in wire's vocabulary: a frame from the switch is
//! checked once into a `TcpFrame` (the wire view) plus the few fields the
//! engine decides on (`Seg`); forwarded frames are rewritten through the
//! view's setters (the switch's rewrite, checksums incremental); the
//! engine's own segments are emitted as a `FrameRepr`.

use core::net::Ipv4Addr;

use switchyard_wire::ethernet::MacAddr;
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::ipv4;
use switchyard_wire::reason::DropReason;
use switchyard_wire::tcp::{TcpRepr, FIN, RST, SYN};
use switchyard_wire::tcp_option::TcpOption;

use crate::limits::TTL;

/// A received frame the engine may rewrite in place.
pub type Frame<'a> = TcpFrame<&'a mut [u8]>;

/// The fields of a TCP/IPv4 frame the engine decides on, read once from
/// the checked view (the frame itself stays in the `TcpFrame`).
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
    pub payload_len: usize,
}

impl Seg {
    /// At least one flag of `flags` is set (as `TcpSegment::has_any`).
    pub fn has_any(&self, flags: u8) -> bool {
        self.flags & flags != 0
    }
}

/// Checks a frame from the switch side: wire's checks, then what the
/// front-end refuses besides (IPv4 options, a wrong checksum, impossible
/// flags). Errors name the registry's drop reason.
pub fn parse<T: AsRef<[u8]>>(frame: T) -> Result<(TcpFrame<T>, Seg), DropReason> {
    let f = TcpFrame::new_checked(frame)?;
    let ip = f.ipv4();
    if ip.header_len() != ipv4::MIN_HEADER_LEN {
        return Err(DropReason::IpOptions);
    }
    f.check_checksums()?;
    let tcp = f.tcp();
    let flags = tcp.flags();
    if (flags & SYN != 0 && flags & (FIN | RST) != 0) || flags == 0 {
        return Err(DropReason::BadTcpFlags);
    }
    let seg = Seg {
        src: ip.src(),
        dst: ip.dst(),
        sport: tcp.src_port(),
        dport: tcp.dst_port(),
        seq: tcp.seq(),
        ack: tcp.ack(),
        flags,
        window: tcp.window(),
        payload_len: f.payload().len(),
    };
    Ok((f, seg))
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

impl Out<'_> {
    /// The frame towards the switch.
    pub fn repr(&self, mac: MacAddr, switch_mac: MacAddr) -> FrameRepr<'_> {
        FrameRepr {
            src_mac: mac,
            dst_mac: switch_mac,
            src: self.src,
            dst: self.dst,
            ttl: TTL,
            ident: 0,
            dont_fragment: true,
            tcp: TcpRepr {
                src_port: self.sport,
                dst_port: self.dport,
                seq: self.seq,
                ack: self.ack,
                flags: self.flags,
                window: self.window,
                options: self.options.into(),
                payload: self.payload,
            },
        }
    }
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
    // Options are engine-chosen (at most 12 bytes) and payloads bounded by
    // the MSS, so this cannot fail; an error would be a bug.
    o.repr(mac, switch_mac).emit_into(f).expect("engine segments fit a frame");
}

/// Client -> backend: dst VIP:vport becomes DIP:dport (the switch's
/// ingress rewrite), checksums updated incrementally.
pub fn rewrite_to_backend(frame: &mut Frame<'_>, dip: Ipv4Addr, dport: u16, mac: MacAddr, switch_mac: MacAddr) {
    towards_switch(frame, mac, switch_mac);
    frame.set_dst_addr(dip);
    frame.tcp_mut().set_dst_port(dport);
}

/// Backend -> client: src DIP:dport becomes VIP:vport.
pub fn rewrite_from_backend(frame: &mut Frame<'_>, vip: Ipv4Addr, vport: u16, mac: MacAddr, switch_mac: MacAddr) {
    towards_switch(frame, mac, switch_mac);
    frame.set_src_addr(vip);
    frame.tcp_mut().set_src_port(vport);
}

fn towards_switch(frame: &mut Frame<'_>, mac: MacAddr, switch_mac: MacAddr) {
    let mut eth = frame.ethernet_mut();
    eth.set_dst(switch_mac);
    eth.set_src(mac);
}
