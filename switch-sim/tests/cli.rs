//! The switchyard-switch-sim binary without interfaces: --check and --replay.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard-switch-sim");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[test]
fn check_loads_program_and_entries() {
    let dir = std::env::temp_dir().join(format!("sy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let entries = dir.join("e.json");
    std::fs::write(&entries, r#"{"entries":[{"table":"vip","match":{"vip_addr":"198.18.100.1","vip_port":80},"action":"set_vip","params":{"vip_id":1}}]}"#).unwrap();
    let out = Command::new(BIN).args(["--p4", &format!("{ROOT}/p4/switchyard.p4"), "--check", "--entries"]).arg(&entries).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("11 tables"), "{}", String::from_utf8_lossy(&out.stderr));
    // An entry naming a missing key is an error naming the entry.
    std::fs::write(&entries, r#"{"entries":[{"table":"vip","match":{"vip_addr":"198.18.100.1"},"action":"set_vip","params":{"vip_id":1}}]}"#).unwrap();
    let out = Command::new(BIN).args(["--p4", &format!("{ROOT}/p4/switchyard.p4"), "--check", "--entries"]).arg(&entries).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing key vip_port"), "{}", String::from_utf8_lossy(&out.stderr));
    // A refused program: file:line:col and the reason.
    let bad = dir.join("bad.p4");
    std::fs::write(&bad, "#include <core.p4>\n#include <v1model.p4>\nheader h { bit<7> x; }\n").unwrap();
    let out = Command::new(BIN).args(["--p4"]).arg(&bad).arg("--check").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.p4:3:") && err.contains("not whole bytes"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_runs_a_vector_file() {
    let out = Command::new(BIN).args(["--replay", &format!("{ROOT}/tests/vectors/syn_cookie.json"), "--root", ROOT]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 failures"));
}

#[test]
fn strict_refuses_what_p4c_cannot_compile_in_reasonable_time() {
    // switchyard.p4 as it was before issue 16, with its 16 SipRounds in one
    // action: the cookie split back into one action of the same steps.
    let dir = std::env::temp_dir().join(format!("sy-cli-strict-{}", std::process::id()));
    let inc = dir.join("include");
    std::fs::create_dir_all(&inc).unwrap();
    for f in ["constants.p4", "headers.p4", "tables.p4"] {
        std::fs::copy(format!("{ROOT}/p4/include/{f}"), inc.join(f)).unwrap();
    }
    let cookie = std::fs::read_to_string(format!("{ROOT}/p4/include/cookie.p4")).unwrap();
    let one_action = "action cookie_all() {
    cookie_init();
    sip_absorb(hdr.ipv4.src_addr); sip_absorb(hdr.ipv4.dst_addr); sip_absorb(hdr.tcp.src_port ++ hdr.tcp.dst_port);
    sip_absorb(hdr.tcp.seq_no); sip_absorb(meta.cookie_low); sip_absorb(32w20 << 24);
    sip_finalize(); sip_two_rounds(); sip_two_rounds(); cookie_output();
}
";
    std::fs::write(inc.join("cookie.p4"), format!("{cookie}\n{one_action}")).unwrap();
    let main = std::fs::read_to_string(format!("{ROOT}/p4/switchyard.p4")).unwrap();
    let main = main.replacen("cookie_init();", "cookie_all();", 1);
    std::fs::write(dir.join("sy.p4"), &main).unwrap();
    let line = one_action_line(&std::fs::read_to_string(inc.join("cookie.p4")).unwrap());
    let out = Command::new(BIN).arg("--p4").arg(dir.join("sy.p4")).arg("--check").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "a warning only: {err}");
    assert!(err.contains(&format!("warning: {}:{line}:1: action `cookie_all`", inc.join("cookie.p4").display())), "{err}");
    let out = Command::new(BIN).arg("--p4").arg(dir.join("sy.p4")).args(["--check", "--strict"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("error: ") && err.contains("LocalCopyPropagation") && err.contains("refused under --strict"), "{err}");
    // The program as it is passes.
    let out = Command::new(BIN).args(["--p4", &format!("{ROOT}/p4/switchyard.p4"), "--check", "--strict"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn one_action_line(text: &str) -> usize {
    text.lines().position(|l| l.starts_with("action cookie_all()")).unwrap() + 1
}

#[test]
fn engine_flag_picks_the_engine() {
    let run = |extra: &[&str]| {
        let out = Command::new(BIN).args(["--p4", &format!("{ROOT}/p4/switchyard.p4"), "--check"]).args(extra).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = run(&[]);
    assert!(ok && err.contains("fast engine"), "default is the fast engine: {err}");
    let (ok, err) = run(&["--engine", "interp"]);
    assert!(ok && err.contains("interp engine"), "{err}");
    let (ok, err) = run(&["--engine", "jit"]);
    assert!(!ok && err.contains("unknown engine"), "{err}");
}
