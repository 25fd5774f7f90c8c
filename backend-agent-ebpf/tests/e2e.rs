//! Kernel end-to-end test: a backend namespace with real nginx and the
//! agent daemon attached to its interface; a peer namespace where this test
//! plays switch and front-end with a raw socket. The peer computes its SYN
//! cookie ISN S (as the switch would answer the client), replays the
//! client's SYN to nginx with S fused into the ack field, completes the
//! splice, sends the request and receives a 10 MB response entirely in the
//! switch's sequence space: every segment's checksum is recomputed, every
//! byte of the body is checked. A second connection drops one segment on
//! purpose so SACK (translated by the agent) and retransmission run; a
//! third reuses the first one's client port while nginx holds it in
//! TIME_WAIT.
//!
//! Needs root, nginx, iproute2, ethtool, nsenter.

mod support;

use core::net::Ipv4Addr;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use support::{in_netns, AgentProc, RawPort, TempDir};
use switchyard_agent::abi::FlowKey;
use switchyard_agent::attach::attached_programs;
use switchyard_agent::frames::{BACKEND_MAC, CLIENT_MAC};
use switchyard_agent::pins::{self, PinnedAgent};
use switchyard_testbed::netns::Netns;
use switchyard_testbed::nginx::{write_bodies, NginxBackend, BACKEND_HEADER};
use switchyard_testbed::{addr, bodies, cmd};
use switchyard_wire::cookie::{CookieInput, CookieKeyring, CookieSecret};
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::reason::PathCounter;
use switchyard_wire::tcp::{TcpRepr, ACK, FIN, PSH, RST, SYN};
use switchyard_wire::tcp_option::{SackBlocks, SynOptions, TcpOption as O};

const CLIENT: Ipv4Addr = addr::CLIENT;
const BACKEND: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 10);
const PORT: u16 = 80;
const PROBE_PORT: u16 = 9100;
const BODY: &str = "/10m";
/// Whole-connection bound: a debug build receives 10 MB in a few seconds.
const FETCH_LIMIT: Duration = Duration::from_secs(60);
/// Window field the peer advertises (scale 7: 8 MB).
const PEER_WINDOW: u16 = 65535;
const CLIENT_WS: u8 = 7;

