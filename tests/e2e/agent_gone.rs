//! A backend whose agent is killed: the control plane's presence probe
//! (the config's `agent = "ip:port"`, the agent's `--status-listen`)
//! takes it out, and no new flow is spliced to it while its nginx still
//! answers the HTTP check; the pool's other backend serves every request.
//! With the other agent gone too, the pool has no backend: 503 at once.

use std::time::{Duration, Instant};

use switchyard_control_plane::health::{AGENT_PROBE_FALL, AGENT_PROBE_INTERVAL, AGENT_PROBE_TIMEOUT};
use switchyard_e2e::{assert_no_namespaces, backends, example_config, sequential_requests, wait_checks_pass, wait_healthy};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, clients, SwitchMode, Testbed, TestbedSpec};

/// Requests after the agent is gone: bounded, enough that round robin
/// would have sent half of them to the agentless backend.
const REQUESTS: usize = 40;

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn a_backend_whose_agent_is_gone_gets_no_new_spliced_flows() {
    let tag = "agt";
    let (path, _) = example_config();
    // Out within fall x interval + one timeout, and a second for the
    // worker's turn and this test's polling.
    let probe = AGENT_PROBE_INTERVAL * AGENT_PROBE_FALL + AGENT_PROBE_TIMEOUT + Duration::from_secs(1);
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Sim)).unwrap();
        let mut agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::AfPacket, false).unwrap();
        let (b0, b1) = (format!("{}:80", addr::backend(0)), format!("{}:80", addr::backend(1)));
        for b in [&b0, &b1] {
            wait_checks_pass(&tb, b, 2, Duration::from_secs(10));
        }
        let before = sequential_requests(&tb, "/1k", 8);
        assert!(before.iter().all(|(s, _)| *s == 200), "{before:?}");
        assert!(before.iter().any(|(_, b)| b.as_deref() == Some("b1")), "b1 served before: {before:?}");

        // The agent on b1 dies (SIGKILL: no clean detach).
        let _ = agents[1].kill();
        let _ = agents[1].wait();
        let killed = Instant::now();
        let took = wait_healthy(&tb, &b1, false, probe);
        println!("b1 out {:?} after its agent was killed", killed.elapsed());
        let b = backends(&tb).remove(&b1).unwrap();
        let checks = b["checks"].as_array().unwrap();
        assert!(checks.iter().any(|c| c["check"] == "agent" && c["up"] == false), "{b}");
        assert!(checks.iter().any(|c| c["check"] == "http:web" && c["up"] == true), "nginx still answers: {b}");

        let after = sequential_requests(&tb, "/1k", REQUESTS);
        let elsewhere: Vec<_> = after.iter().filter(|(s, b)| *s != 200 || b.as_deref() != Some("b0")).collect();
        assert!(elsewhere.is_empty(), "every request a 200 from b0: {elsewhere:?}");

        // Both agents gone: the pool has no backend left, and a request
        // gets the front-end's 503 at once (no SYN to anyone).
        let _ = agents[0].kill();
        let _ = agents[0].wait();
        wait_healthy(&tb, &b0, false, probe);
        let t = Instant::now();
        let f = clients::fetch(&tb.client, &format!("http://{}/1k", addr::VIP), &tb.dir.join("none"), 10, &[]).unwrap();
        assert_eq!((f.status, f.backend.as_deref()), (503, None), "{f:?}");
        assert!(t.elapsed() < Duration::from_secs(1), "503 at once, took {:?}", t.elapsed());
        let log = fe.stop();
        println!("b1 out within {took:?}\n{log}");
        assert!(log.contains(&format!("backend {b1} is down: agent failed {AGENT_PROBE_FALL} times in a row")), "{log}");
    }
    assert_no_namespaces(tag);
}
