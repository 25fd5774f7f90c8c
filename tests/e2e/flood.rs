//! SYN and ACK floods against the VIP. SYNs, spoofed only within the
//! client namespace's own /24, are answered by the switch's SYN cookie and
//! create no state anywhere; ACKs with forged cookies are dropped by the
//! front-end without state; legitimate clients are served throughout.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_frontend::engine::packet::{self, Out};
use switchyard_frontend_dpdk::afpacket::{in_netns, AfPacket};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, clients, SwitchMode, Testbed, TestbedSpec};
use switchyard_wire::frame::TcpFrame;
use switchyard_wire::tcp::{ACK, SYN};
use switchyard_wire::tcp_option::TcpOption;

const SYNS: u32 = 100_000;
const ACKS: u32 = 10_000;
/// SYNs sent but not yet answered: keeps the switch's input ring from
/// overflowing so every SYN is accounted for (the flood is as fast as the
/// switch answers, which is what we measure).
const IN_FLIGHT: u32 = 64;

/// A spoofed source inside 198.18.0.0/24 (never the real client .2).
fn spoofed(i: u32) -> (Ipv4Addr, u16) {
    (Ipv4Addr::new(198, 18, 0, 10 + (i % 240) as u8), 1024 + (i / 240 % 60000) as u16)
}

fn frame(src: Ipv4Addr, sport: u16, seq: u32, ack: u32, flags: u8, opts: &[TcpOption<'_>]) -> Vec<u8> {
    packet::emit(
        &Out { src, sport, dst: addr::VIP, dport: 80, seq, ack, flags, window: 64240, options: opts, payload: &[] },
        addr::mac(0, false),
        addr::mac(0, true),
    )
}

struct FloodResult {
    syn_acks: u32,
    seconds: f64,
}

/// Sends the SYN flood with closed-loop pacing and counts the SYN-ACKs
/// that answer it (right ack number, SYN+ACK flags), then the ACK flood.
fn flood(ns: &str) -> FloodResult {
    in_netns(ns, || {
        let mut s = AfPacket::open("eth0").unwrap();
        s.set_rcvbuf(8 << 20).unwrap();
        let opts = [TcpOption::Mss(1460), TcpOption::SackPermitted, TcpOption::WindowScale(7)];
        let (mut sent, mut answered) = (0u32, 0u32);
        let mut seen = vec![false; SYNS as usize];
        let start = Instant::now();
        let deadline = start + Duration::from_secs(240);
        while answered < SYNS && Instant::now() < deadline {
            while sent < SYNS && sent - answered < IN_FLIGHT {
                let (src, sport) = spoofed(sent);
                s.send(&frame(src, sport, sent.wrapping_mul(7919), 0, SYN, &opts)).unwrap();
                sent += 1;
            }
            let Some(f) = s.recv_timeout(Duration::from_millis(200)) else {
                // Nothing came back for a while: count what is missing as
                // lost and move on (the assertion below reports it).
                if sent == SYNS {
                    break;
                }
                continue;
            };
            let Ok(f) = TcpFrame::new_checked(&f[..]) else { continue };
            let (ip, t) = (f.ipv4(), f.tcp());
            if ip.src() == addr::VIP && t.has_all(SYN | ACK) && ip.dst() != addr::CLIENT {
                answered += 1;
                let idx = (u32::from(t.dst_port()) - 1024) * 240 + u32::from(ip.dst().octets()[3] - 10);
                seen[idx as usize] = true;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let missing: Vec<usize> = seen.iter().enumerate().filter(|(_, s)| !**s).map(|(i, _)| i).take(10).collect();
        println!("missing: {missing:?}");
        for i in 0..ACKS {
            let (src, sport) = spoofed(i);
            s.send(&frame(src, sport, 1, 0x5eed_0000 ^ i, ACK, &[])).unwrap();
            if i % 100 == 99 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        FloodResult { syn_acks: answered, seconds }
    })
    .unwrap()
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn syn_and_ack_floods_leave_no_state_and_clients_are_served() {
    let tag = "fl1";
    let (path, _cfg) = example_config();
    {
        // The front-end programs the services itself over P4Runtime.
        let tb = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::Dpdk, false).unwrap();

        // Legitimate clients fetch during the flood, from the real address.
        let done = Arc::new(AtomicBool::new(false));
        let served = std::thread::scope(|sc| {
            let d = done.clone();
            let tb = &tb;
            let legit = sc.spawn(move || {
                let (mut ok, mut tried) = (0, 0);
                for i in 0..40 {
                    if d.load(Ordering::Relaxed) && i >= 10 {
                        break;
                    }
                    tried += 1;
                    let f = clients::fetch(&tb.client, &format!("http://{}/10k", addr::VIP), &tb.dir.join("legit"), 20, &[]).unwrap();
                    ok += usize::from(f.status == 200 && f.verified.is_ok());
                    std::thread::sleep(Duration::from_millis(100));
                }
                (tried, ok)
            });
            let r = flood(tb.client.name());
            done.store(true, Ordering::Relaxed);
            println!("SYN flood: {} of {SYNS} SYNs answered by the switch in {:.1}s ({:.0}/s)", r.syn_acks, r.seconds, f64::from(r.syn_acks) / r.seconds);
            assert_eq!(r.syn_acks, SYNS, "every SYN answered with a cookie SYN-ACK");
            legit.join().unwrap()
        });
        std::thread::sleep(Duration::from_millis(500));
        let sw = lb::switch_counters(&tb).unwrap();
        println!("switch counters: {sw:?}");
        assert!(sw["path.syn_answered"] >= u64::from(SYNS), "the switch's own counter of SYNs answered: {}", sw["path.syn_answered"]);
        let log = fe.stop();
        let c = lb::frontend_counters(&log);
        println!("{log}");
        let (tried, ok) = served;
        assert_eq!(ok, tried, "every legitimate fetch during the flood served and verified");
        // No state: the only flows the front-end ever created are the
        // legitimate fetches.
        assert_eq!(c["setups"], tried as u64, "front-end flows created");
        let bad = c.get("drop.bad_cookie").copied().unwrap_or(0);
        assert!(bad >= u64::from(ACKS) * 99 / 100 && bad <= u64::from(ACKS), "forged ACKs dropped as bad_cookie: {bad} of {ACKS}");
    }
    assert_no_namespaces(tag);
}
