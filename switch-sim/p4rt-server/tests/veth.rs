//! The switchyard-p4rt binary as the testbed runs it (root only): in the
//! namespace `sy-p4rt-<pid>` between two veth pairs, routes from
//! `--entries`, the service tables and a connection entry written over
//! P4Runtime by the project's client on a thread inside the namespace.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use switchyard_control::client::{ClientOptions, P4rtClient};
use switchyard_control::p4info::P4InfoIndex;
use switchyard_control::proto::p4::v1::{get_forwarding_pipeline_config_request::ResponseType, write_request::Atomicity};
use switchyard_control::switchyard::{self as sy, CookieSecret, SwitchyardTables, TABLE_ROUTE};
use switchyard_switch_sim::ports::AfPacketPort;
use switchyard_wire::flow::ConnKey;
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::tcp::{TcpRepr, ACK, SYN};
use switchyard_wire::tcp_option::TcpOption;

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 1);
const BACKEND: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 10);

/// The namespace, the switch process and its files; all removed on drop,
/// so a failing assertion still cleans up.
struct Testbed {
    ns: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl Drop for Testbed {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip(8) runs");
    assert!(st.success(), "ip {args:?} failed");
}

fn frame(dst: Ipv4Addr, dport: u16, flags: u8, opts: &[TcpOption], payload: &[u8]) -> Vec<u8> {
    let t = TcpRepr { src_port: 40000, dst_port: dport, seq: 7, ack: 0, flags, window: 1000, options: opts.into(), payload };
    FrameRepr { ident: 1, ..FrameRepr::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 1], CLIENT, dst, t) }.to_vec().unwrap()
}

/// Sends `f` on `tx` (again every 200 ms) until `rx` sees a TCP frame for
/// which `want` holds, or `within` passes.
fn exchange(tx: &AfPacketPort, rx: &mut AfPacketPort, f: &[u8], within: Duration, want: impl Fn(&FrameRepr) -> bool) -> Option<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut last: Option<Instant> = None;
    while Instant::now() < deadline {
        if last.map_or(true, |l| l.elapsed() > Duration::from_millis(200)) {
            tx.send(f).unwrap();
            last = Some(Instant::now());
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

/// A TCP frame whose checksums both verify.
fn checked(f: &[u8]) -> TcpFrame<&[u8]> {
    let t = TcpFrame::new_checked(f).unwrap();
    t.check_checksums().unwrap();
    t
}

/// Runs `f` on a thread that entered the namespace (sockets it creates,
/// AF_PACKET and TCP, live there); the test thread stays where it was.
fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let file = std::fs::File::open(format!("/run/netns/{ns}")).expect("namespace file");
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns on a valid namespace fd affects only this thread.
            assert_eq!(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
            f()
        })
        .join()
        .expect("the namespace thread")
    })
}

/// Waits for the ready line on the child's stderr; every line goes to `log`.
fn wait_ready(child: &mut Child, log: &mpsc::Sender<String>) -> Result<(), String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let log = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            let _ = log.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = String::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.starts_with("switchyard-p4rt: listening on 127.0.0.1:9559, 2 ports") => return Ok(()),
            Ok(l) => seen += &format!("{l}\n"),
            Err(_) => break,
        }
    }
    Err(format!("no ready line within 60 s (or the switch exited):\n{seen}"))
}

