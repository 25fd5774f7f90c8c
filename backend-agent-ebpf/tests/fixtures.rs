//! BPF_PROG_TEST_RUN fixture tables: every row is (description, direction,
//! input frame, expected verdict, expected output frame or "unchanged",
//! counters expected to move). Expected frames are built from scratch with
//! the wire crate, so byte equality also proves the incremental checksum
//! update equals a full recomputation; outputs are re-checked with
//! `frames::check` on top. Needs root (loads eBPF programs).

use core::net::Ipv4Addr;

use switchyard_agent::abi::{flags, FlowKey, VERDICT_NEXT};
use switchyard_agent::counters::{path_index, reason_index};
use switchyard_agent::frames::{BACKEND_MAC, CLIENT_MAC};
use switchyard_agent::testrun::{Dir, Harness};
use switchyard_agent::AgentSettings;
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::reason::{DropReason as R, PathCounter as P};
use switchyard_wire::tcp::{TcpRepr, ACK, FIN, PSH, RST, SYN};
use switchyard_wire::{ethernet, ipv4, WireResult};
use switchyard_wire::tcp_option::{SackBlocks, TcpOption as O};

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const BACKEND: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 10);
const SWITCH_WS: u8 = 7;

fn harness() -> Harness {
    Harness::load(&AgentSettings { service_ports: vec![80, 443], switch_wscale: SWITCH_WS, map_size: 64 })
        .expect("load the agent (run as root)")
}

#[derive(Debug, Clone, Copy)]
enum Count {
    Path(P),
    Reason(R),
}

/// A client port and service port: one TCP connection's tuple.
#[derive(Clone, Copy)]
struct Conn {
    cport: u16,
    bport: u16,
}

impl Conn {
    fn key(self) -> FlowKey {
        FlowKey::new(CLIENT, self.cport, BACKEND, self.bport)
    }
    /// Client -> backend segment.
    fn c2b<'a>(self, seq: u32, ack: u32, fl: u8, win: u16, options: &'a [O<'a>], payload: &'a [u8]) -> Vec<u8> {
        let tcp = TcpRepr { src_port: self.cport, dst_port: self.bport, seq, ack, flags: fl, window: win, options: options.into(), payload };
        FrameRepr::new(CLIENT_MAC, BACKEND_MAC, CLIENT, BACKEND, tcp).to_vec().unwrap()
    }
    /// Backend -> client segment.
    fn b2c<'a>(self, seq: u32, ack: u32, fl: u8, win: u16, options: &'a [O<'a>], payload: &'a [u8]) -> Vec<u8> {
        let tcp = TcpRepr { src_port: self.bport, dst_port: self.cport, seq, ack, flags: fl, window: win, options: options.into(), payload };
        FrameRepr::new(BACKEND_MAC, CLIENT_MAC, BACKEND, CLIENT, tcp).to_vec().unwrap()
    }
}

struct Row {
    what: String,
    dir: Dir,
    input: Vec<u8>,
    /// None: the frame must come out byte for byte unchanged.
    output: Option<Vec<u8>>,
    counts: Vec<Count>,
}

/// Every output frame parses and both its checksums verify from scratch.
fn check(frame: &[u8]) -> WireResult<()> {
    TcpFrame::new_checked(frame)?.check_checksums()
}

fn row(what: impl Into<String>, dir: Dir, input: Vec<u8>, output: Option<Vec<u8>>, counts: &[Count]) -> Row {
    Row { what: what.into(), dir, input, output, counts: counts.to_vec() }
}

