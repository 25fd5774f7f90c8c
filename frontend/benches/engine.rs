//! In-process figures for the engine (prints, does not assert):
//!   cargo bench -p switchyard-frontend --bench engine
//! 1. HTTP head parse + route decision per request;
//! 2. the forwarding rewrite per packet (in memory, checksums incremental);
//! 3. complete new-flow setups through the engine (client ACK+request ->
//!    replayed SYN, backend SYN-ACK -> request, backend ACK -> install,
//!    Installed), per second on one core.

use core::net::Ipv4Addr;
use std::hint::black_box;
use std::time::Instant;

use switchyard_frontend::config;
use switchyard_frontend::engine::packet::{self, Out};
use switchyard_frontend::engine::{Action, Engine, Verdict};
use switchyard_frontend::http::{header_storage, parse_head, HeadStatus};
use switchyard_frontend::offload::{OffloadEvent, OffloadRequest};
use switchyard_frontend::route::Router;
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

fn report(what: &str, n: u64, secs: f64) {
    println!("{what:<48} {:>10.1} ns/op {:>12.0} ops/s", secs * 1e9 / n as f64, n as f64 / secs);
}

fn main() {
    let mut c = config::parse(CONF, "switchyard.toml").expect("example config");
    c.frontend.flow_table_capacity = 1 << 20;

    // 1. Parse + route.
    let mut router = Router::new(&c);
    let n = 1_000_000u64;
    let t = Instant::now();
    for _ in 0..n {
        let mut st = header_storage();
        if let Ok(HeadStatus::Complete(h)) = parse_head(black_box(REQ), &mut st) {
            black_box(router.decide(0, CIP, &h));
        }
    }
    report("http parse + route decision", n, t.elapsed().as_secs_f64());

    // 2. Forwarding rewrite (a 1400-byte data segment).
    let mut f = frame(CIP, 40000, VIP, 80, 1, 1, ACK, &[7u8; 1400]);
    // Alternate VIP->DIP and DIP->VIP so the frame stays valid; each
    // direction needs the segment as parsed with its current address.
    let dip = Ipv4Addr::new(198, 18, 2, 10);
    let seg_vip = packet::parse(&f).unwrap();
    let seg_dip = packet::parse(&frame(CIP, 40000, dip, 80, 1, 1, ACK, &[7u8; 1400])).unwrap();
    let n = 10_000_000u64;
    let t = Instant::now();
    for i in 0..n {
        if i & 1 == 0 {
            packet::rewrite_to_backend(black_box(&mut f), &seg_vip, dip, 80, [2; 6], [3; 6]);
        } else {
            packet::rewrite_to_backend(black_box(&mut f), &seg_dip, VIP, 80, [2; 6], [3; 6]);
        }
    }
    report("forwarding rewrite (in place, incremental)", n, t.elapsed().as_secs_f64());
    let t = Instant::now();
    let n2 = 1_000_000u64;
    for _ in 0..n2 {
        black_box(packet::parse(black_box(&f)).unwrap());
    }
    report("frame validation incl. full checksum (1454 B)", n2, t.elapsed().as_secs_f64());

    // 3. New-flow setups. Frames are prepared first; the timed loop is
    // only the engine.
    let flows = 200_000u32;
    let mut engine = Engine::new(&c);
    let opts = SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, timestamps: false };
    let cisn = 1000u32;
    let mut prepared = Vec::with_capacity(flows as usize);
    for i in 0..flows {
        let (ip, port) = (Ipv4Addr::from(u32::from(CIP) + i / 50_000), 10_000 + (i % 50_000) as u16);
        let s = engine.keyring().generate(&CookieInput { client_ip: ip, client_port: port, vip: VIP, vport: 80, client_isn: cisn }, &opts);
        prepared.push((ip, port, s));
    }
    let mut frames: Vec<[Vec<u8>; 3]> = Vec::with_capacity(flows as usize);
    let backend = Ipv4Addr::new(198, 18, 2, 12); // the static pool
    for &(ip, port, s) in &prepared {
        frames.push([
            frame(ip, port, VIP, 80, cisn + 1, s + 1, ACK | PSH, REQ),
            frame(backend, 80, ip, port, s, cisn + 1, SYN | ACK, b""),
            frame(backend, 80, ip, port, s + 1, cisn + 1 + REQ.len() as u32, ACK, b""),
        ]);
    }
    let mut out: Vec<Action> = Vec::with_capacity(16);
    let t = Instant::now();
    let mut installs = 0u64;
    for fr in frames.iter_mut() {
        let [a, b, c] = fr;
        let v1 = engine.handle_frame(a, 1, &mut out);
        let v2 = engine.handle_frame(b, 2, &mut out);
        let v3 = engine.handle_frame(c, 3, &mut out);
        debug_assert_eq!((v1, v2, v3), (Verdict::Consumed, Verdict::Consumed, Verdict::Forward));
        let install = out.iter().find_map(|a| match a {
            Action::Offload(OffloadRequest::Install { key, backend, .. }) => Some((*key, *backend)),
            _ => None,
        });
        out.clear();
        if let Some((key, backend)) = install {
            engine.on_offload(OffloadEvent::Installed { key, backend }, 4, &mut out);
            installs += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(installs, u64::from(flows), "every flow reached the install (check routes)");
    report("new-flow setup (3 frames + install event)", u64::from(flows), secs);
    println!("flows in table after setup: {}", engine.flow_count());
}
