//! Packet vectors for p4/switchyard.p4. The expected frames are built here
//! with the wire crate (cookie, checksums, option encoding), independently
//! of the simulator; the JSON files under tests/vectors/ are these cases
//! written out (SWITCHYARD_WRITE_VECTORS=1 rewrites them). The test checks
//! that the files on disk equal what this file builds, then replays every
//! file through switch-sim.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use switchyard_switch_sim::entries::{EntryText, Value};
use switchyard_switch_sim::vectors::{run, to_hex, Case, DigestText, Frame, VectorFile, WriteText};
use switchyard_wire::cookie::{self, CookieInput, CookieSecret};
use switchyard_wire::ethernet::{self, EthernetFrame, EthernetRepr, MacAddr};
use switchyard_wire::flow::client_hash;
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::ipv4::{self, Ipv4Packet, Ipv4Repr, PROTO_UDP};
use switchyard_wire::reason::{DropReason, PathCounter};
use switchyard_wire::tcp::{TcpRepr, ACK, FIN, PSH, RST, SYN};
use switchyard_wire::tcp_option::{SynOptions, TcpOption, TcpOptions};
use switchyard_wire::{checksum, synack};

const CLIENT_PORT: u16 = 1;
const BACKEND_PORT: u16 = 2;
const FE_PORTS: [u16; 2] = [3, 4];
const ROUTER_PORT: u16 = 5;

const SW_MAC: MacAddr = [0x02, 0, 0, 0, 0x01, 0x01];
const CLIENT_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x02];
const B0_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x10];
const B1_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x11];
const FE_MACS: [MacAddr; 2] = [[0x02, 0, 0, 0, 0, 0xf3], [0x02, 0, 0, 0, 0, 0xf4]];
const ROUTER_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x55];

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 1);
const VPORT: u16 = 80;
const VIP_ID: u16 = 1;
/// A second service's VIP, removed by a reload and draining (syn_refused).
const DRAINING_VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 2);
const B0: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 10);
const B1: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 11);
const BPORT: u16 = 8080;
/// The backends' network: only the backend port may source it.
const BACKEND_NET: &str = "198.18.1.0/24";

/// Where the malformed cases' deliberate byte edits land (frames built
/// here have an option-less IPv4 header).
const IP: usize = ethernet::HEADER_LEN;
const L4: usize = IP + ipv4::MIN_HEADER_LEN;
const TCP_CHECKSUM: usize = L4 + 16;

const KEY_CUR: CookieSecret = CookieSecret { k0: 0x0302_0100, k1: 0x0706_0504 };
const KEY_PREV: CookieSecret = CookieSecret { k0: 0xdead_beef, k1: 0x0bad_f00d };

fn mac_s(m: MacAddr) -> Value {
    Value::Text(m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"))
}
fn ip_s(a: Ipv4Addr) -> Value {
    Value::Text(a.to_string())
}
fn n(v: u64) -> Value {
    Value::Num(v)
}

fn entry(table: &str, m: &[(&str, Value)], action: &str, p: &[(&str, Value)]) -> EntryText {
    EntryText {
        table: table.into(),
        matches: m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        action: action.into(),
        params: p.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        priority: 0,
        default: false,
        idle_timeout_ms: 0,
    }
}

fn default_entry(table: &str, action: &str, p: &[(&str, Value)]) -> EntryText {
    EntryText { default: true, ..entry(table, &[], action, p) }
}

fn secrets(gen: u8) -> EntryText {
    default_entry(
        "cookie_secrets",
        "set_cookie_secrets",
        &[
            ("cur_k0", n(KEY_CUR.k0.into())),
            ("cur_k1", n(KEY_CUR.k1.into())),
            ("cur_gen", n(gen.into())),
            ("prev_k0", n(KEY_PREV.k0.into())),
            ("prev_k1", n(KEY_PREV.k1.into())),
        ],
    )
}

fn conn(client_port: u16, backend: u16) -> EntryText {
    entry(
        "connection",
        &[("client_addr", ip_s(CLIENT)), ("client_port", n(client_port.into())), ("vip_id", n(VIP_ID.into()))],
        "set_conn_backend",
        &[("backend_index", n(backend.into()))],
    )
}

/// The testbed-like base configuration every file starts from.
fn base_entries() -> Vec<EntryText> {
    let route = |pfx: &str, port: u16, dmac: MacAddr| {
        entry(
            "ipv4_route",
            &[("dst_addr", Value::Text(pfx.into()))],
            "route",
            &[("port", n(port.into())), ("src_mac", mac_s(SW_MAC)), ("dst_mac", mac_s(dmac))],
        )
    };
    let mut v = vec![
        secrets(0),
        entry("vip", &[("vip_addr", ip_s(VIP)), ("vip_port", n(VPORT.into()))], "set_vip", &[("vip_id", n(VIP_ID.into()))]),
        entry("backend", &[("backend_index", n(0))], "rewrite_to_backend", &[("addr", ip_s(B0)), ("port", n(BPORT.into()))]),
        entry("backend", &[("backend_index", n(1))], "rewrite_to_backend", &[("addr", ip_s(B1)), ("port", n(BPORT.into()))]),
        route("198.18.0.0/24", CLIENT_PORT, CLIENT_MAC),
        route("198.18.1.10/32", BACKEND_PORT, B0_MAC),
        route("198.18.1.11/32", BACKEND_PORT, B1_MAC),
        route("198.18.2.0/24", ROUTER_PORT, ROUTER_MAC),
        default_entry("frontend_count", "set_frontend_count", &[("count", n(2))]),
    ];
    for (i, b) in [B0, B1].iter().enumerate() {
        v.push(entry(
            "backend_address",
            &[("backend_addr", ip_s(*b)), ("backend_port", n(BPORT.into()))],
            "set_backend_origin",
            &[("vip_id", n(VIP_ID.into())), ("backend_index", n(i as u64)), ("vip_addr", ip_s(VIP)), ("vip_port", n(VPORT.into()))],
        ));
    }
    for (i, p) in FE_PORTS.iter().enumerate() {
        v.push(entry("frontend_port", &[("index", n(i as u64))], "to_frontend", &[("port", n((*p).into())), ("dst_mac", mac_s(FE_MACS[i]))]));
        v.push(entry("port_role", &[("port", n((*p).into()))], "set_port_role", &[("role", n(1))]));
    }
    // The edge guards: the backend port is trusted with backend sources;
    // client-facing ports (the default role) may neither source the backend
    // network nor reach a backend's service directly.
    v.push(entry("port_role", &[("port", n(BACKEND_PORT.into()))], "set_port_role", &[("role", n(2))]));
    v.push(entry("protected_source", &[("src_addr", Value::Text(BACKEND_NET.into()))], "drop_spoofed_source", &[]));
    for b in [B0, B1] {
        v.push(entry("backend_service", &[("backend_addr", ip_s(b)), ("backend_port", n(BPORT.into()))], "drop_direct_to_backend", &[]));
    }
    v
}

#[derive(Clone)]
struct Seg<'a> {
    smac: MacAddr,
    dmac: MacAddr,
    src: Ipv4Addr,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    opts: &'a [TcpOption<'a>],
    payload: &'a [u8],
    ttl: u8,
}

