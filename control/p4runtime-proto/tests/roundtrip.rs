//! Wire interoperability with the official P4Runtime Python classes (p4runtime 1.4.x):
//! conformance/roundtrip.py builds sample messages that set nearly every field, we decode each
//! with our types and encode it again, and the script checks that the official classes read
//! back exactly what they sent. prost keeps no unknown fields, so a field we lack or number
//! differently is lost and the check fails.
//!
//! Needs the venv described in tests/conformance.rs. Run with
//!   cargo test -p p4runtime-proto --test roundtrip -- --include-ignored

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use p4runtime_proto::google::rpc::Status;
use p4runtime_proto::p4::v1::*;
use p4runtime_proto::prost::Message;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("P4RUNTIME_PYTHON") {
        return PathBuf::from(p);
    }
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        python.exists(),
        "{} not found: create it with `python3 -m venv .venv && .venv/bin/pip install \
         p4runtime-shell` in the workspace root, or set P4RUNTIME_PYTHON",
        python.display()
    );
    python
}

fn script(mode: &str, dir: &Path) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/roundtrip.py");
    Command::new(python())
        .arg(script)
        .arg(mode)
        .arg(dir)
        .output()
        .expect("run roundtrip.py")
}

fn reencode<M: Message + Default>(bytes: &[u8]) -> Vec<u8> {
    M::decode(bytes)
        .unwrap_or_else(|e| panic!("decode {}: {e}", std::any::type_name::<M>()))
        .encode_to_vec()
}

/// Decodes every sample the script wrote and writes `<name>.rust.bin`; returns the names.
fn reencode_samples(dir: &Path, listing: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in listing.lines() {
        let (name, full_type) = line.split_once(' ').expect("`name type` line");
        let bytes = std::fs::read(dir.join(format!("{name}.bin"))).unwrap();
        let out = match full_type {
            "p4.v1.WriteRequest" => reencode::<WriteRequest>(&bytes),
            "p4.v1.ReadRequest" => reencode::<ReadRequest>(&bytes),
            "p4.v1.ReadResponse" => reencode::<ReadResponse>(&bytes),
            "p4.v1.SetForwardingPipelineConfigRequest" => {
                reencode::<SetForwardingPipelineConfigRequest>(&bytes)
            }
            "p4.v1.GetForwardingPipelineConfigRequest" => {
                reencode::<GetForwardingPipelineConfigRequest>(&bytes)
            }
            "p4.v1.CapabilitiesResponse" => reencode::<CapabilitiesResponse>(&bytes),
            "p4.v1.StreamMessageRequest" => reencode::<StreamMessageRequest>(&bytes),
            "p4.v1.StreamMessageResponse" => reencode::<StreamMessageResponse>(&bytes),
            "google.rpc.Status" => reencode::<Status>(&bytes),
            other => panic!("no Rust type mapped for sample type {other}"),
        };
        std::fs::write(dir.join(format!("{name}.rust.bin")), out).unwrap();
        names.push(name.to_string());
    }
    names
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
#[ignore = "needs the p4runtime venv (python3 -m venv .venv && .venv/bin/pip install p4runtime-shell)"]
fn official_messages_survive_our_decode_and_encode() {
    let dir = fresh_dir("p4runtime_roundtrip");
    let written = script("write", &dir);
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let names = reencode_samples(&dir, &String::from_utf8_lossy(&written.stdout));
    assert!(names.len() >= 10, "too few samples: {names:?}");

    let checked = script("check", &dir);
    let stdout = String::from_utf8_lossy(&checked.stdout);
    println!("{stdout}");
    assert!(
        checked.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(
        stdout.matches(": identical").count(),
        names.len(),
        "{stdout}"
    );

    // The check is not vacuous: one changed field in what we send back is caught.
    let path = dir.join("write_request.rust.bin");
    let mut req = WriteRequest::decode(&std::fs::read(&path).unwrap()[..]).unwrap();
    let Some(entity::Entity::TableEntry(entry)) = req.updates[0]
        .entity
        .as_mut()
        .and_then(|e| e.entity.as_mut())
    else {
        panic!("first update of the sample is a table entry")
    };
    entry.priority += 1;
    std::fs::write(&path, req.encode_to_vec()).unwrap();
    let checked = script("check", &dir);
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("write_request: differs"), "{stdout}");
}