#[test]
#[ignore = "needs root: namespaces"]
fn serves_p4runtime_and_forwards_between_veths() {
    let ns = format!("sy-p4rt-{}", std::process::id());
    ip(&["netns", "add", &ns]);
    let dir = std::env::temp_dir().join(&ns);
    let mut bed = Testbed { ns: ns.clone(), dir: dir.clone(), child: None };
    ip(&["-n", &ns, "link", "set", "lo", "up"]);
    for (a, b) in [("a0", "a1"), ("b0", "b1")] {
        ip(&["-n", &ns, "link", "add", a, "type", "veth", "peer", "name", b]);
        ip(&["-n", &ns, "link", "set", a, "up"]);
        ip(&["-n", &ns, "link", "set", b, "up"]);
    }
    std::fs::create_dir_all(&dir).unwrap();
    // What the testbed installs at start: routes (the control plane writes
    // the service tables and connections over P4Runtime).
    let entries = dir.join("entries.json");
    std::fs::write(
        &entries,
        r#"{"entries": [
  {"table": "ipv4_route", "match": {"dst_addr": "198.18.2.0/24"}, "action": "route",
   "params": {"port": 2, "src_mac": "02:00:00:00:01:01", "dst_mac": "02:00:00:00:00:55"}},
  {"table": "ipv4_route", "match": {"dst_addr": "198.18.0.0/24"}, "action": "route",
   "params": {"port": 1, "src_mac": "02:00:00:00:01:02", "dst_mac": "02:00:00:00:00:66"}}
]}"#,
    )
    .unwrap();
    let p4 = concat!(env!("CARGO_MANIFEST_DIR"), "/../../p4/switchyard.p4");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_switchyard-p4rt"), "--p4", p4, "--addr", "127.0.0.1:9559", "--insecure"])
        .args(["--port", "1=a1", "--port", "2=b1", "--entries"])
        .arg(&entries)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("switchyard-p4rt starts");
    let (log_tx, log) = mpsc::channel();
    let ready = wait_ready(&mut child, &log_tx);
    drop(log_tx);
    bed.child = Some(child);
    ready.unwrap();

    in_netns(&ns, || {
        let a0 = AfPacketPort::open(1, "a0").unwrap();
        let mut a0_rx = AfPacketPort::open(1, "a0").unwrap();
        let mut b0 = AfPacketPort::open(2, "b0").unwrap();
        let wait = Duration::from_secs(5);

        // A route from --entries: the frame crosses, rewritten by the route.
        let f = frame(Ipv4Addr::new(198, 18, 2, 9), 22, ACK, &[], b"hi");
        let got = exchange(&a0, &mut b0, &f, wait, |r| r.dst == Ipv4Addr::new(198, 18, 2, 9)).expect("routed frame arrives on b0");
        let got = checked(&got);
        let r = FrameRepr::parse(&got);
        assert_eq!((r.dst_mac, r.ttl), ([2, 0, 0, 0, 0, 0x55], 63), "dst MAC from the route, TTL - 1");

        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (c, t) = rt.block_on(async {
            let c = P4rtClient::connect("http://127.0.0.1:9559", ClientOptions { election_id: 10, ..Default::default() }).await.expect("connect");
            assert!(c.is_primary());
            // No SetForwardingPipelineConfig: the --p4 program is the pipeline.
            let info = c.get_pipeline(ResponseType::P4infoAndCookie).await.unwrap().p4info.expect("P4Info of the --p4 program");
            let t = SwitchyardTables::new(P4InfoIndex::new(info).unwrap()).expect("every Switchyard name resolves");
            let routes = c.read_table(t.index().table(TABLE_ROUTE).unwrap().id).await.unwrap();
            assert_eq!(routes.len(), 2, "the --entries routes are visible over P4Runtime");
            let service = vec![
                sy::insert(t.vip(VIP, 80, 1).unwrap()),
                sy::insert(t.backend(3, BACKEND, 8080).unwrap()),
                sy::insert(t.backend_address(BACKEND, 8080, 1, 3, VIP, 80).unwrap()),
                sy::modify(t.cookie_secrets(CookieSecret { k0: 1, k1: 2, generation: 0 }, CookieSecret { k0: 0, k1: 0, generation: 1 }).unwrap()),
                // A front-end is declared live: with 0 the SYN would be refused (RST).
                sy::modify(t.frontend_count(1).unwrap()),
            ];
            c.write(service, Atomicity::ContinueOnError).await.expect("service tables");
            (c, t)
        });

        // SYN to the VIP: the switch answers out of the same port.
        let syn = frame(VIP, 80, SYN, &[TcpOption::Mss(1460)], &[]);
        let got = exchange(&a0, &mut a0_rx, &syn, wait, |r| r.src == VIP).expect("SYN-ACK arrives back on a0");
        let got = checked(&got);
        let synack = FrameRepr::parse(&got).tcp;
        assert_eq!((synack.flags, synack.ack), (SYN | ACK, 8));

        // Client data: not towards the backend until the connection entry exists.
        let data = frame(VIP, 80, ACK, &[], b"GET / HTTP/1.1\r\n\r\n");
        let to_backend = |r: &FrameRepr| r.dst == BACKEND;
        assert!(exchange(&a0, &mut b0, &data, Duration::from_millis(300), to_backend).is_none(), "no entry, no offload");
        let key = ConnKey { client_ip: CLIENT, client_port: 40000, vip_id: 1 };
        rt.block_on(c.write(vec![sy::insert(t.connection(&key, 3, None).unwrap())], Atomicity::ContinueOnError)).expect("connection entry");
        let got = exchange(&a0, &mut b0, &data, wait, to_backend).expect("offloaded packet leaves on b0");
        let got = checked(&got);
        let r = FrameRepr::parse(&got);
        assert_eq!(r.ttl, 63);
        assert_eq!(r.tcp.dst_port, 8080, "rewritten to the backend's port");
        assert_eq!(r.dst_mac, [2, 0, 0, 0, 0, 0x55], "next hop of the backend's route");
    });

    // SIGTERM: a clean exit within the loop's poll interval and some slack.
    let child = bed.child.as_mut().unwrap();
    // SAFETY: signalling our own child by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "switchyard-p4rt did not stop within 5 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    // The reader thread ends at EOF, once the process is gone.
    let text: Vec<String> = log.iter().collect();
    assert!(status.success(), "exit status {status}:\n{}", text.join("\n"));
    assert!(text.iter().any(|l| l.contains("stopping (SIGTERM)")), "{}", text.join("\n"));
    // The exit stats carry each port's kernel counts (PACKET_STATISTICS)
    // and its buffer sizes: port 1 received the test's frames, none dropped.
    let stats = text.iter().find_map(|l| l.split_once("switch stats: ").map(|(_, r)| r.to_string())).expect("a switch stats line");
    let port1 = stats.split(" | ").find(|s| s.starts_with("port 1 (a1): ")).unwrap_or_else(|| panic!("port 1 in {stats}"));
    let w: Vec<&str> = port1.split_whitespace().collect();
    let get = |k: &str| w.iter().position(|x| *x == k).and_then(|i| w.get(i + 1)?.parse::<u64>().ok()).unwrap_or_else(|| panic!("{k} in {port1}"));
    assert!(get("kernel_rx") >= 3, "{port1}");
    assert_eq!(get("kernel_rx_drops"), 0, "{port1}");
    assert_eq!(get("rcvbuf"), 2 * switchyard_switch_sim::ports::RCVBUF_BYTES as u64, "root forces the buffer size: {port1}");
}