fn seg<'a>(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, flags: u8) -> Seg<'a> {
    Seg { smac: CLIENT_MAC, dmac: SW_MAC, src, sport, dst, dport, seq: 0x1234_5678, ack: 0, flags, opts: &[], payload: &[], ttl: 64 }
}

fn build(s: &Seg) -> Vec<u8> {
    let t = TcpRepr { src_port: s.sport, dst_port: s.dport, seq: s.seq, ack: s.ack, flags: s.flags, window: 29200, options: s.opts.into(), payload: s.payload };
    FrameRepr { ttl: s.ttl, ident: 0x4242, ..FrameRepr::new(s.smac, s.dmac, s.src, s.dst, t) }.to_vec().unwrap()
}

/// The IPv4 packet of a frame, whatever it carries (UDP, fragments too).
fn ipv4_of(f: &mut [u8]) -> Ipv4Packet<&mut [u8]> {
    Ipv4Packet::new_checked(&mut f[IP..]).unwrap()
}

/// Recomputes the checksums from scratch (the expected result of a
/// correct incremental update): both of a TCP frame, the IPv4 header's of
/// anything else.
fn refill(f: &mut [u8]) {
    if let Ok(mut t) = TcpFrame::new_checked(&mut *f) {
        t.fill_checksums();
        return;
    }
    ipv4_of(f).fill_checksum();
}

fn tcp_checksum(f: &[u8]) -> u16 {
    TcpFrame::new_checked(f).unwrap().tcp().checksum()
}

fn set_macs(f: &mut [u8], src: MacAddr, dst: MacAddr) {
    let mut e = EthernetFrame::new_checked(&mut f[..]).unwrap();
    e.set_src(src);
    e.set_dst(dst);
}

fn expected_synack(s: &Seg, gen: u8) -> Vec<u8> {
    let syn = build(s);
    let opts = SynOptions::from_options(TcpFrame::new_checked(&syn[..]).unwrap().tcp_options()).unwrap();
    // The current secret signs whatever its generation bit is.
    let key = KEY_CUR;
    let input = CookieInput { client_ip: s.src, client_port: s.sport, vip: s.dst, vport: s.dport, client_isn: s.seq };
    let c = cookie::generate(key, gen, &input, &opts);
    let (o, n) = synack::option_block(&opts, synack::MSS, synack::WSCALE);
    let t = TcpRepr { src_port: s.dport, dst_port: s.sport, seq: c, ack: s.seq.wrapping_add(1), flags: SYN | ACK, window: synack::WINDOW, options: (&o[..n]).into(), payload: &[] };
    assert_eq!(t.header_len(), synack::TCP_HEADER_LEN);
    FrameRepr { ttl: synack::TTL, ..FrameRepr::new(s.dmac, s.smac, s.dst, s.src, t) }.to_vec().unwrap()
}

fn path(p: PathCounter) -> (String, u64) {
    (format!("path_counter[{}]", p as u8), 1)
}
fn dropped(r: DropReason) -> BTreeMap<String, u64> {
    [(format!("drop_counter[{}]", r as u8), 1), path(PathCounter::Dropped)].into_iter().collect()
}

fn case(d: &str, port: u16, input: Vec<u8>, outputs: Vec<(u16, Vec<u8>)>, counters: BTreeMap<String, u64>) -> Case {
    Case {
        description: d.into(),
        entries: Vec::new(),
        input: Some(Frame { port, hex: to_hex(&input) }),
        outputs: outputs.into_iter().map(|(p, b)| Frame { port: p, hex: to_hex(&b) }).collect(),
        digests: Vec::new(),
        counters,
    }
}

fn file(name: &str, description: &str, cases: Vec<Case>) -> (String, VectorFile) {
    (
        name.into(),
        VectorFile { description: description.into(), program: "p4/switchyard.p4".into(), defines: BTreeMap::new(), entries: base_entries(), cases },
    )
}

fn syn_cookie() -> (String, VectorFile) {
    let linux = [TcpOption::Mss(1460), TcpOption::SackPermitted, TcpOption::Timestamps { tsval: 1, tsecr: 0 }, TcpOption::NoOp, TcpOption::WindowScale(7)];
    let bare: [TcpOption; 0] = [];
    let mss_ws14 = [TcpOption::Mss(1400), TcpOption::NoOp, TcpOption::WindowScale(14)];
    let ws_clamp = [TcpOption::WindowScale(15), TcpOption::Mss(1300)];
    let jumbo_sack = [TcpOption::Mss(9000), TcpOption::NoOp, TcpOption::NoOp, TcpOption::SackPermitted];
    let unknown = [TcpOption::Unknown { kind: 30, data: &[1, 2, 3, 4] }, TcpOption::Mss(1220), TcpOption::EndOfList];
    let small_mss = [TcpOption::Mss(1000)];
    let sets: Vec<(&str, &[TcpOption])> = vec![
        ("Linux SYN: MSS 1460, SACK, timestamps, NOP, WS 7", &linux),
        ("SYN without options (MSS 536 assumed, no WS, no SACK)", &bare),
        ("MSS 1400 and WS 14", &mss_ws14),
        ("WS 15 is clamped to 14; MSS 1300", &ws_clamp),
        ("MSS 9000 rounds down to 8960; SACK after two NOPs", &jumbo_sack),
        ("unknown option kind 30 skipped by length, MSS 1220, EOL padding", &unknown),
        ("MSS 1000 rounds down to 536", &small_mss),
    ];
    let mut cases = Vec::new();
    for (i, (d, o)) in sets.iter().enumerate() {
        let mut s = seg(CLIENT, 40000 + i as u16, VIP, VPORT, SYN);
        s.opts = o;
        s.seq = 0x1000_0000u32.wrapping_mul(i as u32 + 1).wrapping_add(7);
        cases.push(case(&format!("SYN -> cookie SYN-ACK: {d}"), CLIENT_PORT, build(&s), vec![(CLIENT_PORT, expected_synack(&s, 0))], [path(PathCounter::SynAnswered)].into()));
    }
    // Key rotation: generation 1 signs, the cookie's bit 8 says so.
    let mut c = case("after rotation the SYN-ACK carries generation 1", CLIENT_PORT, Vec::new(), Vec::new(), BTreeMap::new());
    c.entries.push(WriteText { entry: secrets(1), expect_error: None });
    let mut s = seg(CLIENT, 41000, VIP, VPORT, SYN);
    s.opts = &linux;
    c.input = Some(Frame { port: CLIENT_PORT, hex: to_hex(&build(&s)) });
    c.outputs = vec![Frame { port: CLIENT_PORT, hex: to_hex(&expected_synack(&s, 1)) }];
    cases.push(c);
    // TCP Fast Open style SYN with data: the data is not answered.
    let mut s = seg(CLIENT, 41001, VIP, VPORT, SYN);
    s.opts = &mss_ws14;
    s.payload = b"GET / HTTP/1.1\r\n\r\n";
    let mut e = expected_synack(&s, 1);
    let _ = &mut e;
    cases.push(case("SYN with data: SYN-ACK without the data", CLIENT_PORT, build(&s), vec![(CLIENT_PORT, expected_synack(&s, 1))], BTreeMap::new()));
    let mut s = seg(CLIENT, 41002, VIP, VPORT, SYN);
    s.ttl = 1;
    cases.push(case("SYN with TTL 1 is dropped", CLIENT_PORT, build(&s), vec![], dropped(DropReason::TtlExpired)));
    file("syn_cookie.json", "SYN to a VIP answered by the switch with exactly wire::cookie's SYN cookie", cases)
}

