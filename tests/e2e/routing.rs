//! L7 routing under concurrency and keep-alive: 100 concurrent connections
//! across host, path and header rules with every body verified; many
//! requests on one keep-alive connection in `connection` mode (one backend
//! for all); and in `request` mode a keep-alive connection re-routed
//! mid-connection whenever the path changes pool.

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_testbed::clients::{fetch_many, Request};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, SwitchMode, Testbed, TestbedSpec};

/// (path, headers, the backends of the pool the example config routes it to)
fn route(i: usize) -> (String, Vec<String>, &'static [&'static str]) {
    let size = match i % 20 {
        0 => "10m",
        1..=3 => "1m",
        4..=11 => "10k",
        _ => "1k",
    };
    match i % 3 {
        0 => (format!("/{size}"), vec![], &["b0", "b1"]),
        1 => (format!("/v1/{size}"), vec!["Host: api.example.test".into()], &["b1", "b2"]),
        _ => (format!("/{size}"), vec!["Host: www.example.test".into(), "x-canary: 1".into()], &["b1", "b2"]),
    }
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn concurrent_and_keepalive_offloaded() {
    let tag = "ro1";
    let (path, _cfg) = example_config();
    {
        // The front-end programs the services itself over P4Runtime.
        let tb = Testbed::up(TestbedSpec::new(tag, 3, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::Dpdk, false).unwrap();
        let vip = addr::VIP;

        // 100 concurrent connections, one request each.
        let reqs: Vec<Request> = (0..100)
            .map(|i| {
                let (p, h, _) = route(i);
                h.into_iter().fold(Request::get(format!("http://{vip}{p}?c={i}")), Request::header)
            })
            .collect();
        let got = fetch_many(&tb.client, &reqs, &tb.dir.join("par"), 120, true).unwrap();
        for (i, f) in got.iter().enumerate() {
            let (_, _, pool) = route(i);
            assert_eq!(f.status, 200, "{f:?}");
            assert_eq!(f.verified, Ok(()), "{}", f.url);
            assert!(f.backend.as_deref().is_some_and(|b| pool.contains(&b)), "{} landed on {:?}, pool {pool:?}", f.url, f.backend);
        }

        // Keep-alive, connection mode: every request to the first backend.
        let reqs: Vec<Request> =
            (0..20).map(|i| Request::get(format!("http://{vip}/{}", if i % 2 == 0 { "1k" } else { "10k" }))).collect();
        let got = fetch_many(&tb.client, &reqs, &tb.dir.join("ka"), 60, false).unwrap();
        let first = got[0].backend.clone();
        assert!(first.is_some());
        for f in &got {
            assert_eq!((f.status, &f.verified, &f.backend), (200, &Ok(()), &first), "{}", f.url);
        }

        let log = fe.stop();
        let c = lb::frontend_counters(&log);
        println!("{log}");
        // At least one flow per concurrent connection and per keep-alive
        // connection. (A late duplicate of a connection's first segment,
        // arriving after its flow state is gone, validates its cookie again
        // and counts once more.)
        assert!(c["setups"] >= 100 + 1, "front-end flows: {}", c["setups"]);
        // Offloaded: the front-end saw a small fraction of the packets the
        // 66 MB of responses took.
        assert!(c["engine_offloads_installed"] >= 100, "installs completed: {:?}", c.get("engine_offloads_installed"));
    }
    assert_no_namespaces(tag);
}

/// Request mode: /b/ goes to pool gateway-b (b2), the rest to gateway-a
/// (b0, b1); one keep-alive connection moves at every pool change.
fn request_mode_rerouting(tag: &str, offload: bool) {
    let (path, cfg) = example_config();
    {
        let mut spec = TestbedSpec::new(tag, 3, SwitchMode::Sim);
        if !offload {
            let (s, k) = lb::services_from_config(&cfg);
            (spec.services, spec.secrets) = (s, Some(k));
        }
        let tb = Testbed::up(spec).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::Dpdk, !offload).unwrap();
        let vip = addr::VIP;
        let paths = ["/a/1k", "/b/10k", "/a/10k", "/b/1m", "/a/1k", "/b/1k"];
        let reqs: Vec<Request> = paths.iter().map(|p| Request::get(format!("http://{vip}:8080{p}"))).collect();
        let got = fetch_many(&tb.client, &reqs, &tb.dir.join("rq"), 60, false).unwrap();
        let log = fe.stop();
        println!("{log}");
        for f in &got {
            assert_eq!((f.status, &f.verified), (200, &Ok(())), "{f:?}");
            let want: &[&str] = if f.url.contains("/b/") { &["b2"] } else { &["b0", "b1"] };
            assert!(f.backend.as_deref().is_some_and(|b| want.contains(&b)), "{} on {:?}", f.url, f.backend);
        }
        let c = lb::frontend_counters(&log);
        assert_eq!(c["setups"], 1, "one keep-alive connection");
        if offload {
            // Every request's backend got the switch entry (the switch
            // carried the responses), and each of the five pool changes
            // detached the previous entry before closing the old backend.
            assert_eq!(c["switch.ok"], paths.len() as u64, "installs completed");
            assert_eq!(c["switch.detach"], 5, "hand-overs that detached the entry first");
        }
    }
    assert_no_namespaces(tag);
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn request_mode_rerouting_on_the_frontend_path() {
    request_mode_rerouting("ro2", false);
}

/// The same with the switch offloading: a hand-over must not let the switch
/// carry the old backend's close to the client (it did: the old backend's FIN
/// reached the client through the entry not yet moved, and the connection
/// ended or a response was cut).
#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn request_mode_rerouting_offloaded() {
    request_mode_rerouting("ro3", true);
}
