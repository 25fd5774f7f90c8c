//! Property tests: every incremental rewrite leaves checksums equal to a
//! full recomputation; parsers never panic on arbitrary bytes; options and
//! cookies round-trip.

use std::net::Ipv4Addr;

use proptest::prelude::*;
use switchyard_wire::cookie::{CookieInput, CookieKeyring, CookieSecret};
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::ipv4::Ipv4Packet;
use switchyard_wire::tcp::{TcpRepr, TcpSegment, ACK};
use switchyard_wire::tcp_option::{self, SackBlocks, SynOptions, TcpOption, TcpOptions};
use switchyard_wire::{ethernet, tcp};

fn packet(src: [u8; 4], dst: [u8; 4], seq: u32, ack: u32, sack: &[(u32, u32)], payload: &[u8]) -> Vec<u8> {
    let opts: Vec<TcpOption> = if sack.is_empty() {
        vec![]
    } else {
        vec![TcpOption::NoOp, TcpOption::NoOp, TcpOption::Sack(SackBlocks::new(sack).unwrap())]
    };
    FrameRepr {
        src_mac: [2, 0, 0, 0, 0, 1],
        dst_mac: [2, 0, 0, 0, 0, 2],
        src: Ipv4Addr::from(src),
        dst: Ipv4Addr::from(dst),
        ttl: 64,
        ident: 1,
        dont_fragment: true,
        tcp: TcpRepr { src_port: 1234, dst_port: 80, seq, ack, flags: ACK, window: 1000, options: TcpOptions::List(&opts), payload },
    }
    .to_vec()
    .unwrap()
}

/// Both checksums as a full recomputation sees them.
fn checksums_valid(v: &[u8]) -> bool {
    TcpFrame::new_checked(v).unwrap().check_checksums().is_ok()
}

#[derive(Debug, Clone)]
enum Rewrite {
    Src([u8; 4]),
    Dst([u8; 4]),
    Seq(u32),
    Ack(u32),
    Window(u16),
    SrcPort(u16),
    DstPort(u16),
    SackDelta(u32),
    Ttl,
    Flags(u8),
}

fn rewrite() -> impl Strategy<Value = Rewrite> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(Rewrite::Src),
        any::<[u8; 4]>().prop_map(Rewrite::Dst),
        any::<u32>().prop_map(Rewrite::Seq),
        any::<u32>().prop_map(Rewrite::Ack),
        any::<u16>().prop_map(Rewrite::Window),
        any::<u16>().prop_map(Rewrite::SrcPort),
        any::<u16>().prop_map(Rewrite::DstPort),
        any::<u32>().prop_map(Rewrite::SackDelta),
        Just(Rewrite::Ttl),
        any::<u8>().prop_map(Rewrite::Flags),
    ]
}