fn fe_of(cip: Ipv4Addr, cport: u16) -> usize {
    (client_hash(cip, cport) % 2) as usize
}

fn to_fe(input: &[u8], cip: Ipv4Addr, cport: u16) -> (u16, Vec<u8>) {
    let i = fe_of(cip, cport);
    let mut f = input.to_vec();
    let mut e = EthernetFrame::new_checked(&mut f[..]).unwrap();
    e.set_dst(FE_MACS[i]);
    (FE_PORTS[i], f)
}

fn frontend() -> (String, VectorFile) {
    let mut cases = Vec::new();
    let mut seen = [false; 2];
    for cport in 50000..50012u16 {
        let mut s = seg(CLIENT, cport, VIP, VPORT, ACK);
        s.ack = 0x7777_0001;
        let f = build(&s);
        seen[fe_of(CLIENT, cport)] = true;
        cases.push(case(&format!("first ACK of client port {cport}: to its front-end"), CLIENT_PORT, f.clone(), vec![to_fe(&f, CLIENT, cport)], [path(PathCounter::ToFrontend)].into()));
        s.flags = ACK | PSH;
        s.payload = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
        let f = build(&s);
        cases.push(case(&format!("request data of client port {cport}: same front-end"), CLIENT_PORT, f.clone(), vec![to_fe(&f, CLIENT, cport)], BTreeMap::new()));
    }
    assert!(seen[0] && seen[1], "the flows must exercise both front-ends");
    // Backend SYN-ACK (no entry) and backend SYN-ACK with an entry present.
    let mut s = seg(B0, BPORT, CLIENT, 50000, SYN | ACK);
    s.smac = B0_MAC;
    let f = build(&s);
    cases.push(case("backend SYN-ACK: to the client's front-end (hash of client ip:port)", BACKEND_PORT, f.clone(), vec![to_fe(&f, CLIENT, 50000)], [path(PathCounter::ToFrontend)].into()));
    let mut c = case("backend SYN-ACK with a connection entry: still to the front-end", BACKEND_PORT, f.clone(), vec![to_fe(&f, CLIENT, 50000)], [path(PathCounter::ToFrontend)].into());
    c.entries.push(WriteText { entry: conn(50000, 0), expect_error: None });
    cases.push(c);
    let mut s = seg(B1, BPORT, CLIENT, 50000, ACK);
    s.smac = B1_MAC;
    let f = build(&s);
    cases.push(case("backend packet from a backend other than the entry's: to the front-end", BACKEND_PORT, f.clone(), vec![to_fe(&f, CLIENT, 50000)], [path(PathCounter::ToFrontend)].into()));
    let mut c = case("no front-end configured: dropped", CLIENT_PORT, build(&seg(CLIENT, 50001, VIP, VPORT, ACK)), vec![], dropped(DropReason::NoFrontend));
    c.entries.push(WriteText { entry: default_entry("frontend_count", "set_frontend_count", &[("count", n(0))]), expect_error: None });
    cases.push(c);
    file("frontend.json", "VIP and backend packets without an entry go to the front-end chosen by crc32(client ip, port) % N", cases)
}

