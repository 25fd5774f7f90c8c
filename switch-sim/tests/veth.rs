//! The switchyard-switch-sim binary forwarding real frames between veth
//! interfaces in a private network namespace (root only).

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_switch_sim::ports::AfPacketPort;
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::tcp::{TcpRepr, ACK, SYN};
use switchyard_wire::tcp_option::TcpOption;

struct Netns {
    name: String,
    child: Option<Child>,
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip(8) runs");
    assert!(st.success(), "ip {args:?} failed");
}

fn frame(dst: Ipv4Addr, dport: u16, flags: u8, opts: &[TcpOption]) -> Vec<u8> {
    let src = Ipv4Addr::new(198, 18, 0, 2);
    let t = TcpRepr { src_port: 40000, dst_port: dport, seq: 7, ack: 0, flags, window: 1000, options: opts.into(), payload: b"hi" };
    FrameRepr { ident: 1, ..FrameRepr::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 1], src, dst, t) }.to_vec().unwrap()
}

/// Sends `f` on `tx` (again every 200 ms) until `rx` sees a TCP frame for
/// which `want` holds, or 5 s pass.
fn exchange(tx: &AfPacketPort, rx: &mut AfPacketPort, f: &[u8], want: impl Fn(&FrameRepr) -> bool) -> Option<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = Instant::now() - Duration::from_secs(1);
    while Instant::now() < deadline {
        if last.elapsed() > Duration::from_millis(200) {
            tx.send(f).unwrap();
            last = Instant::now();
        }
        let mut got = None;
        rx.recv_batch(|b| {
            if got.is_none() && TcpFrame::new_checked(b).is_ok_and(|t| want(&FrameRepr::parse(&t))) {
                got = Some(b.to_vec());
            }
        })
        .unwrap();
        if got.is_some() {
            return got;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
#[ignore = "needs root: network namespace, veth, AF_PACKET"]
fn forwards_between_veths() {
    let name = format!("sy-swsim-{}", std::process::id());
    ip(&["netns", "add", &name]);
    let mut ns = Netns { name: name.clone(), child: None };
    for (a, b) in [("a0", "a1"), ("b0", "b1")] {
        ip(&["-n", &name, "link", "add", a, "type", "veth", "peer", "name", b]);
        ip(&["-n", &name, "link", "set", a, "up"]);
        ip(&["-n", &name, "link", "set", b, "up"]);
    }
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let entries = dir.join("entries.json");
    std::fs::write(
        &entries,
        r#"{"entries": [
  {"table": "ipv4_route", "match": {"dst_addr": "198.18.2.0/24"}, "action": "route",
   "params": {"port": 2, "src_mac": "02:00:00:00:01:01", "dst_mac": "02:00:00:00:00:55"}},
  {"table": "vip", "match": {"vip_addr": "198.18.100.1", "vip_port": 80}, "action": "set_vip", "params": {"vip_id": 1}},
  {"table": "cookie_secrets", "default": true, "action": "set_cookie_secrets",
   "params": {"cur_k0": 1, "cur_k1": 2, "cur_gen": 0, "prev_k0": 0, "prev_k1": 0}},
  {"table": "frontend_count", "default": true, "action": "set_frontend_count", "params": {"count": 1}}
]}"#,
    )
    .unwrap();
    let p4 = concat!(env!("CARGO_MANIFEST_DIR"), "/../p4/switchyard.p4");
    ns.child = Some(
        Command::new("ip")
            .args(["netns", "exec", &name, env!("CARGO_BIN_EXE_switchyard-switch-sim"), "--p4", p4])
            .args(["--port", "1=a1", "--port", "2=b1", "--cpu-port", "64", "--entries"])
            .arg(&entries)
            .stdout(Stdio::null())
            .spawn()
            .expect("switch-sim starts"),
    );
    // Enter the namespace on this thread only.
    let nsfile = std::fs::File::open(format!("/var/run/netns/{name}")).unwrap();
    // SAFETY: setns on a valid namespace fd affects only this thread.
    assert_eq!(unsafe { libc::setns(nsfile.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
    let a0 = AfPacketPort::open(1, "a0").unwrap();
    let mut b0 = AfPacketPort::open(2, "b0").unwrap();
    let f = frame(Ipv4Addr::new(198, 18, 2, 9), 22, ACK, &[]);
    let got = exchange(&a0, &mut b0, &f, |r| r.dst == Ipv4Addr::new(198, 18, 2, 9)).expect("routed frame arrives on b0");
    let got = TcpFrame::new_checked(&got[..]).unwrap();
    let r = FrameRepr::parse(&got);
    assert_eq!(r.dst_mac, [2, 0, 0, 0, 0, 0x55], "dst MAC from the route");
    assert_eq!(r.ttl, 63);
    got.check_checksums().unwrap();
    // SYN to the VIP (a front-end is declared live, so it is answered, not
    // refused): the SYN-ACK comes back out of the same port.
    let mut a0r = AfPacketPort::open(1, "a0").unwrap();
    let syn = frame(Ipv4Addr::new(198, 18, 100, 1), 80, SYN, &[TcpOption::Mss(1460)]);
    let a0s = AfPacketPort::open(1, "a0").unwrap();
    let got = exchange(&a0s, &mut a0r, &syn, |r| r.src == Ipv4Addr::new(198, 18, 100, 1)).expect("SYN-ACK arrives back on a0");
    let got = TcpFrame::new_checked(&got[..]).unwrap();
    let t = FrameRepr::parse(&got).tcp;
    assert_eq!(t.flags, SYN | ACK);
    assert_eq!(t.ack, 8);
    got.check_checksums().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