fn play(h: &Harness, rows: Vec<Row>) {
    for r in rows {
        let before = h.counters().unwrap();
        let (verdict, out) = h.run(r.dir, &r.input).unwrap_or_else(|e| panic!("{}: {e}", r.what));
        let moved = h.counters().unwrap().since(&before);
        assert_eq!(verdict, VERDICT_NEXT, "{}: verdict", r.what);
        let want = r.output.as_ref().unwrap_or(&r.input);
        if out != *want {
            let diff: Vec<_> = (0..out.len().max(want.len()))
                .filter(|&i| out.get(i) != want.get(i))
                .map(|i| (i, out.get(i).copied(), want.get(i).copied()))
                .collect();
            panic!("{}: output differs at (offset, got, want) {diff:x?}", r.what);
        }
        if r.output.is_some() {
            check(&out).unwrap_or_else(|e| panic!("{}: {e}", r.what));
        }
        for c in &r.counts {
            let (idx, name) = match c {
                Count::Path(p) => (path_index(*p), p.reason().name),
                Count::Reason(x) => (reason_index(*x), x.reason().name),
            };
            assert_eq!(moved.values[idx as usize], 1, "{}: counter {name}", r.what);
        }
        assert!(moved.values.iter().any(|&v| v > 0), "{}: some counter moves for every packet", r.what);
    }
}

fn sack(blocks: &[(u32, u32)]) -> O<'static> {
    O::Sack(SackBlocks::new(blocks).unwrap())
}

