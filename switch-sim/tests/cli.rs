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
    assert!(String::from_utf8_lossy(&out.stderr).contains("9 tables"), "{}", String::from_utf8_lossy(&out.stderr));
    // An entry naming a missing key is an error naming the entry.
    std::fs::write(&entries, r#"{"entries":[{"table":"vip","match":{"vip_addr":"198.18.100.1"},"action":"set_vip","params":{"vip_id":1}}]}"#).unwrap();
    let out = Command::new(BIN).args(["--p4", &format!("{ROOT}/p4/switchyard.p4"), "--check", "--entries"]).arg(&entries).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing key vip_port"), "{}", String::from_utf8_lossy(&out.stderr));
    // A refused program: file:line:col and the reason.
    let bad = dir.join("bad.p4");
    std::fs::write(&bad, "#include <core.p4>\n#include <v1model.p4>\nheader h { int<8> x; }\n").unwrap();
    let out = Command::new(BIN).args(["--p4"]).arg(&bad).arg("--check").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.p4:3:") && err.contains("signed integers are not supported"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_runs_a_vector_file() {
    let out = Command::new(BIN).args(["--replay", &format!("{ROOT}/tests/vectors/syn_cookie.json"), "--root", ROOT]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 failures"));
}