fn offload() -> (String, VectorFile) {
    let mut cases = Vec::new();
    let mut w = case("install the connection entry", 0, Vec::new(), Vec::new(), BTreeMap::new());
    w.input = None;
    w.entries.push(WriteText { entry: conn(50100, 1), expect_error: None });
    w.entries.push(WriteText { entry: conn(50100, 1), expect_error: Some("exists".into()) });
    cases.push(w);
    let body = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
    for (d, flags, payload) in [("ACK", ACK, &b""[..]), ("data", ACK | PSH, &body[..])] {
        let mut s = seg(CLIENT, 50100, VIP, VPORT, flags);
        s.payload = payload;
        s.ack = 99;
        let f = build(&s);
        let mut e = f.clone();
        {
            let mut fr = TcpFrame::new_checked(&mut e[..]).unwrap();
            let mut ip = fr.ipv4_mut();
            ip.set_dst(B1);
            ip.decrement_ttl();
            let mut t = fr.tcp_mut();
            t.set_dst_port(BPORT);
        }
        set_macs(&mut e, SW_MAC, B1_MAC);
        refill(&mut e);
        cases.push(case(&format!("offloaded in ({d}): dst rewritten to backend 1, TTL-1, checksums valid"), CLIENT_PORT, f, vec![(BACKEND_PORT, e)], [path(PathCounter::OffloadedIn)].into()));
    }
    let resp = vec![b'x'; 1200];
    let mut s = seg(B1, BPORT, CLIENT, 50100, ACK | PSH);
    s.smac = B1_MAC;
    s.payload = &resp;
    let f = build(&s);
    let mut e = f.clone();
    {
        let mut fr = TcpFrame::new_checked(&mut e[..]).unwrap();
            let mut ip = fr.ipv4_mut();
        ip.set_src(VIP);
        ip.decrement_ttl();
        let mut t = fr.tcp_mut();
        t.set_src_port(VPORT);
    }
    set_macs(&mut e, SW_MAC, CLIENT_MAC);
    refill(&mut e);
    cases.push(case("offloaded out: src rewritten to the VIP, TTL-1, checksums valid", BACKEND_PORT, f, vec![(CLIENT_PORT, e)], [path(PathCounter::OffloadedOut)].into()));
    // A bad TCP checksum stays bad (incremental update).
    let mut s = seg(CLIENT, 50100, VIP, VPORT, ACK);
    s.seq = 5;
    let mut f = build(&s);
    f[TCP_CHECKSUM] ^= 0x5a;
    let mut e = build(&s);
    {
        let mut fr = TcpFrame::new_checked(&mut e[..]).unwrap();
            let mut ip = fr.ipv4_mut();
        ip.set_dst(B1);
        ip.decrement_ttl();
        let mut t = fr.tcp_mut();
        t.set_dst_port(BPORT);
    }
    set_macs(&mut e, SW_MAC, B1_MAC);
    refill(&mut e);
    // RFC 1624: the output is off from the correct checksum by the same
    // ones'-complement amount as the input was.
    let (good_in, bad_in, good_out) = (tcp_checksum(&build(&s)), tcp_checksum(&f), tcp_checksum(&e));
    e[TCP_CHECKSUM..TCP_CHECKSUM + 2].copy_from_slice(&checksum::update16(good_out, bad_in, good_in).to_be_bytes());
    assert_ne!(tcp_checksum(&e), good_in);
    cases.push(case("offloaded in with a corrupt TCP checksum: still corrupt by the same amount", CLIENT_PORT, f, vec![(BACKEND_PORT, e)], BTreeMap::new()));
    // FIN / RST digests, both directions.
    let digest = |flags: u8| DigestText {
        receiver: 1,
        type_name: "teardown_digest_t".into(),
        fields: [
            ("client_addr".to_string(), ip_s(CLIENT)),
            ("client_port".to_string(), n(50100)),
            ("vip_id".to_string(), n(VIP_ID.into())),
            ("backend_index".to_string(), n(1)),
            ("tcp_flags".to_string(), n(flags.into())),
        ]
        .into(),
    };
    for (d, flags, from_client) in [("client FIN", FIN | ACK, true), ("backend FIN", FIN | ACK, false), ("client RST", RST, true), ("backend RST", RST | ACK, false)] {
        let mut s = if from_client { seg(CLIENT, 50100, VIP, VPORT, flags) } else { seg(B1, BPORT, CLIENT, 50100, flags) };
        if !from_client {
            s.smac = B1_MAC;
        }
        let f = build(&s);
        let mut e = f.clone();
        {
            let mut fr = TcpFrame::new_checked(&mut e[..]).unwrap();
            let mut ip = fr.ipv4_mut();
            if from_client {
                ip.set_dst(B1);
            } else {
                ip.set_src(VIP);
            }
            ip.decrement_ttl();
            let mut t = fr.tcp_mut();
            if from_client {
                t.set_dst_port(BPORT);
            } else {
                t.set_src_port(VPORT);
            }
        }
        let (port, mac) = if from_client { (BACKEND_PORT, B1_MAC) } else { (CLIENT_PORT, CLIENT_MAC) };
        set_macs(&mut e, SW_MAC, mac);
        refill(&mut e);
        let mut c = case(&format!("{d} on an offloaded flow: forwarded and reported"), if from_client { CLIENT_PORT } else { BACKEND_PORT }, f, vec![(port, e)], [path(PathCounter::TeardownDigest)].into());
        c.digests.push(digest(flags));
        cases.push(c);
    }
    // Request mode: bare ACKs and backend packets offloaded; client data,
    // FIN and RST to the front-end.
    let mut w = case("install a request-mode entry", 0, Vec::new(), Vec::new(), BTreeMap::new());
    w.input = None;
    let mut e = conn(50101, 0);
    e.action = "set_conn_backend_request".into();
    w.entries.push(WriteText { entry: e, expect_error: None });
    cases.push(w);
    let s = seg(CLIENT, 50101, VIP, VPORT, ACK);
    let f = build(&s);
    let e = offloaded_to_b0(&f);
    cases.push(case("request mode: the client's bare ACK is offloaded", CLIENT_PORT, f, vec![(BACKEND_PORT, e)], [path(PathCounter::OffloadedIn)].into()));
    let mut s = seg(CLIENT, 50101, VIP, VPORT, ACK | PSH);
    s.payload = b"GET /next HTTP/1.1\r\n\r\n";
    let f = build(&s);
    cases.push(case("request mode: a client request goes to the front-end", CLIENT_PORT, f.clone(), vec![to_fe(&f, CLIENT, 50101)], [path(PathCounter::ToFrontend)].into()));
    let f = build(&seg(CLIENT, 50101, VIP, VPORT, FIN | ACK));
    cases.push(case("request mode: the client's FIN goes to the front-end, no digest", CLIENT_PORT, f.clone(), vec![to_fe(&f, CLIENT, 50101)], [path(PathCounter::ToFrontend)].into()));
    let mut s = seg(B0, BPORT, CLIENT, 50101, ACK | PSH);
    s.smac = B0_MAC;
    s.payload = &resp;
    let f = build(&s);
    let mut e = f.clone();
    {
        let mut fr = TcpFrame::new_checked(&mut e[..]).unwrap();
            let mut ip = fr.ipv4_mut();
        ip.set_src(VIP);
        ip.decrement_ttl();
        fr.tcp_mut().set_src_port(VPORT);
    }
    set_macs(&mut e, SW_MAC, CLIENT_MAC);
    refill(&mut e);
    cases.push(case("request mode: the backend's response is offloaded", BACKEND_PORT, f, vec![(CLIENT_PORT, e)], [path(PathCounter::OffloadedOut)].into()));
    // Port reuse: a new SYN from a client port whose entry still exists
    // goes to the front-end, which detaches the entry before it answers
    // (so the new connection's ACK cannot be carried to the old backend).
    let mut s = seg(CLIENT, 50100, VIP, VPORT, SYN);
    s.seq = 42;
    let f = build(&s);
    cases.push(case("new SYN on a client port with an entry (a reused port): to the front-end unchanged, no cookie", CLIENT_PORT, f.clone(), vec![to_fe(&f, CLIENT, 50100)], [path(PathCounter::ToFrontend)].into()));
    file("offload.json", "Offloaded flows: rewrites in both directions, checksums, FIN/RST digests", cases)
}

