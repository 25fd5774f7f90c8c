//! The daemon's lifecycle on a namespace's loopback: attach, refuse a second
//! instance, die by SIGKILL without leaving programs attached (tcx links die
//! with their fds), restart over the stale pins, stop cleanly on SIGINT.

mod support;

use std::time::{Duration, Instant};

use support::{in_netns, AgentProc, TempDir};
use switchyard_agent::attach::attached_programs;
use switchyard_agent::pins;
use switchyard_testbed::netns::Netns;

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "needs root: netns, bpf"]
fn attach_kill_restart_stop() {
    switchyard_testbed::require_root().unwrap();
    switchyard_testbed::cmd::require_tools(&["ip", "nsenter"]).unwrap();
    let id = std::process::id();
    let dir = TempDir::new(&format!("sy-agent-daemon-{id}"));
    let ns = Netns::create(&format!("sy-agd-{id}")).unwrap();
    // A veth with a unique name (this kernel has no dummy driver): the pin
    // directory is per interface name and bpffs is shared by the host.
    let iface = format!("syd{id}");
    ns.exec(&["ip", "link", "add", &iface, "type", "veth", "peer", "name", &format!("sye{id}")]).unwrap();
    ns.exec(&["ip", "link", "set", &iface, "up"]).unwrap();
    let attached = || in_netns(ns.name(), || attached_programs(&iface));
    let args = ["run", "--iface", iface.as_str(), "--service-port", "80", "--map-size", "1024"];

    let mut first = AgentProc::start(ns.name(), &args, &dir.0.join("first.log")).unwrap();
    wait_for("first attach", || attached().len() == 2 && pins::pin_dir(&iface).join("sy_flows").exists());

    // SIGKILL: no Drop runs, yet the kernel detaches the tcx links.
    first.kill();
    wait_for("detach after SIGKILL", || attached().is_empty());
    assert!(pins::pin_dir(&iface).join("sy_flows").exists(), "a killed agent leaves its pins (next run replaces them)");

    let mut second = AgentProc::start(ns.name(), &args, &dir.0.join("second.log")).unwrap();
    wait_for("second attach", || attached().len() == 2);
    // SIGINT (Ctrl-C) takes the same clean path as SIGTERM (e2e.rs).
    let st = second.stop_with(libc::SIGINT, Duration::from_secs(5)).expect("stops on SIGINT");
    assert!(st.success(), "{st}: {}", std::fs::read_to_string(dir.0.join("second.log")).unwrap_or_default());
    assert!(attached().is_empty());
    assert!(!pins::pin_dir(&iface).exists());
}
