//! Frames through the engine: fixture-style walks of every phase. Frames
//! are built with wire's emitters; outputs are parsed with wire's views and
//! checksums verified by full recomputation.

use core::net::Ipv4Addr;

use proptest::prelude::*;
use switchyard_frontend::config::{self, Config};
use switchyard_frontend::engine::packet::{self, Out};
use switchyard_frontend::engine::{Action, ConnEntry, Engine, Hold, OffloadStatus, SpliceState, Verdict};
use switchyard_frontend::http::ErrorReply;
use switchyard_frontend::offload::{OffloadEvent, OffloadRequest, RefusedReason};
use switchyard_wire::cookie::CookieInput;
use switchyard_wire::flow::ConnKey;
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::reason::{DropReason, FrontendCounter as Fc, DROP_REASONS};
use switchyard_wire::tcp::{ACK, FIN, PSH, RST, SYN};
use switchyard_wire::tcp_option::{self, SynOptions, TcpOption};

const CONF: &str = r#"
[frontend]
mac = "02:00:00:00:00:10"
switch_mac = "02:00:00:00:00:01"
flow_table_capacity = 4
[switch]
p4runtime = "198.18.0.1:9559"
[cookie]
secrets = [{ k0 = 0x03020100, k1 = 0x07060504 }]
rotation_secs = 60
[timeouts]
request_ms = 5000
backend_syn_rto_ms = 1000
backend_syn_retries = 3
request_rto_ms = 200
request_retries = 2
closing_ms = 2000
idle_ms = 60000

[[services]]
name = "web"
vip = "198.18.100.1"
port = 80
[[services.routes]]
path_prefix = "/api/"
pool = "api"
[[services.routes]]
pool = "web"

[[services]]
name = "req"
vip = "198.18.100.2"
port = 80
offload = "request"
[[services.routes]]
path_prefix = "/api/"
pool = "api"
[[services.routes]]
pool = "web"

[[pools]]
name = "web"
backends = [{ address = "198.18.2.10", port = 8080 }]
[[pools]]
name = "api"
backends = [{ address = "198.18.2.11", port = 8080 }]
"#;

const CIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 1);
const VIP2: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 2);
const WEB: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 10);
const API: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 11);
const C_ISN: u32 = 0xfffff000; // wraps during the walk on purpose
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
const SW: [u8; 6] = [2, 0, 0, 0, 0, 1];
const REQ: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t\r\n\r\n";

fn conf() -> Config {
    config::parse(CONF, "t").unwrap()
}

/// `CONF` with the response held until the switch's entry is in.
fn conf_hold(on: bool) -> Config {
    config::parse(&CONF.replace("flow_table_capacity = 4", &format!("flow_table_capacity = 4\nhold_until_offloaded = {on}")), "t").unwrap()
}

struct Walk {
    e: Engine,
    out: Vec<Action>,
    cport: u16,
    vip: Ipv4Addr,
    s: u32,
}

#[derive(Debug)]
struct Tx {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    payload: Vec<u8>,
    syn_opts: SynOptions,
}

/// Parses an emitted frame, checking both checksums from scratch.
fn read(frame: &[u8]) -> Tx {
    let f = TcpFrame::new_checked(frame).unwrap();
    f.check_checksums().unwrap();
    let r = FrameRepr::parse(&f);
    assert_eq!(r.dst_mac, SW, "to the switch");
    assert_eq!(r.src_mac, MAC, "from us");
    let t = r.tcp;
    Tx {
        src: r.src,
        dst: r.dst,
        sport: t.src_port,
        dport: t.dst_port,
        seq: t.seq,
        ack: t.ack,
        flags: t.flags,
        window: t.window,
        payload: t.payload.to_vec(),
        syn_opts: SynOptions::from_options(f.tcp_options()).unwrap(),
    }
}

fn frame(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, seq: u32, ack: u32, flags: u8, opts: &[TcpOption<'_>], payload: &[u8]) -> Vec<u8> {
    packet::emit(&Out { src, sport, dst, dport, seq, ack, flags, window: 502, options: opts, payload }, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 0x10])
}

/// Every frame the tests give the engine goes through `handle`: a drop
/// verdict must have moved its reason's counter by exactly one (and no
/// other), any other verdict no drop counter. A drop path that does not
/// count, or counts twice or under another reason, fails every test that
/// reaches it (the fuzzer's included).
trait Counted {
    fn handle(&mut self, frame: &mut [u8], now: u64, out: &mut Vec<Action>) -> Verdict;
}

impl Counted for Engine {
    fn handle(&mut self, frame: &mut [u8], now: u64, out: &mut Vec<Action>) -> Verdict {
        let reasons = || DROP_REASONS.iter().map(|r| DropReason::from_code(r.code).unwrap());
        let before: Vec<u64> = reasons().map(|r| self.counters().dropped(r)).collect();
        let v = self.handle_frame(frame, now, out);
        let moved: Vec<(DropReason, u64)> =
            reasons().zip(before).filter_map(|(r, b)| (self.counters().dropped(r) != b).then(|| (r, self.counters().dropped(r) - b))).collect();
        match v.drop_reason() {
            Some(r) => assert_eq!(moved, [(r, 1)], "a Drop({r:?}) verdict counts one {r:?} drop, nothing else"),
            None => assert!(moved.is_empty(), "{v:?} but drops counted: {moved:?}"),
        }
        v
    }
}

impl Walk {
    fn new(vip: Ipv4Addr) -> Self {
        Self::with(Engine::new(&conf()), vip, 40000)
    }

    fn with(e: Engine, vip: Ipv4Addr, cport: u16) -> Self {
        let opts = SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, timestamps: true };
        let input = CookieInput { client_ip: CIP, client_port: cport, vip, vport: 80, client_isn: C_ISN };
        let s = e.keyring().generate(&input, &opts);
        Self { e, out: Vec::new(), cport, vip, s }
    }

    fn key(&self) -> ConnKey {
        ConnKey { client_ip: CIP, client_port: self.cport, vip_id: if self.vip == VIP { 0 } else { 1 } }
    }

    fn flow(&self) -> &ConnEntry {
        self.e.flow(&self.key()).expect("flow")
    }

    fn client(&mut self, rel_seq: u32, flags: u8, payload: &[u8], now: u64) -> (Verdict, Vec<u8>) {
        let mut f = frame(CIP, self.cport, self.vip, 80, C_ISN.wrapping_add(1 + rel_seq), self.s.wrapping_add(1), flags, &[], payload);
        let v = self.e.handle(&mut f, now, &mut self.out);
        (v, f)
    }

    fn backend(&mut self, from: Ipv4Addr, seq: u32, ack: u32, flags: u8, payload: &[u8], now: u64) -> (Verdict, Vec<u8>) {
        let opts = [TcpOption::Mss(1400), TcpOption::SackPermitted, TcpOption::NoOp, TcpOption::WindowScale(9)];
        let o: &[TcpOption] = if flags & SYN != 0 { &opts } else { &[] };
        let mut f = frame(from, 8080, CIP, self.cport, seq, ack, flags, o, payload);
        let v = self.e.handle(&mut f, now, &mut self.out);
        (v, f)
    }

    fn take(&mut self) -> (Vec<Tx>, Vec<OffloadRequest>) {
        let mut tx = Vec::new();
        let mut off = Vec::new();
        for a in self.out.drain(..) {
            match a {
                Action::Transmit(f) => tx.push(read(&f)),
                Action::Offload(r) => off.push(r),
            }
        }
        (tx, off)
    }

    /// A connection-mode flow spliced to WEB, answered, and installed in the
    /// switch (the tombstone the engine keeps for `OFFLOADED_GRACE_MS`).
    fn offloaded(&mut self) {
        self.splice(REQ, WEB);
        self.backend(WEB, self.s.wrapping_add(1), C_ISN.wrapping_add(1 + REQ.len() as u32), ACK | PSH, b"x", 3);
        self.e.on_offload(OffloadEvent::Installed { key: self.key(), backend: 0 }, 4, &mut self.out);
        self.take();
    }

    /// Client ACK plus request, backend SYN-ACK: returns the request bytes
    /// the backend got.
    fn splice(&mut self, req: &[u8], to: Ipv4Addr) -> Vec<u8> {
        self.spliced_request(req, to).iter().flat_map(|t| t.payload.clone()).collect()
    }

    /// `splice`, returning the request's segments as sent to the backend.
    fn spliced_request(&mut self, req: &[u8], to: Ipv4Addr) -> Vec<Tx> {
        assert_eq!(self.client(0, ACK, b"", 0).0, Verdict::Consumed);
        assert_eq!(self.client(0, ACK | PSH, req, 1).0, Verdict::Consumed);
        let (tx, _) = self.take();
        assert_eq!(tx.len(), 1, "one replayed SYN: {tx:?}");
        let syn = &tx[0];
        assert_eq!((syn.src, syn.sport, syn.dst, syn.dport), (CIP, self.cport, to, 8080));
        assert_eq!(syn.flags, SYN, "SYN only, ACK clear");
        assert_eq!(syn.seq, C_ISN, "client ISN");
        assert_eq!(syn.ack, self.s, "cookie fused into the ack field");
        assert_eq!(syn.syn_opts, SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, timestamps: false });
        let s = self.s;
        assert_eq!(self.backend(to, s, C_ISN.wrapping_add(1), SYN | ACK, b"", 2).0, Verdict::Consumed, "SYN-ACK swallowed");
        let (tx, off) = self.take();
        assert!(off.is_empty());
        let mut seq = C_ISN.wrapping_add(1);
        for t in &tx {
            assert_eq!((t.src, t.dst, t.dport), (CIP, to, 8080));
            assert_eq!(t.seq, seq, "client's sequence space");
            assert_eq!(t.ack, s.wrapping_add(1));
            assert!(t.flags & ACK != 0 && t.flags & SYN == 0);
            seq = seq.wrapping_add(t.payload.len() as u32);
        }
        tx
    }
}

#[test]
fn bad_cookie_drops_without_state() {
    let mut w = Walk::new(VIP);
    w.s ^= 0x1000; // a MAC bit
    let (v, _) = w.client(0, ACK, REQ, 0);
    assert_eq!(v.drop_reason(), Some(DropReason::BadCookie));
    assert_eq!(w.e.flow_count(), 0);
    assert_eq!(w.e.counters().dropped(DropReason::BadCookie), 1);
    // What a TCP stack answers a segment of no connection: RST, seq = its ack.
    let (tx, off) = w.take();
    assert!(off.is_empty());
    assert_eq!(tx.len(), 1, "{tx:?}");
    let r = &tx[0];
    assert_eq!((r.src, r.sport, r.dst, r.dport, r.seq, r.flags, r.payload.len()), (VIP, 80, CIP, w.cport, w.s.wrapping_add(1), RST, 0));
    assert_eq!(w.e.counters()[Fc::StatelessResets], 1);
    // Fixture table of other stateless drops (none answered).
    // (what, flags, the drop: None for Consumed)
    let cases: &[(&str, u8, Option<DropReason>)] = &[
        // The switch sends a SYN here only when it holds an entry for the
        // key: a reused port, answered once the entry is detached.
        ("client SYN", SYN, None),
        ("stray RST", RST | ACK, Some(DropReason::NoFlow)),
        ("SYN+FIN", SYN | FIN, Some(DropReason::BadTcpFlags)),
        ("no ACK", PSH, Some(DropReason::BadTcpFlags)),
    ];
    for (what, flags, want) in cases {
        let v = w.client(0, *flags, b"", 0).0;
        assert_eq!(v.drop_reason(), *want, "{what}");
        assert!(want.is_some() || v == Verdict::Consumed, "{what}: {v:?}");
        assert!(w.take().0.is_empty(), "{what}: no RST");
    }
    // Corrupted checksum.
    let mut f = frame(CIP, 1, VIP, 80, 1, 1, ACK, &[], b"x");
    let n = f.len();
    f[n - 1] ^= 0xff;
    assert_eq!(w.e.handle(&mut f, 0, &mut w.out).drop_reason(), Some(DropReason::BadChecksum));
    // Not for a VIP nor from a backend.
    let mut f = frame(CIP, 1, Ipv4Addr::new(198, 18, 9, 9), 80, 1, 1, ACK, &[], b"");
    assert_eq!(w.e.handle(&mut f, 0, &mut w.out).drop_reason(), Some(DropReason::NoRoute));
    assert_eq!(w.e.flow_count(), 0);
}

