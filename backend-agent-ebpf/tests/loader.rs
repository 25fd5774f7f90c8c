//! The daemon's error paths, through the real binary: every refusal names
//! its cause. Root-only cases are ignored without root.

use std::process::{Command, Output};

fn agent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard-agent")).args(args).output().expect("run switchyard-agent")
}

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn refuses_without_root() {
    let args = ["run", "--iface", "lo", "--service-port", "80"];
    let out = if is_root() {
        // Drop to nobody for this one run.
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_switchyard-agent")])
            .args(args)
            .output()
            .expect("setpriv (util-linux)")
    } else {
        agent(&args)
    };
    assert!(!out.status.success());
    assert!(stderr(&out).contains("needs root"), "{}", stderr(&out));
}

#[test]
fn bad_settings_are_refused_before_anything_else() {
    for (args, want) in [
        (&["run", "--iface", "lo", "--service-port", "80", "--switch-wscale", "15"][..], "above the TCP maximum"),
        (&["run", "--iface", "lo", "--service-port", "0"][..], "port 0"),
        (&["run", "--iface", "lo", "--service-port", "80", "--map-size", "2"][..], "--map-size 2"),
    ] {
        let out = agent(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
    let out = agent(&["run", "--iface", "lo"]);
    assert!(!out.status.success(), "a service port is required");
}

#[test]
#[ignore = "needs root: bpf"]
fn missing_interface_is_named() {
    let out = agent(&["run", "--iface", "sy-nonexist0", "--service-port", "80"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("interface `sy-nonexist0` does not exist"), "{}", stderr(&out));
}

#[test]
#[ignore = "needs root: bpf"]
fn status_without_a_running_agent() {
    let out = agent(&["status", "--iface", "sy-nonexist0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no agent pinned for `sy-nonexist0`"), "{}", stderr(&out));
}
