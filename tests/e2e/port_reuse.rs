//! Port reuse (docs/ARCHITECTURE.md, "A reused client port"): a client
//! whose ephemeral range is cut to 4 ports reuses each port every fourth
//! connection, well within the switch's teardown grace. Through the load
//! balancer it must complete nearly as many verified requests in the same
//! time as straight to nginx through a kernel router. Before the fix it
//! completed 2 in 6 s against ~100. The target is 90 %; this
//! debug-build test asserts zero failures and at least half (measured on
//! a loaded 2-core machine: 156 against 271, 58 %; the remaining cost is
//! the detach and the install hold, one P4Runtime write each, ~4 ms in a
//! debug build): the benchmark measures the release build.

use std::time::{Duration, Instant};

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, clients, SwitchMode, Testbed, TestbedSpec};

const PORTS: &str = "40000 40003";
const RUN: Duration = Duration::from_secs(6);
/// Bound on requests per run (far above what 6 s allows here).
const MAX_REQUESTS: usize = 2_000;

/// New connection per request (`Connection: close`, so the server closes
/// first and the client keeps no TIME_WAIT), for `RUN`: (verified, failed).
fn run(tb: &Testbed, url: &str) -> (usize, usize, Vec<String>) {
    tb.client.exec(&["sysctl", "-qw", &format!("net.ipv4.ip_local_port_range={PORTS}")]).unwrap();
    let (mut ok, mut failed, mut why) = (0, 0, Vec::new());
    let start = Instant::now();
    for i in 0..MAX_REQUESTS {
        if start.elapsed() >= RUN {
            break;
        }
        match clients::fetch(&tb.client, url, &tb.dir.join("pr"), 5, &["-H", "Connection: close"]) {
            Ok(f) if f.status == 200 && f.verified.is_ok() => ok += 1,
            Ok(f) => {
                failed += 1;
                why.push(format!("#{i}: {} {:?} after {:.2}s", f.status, f.verified, f.seconds));
            }
            Err(e) => {
                failed += 1;
                why.push(format!("#{i}: {e}"));
            }
        }
    }
    (ok, failed, why)
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn four_client_ports_through_the_vip_keep_up_with_nginx() {
    let (tag_r, tag_l) = ("pr1", "pr2");
    let direct = {
        let tb = Testbed::up(TestbedSpec::new(tag_r, 1, SwitchMode::Router)).unwrap();
        run(&tb, &format!("http://{}/1k", tb.backend_addr(0)))
    };
    assert_no_namespaces(tag_r);
    let (path, _cfg) = example_config();
    let (lb_run, log) = {
        let tb = Testbed::up(TestbedSpec::new(tag_l, 3, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::Dpdk, false).unwrap();
        let r = run(&tb, &format!("http://{}/1k", addr::VIP));
        (r, fe.stop())
    };
    assert_no_namespaces(tag_l);
    println!("straight to nginx: {} verified, {} failed", direct.0, direct.1);
    println!("through the VIP:   {} verified, {} failed {:?}\n{log}", lb_run.0, lb_run.1, lb_run.2);
    assert_eq!(direct.1, 0, "the reference itself failed: {:?}", direct.2);
    assert_eq!(lb_run.1, 0, "every request through the VIP verified: {:?}", lb_run.2);
    assert!(direct.0 >= 20, "the reference completed too few to compare: {}", direct.0);
    println!("ratio {:.2}", lb_run.0 as f64 / direct.0 as f64);
    assert!(lb_run.0 * 2 >= direct.0, "through the VIP {} < 50 % of straight to nginx {}", lb_run.0, direct.0);
    let c = lb::frontend_counters(&log);
    assert!(c.get("reused_ports").copied().unwrap_or(0) > 0, "ports were reused within the grace: {c:?}");
}
