//! Runs conformance/check_descriptors.py: our FileDescriptorSet against the official P4Runtime
//! descriptors shipped in PyPI's `p4runtime` package (1.4.x, the version p4runtime-shell pins).
//!
//! Needs a Python venv with p4runtime-shell, by default the workspace's `.venv`:
//!   python3 -m venv .venv && .venv/bin/pip install p4runtime-shell
//! Another interpreter can be named with P4RUNTIME_PYTHON. Run with
//!   cargo test -p p4runtime-proto --test conformance -- --include-ignored

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use p4runtime_proto::prost::Message;
use p4runtime_proto::prost_types::FileDescriptorSet;

const IGNORE_REASON: &str = "needs the p4runtime venv";

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("P4RUNTIME_PYTHON") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} not found ({IGNORE_REASON}): create it with `python3 -m venv .venv && \
         .venv/bin/pip install p4runtime-shell` in the workspace root, or set P4RUNTIME_PYTHON",
        python.display()
    );
    python
}

fn run_check(descriptor_set: &[u8], file_name: &str) -> Output {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(file_name);
    std::fs::write(&path, descriptor_set).expect("write descriptor set");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/check_descriptors.py");
    Command::new(python())
        .arg(script)
        .arg(&path)
        .output()
        .expect("run check_descriptors.py")
}

#[test]
#[ignore = "needs the p4runtime venv (python3 -m venv .venv && .venv/bin/pip install p4runtime-shell)"]
fn descriptors_match_official_p4runtime() {
    let out = run_check(
        p4runtime_proto::FILE_DESCRIPTOR_SET,
        "p4runtime_descriptor.bin",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(out.status.success(), "not conformant:\n{stdout}{stderr}");
    assert!(
        stdout.contains("conformant with p4runtime 1.4."),
        "{stdout}"
    );
}

/// The check must notice a single wrong field number and a single wrong enum value: proves
/// the comparison above is not vacuous.
#[test]
#[ignore = "needs the p4runtime venv (python3 -m venv .venv && .venv/bin/pip install p4runtime-shell)"]
fn check_reports_a_wrong_field_number_and_enum_value() {
    let mut fds = FileDescriptorSet::decode(p4runtime_proto::FILE_DESCRIPTOR_SET).unwrap();
    let file = fds
        .file
        .iter_mut()
        .find(|f| f.name() == "p4/v1/p4runtime.proto")
        .unwrap();
    let table_entry = file
        .message_type
        .iter_mut()
        .find(|m| m.name() == "TableEntry")
        .unwrap();
    let priority = table_entry
        .field
        .iter_mut()
        .find(|f| f.name() == "priority")
        .unwrap();
    priority.number = Some(14);
    let update = file
        .message_type
        .iter_mut()
        .find(|m| m.name() == "Update")
        .unwrap();
    let insert = update.enum_type[0]
        .value
        .iter_mut()
        .find(|v| v.name() == "INSERT")
        .unwrap();
    insert.number = Some(7);

    let out = run_check(&fds.encode_to_vec(), "p4runtime_descriptor_mutated.bin");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("p4.v1.TableEntry: field priority = 4 missing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("p4.v1.Update.Type: enum value INSERT is 7, official 1"),
        "{stdout}"
    );
}