fn mac_str(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

struct Bed {
    // Drop order: agent, nginx, namespaces, files.
    agent: AgentProc,
    _nginx: NginxBackend,
    backend: Netns,
    _peer: Netns,
    port: RawPort,
    iface: String,
    dir: TempDir,
}

fn bring_up() -> Bed {
    switchyard_testbed::require_root().unwrap();
    cmd::require_tools(&["ip", "ethtool", "nginx", "nsenter"]).unwrap();
    let id = std::process::id();
    let dir = TempDir::new(&format!("sy-agent-e2e-{id}"));
    let backend = Netns::create(&format!("sy-agb-{id}")).unwrap();
    let peer = Netns::create(&format!("sy-agp-{id}")).unwrap();
    let iface = format!("syb{id}");
    let peer_if = format!("syp{id}");
    backend.add_veth(&iface, &mac_str(BACKEND_MAC), &peer, &peer_if, &mac_str(CLIENT_MAC)).unwrap();
    backend.exec(&["ip", "addr", "add", &format!("{BACKEND}/24"), "dev", &iface]).unwrap();
    backend.exec(&["ip", "route", "add", &format!("{CLIENT}/32"), "dev", &iface]).unwrap();
    backend
        .exec(&["ip", "neigh", "replace", &CLIENT.to_string(), "lladdr", &mac_str(CLIENT_MAC), "dev", &iface, "nud", "permanent"])
        .unwrap();
    let www = write_bodies(&dir.0).unwrap();
    let nginx = NginxBackend::start(&backend, "b0", BACKEND, PORT, &dir.0.join("nginx"), &www).unwrap();

    let listen = format!("{BACKEND}:{PROBE_PORT}");
    let agent = AgentProc::start(
        backend.name(),
        &["run", "--iface", &iface, "--service-port", "80", "--switch-wscale", "7", "--map-size", "4096", "--status-listen", &listen],
        &dir.0.join("agent.log"),
    )
    .unwrap();
    let port = RawPort::open(peer.name(), &peer_if).unwrap();
    let mut bed = Bed { agent, _nginx: nginx, backend, _peer: peer, port, iface, dir };
    let deadline = Instant::now() + Duration::from_secs(15);
    while probe(&bed).is_none() {
        if let Some(st) = bed.agent.try_wait() {
            panic!("agent exited with {st}: {}", std::fs::read_to_string(bed.dir.0.join("agent.log")).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "agent probe never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    bed
}

/// The presence probe's reply, asked from inside the backend namespace.
fn probe(bed: &Bed) -> Option<String> {
    probe_get(bed, "/agent")
}

/// A GET of `path` on the probe's listener (`/metrics`: the counters).
fn probe_get(bed: &Bed, path: &str) -> Option<String> {
    in_netns(bed.backend.name(), || {
        let mut s = std::net::TcpStream::connect_timeout(&(BACKEND, PROBE_PORT).into(), Duration::from_millis(500)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    })
}

/// What the peer saw on one connection.
#[derive(Debug, Default)]
struct Report {
    segments: usize,
    dropped_at: Option<u32>,
    retransmitted: bool,
    duplicates: usize,
    sack_acks: usize,
    response: Vec<u8>,
    clean_close: bool,
}

/// One TCP segment from the backend to our tuple, checksums verified.
struct Rx {
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Vec<u8>,
}

fn parse_rx(frame: &[u8], cport: u16) -> Option<Result<Rx, String>> {
    let f = TcpFrame::new_checked(frame).ok()?;
    let r = FrameRepr::parse(&f);
    if r.src_mac != BACKEND_MAC || r.src != BACKEND || r.tcp.src_port != PORT || r.tcp.dst_port != cport {
        return None;
    }
    let t = r.tcp;
    Some(f.check_checksums().map(|()| Rx { seq: t.seq, ack: t.ack, flags: t.flags, payload: t.payload.to_vec() }).map_err(|e| e.to_string()))
}

/// Plays switch + front-end for one client connection. `drop_at`: drop the
/// first arrival of the segment holding this response byte offset.
fn fetch(bed: &Bed, path: &str, cport: u16, c: u32, drop_at: Option<u32>) -> Report {
    let keyring = CookieKeyring::new(CookieSecret { k0: 0x5359_4152, k1: 0x4400_0000 ^ u32::from(cport) });
    let input = CookieInput { client_ip: CLIENT, client_port: cport, vip: addr::VIP, vport: PORT, client_isn: c };
    let syn_opts = SynOptions { mss: Some(1460), wscale: Some(CLIENT_WS), sack_permitted: true, timestamps: false };
    // Step 1: the switch answers the client's SYN with its cookie S.
    let s = keyring.generate(&input, &syn_opts);
    // Step 2: the front-end validates the cookie from the client's ACK.
    let co = keyring.validate(s, &input).expect("own cookie validates");
    let opts = [O::Mss(co.mss), O::SackPermitted, O::WindowScale(co.wscale.unwrap())];
    let seg = |seq: u32, ack: u32, flags: u8, options: &[O<'_>], payload: &[u8]| {
        let tcp = TcpRepr { src_port: cport, dst_port: PORT, seq, ack, flags, window: PEER_WINDOW, options: options.into(), payload };
        FrameRepr::new(CLIENT_MAC, BACKEND_MAC, CLIENT, BACKEND, tcp).to_vec().unwrap()
    };
    let port = &bed.port;
    let mut buf = vec![0u8; 65536];
    let start = Instant::now();
    let next_rx = |buf: &mut Vec<u8>| -> Option<Rx> {
        while start.elapsed() < FETCH_LIMIT {
            if let Some(n) = port.recv(buf) {
                match parse_rx(&buf[..n], cport) {
                    Some(Ok(rx)) => return Some(rx),
                    Some(Err(e)) => panic!("segment from the backend fails the full checksum check: {e}"),
                    None => {}
                }
            } else {
                return None;
            }
        }
        panic!("connection exceeded {FETCH_LIMIT:?}");
    };

    // Step 3: replay the SYN with S fused into the ack field.
    let syn = seg(c, s, SYN, &opts, b"");
    let mut synack = None;
    for _ in 0..30 {
        port.send(&syn);
        if let Some(rx) = next_rx(&mut buf) {
            synack = Some(rx);
            break;
        }
    }
    let synack = synack.expect("no SYN-ACK from the backend");
    assert_eq!(synack.flags & (SYN | ACK), SYN | ACK, "SYN-ACK flags");
    assert_eq!(synack.seq, s, "the agent rewrote the SYN-ACK into the switch's space (seq = S)");
    assert_eq!(synack.ack, c.wrapping_add(1));

    // Step 4: splice: ACK + request in the client's sequence numbers.
    let req = format!("GET {path} HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n");
    let c1 = c.wrapping_add(1);
    let base = s.wrapping_add(1); // response byte 0 in the switch's space
    port.send(&seg(c1, base, ACK | PSH, &[], req.as_bytes()));
    let c_fin = c1.wrapping_add(req.len() as u32);

    let mut r = Report::default();
    let mut stream: Vec<u8> = Vec::with_capacity(11 << 20);
    let mut ooo: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut fin_at: Option<u32> = None;
    let mut idle = Instant::now();
    loop {
        let Some(rx) = next_rx(&mut buf) else {
            assert!(idle.elapsed() < Duration::from_secs(20), "stalled at {} bytes", stream.len());
            continue;
        };
        idle = Instant::now();
        assert_eq!(rx.flags & RST, 0, "backend reset the connection at {} bytes", stream.len());
        if rx.flags & SYN != 0 {
            continue; // a retransmitted SYN-ACK
        }
        r.segments += 1;
        let off = rx.seq.wrapping_sub(base);
        assert!(off <= 11 << 20, "segment outside the switch's space: seq {:#x}, S {s:#x}", rx.seq);
        let len = rx.payload.len() as u32;
        if len > 0 {
            if let Some(d) = drop_at {
                if r.dropped_at.is_none() && off <= d && d < off + len {
                    r.dropped_at = Some(off);
                    continue; // lost on purpose: no ACK, no data
                }
                if r.dropped_at == Some(off) {
                    r.retransmitted = true;
                }
            }
            let have = stream.len() as u32;
            if off == have {
                stream.extend_from_slice(&rx.payload);
                while let Some((&o, _)) = ooo.first_key_value() {
                    let cur = stream.len() as u32;
                    if o > cur {
                        break;
                    }
                    let data = ooo.remove(&o).unwrap();
                    let skip = (cur - o) as usize;
                    if skip < data.len() {
                        stream.extend_from_slice(&data[skip..]);
                    }
                }
            } else if off > have {
                ooo.insert(off, rx.payload);
            } else {
                r.duplicates += 1;
            }
        }
        if rx.flags & FIN != 0 {
            fin_at = Some(off + len);
        }
        let fin_done = fin_at == Some(stream.len() as u32) && ooo.is_empty();
        let ack = base.wrapping_add(stream.len() as u32).wrapping_add(u32::from(fin_done));
        // SACK blocks for what sits beyond the hole, in the switch's space.
        let mut blocks: Vec<(u32, u32)> = Vec::new();
        for (&o, d) in &ooo {
            let (l, rr) = (base.wrapping_add(o), base.wrapping_add(o + d.len() as u32));
            match blocks.last_mut() {
                Some(last) if last.1 == l => last.1 = rr,
                _ => blocks.push((l, rr)),
            }
        }
        blocks.truncate(3);
        let sack_opts;
        let opts: &[O] = if blocks.is_empty() {
            &[]
        } else {
            r.sack_acks += 1;
            sack_opts = [O::NoOp, O::NoOp, O::Sack(SackBlocks::new(&blocks).unwrap())];
            &sack_opts
        };
        if fin_done {
            // Our FIN with the ACK of theirs; then wait for their last ACK.
            port.send(&seg(c_fin, ack, FIN | ACK, &[], b""));
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Some(rx) = next_rx(&mut buf) {
                    if rx.flags & FIN == 0 && rx.ack == c_fin.wrapping_add(1) {
                        r.clean_close = true;
                        break;
                    }
                }
            }
            break;
        }
        port.send(&seg(c_fin, ack, ACK, opts, b""));
    }
    r.response = stream;
    r
}

fn check_response(path: &str, r: &Report) {
    let head_end = r.response.windows(4).position(|w| w == b"\r\n\r\n").expect("response header") + 4;
    let head = String::from_utf8_lossy(&r.response[..head_end]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains(&format!("{BACKEND_HEADER}: b0")), "{head}");
    bodies::verify(path, &r.response[head_end..]).unwrap();
    assert!(r.clean_close, "FIN handshake completed in the switch's space");
}

fn wait_flow_gone(iface: &str, key: &FlowKey) -> bool {
    let agent = PinnedAgent::open(iface).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if !agent.flows(100_000).iter().any(|(k, _)| k == key) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
#[ignore = "needs root: netns, nginx, bpf"]
fn nginx_10m_through_the_splice() {
    let mut bed = bring_up();
    let hello = probe(&bed).unwrap();
    assert!(hello.starts_with("HTTP/1.0 200"), "{hello}");
    assert!(hello.ends_with(&format!("switchyard-agent ok {} 0\n", bed.iface)), "{hello}");

    // Clean run.
    let clean = fetch(&bed, BODY, 40123, 0x1357_9bdf, None);
    check_response(BODY, &clean);
    assert!(wait_flow_gone(&bed.iface, &FlowKey::new(CLIENT, 40123, BACKEND, PORT)), "flow entry removed after close");
    eprintln!("clean: {} segments, {} duplicates", clean.segments, clean.duplicates);

    // The counters on /metrics moved with the download (the probe samples
    // at most once a second).
    std::thread::sleep(Duration::from_millis(1100));
    let text = probe_get(&bed, "/metrics").unwrap();
    assert!(text.starts_with("HTTP/1.0 200"), "{text}");
    let egress = format!("switchyard_agent_packets_total{{iface=\"{}\",path=\"agent_egress\"}} ", bed.iface);
    let rewritten: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(egress.as_str()))
        .unwrap_or_else(|| panic!("no {egress}in {text}"))
        .parse()
        .unwrap();
    assert!(rewritten > 0, "{text}");
    assert!(text.contains(&format!("switchyard_agent_attached{{iface=\"{}\"}} 1\n", bed.iface)), "{text}");

    // One segment lost in the middle: the peer SACKs what follows the hole
    // (in the switch's space), the agent translates, nginx retransmits.
    let lossy = fetch(&bed, BODY, 40124, 0xfedc_ba98, Some(3_000_000));
    check_response(BODY, &lossy);
    assert!(lossy.dropped_at.is_some(), "the test dropped a segment");
    assert!(lossy.retransmitted, "the dropped segment was retransmitted");
    assert!(lossy.sack_acks >= 3, "ACKs with SACK blocks were sent: {}", lossy.sack_acks);
    assert!(wait_flow_gone(&bed.iface, &FlowKey::new(CLIENT, 40124, BACKEND, PORT)));
    eprintln!("lossy: {} segments, {} SACK ACKs, {} duplicates", lossy.segments, lossy.sack_acks, lossy.duplicates);

    // Client port reuse: the first tuple again, nginx's side still in
    // TIME_WAIT, a new client ISN and so a new S: a fresh splice.
    let reuse = fetch(&bed, "/1m", 40123, 0x1357_9bdf ^ 0x8000_0000, None);
    check_response("/1m", &reuse);
    assert!(wait_flow_gone(&bed.iface, &FlowKey::new(CLIENT, 40123, BACKEND, PORT)));

    let counters = PinnedAgent::open(&bed.iface).unwrap().counters().unwrap();
    assert!(counters.path(PathCounter::AgentFusedSyn) >= 3);
    assert!(counters.path(PathCounter::AgentSynAck) >= 3);
    // TCP hands TC egress GSO super-packets (segmented after TC, as the
    // veth has GSO off): one rewrite covers many wire segments.
    assert!(counters.path(PathCounter::AgentEgress) >= 2 * 10_485_760 / 65_536);
    eprintln!("agent counters: {:?}", counters.rows().iter().filter(|r| r.2 > 0).collect::<Vec<_>>());
    assert!(counters.path(PathCounter::AgentSack) >= 3);
    assert!(counters.path(PathCounter::AgentFlowClosed) >= 3);

    // `status` reads the pins of the running daemon.
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", bed.backend.name()))
        .arg(env!("CARGO_BIN_EXE_switchyard-agent"))
        .args(["status", "--iface", &bed.iface])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("agent_sack") && text.contains("switch wscale  7"), "{text}");

    // A second instance on the same interface is refused.
    let second = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", bed.backend.name()))
        .arg(env!("CARGO_BIN_EXE_switchyard-agent"))
        .args(["run", "--iface", &bed.iface, "--service-port", "80"])
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already attached"), "{second:?}");

    // SIGTERM: exits 0, detaches both programs, removes the pins.
    let iface = bed.iface.clone();
    let attached = |bed: &Bed| in_netns(bed.backend.name(), || attached_programs(&iface));
    assert_eq!(attached(&bed).len(), 2, "ingress and egress attached by tcx");
    let st = bed.agent.stop(Duration::from_secs(5)).expect("agent stops on SIGTERM");
    assert!(st.success(), "agent exit status {st}");
    assert_eq!(attached(&bed), Vec::<String>::new(), "nothing left attached");
    assert!(!pins::pin_dir(&bed.iface).exists(), "pins removed");
}