fn routed() -> (String, VectorFile) {
    let mut cases = Vec::new();
    let mut s = seg(CLIENT, 1234, Ipv4Addr::new(198, 18, 2, 9), 22, ACK);
    s.payload = b"ssh";
    let f = build(&s);
    let mut e = f.clone();
    ipv4_of(&mut e).decrement_ttl();
    set_macs(&mut e, SW_MAC, ROUTER_MAC);
    refill(&mut e);
    cases.push(case("TCP to a non-VIP address: routed (TTL-1, MACs)", CLIENT_PORT, f, vec![(ROUTER_PORT, e)], [path(PathCounter::Routed)].into()));
    let s = seg(CLIENT, 1234, VIP, 443, SYN);
    cases.push(case("SYN to the VIP address on a port that is no VIP: routed; no route, dropped", CLIENT_PORT, build(&s), vec![], dropped(DropReason::NoRoute)));
    // UDP, built by hand with the wire crate.
    let mut f = vec![0u8; L4 + 12];
    EthernetRepr { src: CLIENT_MAC, dst: SW_MAC, ethertype: ethernet::ETHERTYPE_IPV4 }.emit(&mut f).unwrap();
    Ipv4Repr { src: CLIENT, dst: Ipv4Addr::new(198, 18, 2, 53), protocol: PROTO_UDP, ttl: 9, ident: 1, dont_fragment: false, payload_len: 12 }.emit(&mut f[IP..]).unwrap();
    // wire has no UDP: an 8-byte header (ports 12345 -> 53, length 12, no checksum).
    f[L4..L4 + 8].copy_from_slice(&[0x30, 0x39, 0, 53, 0, 12, 0, 0]);
    f[L4 + 8..].copy_from_slice(b"dns?");
    let mut e = f.clone();
    ipv4_of(&mut e).decrement_ttl();
    set_macs(&mut e, SW_MAC, ROUTER_MAC);
    refill(&mut e);
    cases.push(case("UDP: routed", CLIENT_PORT, f, vec![(ROUTER_PORT, e)], [path(PathCounter::Routed)].into()));
    // Front-end output: routed as it is, even to/from VIP addresses.
    let mut s = seg(CLIENT, 50200, B0, BPORT, SYN);
    s.smac = FE_MACS[0];
    s.ack = 0xabcd_ef01;
    let opts = [TcpOption::Mss(1460), TcpOption::NoOp, TcpOption::WindowScale(7), TcpOption::SackPermitted, TcpOption::Unknown { kind: 30, data: &[9] }];
    s.opts = &opts;
    let f = build(&s);
    let mut e = f.clone();
    ipv4_of(&mut e).decrement_ttl();
    set_macs(&mut e, SW_MAC, B0_MAC);
    refill(&mut e);
    cases.push(case("front-end's replayed SYN to a backend: routed with its options byte for byte", FE_PORTS[0], f, vec![(BACKEND_PORT, e)], [path(PathCounter::Routed)].into()));
    let mut s = seg(VIP, VPORT, CLIENT, 50200, ACK | PSH);
    s.smac = FE_MACS[1];
    s.payload = b"HTTP/1.1 200 OK\r\n";
    let f = build(&s);
    let mut e = f.clone();
    ipv4_of(&mut e).decrement_ttl();
    set_macs(&mut e, SW_MAC, CLIENT_MAC);
    refill(&mut e);
    cases.push(case("front-end packet from the VIP to a client: routed as it is", FE_PORTS[1], f, vec![(CLIENT_PORT, e)], [path(PathCounter::Routed)].into()));
    let mut s = seg(VIP, VPORT, CLIENT, 50200, ACK);
    s.smac = FE_MACS[1];
    s.ttl = 1;
    cases.push(case("front-end packet with TTL 1: dropped", FE_PORTS[1], build(&s), vec![], dropped(DropReason::TtlExpired)));
    file("routed.json", "Non-VIP traffic and front-end output are routed by LPM", cases)
}

