//! The in-process figures, as Criterion benchmarks:
//!   cargo bench -p switchyard-frontend --bench engine
//! Each group reports time per operation and, through `Throughput`, the
//! operations per second the targets are stated in (thrpt, elem/s):
//! 1. HTTP head parse + route decision per request (target >= 2 M/s);
//! 2. the forwarding rewrite per packet, in place (target >= 10 M/s);
//!    plus frame validation with full checksums, for scale;
//! 3. complete new-flow setups through the engine (target >= 500 k/s):
//!    client ACK+request -> replayed SYN, backend SYN-ACK -> request,
//!    backend ACK -> install request, `Installed`; driven like the driver
//!    drives it (timers run when due, emitted frames handed back), in a
//!    steady state where offloaded flows leave after their grace period.
//! Measurement times are short so a full run stays around a minute.

use core::net::Ipv4Addr;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use switchyard_frontend::config;
use switchyard_frontend::engine::packet::{self, Out};
use switchyard_frontend::engine::{Action, Engine, Verdict};
use switchyard_frontend::http::{header_storage, parse_head, HeadStatus};
use switchyard_frontend::offload::{OffloadEvent, OffloadRequest};
use switchyard_frontend::route::{Decision, Router};
use switchyard_wire::cookie::CookieInput;
use switchyard_wire::tcp::{ACK, PSH, SYN};
use switchyard_wire::tcp_option::SynOptions;

const CONF: &str = include_str!("../examples/switchyard.toml");
const REQ: &[u8] = b"GET /static/app.js HTTP/1.1\r\nHost: www.example.test\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n";
const CIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 1);

fn frame(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    packet::emit(&Out { src, sport, dst, dport, seq, ack, flags, window: 502, options: &[], payload }, [2; 6], [3; 6])
}

/// The backend the example config routes `REQ` to (a one-backend pool),
/// from the config itself so the bench follows edits of the example.
fn routed_backend(conf: &config::Config) -> (Ipv4Addr, u16) {
    let mut router = Router::new(conf);
    let mut st = header_storage();
    let Ok(HeadStatus::Complete(h)) = parse_head(REQ, &mut st) else { panic!("bench request did not parse") };
    match router.decide(0, CIP, &h) {
        Decision::Backend { backend, .. } => {
            let spec = router.backend(backend).spec;
            (spec.address, spec.port)
        }
        other => panic!("bench request not routed: {other:?}"),
    }
}

fn parse_and_route(c: &mut Criterion) {
    let conf = config::parse(CONF, "switchyard.toml").expect("example config");
    let mut router = Router::new(&conf);
    let mut g = c.benchmark_group("http_parse_route");
    g.throughput(Throughput::Elements(1));
    g.bench_function("per_request (target >= 2 M/s)", |b| {
        b.iter(|| {
            let mut st = header_storage();
            match parse_head(black_box(REQ), &mut st) {
                Ok(HeadStatus::Complete(h)) => black_box(router.decide(0, CIP, &h)),
                other => panic!("bench request did not parse: {other:?}"),
            };
        })
    });
    g.finish();
}

fn forwarding(c: &mut Criterion) {
    // A 1400-byte data segment, checked once as the engine checks it;
    // alternating VIP->DIP and DIP->VIP keeps it valid.
    let dip = Ipv4Addr::new(198, 18, 2, 10);
    let mut f = frame(CIP, 40000, VIP, 80, 1, 1, ACK, &[7u8; 1400]);
    let mut g = c.benchmark_group("forwarding");
    g.throughput(Throughput::Elements(1));
    {
        let (mut view, _) = packet::parse(&mut f[..]).expect("valid");
        let mut to_dip = true;
        g.bench_function("rewrite_per_packet (target >= 10 M/s)", |b| {
            b.iter(|| {
                let dst = if to_dip { dip } else { VIP };
                packet::rewrite_to_backend(black_box(&mut view), dst, 80, [2; 6], [3; 6]);
                to_dip = !to_dip;
            })
        });
    }
    assert!(packet::parse(&f[..]).is_ok(), "rewrites kept the checksums right");
    g.bench_function("validate_1454B_full_checksum", |b| b.iter(|| black_box(packet::parse(black_box(&f[..])).expect("valid"))));
    g.finish();
}