/// Every drop path of the engine, from malformed frames to segments its
/// flows cannot take, as a fixture table: each row's verdict is the drop
/// of its reason, counted once (`Counted::handle` checks the counter).
/// The backend rows were dropped without being counted before (issue 14).
#[test]
fn every_drop_path_counts() {
    let good = || frame(CIP, 40000, VIP, 80, C_ISN.wrapping_add(1), 1, ACK, &[], b"x");
    let edit = |f: fn(&mut Vec<u8>)| {
        let mut v = good();
        f(&mut v);
        v
    };
    let refill = |v: &mut Vec<u8>| TcpFrame::new_checked(&mut v[..]).unwrap().fill_checksums();
    // (what, frame, reason) for a fresh engine
    let malformed: Vec<(&str, Vec<u8>, DropReason)> = vec![
        ("shorter than Ethernet", vec![0u8; 10], DropReason::Truncated),
        ("ARP", edit(|v| v[12..14].copy_from_slice(&[0x08, 0x06])), DropReason::NotIpv4),
        ("IPv6 version in an IPv4 frame", edit(|v| v[14] = 0x65), DropReason::BadIpHeader),
        ("IP total length past the frame", edit(|v| v[16..18].copy_from_slice(&[0xff, 0xff])), DropReason::BadIpHeader),
        ("IPv4 fragment", edit(|v| v[20] |= 0x20), DropReason::IpFragment),
        ("UDP", edit(|v| v[23] = 17), DropReason::NoRoute),
        ("IPv4 options", edit(|v| {
            v.splice(34..34, [1, 1, 1, 0]);
            v[14] = 0x46;
            let len = u16::from_be_bytes([v[16], v[17]]) + 4;
            v[16..18].copy_from_slice(&len.to_be_bytes());
        }), DropReason::IpOptions),
        ("TCP data offset 2", edit(|v| v[46] = 0x20), DropReason::BadTcpHeader),
        ("TCP checksum", edit(|v| *v.last_mut().unwrap() ^= 0xff), DropReason::BadChecksum),
        ("SYN+RST", frame(CIP, 40000, VIP, 80, C_ISN, 0, SYN | RST, &[], b""), DropReason::BadTcpFlags),
        ("no flags", frame(CIP, 40000, VIP, 80, C_ISN, 0, 0, &[], b""), DropReason::BadTcpFlags),
        ("SYN with a malformed MSS option", {
            let mut v = frame(CIP, 40000, VIP, 80, C_ISN, 0, SYN, &[TcpOption::Mss(1460)], b"");
            v[55] = 9; // the option's length, past the options
            refill(&mut v);
            v
        }, DropReason::BadTcpOptions),
        ("ACK with a forged cookie", frame(CIP, 40000, VIP, 80, C_ISN.wrapping_add(1), 12345, ACK, &[], b"x"), DropReason::BadCookie),
        ("RST of no connection", frame(CIP, 40000, VIP, 80, C_ISN.wrapping_add(1), 12345, RST, &[], b""), DropReason::NoFlow),
        ("neither a VIP nor a backend", frame(CIP, 40000, Ipv4Addr::new(198, 18, 9, 9), 80, 1, 1, ACK, &[], b""), DropReason::NoRoute),
        ("a backend segment of no flow", frame(WEB, 8080, CIP, 40000, 1, 1, ACK, &[], b""), DropReason::NoFlow),
    ];
    for (what, mut f, want) in malformed {
        let mut w = Walk::new(VIP);
        assert_eq!(w.e.handle(&mut f, 0, &mut w.out).drop_reason(), Some(want), "{what}");
        assert_eq!(w.e.counters().dropped(want), 1, "{what}");
        assert_eq!(w.e.counters().drops_total(), 1, "{what}");
        assert_eq!(w.e.flow_count(), 0, "{what}");
    }
    // A flow whose replayed SYN is out (Connecting): what its backend may
    // send that is not the SYN-ACK of that SYN.
    let connecting: &[(&str, u32, u32, u8)] = &[
        ("a bare ACK before the SYN-ACK", 1, C_ISN.wrapping_add(1), ACK),
        ("a SYN-ACK acknowledging another SYN", 0, C_ISN.wrapping_add(7), SYN | ACK),
        ("data before the SYN-ACK", 1, C_ISN.wrapping_add(1), ACK | PSH),
    ];
    for &(what, rel, ack, flags) in connecting {
        let mut w = Walk::new(VIP);
        w.client(0, ACK, REQ, 0);
        w.take();
        assert!(matches!(w.flow().state, SpliceState::Connecting { .. }), "{what}");
        let (v, _) = w.backend(WEB, w.s.wrapping_add(rel), ack, flags, if flags & PSH != 0 { b"HTTP" } else { b"" }, 1);
        assert_eq!(v.drop_reason(), Some(DropReason::NoFlow), "{what}");
        assert_eq!(w.e.counters().dropped(DropReason::NoFlow), 1, "{what}: counted");
        assert!(matches!(w.flow().state, SpliceState::Connecting { .. }), "{what}: the flow waits on");
    }
}

#[test]
fn full_walk_connection_mode() {
    let mut w = Walk::new(VIP);
    let got = w.splice(REQ, WEB);
    assert_eq!(got, REQ);
    assert_eq!(w.flow().state, SpliceState::Spliced { backend: 0 });
    // Backend ACKs the request and sends a response: forwarded with the
    // switch's rewrite, and the entry install is requested.
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    let (v, f) = w.backend(WEB, w.s.wrapping_add(1), C_ISN.wrapping_add(1 + REQ.len() as u32), ACK | PSH, resp, 3);
    assert_eq!(v, Verdict::Forward);
    let t = read(&f);
    assert_eq!((t.src, t.sport, t.dst, t.dport), (VIP, 80, CIP, 40000), "src DIP:dport -> VIP:vport");
    assert_eq!(t.payload, resp);
    let (_, off) = w.take();
    assert_eq!(off, vec![OffloadRequest::Install { key: w.key(), backend: 0, mode: config::OffloadMode::Connection }]);
    // Client ACK before the install completes: forwarded VIP -> DIP.
    let (v, f) = w.client(REQ.len() as u32, ACK, b"", 4);
    assert_eq!(v, Verdict::Forward);
    let t = read(&f);
    assert_eq!((t.src, t.sport, t.dst, t.dport), (CIP, 40000, WEB, 8080));
    // Installed: a tombstone keeps forwarding in-flight packets, then the
    // flow is forgotten without a Delete (the switch owns it now).
    w.e.on_offload(OffloadEvent::Installed { key: w.key(), backend: 0 }, 5, &mut w.out);
    assert_eq!(w.flow().offload, OffloadStatus::Installed);
    assert_eq!(w.client(REQ.len() as u32, ACK, b"", 6).0, Verdict::Forward);
    assert_eq!(w.e.counters()[Fc::ForwardedAfterOffload], 1);
    w.e.on_timer(5 + 5_000, &mut w.out);
    assert_eq!(w.e.flow_count(), 0);
    assert!(w.take().1.is_empty(), "no Delete for an offloaded flow");
}

#[test]
fn split_out_of_order_duplicate_segments() {
    let mut w = Walk::new(VIP);
    let (a, rest) = REQ.split_at(10);
    let (b, c) = rest.split_at(20);
    assert_eq!(w.client(0, ACK, b"", 0).0, Verdict::Consumed);
    // Third piece first (a hole): dup-ACK for the hole, no SYN.
    w.client(30, ACK, c, 1);
    let (tx, _) = w.take();
    assert_eq!(tx.len(), 1);
    assert_eq!((tx[0].flags, tx[0].ack, tx[0].seq), (ACK, C_ISN.wrapping_add(1), w.s.wrapping_add(1)));
    // First piece, twice: ACK in the switch's sequence space each time.
    w.client(0, ACK, a, 2);
    w.client(0, ACK, a, 3);
    let (tx, _) = w.take();
    assert_eq!(tx.len(), 2);
    assert!(tx.iter().all(|t| t.ack == C_ISN.wrapping_add(11) && t.src == VIP && t.seq == w.s.wrapping_add(1)));
    // The middle piece completes the head: the replayed SYN goes out.
    w.client(10, ACK, b, 4);
    let (tx, _) = w.take();
    assert_eq!(tx.len(), 1);
    assert_eq!(tx[0].flags, SYN);
    w.backend(WEB, w.s, C_ISN.wrapping_add(1), SYN | ACK, b"", 5);
    let (tx, _) = w.take();
    let got: Vec<u8> = tx.iter().flat_map(|t| t.payload.clone()).collect();
    assert_eq!(got, REQ);
}

