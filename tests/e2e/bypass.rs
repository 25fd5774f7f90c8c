//! The switch cannot be bypassed from the client side (issue 10, point 4),
//! measured as the issue measured it: from the client namespace, frames
//! claiming to come from backend b0:80, SYNs sent straight to b0:80, and
//! SYNs to the VIP with a bad TCP checksum. Before: 100 of 100 spoofed
//! frames reached the front-end, 100 direct SYNs left 100 half-open
//! connections on b0, 33 of 200 bad SYNs were answered. Now none passes,
//! the switch counts each by its reason, and a real client is served.

use std::time::{Duration, Instant};

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_frontend::engine::packet::{self, Out};
use switchyard_frontend_dpdk::afpacket::{in_netns, AfPacket};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, clients, SwitchMode, Testbed, TestbedSpec};
use switchyard_wire::frame::TcpFrame;
use switchyard_wire::tcp::{ACK, PSH, RST, SYN};
use switchyard_wire::tcp_option::TcpOption;

const FRAMES: u32 = 100;
/// How long answers to the hostile frames are waited for.
const LISTEN: Duration = Duration::from_millis(1500);

/// Sources inside the client's own /24 (never the real client .2).
fn spoofed_client(i: u32) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(198, 18, 0, 10 + (i % 200) as u8)
}

fn emit(o: &Out<'_>) -> Vec<u8> {
    packet::emit(o, addr::mac(0, false), addr::mac(0, true))
}

/// Sends the three kinds of frames, FRAMES of each, and returns how many
/// frames came back from the VIP or b0 that answer one of them.
fn send_hostile(ns: &str) -> u32 {
    in_netns(ns, || {
        let mut s = AfPacket::open("eth0").unwrap();
        let opts = [TcpOption::Mss(1460), TcpOption::SackPermitted, TcpOption::WindowScale(7)];
        let b0 = addr::backend(0);
        for i in 0..FRAMES {
            let port = 20000 + i as u16;
            let from_b0 = Out { src: b0, sport: 80, dst: addr::CLIENT, dport: port, seq: i, ack: 1, flags: ACK | PSH, window: 502, options: &[], payload: b"HTTP/1.1 200 OK\r\n\r\n" };
            s.send(&emit(&from_b0)).unwrap();
            let to_b0 = Out { src: spoofed_client(i), sport: port, dst: b0, dport: 80, seq: i * 7919, ack: 0, flags: SYN, window: 64240, options: &opts, payload: &[] };
            s.send(&emit(&to_b0)).unwrap();
            let to_vip = Out { dst: addr::VIP, sport: port + 1000, ..to_b0 };
            let mut f = emit(&to_vip);
            let c = u16::from_be_bytes([f[50], f[51]]);
            f[50..52].copy_from_slice(&(c ^ 0x0100).to_be_bytes());
            s.send(&f).unwrap();
            if i % 20 == 19 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let mut answers = 0;
        let end = Instant::now() + LISTEN;
        while let Some(f) = s.recv_timeout(end.saturating_duration_since(Instant::now())) {
            let Ok(f) = TcpFrame::new_checked(&f[..]) else { continue };
            let (ip, t) = (f.ipv4(), f.tcp());
            let ours = (20000..20000 + FRAMES as u16 + 1000).contains(&t.dst_port());
            if ours && (ip.src() == addr::VIP || ip.src() == b0) && (t.has_all(SYN | ACK) || t.has_any(RST)) {
                answers += 1;
            }
            if Instant::now() >= end {
                break;
            }
        }
        answers
    })
    .unwrap()
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, eBPF"]
fn spoofed_direct_and_bad_checksum_frames_from_the_client_side_are_dropped() {
    let tag = "by1";
    let (path, _cfg) = example_config();
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::AfPacket, false).unwrap();
        let url = format!("http://{}/1k", addr::VIP);
        let f = clients::fetch(&tb.client, &url, &tb.dir.join("before"), 20, &[]).unwrap();
        assert_eq!((f.status, &f.verified), (200, &Ok(())), "{f:?}");

        let before = lb::switch_counters(&tb).unwrap();
        let answers = send_hostile(tb.client.name());
        let after = lb::switch_counters(&tb).unwrap();
        let delta = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
        let half_open = tb.backend_ns[0].exec(&["ss", "-Htn", "state", "syn-recv"]).unwrap();
        println!(
            "spoofed_source {} direct_to_backend {} bad_checksum {} syn_answered {} answers {answers} half-open on b0: {:?}",
            delta("drop.spoofed_source"),
            delta("drop.direct_to_backend"),
            delta("drop.bad_checksum"),
            delta("path.syn_answered"),
            half_open.lines().count()
        );
        assert_eq!(delta("drop.spoofed_source"), u64::from(FRAMES), "frames claiming to be b0:80");
        assert_eq!(delta("drop.direct_to_backend"), u64::from(FRAMES), "SYNs straight to b0:80");
        assert_eq!(delta("drop.bad_checksum"), u64::from(FRAMES), "SYNs with a bad TCP checksum");
        assert_eq!(delta("path.syn_answered"), 0, "no hostile SYN answered");
        assert_eq!(answers, 0, "nothing answered any hostile frame");
        assert_eq!(half_open.trim(), "", "no half-open connection on b0");

        let f = clients::fetch(&tb.client, &url, &tb.dir.join("after"), 20, &[]).unwrap();
        assert_eq!((f.status, &f.verified), (200, &Ok(())), "{f:?}");
        let log = fe.stop();
        assert!(!log.contains("panicked"), "{log}");
    }
    assert_no_namespaces(tag);
}
