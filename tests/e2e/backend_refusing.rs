//! A backend whose nginx is stopped: until the health checks take it out,
//! connections routed to it get an HTTP error from the front-end quickly,
//! never a hang; once they have (within fall x interval of the example's
//! `[pools.health]`), 200 requests one after the other get no error at
//! all; when nginx is back the checks re-admit it and it serves again.

use std::time::{Duration, Instant};

use switchyard_e2e::{assert_no_namespaces, example_config, sequential_requests, wait_checks_pass, wait_healthy};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::nginx::NginxBackend;
use switchyard_testbed::{addr, clients, SwitchMode, Testbed, TestbedSpec};

/// Requests after the ejection (the number).
const AFTER_EJECTION: usize = 200;

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn stopped_backend_is_ejected_then_readmitted() {
    let tag = "br1";
    let (path, cfg) = example_config();
    let web = cfg.pools.iter().find(|p| p.name == "web").unwrap().health.clone().expect("the example checks pool web");
    {
        // The front-end programs the services itself over P4Runtime.
        let mut tb = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::Dpdk, false).unwrap();
        let (b0, b1) = (format!("{}:80", addr::backend(0)), format!("{}:80", addr::backend(1)));
        // The checks leave through the front-end host's kernel and the
        // switch, and pass (HTTP and agent) before anything fails.
        for b in [&b0, &b1] {
            wait_checks_pass(&tb, b, u64::from(web.rise), Duration::from_secs(10));
        }

        // Pool `web` is b0 and b1, round robin; b0 stops listening.
        tb.backends[0].stop();
        let stopped = Instant::now();
        // Before the ejection: errors, but fast ones (and passive ejection
        // may take it out even sooner).
        let (mut ok, mut errors) = (0, 0);
        for i in 0..6 {
            let t = Instant::now();
            let f = clients::fetch(&tb.client, &format!("http://{}/1k?n={i}", addr::VIP), &tb.dir.join("b"), 15, &[]).unwrap();
            let secs = t.elapsed().as_secs_f64();
            assert!(secs < 5.0, "request {i} took {secs:.1}s: a refused backend must not hang the client");
            match f.status {
                200 => {
                    assert_eq!((f.backend.as_deref(), &f.verified), (Some("b1"), &Ok(())), "{f:?}");
                    ok += 1;
                }
                502..=504 => {
                    assert_eq!(f.backend, None, "the error comes from the front-end, not a backend");
                    errors += 1;
                }
                s => panic!("unexpected status {s}: {f:?}"),
            }
        }
        // Out within fall x interval (+ one timeout, the worker's turn and
        // the polling here).
        let bound = web.interval * web.fall + web.timeout + Duration::from_secs(1);
        wait_healthy(&tb, &b0, false, bound.saturating_sub(stopped.elapsed()));
        let ejected_after = stopped.elapsed();
        assert!(ejected_after <= bound, "ejected after {ejected_after:?}, bound {bound:?}");

        let after = sequential_requests(&tb, "/1k", AFTER_EJECTION);
        let bad: Vec<_> = after.iter().filter(|(s, b)| *s != 200 || b.as_deref() != Some("b1")).collect();
        assert!(bad.is_empty(), "after the ejection every request is a 200 from b1: {} of {AFTER_EJECTION} not: {:?}", bad.len(), &bad[..bad.len().min(5)]);

        // nginx back: re-admitted within rise x interval, and serving.
        tb.backends[0] = NginxBackend::start(&tb.backend_ns[0], "b0", addr::backend(0), 80, &tb.dir.join("b0"), &tb.dir.join("www")).unwrap();
        let bound = web.interval * web.rise + web.timeout + Duration::from_secs(1);
        let readmitted = wait_healthy(&tb, &b0, true, bound);
        let again = sequential_requests(&tb, "/1k", 8);
        assert!(again.iter().all(|(s, _)| *s == 200), "{again:?}");
        assert!(again.iter().any(|(_, b)| b.as_deref() == Some("b0")), "b0 serves again: {again:?}");

        let log = fe.stop();
        println!("before ejection: ok {ok} errors {errors}; ejected after {ejected_after:?}, re-admitted after {readmitted:?}\n{log}");
        assert!(log.contains(&format!("backend {b0} is down: http:web failed {} times in a row", web.fall)), "{log}");
        assert!(log.contains(&format!("backend {b0} is healthy again")), "{log}");
    }
    assert_no_namespaces(tag);
}