fn malformed() -> (String, VectorFile) {
    let mut cases = Vec::new();
    let good = build(&seg(CLIENT, 50300, VIP, VPORT, ACK));
    cases.push(case("10-byte frame", CLIENT_PORT, good[..10].to_vec(), vec![], dropped(DropReason::Truncated)));
    cases.push(case("Ethernet + 12 bytes of IPv4", CLIENT_PORT, good[..IP + 12].to_vec(), vec![], dropped(DropReason::Truncated)));
    cases.push(case("IPv4 + 10 bytes of TCP", CLIENT_PORT, good[..L4 + 10].to_vec(), vec![], dropped(DropReason::Truncated)));
    let mut f = good.clone();
    f[IP + 3] += 40; // total length beyond the frame
    // The view refuses the packet now: give it the bytes the length
    // announces to compute the header checksum, then cut them again.
    f.resize(good.len() + 40, 0);
    ipv4_of(&mut f).fill_checksum();
    f.truncate(good.len());
    cases.push(case("IPv4 total length beyond the frame", CLIENT_PORT, f, vec![], dropped(DropReason::Truncated)));
    let mut f = good.clone();
    f[IP] = 0x44;
    cases.push(case("IHL 4", CLIENT_PORT, f, vec![], dropped(DropReason::BadIpHeader)));
    let mut f = good.clone();
    f[IP] = 0x65;
    cases.push(case("IP version 6 in an IPv4 ethertype", CLIENT_PORT, f, vec![], dropped(DropReason::BadIpHeader)));
    let mut f = good.clone();
    f[IP + 10] ^= 0xff;
    cases.push(case("bad IPv4 header checksum", CLIENT_PORT, f, vec![], dropped(DropReason::BadChecksum)));
    let mut f = good.clone();
    f[L4 + 12] = 0x30;
    cases.push(case("TCP data offset 3", CLIENT_PORT, f, vec![], dropped(DropReason::BadTcpHeader)));
    let mut f = good.clone();
    f[L4 + 12] = 0xf0;
    cases.push(case("TCP data offset 15 beyond the segment", CLIENT_PORT, f, vec![], dropped(DropReason::Truncated)));
    let mut s = seg(CLIENT, 50301, VIP, VPORT, SYN);
    let bad = [TcpOption::Mss(1460), TcpOption::Unknown { kind: 30, data: &[0; 10] }];
    s.opts = &bad;
    let mut f = build(&s);
    f[L4 + 20 + 5] = 1; // unknown option length 1
    refill(&mut f);
    cases.push(case("SYN with an option of length 1", CLIENT_PORT, f, vec![], dropped(DropReason::BadTcpOptions)));
    let mut f = build(&s);
    f[L4 + 20 + 5] = 30; // runs past the option area
    refill(&mut f);
    cases.push(case("SYN with an option running past the header", CLIENT_PORT, f, vec![], dropped(DropReason::BadTcpOptions)));
    let mut s = seg(CLIENT, 50302, VIP, VPORT, SYN);
    let mss_only = [TcpOption::Mss(1460)];
    s.opts = &mss_only;
    let mut f = build(&s);
    f[L4 + 20 + 1] = 3; // MSS with length 3
    refill(&mut f);
    cases.push(case("SYN with an MSS option of length 3", CLIENT_PORT, f, vec![], dropped(DropReason::BadTcpOptions)));
    for (d, flags) in [("SYN+FIN", SYN | FIN), ("SYN+RST", SYN | RST), ("no flags", 0)] {
        cases.push(case(&format!("{d} to a VIP"), CLIENT_PORT, build(&seg(CLIENT, 50303, VIP, VPORT, flags)), vec![], dropped(DropReason::BadTcpFlags)));
    }
    let mut f = good.clone();
    EthernetFrame::new_checked(&mut f[..]).unwrap().set_ethertype(ethernet::ETHERTYPE_ARP);
    cases.push(case("ARP frame", CLIENT_PORT, f, vec![], dropped(DropReason::NotIpv4)));
    let mut f = good.clone();
    f[IP + 6] = 0x20; // MF
    refill(&mut f);
    cases.push(case("TCP fragment (MF) from an edge port", CLIENT_PORT, f, vec![], dropped(DropReason::IpFragment)));
    // IPv4 options (a 4-byte NOP option block): IHL 6.
    let mut f = Vec::new();
    f.extend_from_slice(&good[..IP]);
    f.push(0x46);
    f.extend_from_slice(&good[IP + 1..L4]);
    f.extend_from_slice(&[1, 1, 1, 0]);
    f.extend_from_slice(&good[L4..]);
    let tl = u16::from_be_bytes([f[IP + 2], f[IP + 3]]) + 4;
    f[IP + 2..IP + 4].copy_from_slice(&tl.to_be_bytes());
    ipv4_of(&mut f).fill_checksum();
    cases.push(case("TCP with IPv4 options from an edge port", CLIENT_PORT, f.clone(), vec![], dropped(DropReason::IpOptions)));
    let mut e = f.clone();
    ipv4_of(&mut e).decrement_ttl();
    set_macs(&mut e, SW_MAC, ROUTER_MAC);
    ipv4_of(&mut e).fill_checksum();
    let mut f2 = f.clone();
    f2[IP + 16..IP + 20].copy_from_slice(&[198, 18, 2, 7]);
    ipv4_of(&mut f2).fill_checksum();
    let mut e2 = f2.clone();
    ipv4_of(&mut e2).decrement_ttl();
    set_macs(&mut e2, SW_MAC, ROUTER_MAC);
    ipv4_of(&mut e2).fill_checksum();
    let _ = e;
    cases.push(case("IPv4 options from a front-end port: routed with the options, TTL-1", FE_PORTS[0], f2, vec![(ROUTER_PORT, e2)], [path(PathCounter::Routed)].into()));
    file("malformed.json", "Malformed, truncated and unsupported packets are dropped with their registry reason", cases)
}

fn conn_full() -> (String, VectorFile) {
    let mut cases = Vec::new();
    let mut w = case("fill the 4-entry connection table; the fifth write fails", 0, Vec::new(), Vec::new(), BTreeMap::new());
    w.input = None;
    for p in 0..4 {
        w.entries.push(WriteText { entry: conn(51000 + p, 0), expect_error: None });
    }
    w.entries.push(WriteText { entry: conn(51004, 0), expect_error: Some("table_full".into()) });
    cases.push(w);
    let s = seg(CLIENT, 51003, VIP, VPORT, ACK);
    let f = build(&s);
    let e = offloaded_to_b0(&f);
    cases.push(case("a flow with an entry is offloaded", CLIENT_PORT, f, vec![(BACKEND_PORT, e)], [path(PathCounter::OffloadedIn)].into()));
    let f = build(&seg(CLIENT, 51004, VIP, VPORT, ACK));
    cases.push(case("the flow that did not fit stays on the front-end path", CLIENT_PORT, f.clone(), vec![to_fe(&f, CLIENT, 51004)], [path(PathCounter::ToFrontend)].into()));
    let (name, mut v) = file("conn_full.json", "A full connection table: writes fail with RESOURCE_EXHAUSTED, the flow stays on the front-end", cases);
    v.defines.insert("CONNECTION_TABLE_SIZE".into(), "4".into());
    (name, v)
}

/// The RST|ACK the switch refuses a SYN with (RFC 9293 3.10.7.1: seq 0,
/// ack = SEG.SEQ + SEG.LEN, the SYN counting one; no options, no data).
fn expected_rst(s: &Seg) -> Vec<u8> {
    let seg_len = 1 + s.payload.len() as u32;
    let t = TcpRepr { src_port: s.dport, dst_port: s.sport, seq: 0, ack: s.seq.wrapping_add(seg_len), flags: RST | ACK, window: 0, options: TcpOptions::NONE, payload: &[] };
    FrameRepr { ttl: synack::TTL, ..FrameRepr::new(s.dmac, s.smac, s.dst, s.src, t) }.to_vec().unwrap()
}

/// `f` (client to the VIP) as the switch's rewrite sends it to backend 0.
fn offloaded_to_b0(f: &[u8]) -> Vec<u8> {
    let mut e = f.to_vec();
    {
        let mut fr = TcpFrame::new_checked(&mut e[..]).unwrap();
        let mut ip = fr.ipv4_mut();
        ip.set_dst(B0);
        ip.decrement_ttl();
        fr.tcp_mut().set_dst_port(BPORT);
    }
    set_macs(&mut e, SW_MAC, B0_MAC);
    refill(&mut e);
    e
}

