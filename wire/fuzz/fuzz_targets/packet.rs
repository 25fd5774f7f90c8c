//! Feeds arbitrary frames through every parser and rewrite of the wire
//! crate. Run: `cargo install cargo-fuzz` then, from wire/,
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run packet` (cargo-fuzz needs nightly
//! flags; the bootstrap variable lets the stable toolchain accept them).
#![no_main]

use core::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use switchyard_wire::cookie::{CookieInput, CookieKeyring, CookieSecret};
use switchyard_wire::ethernet::EthernetFrame;
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::ipv4::Ipv4Packet;
use switchyard_wire::tcp::TcpSegment;
use switchyard_wire::tcp_option::{self, SynOptions};

fuzz_target!(|data: &[u8]| {
    // The frame view: its rewrites keep valid checksums valid, and the
    // fields of any frame it accepts emit a frame that parses to them.
    let mut whole = data.to_vec();
    if let Ok(mut f) = TcpFrame::new_checked(&mut whole[..]) {
        let valid = f.check_checksums().is_ok();
        f.set_dst_addr(Ipv4Addr::new(198, 18, 2, 10));
        f.tcp_mut().set_dst_port(8080);
        assert!(!valid || f.check_checksums().is_ok());
        let r = FrameRepr::parse(&f);
        let again = r.to_vec().expect("a parsed frame re-emits");
        assert_eq!(FrameRepr::parse(&TcpFrame::new_checked(&again[..]).expect("re-emitted frame parses")), r);
    }
    let mut buf = data.to_vec();
    let Ok(mut eth) = EthernetFrame::new_checked(&mut buf[..]) else { return };
    let Ok(mut ip) = Ipv4Packet::new_checked(eth.payload_mut()) else { return };
    let (src, dst) = (ip.src(), ip.dst());
    let _ = ip.verify_checksum();
    ip.decrement_ttl();
    let pseudo = ip.pseudo_header_sum();
    let Ok(mut tcp) = TcpSegment::new_checked(ip.payload_mut()) else { return };
    let _: Vec<_> = tcp_option::parse(tcp.options()).collect();
    let syn = SynOptions::from_options(tcp.options());
    let valid_before = tcp.verify_checksum(pseudo);
    tcp.set_seq(tcp.seq().wrapping_add(12345));
    tcp.set_window(tcp.window() >> 1);
    let _ = tcp.map_sack_edges(|e| e.wrapping_sub(777));
    // Incremental updates must keep a valid checksum valid.
    assert!(!valid_before || tcp.verify_checksum(pseudo));
    let ring = CookieKeyring::new(CookieSecret { k0: 1, k1: 2 });
    let input = CookieInput { client_ip: src, client_port: tcp.src_port(), vip: dst, vport: tcp.dst_port(), client_isn: tcp.seq() };
    if let Ok(o) = syn {
        let c = ring.generate(&input, &o);
        assert!(ring.validate(c, &input).is_ok());
    }
    let _ = ring.validate(tcp.ack().wrapping_sub(1), &input);
});