/// The three frames of one flow's setup, as the switch delivers them.
struct FlowFrames {
    request: Vec<u8>,
    syn_ack: Vec<u8>,
    ack: Vec<u8>,
}

/// Distinct flows cycled through; a key is reused only long after its
/// flow left the table (see `FLOWS_PER_MS`).
const RING: u32 = 131_072;
/// Engine clock: 1 ms per this many setups. Offloaded flows stay
/// `OFFLOADED_GRACE_MS` (5 s), so about 50 000 flows live in the table:
/// a default-sized (65 536) table in steady state, not an empty one.
const FLOWS_PER_MS: u64 = 10;

fn new_flow_setup(c: &mut Criterion) {
    let conf = config::parse(CONF, "switchyard.toml").expect("example config");
    let mut engine = Engine::new(&conf);
    let opts = SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, timestamps: false };
    let cisn = 1000u32;
    let (backend, bport) = routed_backend(&conf);
    let ring: Vec<FlowFrames> = (0..RING)
        .map(|i| {
            let (ip, port) = (Ipv4Addr::from(u32::from(CIP) + i / 50_000), 10_000 + (i % 50_000) as u16);
            let input = CookieInput { client_ip: ip, client_port: port, vip: VIP, vport: 80, client_isn: cisn };
            let s = engine.keyring().generate(&input, &opts);
            FlowFrames {
                request: frame(ip, port, VIP, 80, cisn + 1, s + 1, ACK | PSH, REQ),
                syn_ack: frame(backend, bport, ip, port, s, cisn + 1, SYN | ACK, b""),
                ack: frame(backend, bport, ip, port, s + 1, cisn + 1 + REQ.len() as u32, ACK, b""),
            }
        })
        .collect();
    // Every frame is copied into a receive buffer per setup, as a NIC
    // delivers it (the engine rewrites forwarded frames in place).
    let mut rx = [vec![0u8; ring[0].request.len()], vec![0u8; ring[0].syn_ack.len()], vec![0u8; ring[0].ack.len()]];
    let mut out: Vec<Action> = Vec::with_capacity(16);
    let mut done = 0u64; // setups so far: the engine clock
    let mut g = c.benchmark_group("new_flow_setup");
    g.throughput(Throughput::Elements(1));
    g.bench_function("3_frames_plus_install (target >= 500 k/s)", |b| {
        b.iter_custom(|iters| {
            let mut wrong = 0u64;
            let start = Instant::now();
            for _ in 0..iters {
                let fr = &ring[(done % u64::from(RING)) as usize];
                let now = done / FLOWS_PER_MS;
                done += 1;
                if engine.next_deadline().is_some_and(|d| d <= now) {
                    engine.on_timer(now, &mut out);
                    hand_back(&mut engine, &mut out);
                }
                let [request, syn_ack, ack] = &mut rx;
                request.copy_from_slice(&fr.request);
                syn_ack.copy_from_slice(&fr.syn_ack);
                ack.copy_from_slice(&fr.ack);
                let v = (
                    engine.handle_frame(request, now, &mut out),
                    engine.handle_frame(syn_ack, now, &mut out),
                    engine.handle_frame(ack, now, &mut out),
                );
                wrong += u64::from(v != (Verdict::Consumed, Verdict::Consumed, Verdict::Forward));
                let install = out.iter().find_map(|a| match a {
                    Action::Offload(OffloadRequest::Install { key, backend, .. }) => Some((*key, *backend)),
                    _ => None,
                });
                hand_back(&mut engine, &mut out);
                match install {
                    Some((key, backend)) => engine.on_offload(OffloadEvent::Installed { key, backend }, now, &mut out),
                    None => wrong += 1,
                }
            }
            let t = start.elapsed();
            assert_eq!(wrong, 0, "every setup must end in an install (check routes, table size)");
            t
        })
    });
    g.finish();
    println!("new_flow_setup steady state: {} flows in the table after {done} setups", engine.flow_count());
}

/// What the driver does with the engine's actions once they are queued:
/// transmitted frames' buffers go back to the engine (`Engine::recycle`).
fn hand_back(engine: &mut Engine, out: &mut Vec<Action>) {
    for a in out.drain(..) {
        if let Action::Transmit(f) = a {
            engine.recycle(black_box(f));
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3)).sample_size(30);
    targets = parse_and_route, forwarding, new_flow_setup
}
criterion_main!(benches);