/// The property of the issue: however the request is cut, reordered and
/// duplicated, the same backend gets the same bytes.
fn deliver(order: &[(u32, Vec<u8>)], req: &[u8]) -> (Ipv4Addr, Vec<u8>) {
    let mut w = Walk::new(VIP);
    w.client(0, ACK, b"", 0);
    for (off, piece) in order {
        w.client(*off, ACK, piece, 1);
    }
    let (tx, _) = w.take();
    let syn = tx.iter().find(|t| t.flags == SYN).expect("SYN after the head completes");
    let to = syn.dst;
    w.backend(to, w.s, C_ISN.wrapping_add(1), SYN | ACK, b"", 2);
    let (tx, _) = w.take();
    let mut got = Vec::new();
    for t in tx {
        assert_eq!(t.seq, C_ISN.wrapping_add(1 + got.len() as u32));
        got.extend_from_slice(&t.payload);
    }
    assert_eq!(&got[..req.len()], req);
    (to, got)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_segmentation_same_backend_same_bytes(cuts in proptest::collection::vec(1usize..80, 1..6), perm_seed in any::<u64>(), dups in proptest::collection::vec(any::<prop::sample::Index>(), 0..4)) {
        let req = b"POST /api/items HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        let mut pieces = Vec::new();
        let mut at = 0usize;
        for c in cuts {
            if at >= req.len() { break; }
            let end = (at + c).min(req.len());
            pieces.push((at as u32, req[at..end].to_vec()));
            at = end;
        }
        if at < req.len() { pieces.push((at as u32, req[at..].to_vec())); }
        for d in &dups { let p = pieces[d.index(pieces.len())].clone(); pieces.push(p); }
        // Deterministic shuffle from the seed, but the completing piece
        // must not come before the others are in: any order works since
        // the engine holds out-of-order pieces.
        let mut s = perm_seed | 1;
        for i in (1..pieces.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            pieces.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let (to, got) = deliver(&pieces, req);
        prop_assert_eq!(to, API);
        prop_assert_eq!(got, req.to_vec());
    }
}

fn expect_reply(w: &mut Walk, want: ErrorReply, ack_rel: u32) {
    let (tx, _) = w.take();
    let r = tx.iter().find(|t| t.src == VIP && !t.payload.is_empty()).unwrap_or_else(|| panic!("no reply in {tx:?}"));
    assert_eq!(r.payload, want.bytes());
    assert_eq!(r.seq, w.s.wrapping_add(1), "first byte of the server side");
    assert_eq!(r.ack, C_ISN.wrapping_add(1 + ack_rel));
    assert_eq!(r.flags, ACK | PSH | FIN, "reply then FIN");
    assert_eq!(w.e.counters().replied(want), 1);
    assert!(matches!(w.flow().state, SpliceState::Replied { .. }));
}

#[test]
fn malformed_gets_400_then_close() {
    let mut w = Walk::new(VIP);
    let bad = b"GET / HTTP/1.1\r\nHost a\r\n\r\n";
    w.client(0, ACK, bad, 0);
    expect_reply(&mut w, ErrorReply::BadRequest, bad.len() as u32);
    // The client ACKs our FIN and closes: we ACK its FIN, then forget.
    let reply_end = w.s.wrapping_add(1 + ErrorReply::BadRequest.bytes().len() as u32 + 1);
    let mut f = frame(CIP, 40000, VIP, 80, C_ISN.wrapping_add(1 + bad.len() as u32), reply_end, ACK | FIN, &[], b"");
    assert_eq!(w.e.handle(&mut f, 1, &mut w.out), Verdict::Consumed);
    let (tx, _) = w.take();
    assert_eq!((tx[0].flags, tx[0].seq, tx[0].ack), (ACK, reply_end, C_ISN.wrapping_add(2 + bad.len() as u32)));
    assert!(matches!(w.flow().state, SpliceState::Replied { acked: true, .. }));
    w.e.on_timer(1 + 2000, &mut w.out);
    assert_eq!(w.e.flow_count(), 0);
}

/// Framings a next hop may read differently (issue 10, point 8; RFC 9112
/// 6.3) are answered 400 and closed, never forwarded to a backend.
#[test]
fn ambiguous_framing_gets_400_not_forwarded() {
    let cases: &[(&str, &[u8])] = &[
        ("Content-Length: +5", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello"),
        ("two identical Content-Lengths", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
        ("Transfer-Encoding twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("Transfer-Encoding in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("Content-Length and Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ];
    for (what, req) in cases {
        let mut w = Walk::new(VIP);
        w.client(0, ACK, req, 0);
        expect_reply(&mut w, ErrorReply::BadRequest, req.len() as u32);
        assert_eq!(w.e.counters()[Fc::ForwardedToBackend], 0, "{what}");
    }
}

/// The four-packet crash (issue 10): a refused request, the client's
/// FIN acknowledging the reply, then that FIN again (its ACK was lost).
/// Each retransmitted FIN gets the same ACK; nothing is forwarded to any
/// backend, and nothing panics. One row per way the engine refuses.
#[test]
fn retransmitted_fin_after_reply_is_acked_again() {
    let mut long_uri = b"GET /".to_vec();
    long_uri.resize(40 * 1024, b'a');
    let cases: &[(&str, &[u8], ErrorReply)] = &[
        ("no Host: 400", b"GET / HTTP/1.1\r\n\r\n", ErrorReply::BadRequest),
        ("malformed header: 400", b"GET / HTTP/1.1\r\nHost a\r\n\r\n", ErrorReply::BadRequest),
        ("no healthy backend: 503", REQ, ErrorReply::ServiceUnavailable),
    ];
    for (what, req, want) in cases {
        let mut w = Walk::new(VIP);
        if *want == ErrorReply::ServiceUnavailable {
            w.e.set_backend_flags(0, false, false);
        }
        w.client(0, ACK, req, 0);
        expect_reply(&mut w, *want, req.len() as u32);
        let fin_seq = C_ISN.wrapping_add(1 + req.len() as u32);
        let reply_end = w.s.wrapping_add(1 + want.bytes().len() as u32 + 1);
        for (i, now) in [1u64, 2, 500, 1900].into_iter().enumerate() {
            let mut f = frame(CIP, 40000, VIP, 80, fin_seq, reply_end, ACK | FIN, &[], b"");
            assert_eq!(w.e.handle(&mut f, now, &mut w.out), Verdict::Consumed, "{what}: FIN #{i}");
            let (tx, off) = w.take();
            assert!(off.is_empty(), "{what}");
            assert_eq!(tx.len(), 1, "{what}: FIN #{i} gets one ACK: {tx:?}");
            assert_eq!((tx[0].dst, tx[0].flags, tx[0].seq, tx[0].ack), (CIP, ACK, reply_end, fin_seq.wrapping_add(1)), "{what}");
        }
        // A late data segment or ACK is absorbed too.
        assert_eq!(w.client(req.len() as u32 + 1, ACK, b"", 1901).0, Verdict::Consumed, "{what}");
        assert_eq!(w.e.counters()[Fc::ForwardedToBackend], 0, "{what}");
        w.e.on_timer(1900 + 2000, &mut w.out);
        assert_eq!(w.e.flow_count(), 0, "{what}: forgotten after closing_ms");
    }
}

#[test]
fn oversized_headers_get_431() {
    let mut w = Walk::new(VIP);
    let mut sent = 0u32;
    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    head.resize(1400, b'a');
    w.client(0, ACK, &head, 0);
    sent += head.len() as u32;
    let chunk = vec![b'a'; 1400];
    while sent < 33 * 1024 {
        w.client(sent, ACK, &chunk, 0);
        sent += 1400;
        if w.out.iter().any(|a| matches!(a, Action::Transmit(f) if read(f).flags & FIN != 0)) {
            break;
        }
    }
    let (tx, _) = w.take();
    assert!(tx.iter().filter(|t| t.flags == ACK).count() > 10, "engine ACKed so the client kept sending");
    let r = tx.iter().find(|t| t.flags & FIN != 0).expect("431");
    assert_eq!(r.payload, ErrorReply::HeadersTooLarge.bytes());
    assert_eq!(r.seq, w.s.wrapping_add(1));
    assert_eq!(r.ack, C_ISN.wrapping_add(1 + sent));
}

#[test]
fn no_healthy_backend_gets_503() {
    let mut w = Walk::new(VIP);
    w.e.set_backend_flags(0, false, false);
    w.client(0, ACK, REQ, 0);
    expect_reply(&mut w, ErrorReply::ServiceUnavailable, REQ.len() as u32);
}

#[test]
fn lost_syn_retransmitted_then_504() {
    let mut w = Walk::new(VIP);
    w.client(0, ACK, REQ, 0);
    let (tx, _) = w.take();
    assert_eq!(tx[0].flags, SYN);
    let mut t = 0;
    for i in 1..=3u64 {
        t += 1000 << i.min(6) >> 1;
        w.e.on_timer(t, &mut w.out);
        let (tx, _) = w.take();
        assert_eq!(tx.len(), 1, "retransmission {i}");
        assert_eq!((tx[0].flags, tx[0].seq, tx[0].ack), (SYN, C_ISN, w.s));
    }
    assert_eq!(w.e.counters()[Fc::SynRetransmits], 3);
    w.e.on_timer(t + 8000, &mut w.out);
    let (tx, _) = w.take();
    assert!(tx.iter().any(|t| t.flags == RST && t.dst == WEB), "half-open backend reset");
    let r = tx.iter().find(|t| t.dst == CIP).unwrap();
    assert_eq!(r.payload, ErrorReply::GatewayTimeout.bytes());
    assert_eq!(r.flags, ACK | PSH | FIN);
}

#[test]
fn lost_buffered_request_retransmitted() {
    let mut w = Walk::new(VIP);
    w.splice(REQ, WEB);
    w.e.on_timer(2 + 200, &mut w.out);
    let (tx, _) = w.take();
    assert_eq!(tx.len(), 1);
    assert_eq!((tx[0].seq, tx[0].payload.as_slice()), (C_ISN.wrapping_add(1), REQ));
    // A retransmitted SYN-ACK also triggers it.
    w.backend(WEB, w.s, C_ISN.wrapping_add(1), SYN | ACK, b"", 300);
    assert_eq!(w.take().0.len(), 1);
    assert_eq!(w.e.counters()[Fc::RequestRetransmits], 2);
}

#[test]
fn backend_without_agent_is_never_spliced() {
    let mut w = Walk::new(VIP);
    w.client(0, ACK, REQ, 0);
    w.take();
    // SYN-ACK in the backend's own space (no agent rewrote it).
    let (v, _) = w.backend(WEB, 12345, C_ISN.wrapping_add(1), SYN | ACK, b"", 1);
    assert_eq!(v, Verdict::Consumed);
    let (tx, _) = w.take();
    assert!(tx.iter().any(|t| t.dst == WEB && t.flags == RST));
    assert_eq!(tx.iter().find(|t| t.dst == CIP).unwrap().payload, ErrorReply::BadGateway.bytes());
}

#[test]
fn fin_both_ways_and_delete() {
    let mut w = Walk::new(VIP);
    w.splice(REQ, WEB);
    let rl = REQ.len() as u32;
    let (v, _) = w.backend(WEB, w.s.wrapping_add(1), C_ISN.wrapping_add(1 + rl), ACK | FIN, b"", 3);
    assert_eq!(v, Verdict::Forward);
    let (_, off) = w.take();
    assert_eq!(off.len(), 1, "install requested");
    assert!(w.flow().backend_fin);
    // Half-closed: client data still flows.
    assert_eq!(w.client(rl, ACK | PSH, b"more", 4).0, Verdict::Forward);
    let (v, f) = w.client(rl + 4, ACK | FIN, b"", 5);
    assert_eq!(v, Verdict::Forward);
    assert_eq!(read(&f).flags, ACK | FIN, "FIN forwarded as FIN, never turned into RST");
    assert_eq!(w.flow().state, SpliceState::Closing { backend: 0 });
    w.e.on_timer(5 + 2000, &mut w.out);
    assert_eq!(w.e.flow_count(), 0);
    let (_, off) = w.take();
    assert_eq!(off, vec![OffloadRequest::Delete { key: w.key() }], "pending install undone");
}

#[test]
fn refused_install_keeps_forwarding() {
    let mut w = Walk::new(VIP);
    w.splice(REQ, WEB);
    w.backend(WEB, w.s.wrapping_add(1), C_ISN.wrapping_add(1 + REQ.len() as u32), ACK, b"", 3);
    w.take();
    w.e.on_offload(OffloadEvent::Refused { key: w.key(), backend: 0, reason: RefusedReason::TableFull }, 4, &mut w.out);
    assert_eq!(w.flow().offload, OffloadStatus::Refused);
    for i in 0..3 {
        assert_eq!(w.client(REQ.len() as u32, ACK, b"", 5 + i).0, Verdict::Forward);
        assert_eq!(w.backend(WEB, w.s.wrapping_add(1), C_ISN.wrapping_add(1 + REQ.len() as u32), ACK | PSH, b"data", 5 + i).0, Verdict::Forward);
    }
    assert!(w.take().1.is_empty(), "no retry storm");
    assert_eq!(w.e.counters()[Fc::OffloadRefused], 1);
}

#[test]
fn forwarding_rewrite_checksums_match_recompute() {
    let mut w = Walk::new(VIP);
    w.splice(REQ, WEB);
    // Odd payload lengths and sequence values across a range.
    for (i, len) in [0usize, 1, 7, 100, 1399].into_iter().enumerate() {
        let data: Vec<u8> = (0..len).map(|j| (j * 31 + i) as u8).collect();
        let (v, f) = w.client(REQ.len() as u32, ACK | PSH, &data, 3);
        assert_eq!(v, Verdict::Forward);
        let t = read(&f); // full recomputation inside
        assert_eq!((t.dst, t.dport, t.payload), (WEB, 8080, data.clone()));
        let (v, f) = w.backend(WEB, w.s.wrapping_add(1 + i as u32 * 1000), C_ISN, ACK, &data, 3);
        assert_eq!(v, Verdict::Forward);
        let t = read(&f);
        assert_eq!((t.src, t.sport), (VIP, 80));
    }
}

/// Request mode: a spliced flow whose first response (100 bytes) the
/// client has read; `entry` is what the switch's entry went through.
/// Returns (rl, client_ack).
fn request_mode_first_response(w: &mut Walk, entry: Option<OffloadEvent>) -> (u32, u32) {
    assert_eq!(w.splice(REQ, WEB), REQ);
    let rl = REQ.len() as u32;
    let resp_len = 100u32;
    w.backend(WEB, w.s.wrapping_add(1), C_ISN.wrapping_add(1 + rl), ACK, &vec![b'r'; resp_len as usize], 3);
    let (_, off) = w.take();
    assert_eq!(off, vec![OffloadRequest::Install { key: w.key(), backend: 0, mode: config::OffloadMode::Request }]);
    if let Some(ev) = entry {
        w.e.on_offload(ev, 4, &mut w.out);
    }
    (rl, w.s.wrapping_add(1 + resp_len))
}

/// How the control task answers the hand-over's Detach.
#[derive(Debug, Clone, Copy)]
enum DetachAnswer {
    Removed,
    Failed,
    /// Never: the flow's timer goes on after `backend_syn_rto_ms`.
    Lost,
}

/// The hand-over to a new backend in request mode, for each state of the
/// switch's entry. While the entry may name the old backend, the engine
/// must not close that backend nor start the new one: the switch would
/// carry the old backend's FIN (at the very seq where the next response
/// starts) to the client, and the client's ACKs of the new backend's bytes
/// to the old one. So it detaches the entry first and waits for the answer.
#[test]
fn request_mode_hands_over_to_new_backend() {
    let installed = Some(OffloadEvent::Installed { key: ConnKey { client_ip: CIP, client_port: 40000, vip_id: 1 }, backend: 0 });
    let refused = Some(OffloadEvent::Refused { key: ConnKey { client_ip: CIP, client_port: 40000, vip_id: 1 }, backend: 0, reason: RefusedReason::TableFull });
    // (case, entry events, detach expected, its answer)
    let rows: &[(&str, Option<OffloadEvent>, bool, DetachAnswer)] = &[
        ("entry installed", installed, true, DetachAnswer::Removed),
        ("install still in flight", None, true, DetachAnswer::Removed),
        ("installed, delete failed", installed, true, DetachAnswer::Failed),
        ("installed, answer lost", installed, true, DetachAnswer::Lost),
        ("install refused: no entry", refused, false, DetachAnswer::Removed),
    ];
    for &(case, entry, detach, answer) in rows {
        let mut w = Walk::new(VIP2);
        let (rl, client_ack) = request_mode_first_response(&mut w, entry);
        // Second request on the keep-alive connection goes to the api pool.
        let req2 = b"GET /api/x HTTP/1.1\r\nHost: example.test\r\n\r\n";
        let mut f = frame(CIP, 40000, VIP2, 80, C_ISN.wrapping_add(1 + rl), client_ack, ACK | PSH, &[], req2);
        assert_eq!(w.e.handle(&mut f, 5, &mut w.out), Verdict::Consumed, "{case}");
        let mut now = 5;
        if detach {
            let (tx, off) = w.take();
            assert!(tx.is_empty(), "{case}: nothing to either backend before the entry is gone: {tx:?}");
            assert_eq!(off, vec![OffloadRequest::Detach { key: w.key() }], "{case}");
            assert_eq!(w.flow().offload, OffloadStatus::Detaching, "{case}");
            // The client's ACKs reach the engine once the entry is gone:
            // absorbed, the request is held.
            assert_eq!(w.client(rl + req2.len() as u32, ACK, b"", 6).0, Verdict::Consumed, "{case}");
            // The old entry's install answering late changes nothing.
            w.e.on_offload(OffloadEvent::Installed { key: w.key(), backend: 0 }, 6, &mut w.out);
            assert_eq!(w.flow().offload, OffloadStatus::Detaching, "{case}");
            assert!(w.take().0.is_empty(), "{case}");
            match answer {
                DetachAnswer::Removed | DetachAnswer::Failed => {
                    let removed = matches!(answer, DetachAnswer::Removed);
                    w.e.on_offload(OffloadEvent::Detached { key: w.key(), removed }, 7, &mut w.out);
                    now = 7;
                }
                DetachAnswer::Lost => {
                    w.e.on_timer(5 + 999, &mut w.out);
                    assert!(w.take().0.is_empty(), "{case}: not before the bound");
                    now = 5 + 1000;
                    w.e.on_timer(now, &mut w.out);
                    assert_eq!(w.e.counters()[Fc::DetachOverdue], 1, "{case}");
                }
            }
            assert_eq!(w.e.counters()[Fc::HandoverDetaches], 1, "{case}");
        } else {
            assert_eq!(w.e.counters()[Fc::HandoverDetaches], 0, "{case}");
        }
        let (tx, off) = w.take();
        assert!(off.is_empty(), "{case}: {off:?}");
        assert_eq!(tx.len(), 2, "{case}: FIN to the old backend, SYN to the new one: {tx:?}");
        let fin = tx.iter().find(|t| t.dst == WEB).expect("old backend closed");
        assert_eq!((fin.flags, fin.seq, fin.ack), (ACK | FIN, C_ISN.wrapping_add(1 + rl), client_ack), "{case}");
        let syn = tx.iter().find(|t| t.dst == API).expect("SYN to the new backend");
        assert_eq!((syn.flags, syn.seq, syn.ack), (SYN, C_ISN.wrapping_add(rl), client_ack.wrapping_sub(1)), "{case}");
        assert_eq!(w.flow().offload, if detach { OffloadStatus::NotRequested } else { OffloadStatus::Refused }, "{case}");
        // New backend's SYN-ACK (agent rewrote it to seq = client_ack - 1).
        assert_eq!(w.backend(API, client_ack.wrapping_sub(1), C_ISN.wrapping_add(1 + rl), SYN | ACK, b"", now + 1).0, Verdict::Consumed);
        let (tx, _) = w.take();
        assert_eq!(tx.len(), 1, "{case}");
        assert_eq!((tx[0].dst, tx[0].seq, tx[0].payload.as_slice()), (API, C_ISN.wrapping_add(1 + rl), &req2[..]), "{case}");
        // Old backend's FIN is ACKed by the engine and never reaches the client.
        let (v, _) = w.backend(WEB, client_ack, C_ISN.wrapping_add(2 + rl), ACK | FIN, b"", now + 2);
        assert_eq!(v, Verdict::Consumed, "{case}");
        let (tx, _) = w.take();
        assert_eq!((tx[0].dst, tx[0].flags, tx[0].seq, tx[0].ack), (WEB, ACK, C_ISN.wrapping_add(2 + rl), client_ack.wrapping_add(1)), "{case}");
        assert_eq!(w.flow().prev_backend, None, "{case}");
        // New backend ACKs: the entry is written again for it (a refused
        // flow stays on the front-end path).
        w.backend(API, client_ack, C_ISN.wrapping_add(1 + rl + req2.len() as u32), ACK, b"x", now + 3);
        let (_, off) = w.take();
        if detach {
            assert_eq!(off, vec![OffloadRequest::Install { key: w.key(), backend: 1, mode: config::OffloadMode::Request }], "{case}");
        } else {
            assert!(off.is_empty(), "{case}: {off:?}");
        }
        assert_eq!(w.e.counters()[Fc::Handovers], 1, "{case}");
    }
}

/// Request mode: the switch carries both directions once the entry is in
/// (the backend's FIN never reaches the front-end), so the flow ends when
/// the control task deletes its entry after the teardown grace: `Ended`.
/// Only an installed flow: a flow whose install is still in flight (a
/// reused port's new connection) is not the entry's.
#[test]
fn request_mode_flow_ends_with_its_switch_entry() {
    let key = ConnKey { client_ip: CIP, client_port: 40000, vip_id: 1 };
    for (case, entry, ends) in [("installed", Some(OffloadEvent::Installed { key, backend: 0 }), true), ("install in flight", None, false)] {
        let mut w = Walk::new(VIP2);
        request_mode_first_response(&mut w, entry);
        let closed = w.e.counters()[Fc::FlowsClosed];
        assert_eq!(w.e.router().backend(0).active_flows, 1, "{case}");
        w.e.on_offload(OffloadEvent::Ended { key }, 10, &mut w.out);
        let (tx, off) = w.take();
        assert!(tx.is_empty() && off.is_empty(), "{case}: the entry is gone already: {tx:?} {off:?}");
        assert_eq!(w.e.flow_count() == 0, ends, "{case}");
        assert_eq!(w.e.router().backend(0).active_flows, u32::from(!ends), "{case}");
        assert_eq!(w.e.counters()[Fc::FlowsClosed], closed + u64::from(ends), "{case}");
    }
}

/// Request mode: a later request the engine answers itself (503) while the
/// entry names the old backend: the old backend is closed, and the reply
/// sent, only once the entry is detached.
#[test]
fn request_mode_error_reply_waits_for_detach() {
    let mut w = Walk::new(VIP2);
    let (rl, client_ack) = request_mode_first_response(&mut w, Some(OffloadEvent::Installed { key: ConnKey { client_ip: CIP, client_port: 40000, vip_id: 1 }, backend: 0 }));
    w.e.set_backend_flags(1, false, false);
    let req2 = b"GET /api/x HTTP/1.1\r\nHost: example.test\r\n\r\n";
    let mut f = frame(CIP, 40000, VIP2, 80, C_ISN.wrapping_add(1 + rl), client_ack, ACK | PSH, &[], req2);
    assert_eq!(w.e.handle(&mut f, 5, &mut w.out), Verdict::Consumed);
    let (tx, off) = w.take();
    assert!(tx.is_empty(), "{tx:?}");
    assert_eq!(off, vec![OffloadRequest::Detach { key: w.key() }]);
    w.e.on_offload(OffloadEvent::Detached { key: w.key(), removed: true }, 6, &mut w.out);
    let (tx, off) = w.take();
    assert!(off.is_empty(), "no Delete: the entry is gone already");
    assert_eq!(tx.len(), 2, "{tx:?}");
    let fin = tx.iter().find(|t| t.dst == WEB).expect("old backend closed");
    assert_eq!((fin.flags, fin.seq, fin.ack), (ACK | FIN, C_ISN.wrapping_add(1 + rl), client_ack));
    let reply = tx.iter().find(|t| t.dst == CIP).expect("reply to the client");
    assert_eq!((reply.seq, reply.ack, reply.payload.as_slice()), (client_ack, C_ISN.wrapping_add(1 + rl + req2.len() as u32), ErrorReply::ServiceUnavailable.bytes()));
}

/// Request mode: the old backends' FINs are ACKed however late they come.
/// `prev_backend` remembers only the backend of the latest hand-over, and a
/// backend left in LAST_ACK would answer a later replayed SYN on the same
/// 4-tuple with challenge ACKs only (a 504 after the SYN retries).
#[test]
fn request_mode_late_fins_of_former_backends_are_acked() {
    let mut w = Walk::new(VIP2);
    let refused = OffloadEvent::Refused { key: ConnKey { client_ip: CIP, client_port: 40000, vip_id: 1 }, backend: 0, reason: RefusedReason::TableFull };
    let (rl, ack1) = request_mode_first_response(&mut w, Some(refused));
    // Request 2 to API: WEB gets our FIN at the boundary; it is slow to answer.
    let req2 = b"GET /api/x HTTP/1.1\r\nHost: example.test\r\n\r\n";
    let r2 = C_ISN.wrapping_add(1 + rl);
    let mut f = frame(CIP, 40000, VIP2, 80, r2, ack1, ACK | PSH, &[], req2);
    assert_eq!(w.e.handle(&mut f, 5, &mut w.out), Verdict::Consumed);
    w.take();
    w.backend(API, ack1.wrapping_sub(1), r2, SYN | ACK, b"", 6);
    w.take();
    let r3 = r2.wrapping_add(req2.len() as u32);
    assert_eq!(w.backend(API, ack1, r3, ACK | PSH, b"y", 7).0, Verdict::Forward);
    let ack2 = ack1.wrapping_add(1);
    // Request 3 back to WEB: FIN to API, SYN to WEB on WEB's old 4-tuple.
    let mut f = frame(CIP, 40000, VIP2, 80, r3, ack2, ACK | PSH, &[], REQ);
    assert_eq!(w.e.handle(&mut f, 8, &mut w.out), Verdict::Consumed);
    let (tx, _) = w.take();
    assert!(tx.iter().any(|t| (t.dst, t.flags) == (API, ACK | FIN)) && tx.iter().any(|t| (t.dst, t.flags) == (WEB, SYN)), "{tx:?}");
    assert_eq!(w.flow().prev_backend.map(|p| p.backend), Some(1));
    // (case, from, seq, ack: their FIN acknowledging ours, our ACK's seq)
    let rows: &[(&str, Ipv4Addr, u32, u32)] = &[
        ("WEB's late FIN while it is current again (Connecting)", WEB, ack1, r2.wrapping_add(1)),
        ("API's FIN (the latest hand-over's)", API, ack2, r3.wrapping_add(1)),
        ("API's FIN retransmitted (our ACK lost, slot cleared)", API, ack2, r3.wrapping_add(1)),
    ];
    for (i, &(case, from, seq, ack)) in rows.iter().enumerate() {
        let (v, _) = w.backend(from, seq, ack, ACK | FIN, b"", 9 + i as u64);
        assert_eq!(v, Verdict::Consumed, "{case}");
        let (tx, off) = w.take();
        assert!(off.is_empty(), "{case}");
        assert_eq!(tx.len(), 1, "{case}: {tx:?}");
        assert_eq!((tx[0].dst, tx[0].flags, tx[0].seq, tx[0].ack), (from, ACK, ack, seq.wrapping_add(1)), "{case}");
    }
    assert_eq!(w.flow().prev_backend, None);
    assert_eq!(w.e.counters()[Fc::FormerBackendFins], 2);
    // Anything else from a former backend is still dropped.
    assert_eq!(w.backend(API, ack2.wrapping_add(1), r3.wrapping_add(1), ACK, b"", 20).0.drop_reason(), Some(DropReason::NoFlow));
    // The flow goes on: WEB's SYN-ACK gets the request.
    assert_eq!(w.backend(WEB, ack2.wrapping_sub(1), r3, SYN | ACK, b"", 21).0, Verdict::Consumed);
    let (tx, _) = w.take();
    assert_eq!((tx[0].dst, tx[0].seq, tx[0].payload.as_slice()), (WEB, r3, REQ));
}

/// A full table (capacity 4) of idle handshakes: a new client evicts the
/// oldest flow still assembling (its client gets a RST), above 75 % new
/// flows get the 1 s request timeout; flows past their head are never
/// evicted, so a table full of spliced flows drops the newcomer.
#[test]
fn full_table_evicts_the_oldest_idle_handshake() {
    let c = conf();
    let mut e = Engine::new(&c);
    for port in 0..4u16 {
        let mut w = Walk::with(e, VIP, 50000 + port);
        assert_eq!(w.client(0, ACK, b"", port.into()).0, Verdict::Consumed);
        let deadline = w.flow().deadline;
        // Ports 0-2 find the table under 75 %; port 3 finds it at 75 %.
        assert_eq!(deadline, u64::from(port) + if port < 3 { 5000 } else { 1000 }, "port {port}");
        assert!(w.take().0.is_empty());
        e = w.e;
    }
    // A legitimate client: the oldest idle one (port 50000) makes room.
    let mut w = Walk::with(e, VIP, 50004);
    let (v, _) = w.client(0, ACK | PSH, REQ, 10);
    assert_eq!(v, Verdict::Consumed);
    let (tx, _) = w.take();
    let rst: Vec<_> = tx.iter().filter(|t| t.flags & RST != 0).collect();
    assert_eq!(rst.len(), 1, "{tx:?}");
    assert_eq!((rst[0].dst, rst[0].dport, rst[0].flags), (CIP, 50000, RST | ACK));
    assert!(tx.iter().any(|t| t.flags == SYN && t.dst == WEB), "the newcomer is routed at once: {tx:?}");
    assert!(w.e.flow(&ConnKey { client_ip: CIP, client_port: 50000, vip_id: 0 }).is_none());
    assert_eq!((w.e.flow_count(), w.e.counters()[Fc::AssemblingEvicted]), (4, 1));
    // A table of four routed flows evicts nobody.
    let mut e = Engine::new(&c);
    let mut out = Vec::new();
    let mut spliced = 0;
    for port in 60000..60005u16 {
        let mut w = Walk::with(e, VIP, port);
        let (v, _) = w.client(0, ACK | PSH, REQ, 6001);
        out.extend(w.take().0);
        if v.drop_reason() == Some(DropReason::FlowTableFull) {
            assert_eq!(port, 60004, "only the fifth is refused");
        } else {
            spliced += 1;
        }
        e = w.e;
    }
    assert_eq!(spliced, 4);
    assert_eq!(e.counters()[Fc::AssemblingEvicted], 0, "no routed flow was evicted");
    assert_eq!(e.counters().dropped(DropReason::FlowTableFull), 1);
}

#[test]
fn idle_assembling_flow_gets_408() {
    let mut w = Walk::new(VIP);
    w.client(0, ACK, b"GET / HT", 0);
    w.take();
    w.e.on_timer(5000, &mut w.out);
    let (tx, _) = w.take();
    assert_eq!(tx.iter().find(|t| t.flags & FIN != 0).unwrap().payload, ErrorReply::RequestTimeout.bytes());
}

#[test]
fn per_flow_memory_is_bounded() {
    let entry = std::mem::size_of::<ConnEntry>();
    println!("size_of::<ConnEntry>() = {entry} bytes");
    assert!(entry <= 128, "ConnEntry grew to {entry} bytes: update docs/FRONTEND.md");
    let _ = tcp_option::MAX_WSCALE;
}

/// Many flows set up, installed and forgotten, driven like the driver
/// drives the engine: the timer structure stays bounded by the flows it
/// serves (the old heap kept an idle entry per flow for `idle_ms`), and
/// every flow still walks through and leaves after its grace period.
#[test]
fn steady_setups_keep_timers_bounded() {
    let mut c = conf();
    c.frontend.flow_table_capacity = 1024;
    let mut e = Engine::new(&c);
    let mut out = Vec::new();
    let mut most = 0;
    for i in 0..4000u32 {
        let now = u64::from(i) * 10; // 100 setups/s of engine time
        if e.next_deadline().is_some_and(|d| d <= now) {
            e.on_timer(now, &mut out);
        }
        let mut w = Walk::with(e, VIP, 10_000 + i as u16);
        w.out = std::mem::take(&mut out);
        w.out.clear();
        let s = w.s;
        let mut f = frame(CIP, w.cport, VIP, 80, C_ISN.wrapping_add(1), s.wrapping_add(1), ACK | PSH, &[], REQ);
        assert_eq!(w.e.handle(&mut f, now, &mut w.out), Verdict::Consumed);
        assert_eq!(w.backend(WEB, s, C_ISN.wrapping_add(1), SYN | ACK, b"", now).0, Verdict::Consumed);
        let ack = C_ISN.wrapping_add(1 + REQ.len() as u32);
        assert_eq!(w.backend(WEB, s.wrapping_add(1), ack, ACK, b"", now).0, Verdict::Forward);
        let (_, off) = w.take();
        let key = w.key();
        assert_eq!(off, vec![OffloadRequest::Install { key, backend: 0, mode: config::OffloadMode::Connection }]);
        w.e.on_offload(OffloadEvent::Installed { key, backend: 0 }, now, &mut w.out);
        e = w.e;
        out = w.out;
        most = most.max(e.timer_entries());
        assert!(e.timer_entries() <= 2 * e.flow_count() + 1024, "{} timer entries for {} flows", e.timer_entries(), e.flow_count());
    }
    // Flows leave 5 s after install: about 500 live at 100 setups/s.
    assert!((450..=520).contains(&e.flow_count()), "{} flows", e.flow_count());
    assert!(most <= 2 * 520, "at most about one live and one stale entry per flow: {most}");
    e.on_timer(4000 * 10 + 5_000, &mut out);
    assert_eq!(e.flow_count(), 0, "every offloaded flow forgotten after its grace");
    assert_eq!(e.counters()[Fc::OffloadInstalled], 4000);
}

#[test]
fn transmitted_frames_are_reused_once_handed_back() {
    let mut w = Walk::new(VIP);
    w.client(0, ACK | PSH, REQ, 0);
    let Some(Action::Transmit(syn)) = w.out.pop() else { panic!("replayed SYN") };
    assert_eq!(read(&syn).flags, SYN);
    let ptr = syn.as_ptr();
    w.e.recycle(syn);
    assert_eq!(w.e.free_buffers().0, 1);
    let s = w.s;
    w.backend(WEB, s, C_ISN.wrapping_add(1), SYN | ACK, b"", 1);
    let Some(Action::Transmit(req)) = w.out.pop() else { panic!("buffered request") };
    assert_eq!(req.as_ptr(), ptr, "the request went out in the recycled buffer");
    let t = read(&req);
    assert_eq!((t.payload.as_slice(), t.seq), (REQ, C_ISN.wrapping_add(1)), "and the buffer holds only the new frame");
    assert_eq!(w.e.free_buffers().0, 0);
}

// ---- Holding the response until the switch's entry is in ----

/// Client ACK + request, backend SYN-ACK, backend ACK of the request:
/// returns the engine's frames to the backend before the install request
/// (the ACK + request), and checks the install was asked for.
fn held_walk(w: &mut Walk, now: u64) -> Vec<Tx> {
    w.client(0, ACK, b"", now);
    w.client(0, ACK | PSH, REQ, now);
    w.take();
    let s = w.s;
    w.backend(WEB, s, C_ISN.wrapping_add(1), SYN | ACK, b"", now);
    let (req, _) = w.take();
    let rl = REQ.len() as u32;
    assert_eq!(w.backend(WEB, s.wrapping_add(1), C_ISN.wrapping_add(1 + rl), ACK, b"", now).0, Verdict::Forward);
    let (tx, off) = w.take();
    assert!(tx.is_empty(), "{tx:?}");
    assert_eq!(off, vec![OffloadRequest::Install { key: w.key(), backend: 0, mode: config::OffloadMode::Connection }]);
    req
}

/// The one window update: a pure ACK in the client's name, its next seq,
/// its latest ack, its latest window (502 in these frames).
fn expect_window_update(w: &mut Walk, seq_rel: u32) {
    let (tx, off) = w.take();
    assert!(off.is_empty(), "{off:?}");
    assert_eq!(tx.len(), 1, "exactly one window update: {tx:?}");
    let t = &tx[0]; // checksums verified by `read`
    assert_eq!((t.src, t.sport, t.dst, t.dport), (CIP, w.cport, WEB, 8080));
    assert_eq!((t.flags, t.seq, t.ack, t.window), (ACK, C_ISN.wrapping_add(1 + seq_rel), w.s.wrapping_add(1), 502));
    assert!(t.payload.is_empty());
    assert_eq!(w.flow().hold, Hold::Off);
}

#[test]
fn hold_request_and_forwarded_segments_carry_zero_window() {
    let mut w = Walk::with(Engine::new(&conf_hold(true)), VIP, 40000);
    w.client(0, ACK, b"", 0);
    w.client(0, ACK | PSH, REQ, 1);
    w.take();
    let s = w.s;
    w.backend(WEB, s, C_ISN.wrapping_add(1), SYN | ACK, b"", 2);
    let (tx, _) = w.take();
    assert!(!tx.is_empty());
    for t in &tx {
        assert_eq!((t.dst, t.window), (WEB, 0), "ACK + request hold the response: {t:?}");
    }
    assert_eq!(w.flow().hold, Hold::Held);
    // Request lost: the retransmission holds too.
    w.e.on_timer(2 + 200, &mut w.out);
    let (tx, _) = w.take();
    assert!(!tx.is_empty() && tx.iter().all(|t| t.window == 0 && t.seq == C_ISN.wrapping_add(1)), "{tx:?}");
    let rl = REQ.len() as u32;
    w.backend(WEB, s.wrapping_add(1), C_ISN.wrapping_add(1 + rl), ACK, b"", 203);
    assert_eq!(w.take().1.len(), 1, "install requested");
    // More client bytes while held: forwarded, window 0, checksum valid.
    let (v, f) = w.client(rl, ACK | PSH, b"more", 204);
    assert_eq!(v, Verdict::Forward);
    let t = read(&f);
    assert_eq!((t.dst, t.window, t.payload.as_slice()), (WEB, 0, &b"more"[..]));
    // A client FIN while held: forwarded as FIN, window 0.
    let (v, f) = w.client(rl + 4, ACK | FIN, b"", 205);
    assert_eq!(v, Verdict::Forward);
    let t = read(&f);
    assert_eq!((t.flags, t.window), (ACK | FIN, 0));
    // Installed: one update, seq past the FIN.
    w.e.on_offload(OffloadEvent::Installed { key: w.key(), backend: 0 }, 206, &mut w.out);
    expect_window_update(&mut w, rl + 5);
    assert_eq!(w.e.counters()[Fc::WindowUpdates], 1);
}

#[test]
fn hold_installed_emits_one_window_update() {
    let mut w = Walk::with(Engine::new(&conf_hold(true)), VIP, 40000);
    held_walk(&mut w, 1);
    w.e.on_offload(OffloadEvent::Installed { key: w.key(), backend: 0 }, 5, &mut w.out);
    expect_window_update(&mut w, REQ.len() as u32);
    // Nothing more later: not at the old hold deadline, not for a repeat.
    w.e.on_timer(1 + 60, &mut w.out);
    assert!(w.take().0.is_empty());
    assert_eq!((w.e.counters()[Fc::Holds], w.e.counters()[Fc::HoldReleases], w.e.counters()[Fc::HoldTimeouts]), (1, 1, 0));
}

#[test]
fn hold_refused_releases_through_the_frontend() {
    let mut w = Walk::with(Engine::new(&conf_hold(true)), VIP, 40000);
    held_walk(&mut w, 1);
    w.e.on_offload(OffloadEvent::Refused { key: w.key(), backend: 0, reason: RefusedReason::TableFull }, 5, &mut w.out);
    expect_window_update(&mut w, REQ.len() as u32);
    let (v, f) = w.client(REQ.len() as u32, ACK, b"", 6);
    assert_eq!(v, Verdict::Forward);
    assert_eq!(read(&f).window, 502, "the client's own window again");
    w.e.on_timer(1 + 60, &mut w.out);
    assert!(w.take().0.is_empty());
    assert!(w.e.flow(&w.key()).is_some(), "still forwarded by the front-end");
}

#[test]
fn hold_timeout_releases_without_a_completion() {
    let mut w = Walk::with(Engine::new(&conf_hold(true)), VIP, 40000);
    held_walk(&mut w, 1);
    w.e.on_timer(1 + 49, &mut w.out);
    assert!(w.take().0.is_empty(), "not before the bound");
    w.e.on_timer(1 + 50, &mut w.out);
    expect_window_update(&mut w, REQ.len() as u32);
    assert_eq!(w.e.counters()[Fc::HoldTimeouts], 1);
    assert!(w.e.flow(&w.key()).is_some());
    // The late completion changes the entry's status, sends nothing more.
    w.e.on_offload(OffloadEvent::Installed { key: w.key(), backend: 0 }, 80, &mut w.out);
    assert!(w.take().0.is_empty());
    assert_eq!(w.flow().offload, OffloadStatus::Installed);
}

#[test]
fn hold_off_changes_nothing() {
    let c = conf_hold(false);
    assert!(!c.frontend.hold_until_offloaded);
    assert!(!conf().frontend.hold_until_offloaded, "off unless set");
    let mut w = Walk::with(Engine::new(&c), VIP, 40000);
    let req = held_walk(&mut w, 1);
    assert!(req.iter().all(|t| t.window == 502), "the client's window: {req:?}");
    assert_eq!(w.flow().hold, Hold::Off);
    let (_, f) = w.client(REQ.len() as u32, ACK | PSH, b"more", 2);
    assert_eq!(read(&f).window, 502);
    w.e.on_timer(1 + 50, &mut w.out);
    w.e.on_offload(OffloadEvent::Installed { key: w.key(), backend: 0 }, 60, &mut w.out);
    assert!(w.take().0.is_empty(), "no window update");
    assert_eq!(w.e.counters()[Fc::Holds], 0);
}

/// Request mode: the first response is held until its entry is in, and so
/// is the new backend's after a hand-over (the same path); a hand-over
/// decided while the first response is still held ends that hold, and the
/// old backend's FIN carries the client's window.
#[test]
fn hold_request_mode_first_install_and_hand_over() {
    let req2 = b"GET /api/x HTTP/1.1\r\nHost: example.test\r\n\r\n";
    for in_flight in [false, true] {
        let mut w = Walk::with(Engine::new(&conf_hold(true)), VIP2, 40000);
        let key = w.key();
        let entry = (!in_flight).then_some(OffloadEvent::Installed { key, backend: 0 });
        let (rl, client_ack) = request_mode_first_response(&mut w, entry);
        let (tx, _) = w.take();
        if in_flight {
            assert!(tx.is_empty(), "{tx:?}");
            assert_eq!(w.flow().hold, Hold::Until);
        } else {
            assert_eq!(tx.len(), 1, "{tx:?}");
            assert_eq!((tx[0].dst, tx[0].flags, tx[0].seq, tx[0].window), (WEB, ACK, C_ISN.wrapping_add(1 + rl), 502));
        }
        let mut f = frame(CIP, 40000, VIP2, 80, C_ISN.wrapping_add(1 + rl), client_ack, ACK | PSH, &[], req2);
        assert_eq!(w.e.handle(&mut f, 5, &mut w.out), Verdict::Consumed);
        assert_eq!(w.flow().hold, Hold::Off);
        let (tx, off) = w.take();
        assert!(tx.is_empty(), "{tx:?}");
        assert_eq!(off, vec![OffloadRequest::Detach { key }]);
        w.e.on_offload(OffloadEvent::Detached { key, removed: true }, 6, &mut w.out);
        let (tx, _) = w.take();
        let fin = tx.iter().find(|t| t.dst == WEB).expect("old backend closed");
        assert_eq!((fin.flags, fin.window), (ACK | FIN, 502), "the client's window");
        assert_eq!(w.backend(API, client_ack.wrapping_sub(1), C_ISN.wrapping_add(1 + rl), SYN | ACK, b"", 7).0, Verdict::Consumed);
        let (tx, _) = w.take();
        assert_eq!((tx.len(), tx[0].dst, tx[0].window), (1, API, 0), "the new backend's request is held: {tx:?}");
        let end = 1 + rl + req2.len() as u32;
        w.backend(API, client_ack, C_ISN.wrapping_add(end), ACK, b"", 8);
        let (tx, off) = w.take();
        assert!(tx.is_empty());
        assert_eq!(off, vec![OffloadRequest::Install { key, backend: 1, mode: config::OffloadMode::Request }]);
        w.e.on_offload(OffloadEvent::Installed { key, backend: 1 }, 9, &mut w.out);
        let (tx, _) = w.take();
        assert_eq!(tx.len(), 1, "{tx:?}");
        assert_eq!((tx[0].dst, tx[0].flags, tx[0].seq, tx[0].ack, tx[0].window), (API, ACK, C_ISN.wrapping_add(end), client_ack, 502));
    }
}

/// Port reuse (docs/ARCHITECTURE.md): the switch sends a client SYN that
/// hits an old entry to the front-end; the old flow goes, the entry is
/// detached, and only then the cookie SYN-ACK goes out, the very one the
/// switch would have sent. The new connection then splices as any other.
#[test]
fn reused_port_syn_waits_for_detach_then_gets_the_switch_syn_ack() {
    let mut w = Walk::new(VIP);
    w.offloaded();
    let cases: &[(&str, SynOptions, &[TcpOption])] = &[
        ("all options", SynOptions { mss: Some(1400), wscale: Some(9), sack_permitted: true, timestamps: false },
            &[TcpOption::Mss(1400), TcpOption::NoOp, TcpOption::WindowScale(9), TcpOption::SackPermitted]),
        ("MSS only", SynOptions { mss: Some(1460), wscale: None, sack_permitted: false, timestamps: false }, &[TcpOption::Mss(1460)]),
    ];
    for (i, (what, opts, syn_opts)) in cases.iter().enumerate() {
        let isn = 0x1234_0000 + i as u32 * 77;
        let now = 10 + i as u64 * 100;
        let mut syn = frame(CIP, 40000, VIP, 80, isn, 0, SYN, syn_opts, b"");
        assert_eq!(w.e.handle(&mut syn, now, &mut w.out), Verdict::Consumed, "{what}");
        let (tx, off) = w.take();
        assert!(tx.is_empty(), "{what}: no SYN-ACK before the entry is gone: {tx:?}");
        assert_eq!(off, vec![OffloadRequest::Detach { key: w.key() }], "{what}");
        assert_eq!(w.e.flow_count(), 0, "{what}: the old flow is forgotten");
        // Retransmitted SYN while waiting: nothing more.
        let mut syn = frame(CIP, 40000, VIP, 80, isn, 0, SYN, syn_opts, b"");
        assert_eq!(w.e.handle(&mut syn, now + 1, &mut w.out), Verdict::Consumed);
        assert!(w.out.is_empty(), "{what}");
        w.e.on_offload(OffloadEvent::Detached { key: w.key(), removed: true }, now + 2, &mut w.out);
        let (tx, _) = w.take();
        assert_eq!(tx.len(), 1, "{what}: one SYN-ACK");
        let sa = &tx[0];
        let input = CookieInput { client_ip: CIP, client_port: 40000, vip: VIP, vport: 80, client_isn: isn };
        let want = w.e.keyring().generate(&input, opts);
        assert_eq!((sa.src, sa.sport, sa.dst, sa.dport, sa.flags), (VIP, 80, CIP, 40000, SYN | ACK), "{what}");
        assert_eq!((sa.seq, sa.ack, sa.window), (want, isn.wrapping_add(1), 65535), "{what}: the switch's cookie");
        let adv = SynOptions { mss: Some(1460), wscale: opts.wscale.map(|_| 7), sack_permitted: opts.sack_permitted, timestamps: false };
        assert_eq!(sa.syn_opts, adv, "{what}: the switch's option block");
        assert_eq!(w.e.counters()[Fc::SynAcksSent], i as u64 + 1);
        // The new connection: ACK + request with the new cookie splices.
        let mut ack = frame(CIP, 40000, VIP, 80, isn.wrapping_add(1), want.wrapping_add(1), ACK | PSH, &[], REQ);
        assert_eq!(w.e.handle(&mut ack, now + 3, &mut w.out), Verdict::Consumed, "{what}");
        let (tx, _) = w.take();
        assert!(tx.iter().any(|t| t.flags == SYN && t.seq == isn && t.ack == want && t.dst == WEB), "{what}: replayed SYN: {tx:?}");
    }
    assert_eq!(w.e.counters()[Fc::ReusedPorts], 2);
}

/// The switch's entry was already gone but the front-end still held the
/// offloaded flow's tombstone: the new connection's ACK with a fresh
/// cookie replaces it instead of being carried to the old backend.
#[test]
fn fresh_cookie_on_an_offloaded_tombstone_is_a_new_connection() {
    let mut w = Walk::new(VIP);
    w.offloaded();
    let isn = 0x5555_0000;
    let opts = SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, timestamps: false };
    let input = CookieInput { client_ip: CIP, client_port: 40000, vip: VIP, vport: 80, client_isn: isn };
    let s2 = w.e.keyring().generate(&input, &opts);
    let mut ack = frame(CIP, 40000, VIP, 80, isn.wrapping_add(1), s2.wrapping_add(1), ACK | PSH, &[], REQ);
    assert_eq!(w.e.handle(&mut ack, 6, &mut w.out), Verdict::Consumed, "not forwarded to the old backend");
    let (tx, _) = w.take();
    assert!(tx.iter().any(|t| t.flags == SYN && t.seq == isn && t.ack == s2), "replayed SYN of the new connection: {tx:?}");
    assert_eq!(w.e.counters()[Fc::ForwardedToBackend], 0);
}

/// `CONF` with the hold on and `carry_responses_up_to` set.
fn conf_carry(bytes: u32) -> Config {
    let extra = format!("flow_table_capacity = 4\nhold_until_offloaded = true\ncarry_responses_up_to = {bytes}");
    config::parse(&CONF.replace("flow_table_capacity = 4", &extra), "t").unwrap()
}

fn response(head_len_body: usize, first: usize) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {head_len_body}\r\n\r\n").into_bytes();
    r.resize(first, b'x');
    r
}

/// A last-request connection (`Connection: close`, HTTP/1.0) is carried by
/// the front-end when its response head announces a small response, and
/// offloaded (held) otherwise; a keep-alive request is offloaded as soon as
/// the backend has the request.
#[test]
fn last_request_small_responses_are_carried_large_ones_offloaded() {
    const CLOSE: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n";
    const HTTP10: &[u8] = b"GET /index.html HTTP/1.0\r\nHost: example.test\r\n\r\n";
    const KEEP10: &[u8] = b"GET /index.html HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\n";
    #[derive(Debug, PartialEq)]
    enum Want {
        /// Carried; with a window update to the backend (response > peek window).
        Carried { window_update: bool },
        /// Install at the first response segment, hold until it is in.
        OffloadedAtResponse,
        /// Install when the backend ACKs the request (no peek).
        OffloadedAtRequest,
    }
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\nxx".to_vec();
    let cases: Vec<(&str, u32, &[u8], Vec<u8>, Want)> = vec![
        ("close, 1 KB response in one segment", 16384, CLOSE, response(1024, 1024 + 41), Want::Carried { window_update: false }),
        ("HTTP/1.0, 10 KB response: window opened for the rest", 16384, HTTP10, response(10240, 1400), Want::Carried { window_update: true }),
        ("close, exactly the limit", 16384, CLOSE, response(16384 - 42, 1400), Want::Carried { window_update: true }),
        ("close, one byte over the limit", 16384, CLOSE, response(16384 - 41, 1400), Want::OffloadedAtResponse),
        ("close, 10 MB response", 16384, CLOSE, response(10 << 20, 1400), Want::OffloadedAtResponse),
        ("close, chunked (length unknown)", 16384, CLOSE, chunked, Want::OffloadedAtResponse),
        ("close, carrying off", 0, CLOSE, response(1024, 1065), Want::OffloadedAtRequest),
        ("keep-alive HTTP/1.1", 16384, REQ, response(1024, 1065), Want::OffloadedAtRequest),
        ("HTTP/1.0 keep-alive", 16384, KEEP10, response(1024, 1065), Want::OffloadedAtRequest),
    ];
    for (what, carry, req, resp, want) in cases {
        let mut w = Walk::with(Engine::new(&conf_carry(carry)), VIP, 40000);
        let tx = w.spliced_request(req, WEB);
        let s = w.s;
        let peek = want != Want::OffloadedAtRequest;
        // The peek window: 4 KiB in the client's scale (7): 32.
        assert!(tx.iter().all(|t| t.window == if peek { 32 } else { 0 }), "{what}: request window {tx:?}");
        let rl = req.len() as u32;
        w.backend(WEB, s.wrapping_add(1), C_ISN.wrapping_add(1 + rl), ACK, b"", 3);
        let (tx, off) = w.take();
        assert!(tx.is_empty(), "{what}: {tx:?}");
        if !peek {
            assert_eq!(off.len(), 1, "{what}: install once the request is in");
            continue;
        }
        assert!(off.is_empty(), "{what}: no install before the response head: {off:?}");
        let (v, f) = w.backend(WEB, s.wrapping_add(1), C_ISN.wrapping_add(1 + rl), ACK | PSH, &resp, 4);
        assert_eq!(v, Verdict::Forward, "{what}");
        let t = read(&f);
        assert_eq!((t.src, t.dst, t.payload.len()), (VIP, CIP, resp.len()), "{what}: response forwarded to the client");
        let (tx, off) = w.take();
        let client_ack = w.client(rl, ACK, b"", 5);
        match want {
            Want::Carried { window_update } => {
                assert!(off.is_empty(), "{what}: never offloaded: {off:?}");
                assert_eq!(w.flow().offload, OffloadStatus::Declined, "{what}");
                assert_eq!(tx.len(), usize::from(window_update), "{what}: {tx:?}");
                if window_update {
                    assert_eq!((tx[0].dst, tx[0].flags, tx[0].window), (WEB, ACK, 502), "{what}");
                }
                assert_eq!(read(&client_ack.1).window, 502, "{what}: the client's own window from now on");
                assert_eq!(w.e.counters()[Fc::ResponsesCarried], 1, "{what}");
            }
            _ => {
                assert_eq!(off, vec![OffloadRequest::Install { key: w.key(), backend: 0, mode: config::OffloadMode::Connection }], "{what}");
                assert!(tx.is_empty(), "{what}: held, no window update yet: {tx:?}");
                assert_eq!(w.flow().hold, Hold::Until, "{what}");
                assert_eq!(read(&client_ack.1).window, 0, "{what}: held");
                w.e.on_offload(OffloadEvent::Installed { key: w.key(), backend: 0 }, 6, &mut w.out);
                expect_window_update(&mut w, rl);
                assert_eq!(w.e.counters()[Fc::ResponsesCarried], 0, "{what}");
            }
        }
    }
}

/// A `Connection: close` request spliced to WEB whose 51-byte response
/// came with the backend's FIN at t = 3 (carried): the walk and the
/// request's length.
fn carried_response_and_fin() -> (Walk, u32) {
    const CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n";
    let mut w = Walk::with(Engine::new(&conf_carry(16384)), VIP, 40000);
    w.splice(CLOSE, WEB);
    let rl = CLOSE.len() as u32;
    let resp = response(10, 51);
    w.backend(WEB, w.s.wrapping_add(1), C_ISN.wrapping_add(1 + rl), ACK | PSH | FIN, &resp, 3);
    (w, rl)
}

/// A carried flow closes on the front-end and leaves nothing on the
/// switch: no install, no delete, ever.
#[test]
fn carried_flow_closes_without_switch_writes() {
    let (mut w, rl) = carried_response_and_fin();
    let s = w.s;
    assert_eq!(w.client(rl, ACK, b"", 4).0, Verdict::Forward);
    assert_eq!(w.client(rl, ACK | FIN, b"", 5).0, Verdict::Forward);
    assert_eq!(w.flow().state, SpliceState::Closing { backend: 0 });
    w.backend(WEB, s.wrapping_add(2 + 51), C_ISN.wrapping_add(2 + rl), ACK, b"", 6);
    w.e.on_timer(6 + 2000, &mut w.out);
    assert_eq!(w.e.flow_count(), 0);
    let (_, off) = w.take();
    assert!(off.is_empty(), "{off:?}");
    assert_eq!((w.e.counters()[Fc::OffloadRequested], w.e.counters()[Fc::ResponsesCarried], w.e.counters()[Fc::FlowsClosed]), (0, 1, 1));
}

/// A client still in LAST-ACK after the engine forgot its flow (a FIN
/// retransmitted after `closing_ms`) gets a RST, not silence; a flood of
/// forged ACKs gets at most the reset budget's burst.
#[test]
fn segments_of_forgotten_flows_get_a_reset_within_the_budget() {
    let (mut w, rl) = carried_response_and_fin();
    let s = w.s;
    w.client(rl, ACK | FIN, b"", 5);
    w.e.on_timer(5 + 2000, &mut w.out);
    assert_eq!(w.e.flow_count(), 0);
    w.take();
    let ack = s.wrapping_add(1 + 51 + 1);
    let mut f = frame(CIP, w.cport, VIP, 80, C_ISN.wrapping_add(1 + rl), ack, ACK | FIN, &[], b"");
    assert_eq!(w.e.handle(&mut f, 2100, &mut w.out).drop_reason(), Some(DropReason::BadCookie));
    let (tx, _) = w.take();
    assert_eq!(tx.iter().map(|t| (t.dst, t.dport, t.seq, t.flags)).collect::<Vec<_>>(), vec![(CIP, w.cport, ack, RST)]);
    // A flood within one millisecond: the burst, then nothing; every one
    // still counted as a bad cookie.
    let before = w.e.counters().dropped(DropReason::BadCookie);
    let mut resets = 0;
    for i in 0..5000u32 {
        let mut f = frame(CIP, 1000 + (i % 60000) as u16, VIP, 80, i, i.wrapping_mul(7), ACK, &[], b"");
        w.e.handle(&mut f, 3000, &mut w.out);
        resets += w.take().0.len();
    }
    assert_eq!(resets, switchyard_frontend::limits::STATELESS_RESETS_BURST as usize);
    assert_eq!(w.e.counters().dropped(DropReason::BadCookie) - before, 5000);
    assert_eq!(w.e.flow_count(), 0);
}

#[path = "engine/fuzz.rs"]
mod fuzz;

/// The client's request on a fresh port of `e`, and how the backend
/// answers the replayed SYN: `None` when no SYN went out (the pool had no
/// eligible backend), else the reply the client got (None: spliced).
fn handshake_with(e: Engine, cport: u16, now: u64, answer: &dyn Fn(&mut Walk, u64)) -> (Engine, Option<Option<Vec<u8>>>) {
    let mut w = Walk::with(e, VIP, cport);
    w.client(0, ACK, REQ, now);
    let (tx, _) = w.take();
    if !tx.iter().any(|t| t.flags == SYN && t.dst == WEB) {
        let reply = tx.iter().find(|t| t.dst == CIP).map(|t| t.payload.clone()).expect("a reply");
        assert_eq!(reply, ErrorReply::ServiceUnavailable.bytes(), "no SYN: the pool had no one");
        return (w.e, None);
    }
    answer(&mut w, now + 1);
    let (tx, _) = w.take();
    let reply = tx.iter().find(|t| t.dst == CIP && !t.payload.is_empty()).map(|t| t.payload.clone());
    (w.e, Some(reply))
}

fn refuse(w: &mut Walk, now: u64) {
    w.backend(WEB, 0, C_ISN.wrapping_add(1), RST | ACK, b"", now);
}

fn answer_without_agent(w: &mut Walk, now: u64) {
    w.backend(WEB, 12345, C_ISN.wrapping_add(1), SYN | ACK, b"", now);
}

fn answer_through_agent(w: &mut Walk, now: u64) {
    let s = w.s;
    w.backend(WEB, s, C_ISN.wrapping_add(1), SYN | ACK, b"", now);
}

/// Passive ejection: failed handshakes in a row (RST, no agent, no
/// answer at all) take the pool's only backend out for the cool-down, so
/// the next request gets 503 at once; a success in between resets the
/// count; the cool-down's end is an engine deadline, after which the
/// backend is tried again.
#[test]
fn failing_handshakes_in_a_row_eject_a_backend_for_the_cool_down() {
    use switchyard_frontend::limits::{PASSIVE_EJECT_COOLDOWN_MS, PASSIVE_EJECT_FAILURES};
    assert_eq!(PASSIVE_EJECT_FAILURES, 3, "the table below spells three");
    let conf = config::parse(&CONF.replace("flow_table_capacity = 4", "flow_table_capacity = 64"), "t").unwrap();
    let mut e = Engine::new(&conf);
    let bad = ErrorReply::BadGateway.bytes().to_vec();
    // (how the backend answers, the client's reply, ejected after it)
    let steps: [(&str, &dyn Fn(&mut Walk, u64), Option<Vec<u8>>, bool); 6] = [
        ("RST", &refuse, Some(bad.clone()), false),
        ("no agent", &answer_without_agent, Some(bad.clone()), false),
        ("spliced: the count starts over", &answer_through_agent, None, false),
        ("RST", &refuse, Some(bad.clone()), false),
        ("RST", &refuse, Some(bad.clone()), false),
        ("no agent: the third in a row", &answer_without_agent, Some(bad.clone()), true),
    ];
    for (i, (what, answer, reply, ejected)) in steps.into_iter().enumerate() {
        let (next, got) = handshake_with(e, 41000 + i as u16, 10 * i as u64, answer);
        e = next;
        assert_eq!(got, Some(reply), "step {i} ({what})");
        assert_eq!(e.router().backend(0).ejected_until.is_some(), ejected, "step {i} ({what})");
    }
    assert_eq!(e.counters()[Fc::BackendEjections], 1);
    assert_eq!(e.router().backend(0).ejections, 1);
    let until = e.router().backend(0).ejected_until.unwrap();
    assert_eq!(until, 50 + 1 + PASSIVE_EJECT_COOLDOWN_MS);
    assert!(e.next_deadline().is_some_and(|d| d <= until), "the return is a deadline");
    // Out: the pool's only backend, so 503 at once, no SYN.
    let (next, got) = handshake_with(e, 42000, 100, &refuse);
    e = next;
    assert_eq!(got, None);
    let mut out = Vec::new();
    e.on_timer(until - 1, &mut out);
    assert!(e.router().backend(0).ejected_until.is_some(), "not before the cool-down's end");
    e.on_timer(until, &mut out);
    assert!(e.router().backend(0).eligible(), "back");
    let (mut e, got) = handshake_with(e, 42001, until + 1, &answer_through_agent);
    assert_eq!(got, Some(None), "tried again and spliced");
    assert_eq!(e.counters()[Fc::BackendEjections], 1);
    // Ejected again; then its active checks fail and pass again: the pass
    // takes it back at once, before the cool-down's end.
    for i in 0..3 {
        e = handshake_with(e, 42010 + i, until + 10 + u64::from(i), &refuse).0;
    }
    assert!(e.router().backend(0).ejected_until.is_some());
    e.set_backend_flags(0, false, false);
    assert!(e.router().backend(0).ejected_until.is_some(), "down by its checks too");
    e.set_backend_flags(0, true, false);
    assert!(e.router().backend(0).eligible(), "its checks passed: back");
    assert_eq!(e.router().next_readmit(), None);
}

/// A backend that never answers the replayed SYN (every retransmission
/// lost) counts like a refusal.
#[test]
fn handshake_timeouts_count_towards_ejection() {
    let conf = config::parse(&CONF.replace("flow_table_capacity = 4", "flow_table_capacity = 64"), "t").unwrap();
    let mut e = Engine::new(&conf);
    let mut out = Vec::new();
    let mut now = 0;
    for i in 0..3u16 {
        let mut w = Walk::with(e, VIP, 43000 + i);
        w.client(0, ACK, REQ, now);
        w.take();
        e = w.e;
        // 1 + 2 + 4 + 8 s of retransmissions, then 504.
        for step in [1000, 2000, 4000, 8000] {
            now += step;
            e.on_timer(now, &mut out);
        }
        let to_this_port = |f: &Vec<u8>| read(f).dport == 43000 + i && read(f).payload == ErrorReply::GatewayTimeout.bytes();
        assert!(out.iter().any(|a| matches!(a, Action::Transmit(f) if to_this_port(f))), "timeout {i} answered 504");
        out.clear();
    }
    assert_eq!(e.counters()[Fc::BackendEjections], 1);
    assert!(!e.router().backend(0).eligible());
}

/// `[frontend] host_address`: the host kernel's own traffic through the
/// shared port (its health checks and their answers) is no drop.
#[test]
fn the_hosts_own_frames_are_left_to_it() {
    const HOST: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 2);
    let mut out = Vec::new();
    let answer = |e: &mut Engine, out: &mut Vec<Action>| {
        let mut from_backend = frame(WEB, 8080, HOST, 51000, 1, 2, SYN | ACK, &[], b"");
        let mut from_agent = frame(WEB, 9100, HOST, 51001, 1, 2, ACK, &[], b"ok");
        let mut from_host = frame(HOST, 51000, WEB, 8080, 2, 2, ACK, &[], b"");
        [e.handle(&mut from_backend, 0, out), e.handle(&mut from_agent, 0, out), e.handle(&mut from_host, 0, out)]
    };
    let mut plain = Engine::new(&conf());
    assert_eq!(answer(&mut plain, &mut out).map(Verdict::drop_reason), [Some(DropReason::NoFlow), Some(DropReason::NoRoute), Some(DropReason::NoRoute)]);
    let mut with_host = Engine::new(&config::parse(&CONF.replace("flow_table_capacity = 4", "flow_table_capacity = 4\nhost_address = \"198.18.2.2\""), "t").unwrap());
    assert_eq!(answer(&mut with_host, &mut out), [Verdict::Consumed; 3]);
    assert_eq!(with_host.counters()[Fc::HostFrames], 3);
    assert_eq!(with_host.counters().drops_total(), 0);
    assert!(out.is_empty(), "nothing sent for them");
}

/// `CONF` with `[access_log]` writing 1 in `sample` decisions.
fn conf_access(sample: u32) -> Config {
    config::parse(&format!("{CONF}\n[access_log]\npath = \"-\"\nsample = {sample}\n"), "t").unwrap()
}

#[test]
fn a_routed_request_makes_one_access_record() {
    use switchyard_frontend::access_log::{OffloadField, Outcome};
    let mut w = Walk::with(Engine::new(&conf_access(1)), VIP, 40000);
    w.splice(REQ, WEB);
    let records: Vec<_> = w.e.drain_access_records().collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r.client, "198.18.0.2:40000".parse().unwrap());
    assert_eq!(r.service, "web");
    assert_eq!((r.method.as_deref(), r.host.as_deref(), r.path.as_deref()), (Some("GET"), Some("example.test"), Some("/index.html")));
    assert_eq!((r.route, r.pool.as_deref()), (Some(1), Some("web")), "the catch-all route, second of `web`");
    assert_eq!(r.backend, Some("198.18.2.10:8080".parse().unwrap()));
    assert_eq!(r.offload, Some(OffloadField::Connection));
    assert_eq!(r.setup_ms, Some(1), "first ACK at 0 ms, the request at 1 ms");
    assert_eq!((r.outcome, r.at_ms), (Outcome::Routed, 1));
    assert_eq!(w.e.drain_access_records().count(), 0, "drained");
    assert_eq!(w.e.access_log().dropped(), 0);
}

#[test]
fn access_records_are_sampled_one_in_n_and_off_by_default() {
    let mut e = Engine::new(&conf_access(3));
    // Four connections: the fixture's flow table holds four.
    for port in 0..4 {
        let mut w = Walk::with(e, VIP, 41000 + port);
        w.client(0, ACK | PSH, REQ, 0);
        e = w.e;
    }
    let ports: Vec<u16> = e.drain_access_records().map(|r| r.client.port()).collect();
    assert_eq!(ports, [41000, 41003], "the 1st and 4th decisions");

    let mut w = Walk::new(VIP);
    w.splice(REQ, WEB);
    assert!(!w.e.access_log().enabled());
    assert_eq!(w.e.drain_access_records().count(), 0);
}

#[test]
fn a_503_is_an_access_record_with_its_pool_and_no_backend() {
    use switchyard_frontend::access_log::Outcome;
    let mut w = Walk::with(Engine::new(&conf_access(1)), VIP, 40000);
    w.e.set_backend_flags(0, false, false);
    w.client(0, ACK, REQ, 0);
    let r = w.e.drain_access_records().next().expect("a record");
    assert_eq!((r.outcome, r.pool.as_deref(), r.backend, r.route), (Outcome::Replied(503), Some("web"), None, None));
}

#[test]
fn each_request_of_a_request_mode_connection_is_an_access_record() {
    use switchyard_frontend::access_log::OffloadField;
    let mut w = Walk::with(Engine::new(&conf_access(1)), VIP2, 40000);
    let installed = OffloadEvent::Installed { key: w.key(), backend: 0 };
    let (rl, client_ack) = request_mode_first_response(&mut w, Some(installed));
    let req2 = b"GET /api/x HTTP/1.1\r\nHost: example.test\r\n\r\n";
    let mut f = frame(CIP, 40000, VIP2, 80, C_ISN.wrapping_add(1 + rl), client_ack, ACK | PSH, &[], req2);
    w.e.handle(&mut f, 5, &mut w.out);
    let records: Vec<_> = w.e.drain_access_records().collect();
    let seen: Vec<_> = records.iter().map(|r| (r.service.as_str(), r.path.as_deref(), r.pool.as_deref(), r.route, r.offload, r.setup_ms, r.at_ms)).collect();
    assert_eq!(
        seen,
        [
            ("req", Some("/index.html"), Some("web"), Some(1), Some(OffloadField::Request), Some(1), 1),
            ("req", Some("/api/x"), Some("api"), Some(0), Some(OffloadField::Request), None, 5),
        ]
    );
    assert_eq!(records[1].backend, Some("198.18.2.11:8080".parse().unwrap()));
}
