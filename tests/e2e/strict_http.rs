//! HTTP framing a next hop may read differently (issue 10, point 8): the
//! load balancer answers 400 and closes instead of forwarding the request
//! (before: forwarded to nginx, which refused them itself). Sent over a
//! kernel TCP connection from the client namespace to the VIP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_frontend_dpdk::afpacket::in_netns;
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::nginx::BACKEND_HEADER;
use switchyard_testbed::{addr, SwitchMode, Testbed, TestbedSpec};

const CASES: &[(&str, &str)] = &[
    ("Content-Length: +5", "POST /1k HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello"),
    ("two identical Content-Lengths", "POST /1k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
    ("Transfer-Encoding twice", "POST /1k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("Transfer-Encoding in HTTP/1.0", "POST /1k HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("Content-Length and Transfer-Encoding", "POST /1k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
];

/// One request on its own connection; the whole answer, read to the close.
fn exchange(ns: &str, req: &'static str) -> String {
    in_netns(ns, move || {
        let mut s = TcpStream::connect_timeout(&SocketAddr::from((addr::VIP, 80)), Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        String::from_utf8_lossy(&out).into_owned()
    })
    .unwrap()
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, eBPF"]
fn ambiguous_framing_is_refused_by_the_load_balancer() {
    let tag = "sh1";
    let (path, _cfg) = example_config();
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::AfPacket, false).unwrap();
        let ok = exchange(tb.client.name(), "GET /1k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200"), "a plain request is served: {ok:.200}");
        assert!(ok.to_ascii_lowercase().contains(&BACKEND_HEADER.to_ascii_lowercase()), "by a backend: {ok:.300}");
        for (what, req) in CASES {
            let got = exchange(tb.client.name(), req);
            assert!(got.starts_with("HTTP/1.1 400"), "{what}: {got:.200}");
            assert!(!got.to_ascii_lowercase().contains(&BACKEND_HEADER.to_ascii_lowercase()), "{what}: answered by the load balancer, not a backend: {got:.300}");
        }
        let log = fe.stop();
        assert!(!log.contains("panicked"), "{log}");
        let c = lb::frontend_counters(&log);
        assert_eq!(c.get("replayed_syns").copied().unwrap_or(0), 1, "only the plain request reached a backend: {c:?}");
    }
    assert_no_namespaces(tag);
}
