//! Port reuse (docs/ARCHITECTURE.md, "A reused client port"): a client
//! whose ephemeral range is cut to 4 ports reuses each port every fourth
//! connection, well within the switch's teardown grace. Through the load
//! balancer it must complete nearly as many verified requests in the same
//! time as straight to nginx through a kernel router. Before the fix it
//! completed 2 in 6 s against ~100. Two responses, two paths:
//! * `/1k`: small, so the front-end carries it (docs/FRONTEND.md step 7b)
//!   and no switch entry ever exists for the port: measured 687 against
//!   782 (0.88) in the debug build;
//! * `/1k` with carrying off (`carry_responses_up_to = 0`): offloaded, so
//!   the reused port's SYN hits the old entry and takes the detach path
//!   (`reused_ports`): each such handshake waits one P4Runtime write and
//!   the response hold another (~4 ms in a debug build). (A larger
//!   response is no way to get there: curl then often closes first and
//!   keeps the port in TIME_WAIT, so even the reference fails.)
//! The target is 90 %; this debug-build test asserts zero failures
//! and at least half (a third for the offloaded run). With the release
//! binaries (`SWITCHYARD_BIN_DIR=target/release cargo test -p
//! switchyard-e2e --test port_reuse -- --include-ignored`): carried 814
//! against 845 (0.96), offloaded 736 against 850 (0.87).

use std::time::{Duration, Instant};

use switchyard_e2e::{assert_no_namespaces, example_config, example_config_with};
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
    // (what, carry_responses_up_to)
    let runs = [("carried", None), ("offloaded", Some(0))];
    let direct: Vec<_> = {
        let tb = Testbed::up(TestbedSpec::new(tag_r, 1, SwitchMode::Router)).unwrap();
        runs.iter().map(|_| run(&tb, &format!("http://{}/1k", tb.backend_addr(0)))).collect()
    };
    assert_no_namespaces(tag_r);
    let (path, _cfg) = example_config();
    let (lb_runs, logs): (Vec<_>, Vec<_>) = {
        let tb = Testbed::up(TestbedSpec::new(tag_l, 3, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        // One front-end per run, so each run's counters are its own.
        runs.iter()
            .map(|(what, carry)| {
                let cfg = match carry {
                    None => path.clone(),
                    Some(n) => example_config_with(&tb.dir, &format!("frontend-{what}.toml"), &[("[frontend]\n", format!("[frontend]\ncarry_responses_up_to = {n}\n"))]),
                };
                let fe = Frontend::start(&tb, &cfg, FrontendDriver::Dpdk, false).unwrap();
                let r = run(&tb, &format!("http://{}/1k", addr::VIP));
                (r, fe.stop())
            })
            .unzip()
    };
    assert_no_namespaces(tag_l);
    for (i, (p, _)) in runs.iter().enumerate() {
        let (direct, lb_run, log) = (&direct[i], &lb_runs[i], &logs[i]);
        println!("{p} straight to nginx: {} verified, {} failed", direct.0, direct.1);
        println!("{p} through the VIP:   {} verified, {} failed {:?}\n{log}", lb_run.0, lb_run.1, lb_run.2);
        assert_eq!(direct.1, 0, "{p}: the reference itself failed: {:?}", direct.2);
        assert_eq!(lb_run.1, 0, "{p}: every request through the VIP verified: {:?}", lb_run.2);
        assert!(direct.0 >= 20, "{p}: the reference completed too few to compare: {}", direct.0);
        println!("{p} ratio {:.2}", lb_run.0 as f64 / direct.0 as f64);
        // The offloaded run waits two P4Runtime writes per connection (debug
        // build: 0.50-0.58 measured on a loaded machine): a third is its bound.
        let share = if *p == "carried" { 2 } else { 3 };
        assert!(lb_run.0 * share >= direct.0, "{p}: through the VIP {} < 1/{share} of straight to nginx {}", lb_run.0, direct.0);
        let c = lb::frontend_counters(log);
        let get = |k: &str| c.get(k).copied().unwrap_or(0);
        if *p == "carried" {
            assert!(get("responses_carried") > 0 && get("reused_ports") == 0, "{p}: carried, never in the switch's table: {c:?}");
        } else {
            assert!(get("reused_ports") > 0, "{p}: ports were reused within the grace: {c:?}");
        }
    }
}
