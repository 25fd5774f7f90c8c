//! The front-end process on a veth in a namespace (DPDK over
//! net_af_packet with --no-huge, and the AF_PACKET driver): a cookie-valid
//! ACK carrying a request goes in, the replayed SYN with the fused ISN must
//! come out on the wire; a forged cookie must get nothing.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use switchyard_frontend::engine::packet::{self, Out};
use switchyard_frontend_dpdk::afpacket::{in_netns, AfPacket};
use switchyard_testbed::Netns;
use switchyard_wire::cookie::{CookieInput, CookieKeyring, CookieSecret};
use switchyard_wire::frame::TcpFrame;
use switchyard_wire::tcp::{ACK, PSH, SYN};
use switchyard_wire::tcp_option::SynOptions;

const FE_MAC: [u8; 6] = [0x02, 0x53, 0x59, 0x00, 0x00, 0x10];
const SW_MAC: [u8; 6] = [0x02, 0x53, 0x59, 0x01, 0x00, 0x10];
const CIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 1);
const BACKEND: Ipv4Addr = Ipv4Addr::new(198, 18, 10, 2);
const SECRET: CookieSecret = CookieSecret { k0: 0x1111_2222, k1: 0x3333_4444 };
const C_ISN: u32 = 0x7000_0000;

fn config(tag: &str) -> String {
    format!(
        r#"
[frontend]
mac = "02:53:59:00:00:10"
switch_mac = "02:53:59:01:00:10"
[switch]
p4runtime = "198.18.2.1:9559"
[cookie]
secrets = [{{ k0 = 0x11112222, k1 = 0x33334444 }}]
rotation_secs = 60
[dpdk]
eal_args = ["--no-huge", "-m", "256", "--no-pci", "-l", "0", "--file-prefix=sy-{tag}", "--vdev=net_af_packet0,iface=fe0"]
[[dpdk.ports]]
name = "switch"
device = "net_af_packet0"
[[services]]
name = "web"
vip = "198.18.100.1"
port = 80
[[services.routes]]
pool = "web"
[[pools]]
name = "web"
backends = [{{ address = "198.18.10.2", port = 80 }}]
"#
    )
}

fn client_frame(cport: u16, ack: u32, payload: &[u8]) -> Vec<u8> {
    packet::emit(
        &Out { src: CIP, sport: cport, dst: VIP, dport: 80, seq: C_ISN + 1, ack, flags: ACK | PSH, window: 502, options: &[], payload },
        FE_MAC,
        SW_MAC,
    )
}

/// What came back: the TCP SYNs the front-end sent (src, dst, seq, ack, flags, options).
type Syn = (Ipv4Addr, u16, Ipv4Addr, u16, u32, u32, u8, SynOptions);

fn run(driver: &str, tag: &str) -> (Vec<Syn>, String) {
    let fe = Netns::create(&format!("sy-{tag}-fe")).unwrap();
    let sw = Netns::create(&format!("sy-{tag}-sw")).unwrap();
    let mac = |m: [u8; 6]| m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    fe.add_veth("fe0", &mac(FE_MAC), &sw, "sw0", &mac(SW_MAC)).unwrap();
    let dir = std::env::temp_dir().join(format!("switchyard-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("frontend.toml");
    std::fs::write(&conf, config(tag)).unwrap();
    let log = dir.join("frontend.log");
    let _ = std::fs::remove_file(&log);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_switchyard-frontend"));
    let mut child = fe
        .spawn(
            &[bin.to_str().unwrap(), "--config", conf.to_str().unwrap(), "--driver", driver, "--iface", "fe0", "--no-switch", "--seconds", "30"],
            &log,
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("front-end up") {
        assert!(Instant::now() < deadline, "front-end did not start: {}", std::fs::read_to_string(&log).unwrap_or_default());
        assert!(child.try_wait().unwrap().is_none(), "front-end exited: {}", std::fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(100));
    }

    let ring = CookieKeyring::new(SECRET);
    let opts = SynOptions { mss: Some(1400), wscale: Some(6), sack_permitted: true, timestamps: false };
    let cookie = |cport| ring.generate(&CookieInput { client_ip: CIP, client_port: cport, vip: VIP, vport: 80, client_isn: C_ISN }, &opts);
    let good = client_frame(40000, cookie(40000).wrapping_add(1), b"GET /1k HTTP/1.1\r\nHost: t\r\n\r\n");
    let forged = client_frame(40001, cookie(40000).wrapping_add(1), b"GET /1k HTTP/1.1\r\nHost: t\r\n\r\n");
    let syns = in_netns(sw.name(), move || {
        let mut s = AfPacket::open("sw0").unwrap();
        s.send(&forged).unwrap();
        s.send(&good).unwrap();
        let mut syns = Vec::new();
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            let Some(f) = s.recv_timeout(Duration::from_millis(100)) else { continue };
            let Ok(f) = TcpFrame::new_checked(&f[..]) else { continue };
            assert_eq!(f.check_checksums(), Ok(()), "checksums of what the front-end sent");
            let (ip, t) = (f.ipv4(), f.tcp());
            if t.has_all(SYN) {
                syns.push((ip.src(), t.src_port(), ip.dst(), t.dst_port(), t.seq(), t.ack(), t.flags(), SynOptions::from_options(t.options()).unwrap()));
            }
        }
        syns
    })
    .unwrap();
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let _ = child.wait();
    (syns, std::fs::read_to_string(&log).unwrap_or_default())
}

fn check(driver: &str, tag: &str) {
    let (syns, log) = run(driver, tag);
    let ring = CookieKeyring::new(SECRET);
    let opts = SynOptions { mss: Some(1400), wscale: Some(6), sack_permitted: true, timestamps: false };
    let s = ring.generate(&CookieInput { client_ip: CIP, client_port: 40000, vip: VIP, vport: 80, client_isn: C_ISN }, &opts);
    assert!(!syns.is_empty(), "no replayed SYN on the wire; front-end log:\n{log}");
    // Only the valid flow: the forged cookie (port 40001) made nothing.
    for syn in &syns {
        let (src, sport, dst, dport, seq, ack, flags, o) = *syn;
        assert_eq!((src, sport), (CIP, 40000), "the backend sees the real client");
        assert_eq!((dst, dport), (BACKEND, 80));
        assert_eq!(seq, C_ISN, "the client's ISN");
        assert_eq!(ack, s, "the fused switch ISN in the ack field");
        assert_eq!(flags & ACK, 0, "ACK flag clear on the fused SYN");
        assert_eq!((o.mss, o.wscale, o.sack_permitted), (Some(1400), Some(6), true), "the client's options, decoded from the cookie");
    }
    assert!(log.contains("bad_cookie=1"), "the forged ACK is counted as a bad cookie:\n{log}");
}

#[test]
#[ignore = "needs root: namespaces and DPDK"]
fn dpdk_frontend_emits_the_fused_syn() {
    check("dpdk", "fs1");
}

#[test]
#[ignore = "needs root: namespaces and AF_PACKET"]
fn afpacket_frontend_emits_the_fused_syn() {
    check("af-packet", "fs2");
}