/// A frame whose TCP checksum is off by one (still a valid IPv4 header).
fn bad_tcp_checksum(mut f: Vec<u8>) -> Vec<u8> {
    let c = tcp_checksum(&f);
    f[TCP_CHECKSUM..TCP_CHECKSUM + 2].copy_from_slice(&c.wrapping_add(1).to_be_bytes());
    f
}

fn set_frontend_count(count: u64) -> WriteText {
    WriteText { entry: default_entry("frontend_count", "set_frontend_count", &[("count", n(count))]), expect_error: None }
}

fn syn_refused() -> (String, VectorFile) {
    let linux = [TcpOption::Mss(1460), TcpOption::SackPermitted, TcpOption::Timestamps { tsval: 1, tsecr: 0 }, TcpOption::NoOp, TcpOption::WindowScale(7)];
    let mut cases = Vec::new();
    let mut s = seg(CLIENT, 42000, VIP, VPORT, SYN);
    s.opts = &linux;
    s.seq = 0xffff_fff0;
    let mut c = case("no live front-end (frontend_count 0): a SYN is refused with RST|ACK, seq 0, ack = seq + 1", CLIENT_PORT, build(&s), vec![(CLIENT_PORT, expected_rst(&s))], [path(PathCounter::SynRefused)].into());
    c.entries.push(set_frontend_count(0));
    cases.push(c);
    let mut s = seg(CLIENT, 42001, VIP, VPORT, SYN);
    s.payload = b"GET / HTTP/1.1\r\n\r\n";
    cases.push(case("no live front-end: a SYN with data is refused, ack = seq + 1 + data length, no data echoed", CLIENT_PORT, build(&s), vec![(CLIENT_PORT, expected_rst(&s))], [path(PathCounter::SynRefused)].into()));
    let mut s = seg(CLIENT, 42002, VIP, VPORT, SYN);
    s.opts = &linux;
    cases.push(case("no live front-end: a SYN with a bad TCP checksum gets no RST, it is dropped", CLIENT_PORT, bad_tcp_checksum(build(&s)), vec![], dropped(DropReason::BadChecksum)));
    let mut w = case("an old connection entry on client port 42003", 0, Vec::new(), Vec::new(), BTreeMap::new());
    w.input = None;
    w.entries.push(WriteText { entry: conn(42003, 0), expect_error: None });
    cases.push(w);
    let s = seg(CLIENT, 42003, VIP, VPORT, SYN);
    cases.push(case("no live front-end: a SYN on a reused client port is refused too", CLIENT_PORT, build(&s), vec![(CLIENT_PORT, expected_rst(&s))], [path(PathCounter::SynRefused)].into()));
    let mut s = seg(CLIENT, 42004, VIP, VPORT, ACK);
    s.ack = 0x7777_0001;
    cases.push(case("no live front-end: a first ACK is dropped (no_frontend), not reset", CLIENT_PORT, build(&s), vec![], dropped(DropReason::NoFrontend)));
    let mut s = seg(CLIENT, 42005, VIP, VPORT, SYN);
    s.opts = &linux;
    let mut c = case("a front-end is live again (frontend_count 2): the SYN is answered with the cookie", CLIENT_PORT, build(&s), vec![(CLIENT_PORT, expected_synack(&s, 0))], [path(PathCounter::SynAnswered)].into());
    c.entries.push(set_frontend_count(2));
    cases.push(c);
    // A service removed by a hot reload: its vip entry says set_vip_draining
    // until its last flow is gone (docs/OPERATIONS.md, hot reload).
    let mut w = case("a draining VIP 198.18.100.2 (vip_id 2) with one established flow on client port 42010", 0, Vec::new(), Vec::new(), BTreeMap::new());
    w.input = None;
    w.entries.push(WriteText { entry: entry("vip", &[("vip_addr", ip_s(DRAINING_VIP)), ("vip_port", n(VPORT.into()))], "set_vip_draining", &[("vip_id", n(2))]), expect_error: None });
    let mut flow = conn(42010, 0);
    flow.matches.insert("vip_id".into(), n(2));
    w.entries.push(WriteText { entry: flow, expect_error: None });
    cases.push(w);
    let mut s = seg(CLIENT, 42011, DRAINING_VIP, VPORT, SYN);
    s.opts = &linux;
    cases.push(case("a draining VIP: a new SYN is refused with RST|ACK while front-ends are live", CLIENT_PORT, build(&s), vec![(CLIENT_PORT, expected_rst(&s))], [path(PathCounter::SynRefused)].into()));
    let s = seg(CLIENT, 42010, DRAINING_VIP, VPORT, SYN);
    cases.push(case("a draining VIP: a SYN on the established flow's port is refused too (no new connection)", CLIENT_PORT, build(&s), vec![(CLIENT_PORT, expected_rst(&s))], [path(PathCounter::SynRefused)].into()));
    let mut s = seg(CLIENT, 42010, DRAINING_VIP, VPORT, ACK);
    s.ack = 0x7777_0001;
    let f = build(&s);
    let e = offloaded_to_b0(&f);
    cases.push(case("a draining VIP: the established flow is still offloaded to its backend", CLIENT_PORT, f, vec![(BACKEND_PORT, e)], [path(PathCounter::OffloadedIn)].into()));
    let mut s = seg(CLIENT, 42012, DRAINING_VIP, VPORT, ACK | PSH);
    s.payload = b"GET / HTTP/1.1\r\n\r\n";
    let f = build(&s);
    cases.push(case("a draining VIP: a segment of a flow the front-end carries goes to the front-end", CLIENT_PORT, f.clone(), vec![to_fe(&f, CLIENT, 42012)], [path(PathCounter::ToFrontend)].into()));
    file("syn_refused.json", "With no live front-end, or for a draining VIP, the switch refuses new connections at once (RST|ACK to the SYN, path counter syn_refused); established flows go on", cases)
}