const SYN_OPTS: &[O<'static>] = &[O::Mss(1460), O::SackPermitted, O::WindowScale(7)];
const REQ: &[u8] = b"GET /10m HTTP/1.1\r\nHost: vip\r\n\r\n";

/// Handshake rows for a flow: fused SYN (ack field S) and the backend's
/// SYN-ACK with ISN b and options `synack_opts`.
fn handshake(conn: Conn, c: u32, s: u32, b: u32, syn_opts: &[O<'_>], synack_opts: &[O<'_>]) -> Vec<Row> {
    vec![
        row(
            "fused SYN: S recorded, ack field cleared",
            Dir::In,
            conn.c2b(c, s, SYN, 64240, syn_opts, b""),
            Some(conn.c2b(c, 0, SYN, 64240, syn_opts, b"")),
            &[Count::Path(P::AgentFusedSyn)],
        ),
        row(
            "backend SYN-ACK: seq b -> S, window and options untouched",
            Dir::Out,
            conn.b2c(b, c.wrapping_add(1), SYN | ACK, 65160, synack_opts, b""),
            Some(conn.b2c(s, c.wrapping_add(1), SYN | ACK, 65160, synack_opts, b"")),
            &[Count::Path(P::AgentSynAck)],
        ),
    ]
}

#[test]
#[ignore = "needs root: bpf"]
fn splice_data_sack_and_close() {
    let h = harness();
    let conn = Conn { cport: 40000, bport: 80 };
    let (c, s, b) = (1000u32, 0x8000_0000u32, 0x0001_0000u32);
    let d = s.wrapping_sub(b);
    let ws9: &[O] = &[O::Mss(1460), O::NoOp, O::NoOp, O::SackPermitted, O::NoOp, O::WindowScale(9)];
    let mut rows = handshake(conn, c, s, b, SYN_OPTS, ws9);
    play(&h, std::mem::take(&mut rows));
    let f = h.flow(&conn.key()).unwrap().expect("flow recorded");
    assert_eq!((f.switch_isn, f.client_isn, f.delta, f.client_ws, f.backend_ws), (s, c, d, 7, 9));
    assert!(f.has(flags::SPLICED | flags::WSCALE | flags::BACKEND_WS));

    let c1 = c + 1;
    let c2 = c1 + REQ.len() as u32;
    let body = [0x5au8; 100];
    rows.push(row("request: ack S+1 -> b+1, client window as is", Dir::In,
        conn.c2b(c1, s + 1, ACK | PSH, 502, &[], REQ), Some(conn.c2b(c1, b + 1, ACK | PSH, 502, &[], REQ)),
        &[Count::Path(P::AgentIngress)]));
    rows.push(row("response data: seq b+1 -> S+1, window 500<<9>>7 = 2000", Dir::Out,
        conn.b2c(b + 1, c2, ACK, 500, &[], &body), Some(conn.b2c(s + 1, c2, ACK, 2000, &[], &body)),
        &[Count::Path(P::AgentEgress)]));
    rows.push(row("window rescale up, clamped at 65535", Dir::Out,
        conn.b2c(b + 101, c2, ACK, 20000, &[], b""), Some(conn.b2c(s + 101, c2, ACK, 65535, &[], b"")),
        &[Count::Path(P::AgentEgress), Count::Path(P::AgentWindowClamped)]));
    rows.push(row("zero window stays zero", Dir::Out,
        conn.b2c(b + 101, c2, ACK, 0, &[], b""), Some(conn.b2c(s + 101, c2, ACK, 0, &[], b"")),
        &[Count::Path(P::AgentEgress)]));
    play(&h, std::mem::take(&mut rows));

    // SACK: 1 to 4 blocks, a D-SACK, and SACK behind another option.
    let sw = |x: u32| s.wrapping_add(x);
    let bw = |x: u32| b.wrapping_add(x);
    let block_sets: [&[(u32, u32)]; 4] = [
        &[(1101, 2101)],
        &[(3101, 4101), (1101, 2101)],
        &[(5101, 6101), (3101, 4101), (1101, 2101)],
        &[(7101, 8101), (5101, 6101), (3101, 4101), (1101, 2101)],
    ];
    for set in block_sets {
        let sin: Vec<_> = set.iter().map(|&(l, r)| (sw(l), sw(r))).collect();
        let sout: Vec<_> = set.iter().map(|&(l, r)| (bw(l), bw(r))).collect();
        let oin = [O::NoOp, O::NoOp, sack(&sin)];
        let oout = [O::NoOp, O::NoOp, sack(&sout)];
        rows.push(row(format!("ACK with {} SACK block(s)", set.len()), Dir::In,
            conn.c2b(c2, s + 101, ACK, 502, &oin, b""), Some(conn.c2b(c2, b + 101, ACK, 502, &oout, b"")),
            &[Count::Path(P::AgentIngress), Count::Path(P::AgentSack)]));
    }
    let dsack_in = [O::NoOp, O::NoOp, sack(&[(sw(1), sw(101)), (sw(2101), sw(3101))])];
    let dsack_out = [O::NoOp, O::NoOp, sack(&[(bw(1), bw(101)), (bw(2101), bw(3101))])];
    rows.push(row("D-SACK (first block below the ack) translated too", Dir::In,
        conn.c2b(c2, s + 1101, ACK, 502, &dsack_in, b""), Some(conn.c2b(c2, b + 1101, ACK, 502, &dsack_out, b"")),
        &[Count::Path(P::AgentSack)]));
    let ts = O::Timestamps { tsval: 7, tsecr: 9 };
    let after_ts_in = [O::NoOp, O::NoOp, ts, O::NoOp, O::NoOp, sack(&[(sw(1101), sw(2101)), (sw(3101), sw(4101))])];
    let after_ts_out = [O::NoOp, O::NoOp, ts, O::NoOp, O::NoOp, sack(&[(bw(1101), bw(2101)), (bw(3101), bw(4101))])];
    rows.push(row("SACK after a timestamps option; timestamps untouched", Dir::In,
        conn.c2b(c2, s + 101, ACK, 502, &after_ts_in, b""), Some(conn.c2b(c2, b + 101, ACK, 502, &after_ts_out, b"")),
        &[Count::Path(P::AgentSack)]));
    play(&h, std::mem::take(&mut rows));

    // Close: backend FIN, client FIN+ACK, backend's last ACK removes the entry.
    rows.push(row("backend FIN: seq translated", Dir::Out,
        conn.b2c(b + 101, c2, FIN | ACK, 500, &[], b""), Some(conn.b2c(s + 101, c2, FIN | ACK, 2000, &[], b"")),
        &[Count::Path(P::AgentEgress)]));
    rows.push(row("client FIN+ACK of the backend FIN", Dir::In,
        conn.c2b(c2, s + 102, FIN | ACK, 502, &[], b""), Some(conn.c2b(c2, b + 102, FIN | ACK, 502, &[], b"")),
        &[Count::Path(P::AgentIngress)]));
    play(&h, std::mem::take(&mut rows));
    let f = h.flow(&conn.key()).unwrap().expect("both FINs seen, one not yet acknowledged: entry stays");
    assert!(f.has(flags::FIN_IN | flags::FIN_OUT | flags::FIN_OUT_ACKED));
    assert!(!f.has(flags::FIN_IN_ACKED));
    rows.push(row("backend's last ACK: translated, then the entry is removed", Dir::Out,
        conn.b2c(b + 102, c2 + 1, ACK, 500, &[], b""), Some(conn.b2c(s + 102, c2 + 1, ACK, 2000, &[], b"")),
        &[Count::Path(P::AgentEgress), Count::Path(P::AgentFlowClosed)]));
    rows.push(row("after close: the tuple is unknown, passed unchanged", Dir::Out,
        conn.b2c(b + 102, c2 + 1, ACK, 500, &[], b""), None, &[Count::Reason(R::NoFlow)]));
    play(&h, rows);
    assert_eq!(h.flow(&conn.key()).unwrap(), None);
}

#[test]
#[ignore = "needs root: bpf"]
fn sequence_wrap_at_2_pow_32() {
    let h = harness();
    let conn = Conn { cport: 40001, bport: 80 };
    // S near the top: switch-space sequence numbers wrap after 255 bytes;
    // the client ISN wraps as well.
    let (c, s, b) = (0xffff_fff0u32, 0xffff_ff00u32, 0x7000_0000u32);
    let ws7: &[O] = &[O::Mss(1460), O::SackPermitted, O::WindowScale(7)];
    play(&h, handshake(conn, c, s, b, SYN_OPTS, ws7));
    let c2 = c.wrapping_add(1 + REQ.len() as u32);
    let body = [1u8; 64];
    let sw = |x: u32| s.wrapping_add(x);
    let bw = |x: u32| b.wrapping_add(x);
    let sack_in = [O::NoOp, O::NoOp, sack(&[(sw(0xf0), sw(0x150)), (sw(0x200), sw(0x300))])];
    let sack_out = [O::NoOp, O::NoOp, sack(&[(bw(0xf0), bw(0x150)), (bw(0x200), bw(0x300))])];
    play(&h, vec![
        row("request with client seq across 2^32", Dir::In,
            conn.c2b(c.wrapping_add(1), sw(1), ACK | PSH, 502, &[], REQ),
            Some(conn.c2b(c.wrapping_add(1), bw(1), ACK | PSH, 502, &[], REQ)), &[Count::Path(P::AgentIngress)]),
        row("egress seq crosses 2^32 (0x...ff00 + 0x101)", Dir::Out,
            conn.b2c(bw(0x101), c2, ACK, 1000, &[], &body), Some(conn.b2c(sw(0x101), c2, ACK, 1000, &[], &body)),
            &[Count::Path(P::AgentEgress)]),
        row("ingress ack and SACK edges on both sides of 2^32", Dir::In,
            conn.c2b(c2, sw(0x101), ACK, 502, &sack_in, b""), Some(conn.c2b(c2, bw(0x101), ACK, 502, &sack_out, b"")),
            &[Count::Path(P::AgentSack)]),
    ]);
    assert_eq!(sw(0x101), 1, "the fixture really wraps");
}

#[test]
#[ignore = "needs root: bpf"]
fn window_rescaling_variants() {
    let h = harness();
    let (c, s, b) = (5000u32, 0x1234_5678u32, 0x0bad_f00du32);
    let c2 = c + 1;

    // Backend scale 2 < switch scale 7: windows shrink; never 0 unless 0.
    let k = Conn { cport: 41000, bport: 80 };
    play(&h, handshake(k, c, s, b, SYN_OPTS, &[O::WindowScale(2)]));
    play(&h, vec![
        row("ws 2 -> 7: 100<<2>>7 = 3", Dir::Out, k.b2c(b + 1, c2, ACK, 100, &[], b""),
            Some(k.b2c(s + 1, c2, ACK, 3, &[], b"")), &[Count::Path(P::AgentEgress)]),
        row("ws 2 -> 7: 10<<2>>7 = 0 raised to 1", Dir::Out, k.b2c(b + 1, c2, ACK, 10, &[], b""),
            Some(k.b2c(s + 1, c2, ACK, 1, &[], b"")), &[Count::Path(P::AgentWindowClamped)]),
        row("ws 2 -> 7: zero stays zero", Dir::Out, k.b2c(b + 1, c2, ACK, 0, &[], b""),
            Some(k.b2c(s + 1, c2, ACK, 0, &[], b"")), &[Count::Path(P::AgentEgress)]),
        row("ingress window in the client's scale, untouched", Dir::In, k.c2b(c2, s + 1, ACK, 777, &[], b""),
            Some(k.c2b(c2, b + 1, ACK, 777, &[], b"")), &[Count::Path(P::AgentIngress)]),
    ]);

    // Backend refused scaling while the client offered it: the backend
    // writes and reads windows unscaled, the client scales by 7 both ways.
    let k = Conn { cport: 41001, bport: 80 };
    play(&h, handshake(k, c, s, b, SYN_OPTS, &[O::Mss(1460)]));
    play(&h, vec![
        row("no backend ws: 1000>>7 = 7", Dir::Out, k.b2c(b + 1, c2, ACK, 1000, &[], b""),
            Some(k.b2c(s + 1, c2, ACK, 7, &[], b"")), &[Count::Path(P::AgentEgress)]),
        row("no backend ws: ingress 100<<7 = 12800", Dir::In, k.c2b(c2, s + 1, ACK, 100, &[], b""),
            Some(k.c2b(c2, b + 1, ACK, 12800, &[], b"")), &[Count::Path(P::AgentIngress)]),
        row("no backend ws: ingress 1000<<7 clamped", Dir::In, k.c2b(c2, s + 1, ACK, 1000, &[], b""),
            Some(k.c2b(c2, b + 1, ACK, 65535, &[], b"")), &[Count::Path(P::AgentWindowClamped)]),
    ]);

    // The client offered no scaling: nobody scales, windows pass as they are.
    let k = Conn { cport: 41002, bport: 80 };
    let noscale: &[O] = &[O::Mss(1460), O::SackPermitted];
    play(&h, handshake(k, c, s, b, noscale, &[O::Mss(1460)]));
    play(&h, vec![
        row("no client ws: egress window untouched", Dir::Out, k.b2c(b + 1, c2, ACK, 1000, &[], b""),
            Some(k.b2c(s + 1, c2, ACK, 1000, &[], b"")), &[Count::Path(P::AgentEgress)]),
        row("no client ws: ingress window untouched", Dir::In, k.c2b(c2, s + 1, ACK, 1000, &[], b""),
            Some(k.c2b(c2, b + 1, ACK, 1000, &[], b"")), &[Count::Path(P::AgentIngress)]),
    ]);

    // Same scale on both sides: only the sequence number changes.
    let k = Conn { cport: 41003, bport: 80 };
    play(&h, handshake(k, c, s, b, SYN_OPTS, &[O::WindowScale(SWITCH_WS)]));
    play(&h, vec![row("equal scales: window untouched", Dir::Out, k.b2c(b + 1, c2, ACK, 1234, &[], b""),
        Some(k.b2c(s + 1, c2, ACK, 1234, &[], b"")), &[Count::Path(P::AgentEgress)])]);

    // Backend scale above the switch's: grows; 14 is the cap.
    let k = Conn { cport: 41004, bport: 443 };
    play(&h, handshake(k, c, s, b, SYN_OPTS, &[O::WindowScale(14)]));
    play(&h, vec![row("ws 14 -> 7 on port 443: 3<<14>>7 = 384", Dir::Out, k.b2c(b + 1, c2, ACK, 3, &[], b""),
        Some(k.b2c(s + 1, c2, ACK, 384, &[], b"")), &[Count::Path(P::AgentEgress)])]);
}

#[test]
#[ignore = "needs root: bpf"]
fn rst_redispatch_and_handshake_corner_cases() {
    let h = harness();
    let (c, s, b) = (9000u32, 0x4000_0000u32, 0x2000u32);
    let ws: &[O] = &[O::WindowScale(7)];

    let k = Conn { cport: 42000, bport: 80 };
    play(&h, handshake(k, c, s, b, SYN_OPTS, ws));
    play(&h, vec![row("client RST+ACK: translated, entry removed", Dir::In,
        k.c2b(c + 1, s + 1, RST | ACK, 0, &[], b""), Some(k.c2b(c + 1, b + 1, RST | ACK, 0, &[], b"")),
        &[Count::Path(P::AgentIngress), Count::Path(P::AgentFlowClosed)])]);
    assert_eq!(h.flow(&k.key()).unwrap(), None);

    let k = Conn { cport: 42001, bport: 80 };
    play(&h, handshake(k, c, s, b, SYN_OPTS, ws));
    play(&h, vec![row("backend RST: seq translated, entry removed", Dir::Out,
        k.b2c(b + 1, 0, RST, 0, &[], b""), Some(k.b2c(s + 1, 0, RST, 0, &[], b"")),
        &[Count::Path(P::AgentFlowClosed)])]);
    assert_eq!(h.flow(&k.key()).unwrap(), None);

    // Re-dispatch: a new fused SYN on the same tuple replaces the entry.
    let k = Conn { cport: 42002, bport: 80 };
    play(&h, handshake(k, c, s, b, SYN_OPTS, ws));
    let (c_new, s_new, b_new) = (c + 777, 0x9999_0000u32, 0x5555u32);
    let mut rows = vec![row("retransmitted fused SYN (same S, c) keeps the learnt delta", Dir::In,
        k.c2b(c, s, SYN, 64240, SYN_OPTS, b""), Some(k.c2b(c, 0, SYN, 64240, SYN_OPTS, b"")),
        &[Count::Path(P::AgentFusedSyn)])];
    rows.push(row("still spliced after the retransmission", Dir::Out, k.b2c(b + 1, c + 1, ACK, 10, &[], b""),
        Some(k.b2c(s + 1, c + 1, ACK, 10, &[], b"")), &[Count::Path(P::AgentEgress)]));
    play(&h, rows);
    let mut rows = vec![row("new fused SYN on the tuple replaces the entry", Dir::In,
        k.c2b(c_new, s_new, SYN, 64240, SYN_OPTS, b""), Some(k.c2b(c_new, 0, SYN, 64240, SYN_OPTS, b"")),
        &[Count::Path(P::AgentFusedSyn), Count::Path(P::AgentFlowReplaced)])];
    rows.push(row("data between re-dispatch SYN and SYN-ACK passes unchanged", Dir::Out,
        k.b2c(b + 1, c + 1, ACK, 10, &[], b""), None, &[Count::Reason(R::AgentNotSpliced)]));
    rows.push(row("SYN-ACK for the old client ISN is not ours", Dir::Out,
        k.b2c(b, c + 1, SYN | ACK, 100, ws, b""), None, &[Count::Reason(R::AgentSynAckMismatch)]));
    rows.push(row("new SYN-ACK learns the new delta", Dir::Out,
        k.b2c(b_new, c_new + 1, SYN | ACK, 100, ws, b""), Some(k.b2c(s_new, c_new + 1, SYN | ACK, 100, ws, b"")),
        &[Count::Path(P::AgentSynAck)]));
    rows.push(row("data in the new space", Dir::Out, k.b2c(b_new + 1, c_new + 1, ACK, 10, &[], b""),
        Some(k.b2c(s_new + 1, c_new + 1, ACK, 10, &[], b"")), &[Count::Path(P::AgentEgress)]));
    play(&h, rows);
    assert_eq!(h.flow(&k.key()).unwrap().unwrap().delta, s_new.wrapping_sub(b_new));

    // A plain SYN (ack field 0) is a direct connection: stale entry dropped.
    play(&h, vec![row("plain SYN on a spliced tuple: unchanged, entry dropped", Dir::In,
        k.c2b(c + 5, 0, SYN, 64240, SYN_OPTS, b""), None, &[Count::Reason(R::AgentNotFused)])]);
    assert_eq!(h.flow(&k.key()).unwrap(), None);
    play(&h, vec![row("and its SYN-ACK passes unchanged", Dir::Out,
        k.b2c(b, c + 6, SYN | ACK, 100, ws, b""), None, &[Count::Reason(R::NoFlow)])]);
}

#[test]
#[ignore = "needs root: bpf"]
fn foreign_traffic_untouched() {
    let h = harness();
    let (c, s, b) = (100u32, 0x7777_0000u32, 0x100u32);
    let k = Conn { cport: 43000, bport: 80 };
    play(&h, handshake(k, c, s, b, SYN_OPTS, &[O::WindowScale(9)]));
    let other = Conn { cport: 43000, bport: 8080 };
    let stranger = Conn { cport: 43999, bport: 80 };
    let udp = {
        let mut f = k.c2b(c + 1, s + 1, ACK, 10, &[], b"x");
        f[ethernet::HEADER_LEN + 9] = 17; // protocol UDP, same bytes otherwise
        f
    };
    play(&h, vec![
        row("fused-looking SYN to a non-service port", Dir::In, other.c2b(c, s, SYN, 100, SYN_OPTS, b""), None,
            &[Count::Reason(R::AgentNotServicePort)]),
        row("egress from a non-service port", Dir::Out, other.b2c(b, c + 1, ACK, 100, &[], b"x"), None,
            &[Count::Reason(R::AgentNotServicePort)]),
        row("service port, unknown flow", Dir::In, stranger.c2b(1, 2, ACK, 100, &[], b"x"), None,
            &[Count::Reason(R::NoFlow)]),
        row("service port, unknown flow, egress", Dir::Out, stranger.b2c(1, 2, ACK, 100, &[], b"x"), None,
            &[Count::Reason(R::NoFlow)]),
        row("UDP", Dir::In, udp, None, &[Count::Reason(R::AgentNotTcp)]),
    ]);
    assert_eq!(h.flow_count().unwrap(), 1, "only the spliced flow is recorded");
}

#[test]
#[ignore = "needs root: bpf"]
fn truncated_and_malformed_pass_unchanged() {
    let h = harness();
    let (c, s, b) = (100u32, 0x6666_0000u32, 0x200u32);
    let k = Conn { cport: 44000, bport: 80 };
    play(&h, handshake(k, c, s, b, SYN_OPTS, &[O::WindowScale(9)]));
    // Every input below belongs to the spliced flow, so a careless program
    // would rewrite it.
    let good_in = k.c2b(c + 1, s + 1, ACK, 10, &[O::NoOp, O::NoOp, sack(&[(s + 10, s + 20)])], b"data");
    let good_out = k.b2c(b + 1, c + 1, ACK, 10, &[], b"data");
    let with = |base: &Vec<u8>, f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    const IP: usize = ethernet::HEADER_LEN;
    const TCP: usize = IP + ipv4::MIN_HEADER_LEN;
    let rows = vec![
        // The kernel's test_run refuses IPv4 frames shorter than 14 + 20
        // bytes (EINVAL), so shorter truncations are covered only by the
        // bounds checks the verifier forces on every access.
        row("IPv4 header, no TCP header", Dir::In, with(&good_in, &|v| v.truncate(TCP)), None, &[Count::Reason(R::Truncated)]),
        row("TCP header cut short", Dir::In, with(&good_in, &|v| v.truncate(TCP + 10)), None, &[Count::Reason(R::Truncated)]),
        row("frame shorter than the IPv4 total length", Dir::Out, with(&good_out, &|v| { v.pop(); }), None,
            &[Count::Reason(R::Truncated)]),
        row("IPv4 version 6 in an IPv4 ethertype", Dir::In, with(&good_in, &|v| v[IP] = 0x65), None,
            &[Count::Reason(R::BadIpHeader)]),
        row("IHL 4", Dir::In, with(&good_in, &|v| v[IP] = 0x44), None, &[Count::Reason(R::BadIpHeader)]),
        row("IPv4 total length below the header", Dir::Out, with(&good_out, &|v| { v[IP + 2] = 0; v[IP + 3] = 16; }), None,
            &[Count::Reason(R::BadIpHeader)]),
        row("IPv4 fragment (MF)", Dir::In, with(&good_in, &|v| v[IP + 6] |= 0x20), None, &[Count::Reason(R::IpFragment)]),
        row("IPv4 fragment (offset)", Dir::Out, with(&good_out, &|v| v[IP + 7] = 1), None, &[Count::Reason(R::IpFragment)]),
        row("TCP data offset 4", Dir::In, with(&good_in, &|v| v[TCP + 12] = 0x40), None, &[Count::Reason(R::BadTcpHeader)]),
        row("TCP data offset past the segment", Dir::Out, with(&good_out, &|v| v[TCP + 12] = 0xf0), None,
            &[Count::Reason(R::Truncated)]),
        row("SACK option of length 9", Dir::In, with(&good_in, &|v| v[TCP + 23] = 9), None,
            &[Count::Reason(R::BadTcpOptions)]),
        row("option length running past the header", Dir::In, with(&good_in, &|v| v[TCP + 23] = 30), None,
            &[Count::Reason(R::BadTcpOptions)]),
        row("option length 1", Dir::In, with(&good_in, &|v| v[TCP + 23] = 1), None, &[Count::Reason(R::BadTcpOptions)]),
        row("ARP ethertype", Dir::In, with(&good_in, &|v| { v[12] = 0x08; v[13] = 0x06; }), None,
            &[Count::Reason(R::NotIpv4)]),
        row("SYN+FIN", Dir::In, k.c2b(c, s, SYN | FIN, 10, &[], b""), None, &[Count::Reason(R::BadTcpFlags)]),
        row("SYN+RST from the backend", Dir::Out, k.b2c(b, c + 1, SYN | RST | ACK, 10, &[], b""), None,
            &[Count::Reason(R::BadTcpFlags)]),
    ];
    play(&h, rows);
    // The flow survived all of it and still translates.
    play(&h, vec![row("flow intact after the garbage", Dir::Out, good_out.clone(),
        Some(k.b2c(s + 1, c + 1, ACK, 40, &[], b"data")), &[Count::Path(P::AgentEgress)])]);
}

/// IPv4 options shift the TCP header; the agent follows the IHL.
#[test]
#[ignore = "needs root: bpf"]
fn ipv4_options_are_followed() {
    let h = harness();
    let (c, s, b) = (100u32, 0x5555_0000u32, 0x300u32);
    let k = Conn { cport: 45000, bport: 80 };
    play(&h, handshake(k, c, s, b, SYN_OPTS, &[O::WindowScale(7)]));
    // wire emits no IPv4 options: splice four bytes in by hand (IHL 6,
    // total length + 4), then let the view recompute the checksums.
    let add_ip_options = |mut v: Vec<u8>| {
        const IP: usize = ethernet::HEADER_LEN;
        v.splice(IP + ipv4::MIN_HEADER_LEN..IP + ipv4::MIN_HEADER_LEN, [1u8, 1, 1, 0]); // NOP NOP NOP EOL
        v[IP] = 0x46;
        let tot = u16::from_be_bytes([v[IP + 2], v[IP + 3]]) + 4;
        v[IP + 2..IP + 4].copy_from_slice(&tot.to_be_bytes());
        TcpFrame::new_checked(&mut v[..]).unwrap().fill_checksums();
        v
    };
    let input = add_ip_options(k.b2c(b + 1, c + 1, ACK, 10, &[], b"payload"));
    let want = add_ip_options(k.b2c(s + 1, c + 1, ACK, 10, &[], b"payload"));
    check(&input).unwrap();
    play(&h, vec![row("IHL 6: seq still translated", Dir::Out, input, Some(want), &[Count::Path(P::AgentEgress)])]);
}
