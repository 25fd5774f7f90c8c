//! The whole data path without offload: clients connect to the VIP, the
//! P4 program (in switch-sim) answers the SYN with its cookie, the DPDK
//! front-end validates it, parses the request, picks the backend by the L7
//! routes and splices the flow with the agent on the nginx backend. The
//! front-end runs with --no-switch, so every flow stays on its path.

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, clients, SwitchMode, Testbed, TestbedSpec};

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn l7_routing_through_the_frontend_path() {
    let tag = "lb1";
    let (path, cfg) = example_config();
    {
        let mut spec = TestbedSpec::new(tag, 3, SwitchMode::Sim);
        (spec.services, spec.secrets) = {
            let (s, k) = lb::services_from_config(&cfg);
            (s, Some(k))
        };
        let tb = Testbed::up(spec).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::Dpdk, true).unwrap();
        let vip = addr::VIP;
        let get = |url: &str, extra: &[&str]| clients::fetch(&tb.client, url, &tb.dir.join("body"), 60, extra).unwrap();

        // Default route: pool web = b0, b1 (round robin).
        let f = get(&format!("http://{vip}/1k"), &[]);
        assert_eq!((f.status, f.verified.clone()), (200, Ok(())), "{f:?}");
        assert!(matches!(f.backend.as_deref(), Some("b0" | "b1")), "{f:?}");
        // Host + path prefix: pool api = b1, b2 (maglev on client IP).
        let f = get(&format!("http://{vip}/v1/10k"), &["-H", "Host: api.example.test"]);
        assert_eq!((f.status, f.verified.clone()), (200, Ok(())), "{f:?}");
        assert!(matches!(f.backend.as_deref(), Some("b1" | "b2")), "{f:?}");
        // Path regex: pool static = b2 (the backends serve /static/app.css's body).
        let f = get(&format!("http://{vip}/static/app.css"), &[]);
        assert_eq!((f.status, f.verified.clone(), f.backend.as_deref()), (200, Ok(()), Some("b2")), "{f:?}");
        // 10 MB through the front-end path, every byte checked.
        let f = get(&format!("http://{vip}/10m"), &[]);
        assert_eq!((f.status, f.verified.clone()), (200, Ok(())), "{f:?}");

        let log = fe.stop();
        assert!(log.contains(" engine_offload_requests "), "front-end printed no counters:\n{log}");
        println!("{log}");
    }
    assert_no_namespaces(tag);
}