fn edge_guards() -> (String, VectorFile) {
    let mut cases = Vec::new();
    let linux = [TcpOption::Mss(1460), TcpOption::SackPermitted, TcpOption::NoOp, TcpOption::WindowScale(7)];
    // A backend's packet, first from the backend port (legitimate), then
    // the same bytes from the client port (spoofed).
    let mut s = seg(B0, BPORT, CLIENT, 43000, ACK | PSH);
    s.smac = B0_MAC;
    s.payload = b"HTTP/1.1 200 OK\r\n";
    let f = build(&s);
    cases.push(case("a backend packet from the backend port: to the front-end (no entry)", BACKEND_PORT, f.clone(), vec![to_fe(&f, CLIENT, 43000)], [path(PathCounter::ToFrontend)].into()));
    cases.push(case("the same packet from the client port (source spoofed as backend 0): dropped", CLIENT_PORT, f, vec![], dropped(DropReason::SpoofedSource)));
    let mut s = seg(B1, BPORT, VIP, VPORT, SYN);
    s.opts = &linux;
    cases.push(case("a SYN to the VIP from the client port with a backend's source: dropped, not answered", CLIENT_PORT, build(&s), vec![], dropped(DropReason::SpoofedSource)));
    let mut f = vec![0u8; L4 + 12];
    EthernetRepr { src: CLIENT_MAC, dst: SW_MAC, ethertype: ethernet::ETHERTYPE_IPV4 }.emit(&mut f).unwrap();
    Ipv4Repr { src: Ipv4Addr::new(198, 18, 1, 77), dst: Ipv4Addr::new(198, 18, 2, 53), protocol: PROTO_UDP, ttl: 9, ident: 1, dont_fragment: false, payload_len: 12 }.emit(&mut f[IP..]).unwrap();
    // wire has no UDP: an 8-byte header (ports 12345 -> 53, length 12, no checksum).
    f[L4..L4 + 8].copy_from_slice(&[0x30, 0x39, 0, 53, 0, 12, 0, 0]);
    f[L4 + 8..].copy_from_slice(b"dns?");
    cases.push(case("UDP from the client port with a source in the backend network: dropped", CLIENT_PORT, f, vec![], dropped(DropReason::SpoofedSource)));
    let mut s = seg(CLIENT, 43001, B0, BPORT, SYN);
    s.opts = &linux;
    cases.push(case("a client SYN straight to backend 0's service: dropped (only the switch's rewrite reaches it)", CLIENT_PORT, build(&s), vec![], dropped(DropReason::DirectToBackend)));
    let mut s = seg(CLIENT, 43001, B1, BPORT, ACK | PSH);
    s.payload = b"GET / HTTP/1.1\r\n\r\n";
    cases.push(case("client data straight to backend 1's service: dropped", CLIENT_PORT, build(&s), vec![], dropped(DropReason::DirectToBackend)));
    let mut w = case("a connection entry for client port 43002", 0, Vec::new(), Vec::new(), BTreeMap::new());
    w.input = None;
    w.entries.push(WriteText { entry: conn(43002, 0), expect_error: None });
    cases.push(w);
    let s = seg(CLIENT, 43002, VIP, VPORT, ACK);
    let f = build(&s);
    let e = offloaded_to_b0(&f);
    cases.push(case("the switch's own rewrite still reaches backend 0 (client to the VIP, offloaded)", CLIENT_PORT, f, vec![(BACKEND_PORT, e)], [path(PathCounter::OffloadedIn)].into()));
    let mut s = seg(CLIENT, 43003, B0, 22, SYN);
    s.opts = &linux;
    let f = build(&s);
    let mut e = f.clone();
    ipv4_of(&mut e).decrement_ttl();
    set_macs(&mut e, SW_MAC, B0_MAC);
    refill(&mut e);
    cases.push(case("a client SYN to a backend port that is no service: routed (only service ports are guarded)", CLIENT_PORT, f, vec![(BACKEND_PORT, e)], [path(PathCounter::Routed)].into()));
    // The TCP checksum of a SYN is verified before it is answered.
    let mut s = seg(CLIENT, 43004, VIP, VPORT, SYN);
    s.opts = &linux;
    cases.push(case("a SYN with a bad TCP checksum: dropped, not answered", CLIENT_PORT, bad_tcp_checksum(build(&s)), vec![], dropped(DropReason::BadChecksum)));
    cases.push(case("the same SYN with its checksum right: answered", CLIENT_PORT, build(&s), vec![(CLIENT_PORT, expected_synack(&s, 0))], [path(PathCounter::SynAnswered)].into()));
    let mut s = seg(CLIENT, 43005, VIP, VPORT, SYN);
    s.payload = b"GET / HTTP/1.1\r\n\r\n";
    let mut f = build(&s);
    let last = f.len() - 1;
    f[last] ^= 0x20;
    cases.push(case("a SYN whose data does not match its checksum: dropped", CLIENT_PORT, f, vec![], dropped(DropReason::BadChecksum)));
    let mut s = seg(CLIENT, 43006, VIP, VPORT, SYN);
    s.payload = b"GET /odd HTTP/1.1\r\n\r\n";
    assert_eq!(s.payload.len() % 2, 1, "an odd data length exercises the checksum's padding");
    cases.push(case("a SYN with an odd number of data bytes and a right checksum: answered", CLIENT_PORT, build(&s), vec![(CLIENT_PORT, expected_synack(&s, 0))], [path(PathCounter::SynAnswered)].into()));
    let s = seg(CLIENT, 43007, VIP, VPORT, SYN);
    let mut f = build(&s);
    f.extend_from_slice(&[0; 6]);
    cases.push(case("a 54-byte SYN with Ethernet padding to 60 bytes: answered", CLIENT_PORT, f, vec![(CLIENT_PORT, expected_synack(&s, 0))], [path(PathCounter::SynAnswered)].into()));
    let mut s = seg(CLIENT, 43008, VIP, VPORT, ACK);
    s.ack = 0x7777_0001;
    let f = bad_tcp_checksum(build(&s));
    cases.push(case("an ACK with a bad TCP checksum: not verified by the switch, to the front-end unchanged", CLIENT_PORT, f.clone(), vec![to_fe(&f, CLIENT, 43008)], [path(PathCounter::ToFrontend)].into()));
    file("edge_guards.json", "The switch cannot be bypassed from client-facing ports (protected_source, backend_service) and verifies a SYN's TCP checksum before answering it", cases)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn packet_vectors() {
    let files = [syn_cookie(), frontend(), offload(), routed(), malformed(), conn_full(), syn_refused(), edge_guards()];
    let dir = root().join("tests/vectors");
    let write = std::env::var_os("SWITCHYARD_WRITE_VECTORS").is_some();
    let mut failures = Vec::new();
    for (name, v) in &files {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(v).unwrap() + "\n";
        if write {
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        let disk: VectorFile = serde_json::from_str(&on_disk).unwrap_or_else(|e| panic!("{name}: {e} (run with SWITCHYARD_WRITE_VECTORS=1)"));
        assert_eq!(&disk, v, "{name} is out of date: run with SWITCHYARD_WRITE_VECTORS=1");
        for f in run(&root(), &disk).unwrap() {
            failures.push(format!("{name}: {f}"));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
