//! A backend whose nginx is stopped: connections routed to it get an HTTP
//! error from the front-end quickly, never a hang; the other backend of the
//! pool keeps serving.

use std::time::Instant;

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, clients, SwitchMode, Testbed, TestbedSpec};

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn stopped_backend_yields_http_errors_not_hangs() {
    let tag = "br1";
    let (path, _cfg) = example_config();
    {
        // The front-end programs the services itself over P4Runtime.
        let mut tb = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::Dpdk, false).unwrap();
        // Pool `web` is b0 and b1, round robin; b0 stops listening.
        tb.backends[0].stop();
        let (mut ok, mut errors) = (0, 0);
        for i in 0..10 {
            let t = Instant::now();
            let f = clients::fetch(&tb.client, &format!("http://{}/1k", addr::VIP), &tb.dir.join("b"), 15, &[]).unwrap();
            let secs = t.elapsed().as_secs_f64();
            assert!(secs < 5.0, "request {i} took {secs:.1}s: a refused backend must not hang the client");
            match f.status {
                200 => {
                    assert_eq!(f.backend.as_deref(), Some("b1"), "{f:?}");
                    assert_eq!(f.verified, Ok(()));
                    ok += 1;
                }
                502..=504 => {
                    assert_eq!(f.backend, None, "the error comes from the front-end, not a backend");
                    errors += 1;
                }
                s => panic!("unexpected status {s}: {f:?}"),
            }
        }
        let log = fe.stop();
        println!("ok {ok} errors {errors}\n{log}");
        assert!(ok >= 3 && errors >= 3, "both backends chosen: ok {ok}, errors {errors}");
    }
    assert_no_namespaces(tag);
}
