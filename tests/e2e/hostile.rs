//! Hostile and unlucky clients against the whole load balancer. First: a
//! client whose request the front-end refuses (400, 431) and which then
//! retransmits its FIN once killed the front-end (issue 10, point 1);
//! kernel clients in a loop hit it within a few dozen tries.

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, clients, SwitchMode, Testbed, TestbedSpec};

/// Refused requests per kind; the crash came at the 19th 431 in a loop.
const REFUSED_PER_KIND: usize = 40;

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn refused_requests_in_a_loop_never_kill_the_frontend() {
    let tag = "ho1";
    let (path, _cfg) = example_config();
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let mut fe = Frontend::start(&tb, &path, FrontendDriver::AfPacket, false).unwrap();
        let vip = addr::VIP;
        let long_uri = format!("http://{vip}/{}", "a".repeat(40 * 1024));
        let kinds: [(&str, &str, &[&str], u16); 2] =
            [("no Host", &format!("http://{vip}/1k")[..], &["-H", "Host:"], 400), ("URI too long", &long_uri, &[], 431)];
        for (what, url, extra, want) in kinds {
            for i in 0..REFUSED_PER_KIND {
                let f = clients::fetch(&tb.client, url, &tb.dir.join("r"), 10, extra)
                    .unwrap_or_else(|e| panic!("{what} #{i}: {e}\n{}", fe.log()));
                assert_eq!(f.status, want, "{what} #{i}");
                assert_eq!(f.backend, None, "{what}: answered by the front-end");
            }
        }
        assert!(fe.child.try_wait().unwrap().is_none(), "front-end died:\n{}", fe.log());
        let f = clients::fetch(&tb.client, &format!("http://{vip}/1k"), &tb.dir.join("ok"), 10, &[]).unwrap();
        assert_eq!((f.status, &f.verified), (200, &Ok(())), "{f:?}");
        let log = fe.stop();
        assert!(!log.contains("panicked"), "{log}");
        let c = lb::frontend_counters(&log);
        println!("{log}");
        assert!(c["setups"] >= 2 * REFUSED_PER_KIND as u64 + 1, "every refused request was a flow: {c:?}");
    }
    assert_no_namespaces(tag);
}