fn apply(v: &mut [u8], r: &Rewrite) {
    let mut f = TcpFrame::new_checked(&mut v[..]).unwrap();
    match r {
        Rewrite::Src(a) => f.set_src_addr(Ipv4Addr::from(*a)),
        Rewrite::Dst(a) => f.set_dst_addr(Ipv4Addr::from(*a)),
        Rewrite::Ttl => {
            f.ipv4_mut().decrement_ttl();
        }
        other => {
            let mut t = f.tcp_mut();
            match other {
                Rewrite::Seq(s) => t.set_seq(*s),
                Rewrite::Ack(a) => t.set_ack(*a),
                Rewrite::Window(w) => t.set_window(*w),
                Rewrite::SrcPort(p) => t.set_src_port(*p),
                Rewrite::DstPort(p) => t.set_dst_port(*p),
                Rewrite::Flags(f) => t.set_flags(*f),
                Rewrite::SackDelta(d) => {
                    t.map_sack_edges(|e| e.wrapping_sub(*d)).unwrap();
                }
                _ => unreachable!(),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn incremental_rewrites_match_full_recomputation(
        src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), seq in any::<u32>(), ack in any::<u32>(),
        sack in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..=4),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        rewrites in proptest::collection::vec(rewrite(), 1..8),
    ) {
        let mut v = packet(src, dst, seq, ack, &sack, &payload);
        prop_assert!(checksums_valid(&v));
        for r in &rewrites {
            apply(&mut v, r);
            prop_assert!(checksums_valid(&v), "after {:?}", r);
        }
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(f) = ethernet::EthernetFrame::new_checked(&bytes[..]) {
            let _ = f.ethertype();
            if let Ok(ip) = Ipv4Packet::new_checked(f.payload()) {
                let _ = (ip.src(), ip.dst(), ip.verify_checksum(), ip.is_fragment());
                if let Ok(t) = TcpSegment::new_checked(ip.payload()) {
                    let _ = (t.seq(), t.payload().len(), t.seq_len());
                    let _: Vec<_> = tcp_option::parse(t.options()).collect();
                    let _ = SynOptions::from_options(t.options());
                }
            }
        }
        if let Ok(f) = TcpFrame::new_checked(&bytes[..]) {
            // Its fields emit a frame that parses to the same fields.
            let _ = f.check_checksums();
            let r = FrameRepr::parse(&f);
            let again = r.to_vec().unwrap();
            let g = TcpFrame::new_checked(&again[..]).unwrap();
            prop_assert!(g.check_checksums().is_ok());
            prop_assert_eq!(FrameRepr::parse(&g), r);
        }
        let _: Vec<_> = tcp_option::parse(&bytes).collect();
        if let Ok(mut t) = TcpSegment::new_checked(bytes.clone()) {
            let before = t.clone().into_inner();
            if t.map_sack_edges(|e| e ^ 1).is_err() {
                // A malformed options area is never half rewritten.
                prop_assert_eq!(t.into_inner(), before);
            }
        }
    }

    #[test]
    fn options_round_trip(
        mss in proptest::option::of(any::<u16>()), ws in proptest::option::of(any::<u8>()),
        sackp in any::<bool>(), ts in proptest::option::of((any::<u32>(), any::<u32>())),
        unknown in proptest::option::of((6u8..=253, proptest::collection::vec(any::<u8>(), 0..6))),
    ) {
        let mut opts = Vec::new();
        if let Some(m) = mss { opts.push(TcpOption::Mss(m)); }
        if let Some(w) = ws { opts.push(TcpOption::WindowScale(w)); }
        if sackp { opts.push(TcpOption::SackPermitted); }
        if let Some((a, b)) = ts { opts.push(TcpOption::Timestamps { tsval: a, tsecr: b }); }
        let kept;
        if let Some((k, d)) = &unknown { kept = d.clone(); opts.push(TcpOption::Unknown { kind: if *k == 8 { 9 } else { *k }, data: &kept }); }
        let mut buf = [0u8; 40];
        let n = tcp_option::emit_all(&opts, &mut buf).unwrap();
        let back: Vec<_> = tcp_option::parse(&buf[..n]).map(|o| o.unwrap()).filter(|o| *o != TcpOption::EndOfList).collect();
        prop_assert_eq!(back, opts);
    }

    #[test]
    fn cookies_validate_only_for_their_flow(
        cip in any::<u32>(), cport in any::<u16>(), isn in any::<u32>(), k0 in any::<u32>(), k1 in any::<u32>(),
        mss in proptest::option::of(any::<u16>()), ws in proptest::option::of(0u8..=14), sackp in any::<bool>(),
    ) {
        let ring = CookieKeyring::new(CookieSecret { k0, k1 });
        let input = CookieInput { client_ip: Ipv4Addr::from(cip), client_port: cport, vip: Ipv4Addr::new(198, 18, 100, 1), vport: 80, client_isn: isn };
        let opts = SynOptions { mss, wscale: ws, sack_permitted: sackp, timestamps: false };
        let c = ring.generate(&input, &opts);
        let got = ring.validate(c, &input).unwrap();
        prop_assert_eq!(got.wscale, ws);
        prop_assert_eq!(got.sack_permitted, sackp);
        prop_assert!(got.mss <= mss.unwrap_or(536).max(536));
        let other = CookieInput { client_isn: isn.wrapping_add(1), ..input };
        prop_assert!(ring.validate(c, &other).is_err());
    }
}

#[test]
fn tcp_segment_flag_helpers() {
    let v = packet([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, &[], b"x");
    let f = TcpFrame::new_checked(&v[..]).unwrap();
    let t = f.tcp();
    assert!(t.has_all(tcp::ACK) && !t.has_any(tcp::FIN | tcp::SYN));
}
