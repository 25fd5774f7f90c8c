//! Conformance with an independent client: p4runtime-shell (PyPI) drives the
//! switch-sim server (tests/p4rt_shell/shell_conformance.py), then this
//! project's client does the same steps on the same server; the answers must
//! be identical (P4Info names and ids, read-back entries byte for byte, the
//! duplicate insert's status). Over mutual TLS: the shell presents the
//! `ctl` certificate through its SSLOptions, our client the `frontend` one.
//!
//! Needs the workspace venv with p4runtime-shell (or P4RUNTIME_PYTHON):
//!   python3 -m venv .venv && .venv/bin/pip install p4runtime-shell
//!   cargo test -p switchyard-control --test p4rt_shell -- --include-ignored

mod common;

use std::path::{Path, PathBuf};

use common::*;
use switchyard_control::client::{ClientError, ClientOptions, P4rtClient};
use switchyard_control::proto::p4::v1::write_request::Atomicity;
use switchyard_control::proto::prost::Message;
use switchyard_control::switchyard::{self as sy, SwitchyardTables};
use switchyard_p4rt_server::DeviceOptions;
use switchyard_wire::flow::ConnKey;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("P4RUNTIME_PYTHON") {
        return PathBuf::from(p);
    }
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        python.exists(),
        "{} not found (needs the p4runtime venv): create it with `python3 -m venv .venv && \
         .venv/bin/pip install p4runtime-shell` in the workspace root, or set P4RUNTIME_PYTHON",
        python.display()
    );
    python
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the p4runtime venv (python3 -m venv .venv && .venv/bin/pip install p4runtime-shell)"]
async fn p4runtime_shell_and_our_client_get_the_same_answers() {
    let py = python();
    let dir = TempDir::new("shell");
    let (sw, certs) = start_switch_tls(DeviceOptions::default(), &dir.0).await;
    let ours = certs.client("frontend", "127.0.0.1");
    let connect = |election_id: u128| {
        let opts = ClientOptions { election_id, tls: ours.clone(), ..Default::default() };
        let endpoint = sw.endpoint.clone();
        async move { P4rtClient::connect(&endpoint, opts).await.expect("connect over mutual TLS") }
    };
    // Push the pipeline with our client, then leave (the shell connects without a config).
    {
        let c = connect(1).await;
        let (info, cfg) = pipeline(&[]);
        c.set_pipeline(info, cfg, 42, switchyard_control::proto::p4::v1::set_forwarding_pipeline_config_request::Action::VerifyAndCommit).await.unwrap();
    }
    let shell_tls = certs.client("ctl", "127.0.0.1").unwrap().files;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/p4rt_shell/shell_conformance.py");
    let addr = sw.addr.to_string();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new(&py)
            .arg(&script)
            .arg(&addr)
            .args([&shell_tls.ca, &shell_tls.cert, &shell_tls.key])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("p4runtime-shell finished in time")
    .expect("run the shell script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "p4runtime-shell failed:\n{stdout}\n{stderr}");
    let shell: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));

    // Our client, same steps, same server (the shell has left; election 2^64+1 wins).
    let c = connect((1u128 << 64) + 1).await;
    assert!(c.is_primary());
    let info = c.get_pipeline(switchyard_control::proto::p4::v1::get_forwarding_pipeline_config_request::ResponseType::P4infoAndCookie).await.unwrap().p4info.unwrap();
    let mut tables: Vec<serde_json::Value> = info.tables.iter().map(|t| { let p = t.preamble.as_ref().unwrap(); serde_json::json!([p.name, p.id]) }).collect();
    tables.sort_by_key(|v| v.to_string());
    let mut shell_tables = shell["tables"].as_array().unwrap().clone();
    shell_tables.sort_by_key(|v| v.to_string());
    assert_eq!(tables, shell_tables, "the shell reads the same P4Info");
    assert_eq!(shell["actions"].as_array().unwrap().len(), info.actions.len());

    let t = SwitchyardTables::new(switchyard_control::p4info::P4InfoIndex::new(info).unwrap()).unwrap();
    let key = ConnKey { client_ip: CLIENT, client_port: 40000, vip_id: 7 };
    let read = || async {
        let mut v: Vec<String> = c.read_table(t.connection_table_id()).await.unwrap().iter().map(|e| hex(&e.encode_to_vec())).collect();
        v.sort();
        serde_json::json!(v)
    };
    c.write(vec![sy::insert(t.connection(&key, 3, None).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    assert_eq!(read().await, shell["after_insert"], "read back after insert");
    assert_eq!(shell["after_insert"].as_array().unwrap().len(), 1);
    c.write(vec![sy::modify(t.connection(&key, 4, None).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    assert_eq!(read().await, shell["after_modify"], "read back after modify");
    assert_ne!(shell["after_modify"], shell["after_insert"]);
    match c.write(vec![sy::insert(t.connection(&key, 5, None).unwrap())], Atomicity::ContinueOnError).await {
        Err(ClientError::Updates(v)) => {
            let codes: Vec<String> = v.iter().map(|s| (s.code as i32).to_string()).collect();
            assert_eq!(serde_json::json!(codes), shell["duplicate_insert"], "same per-update status");
            assert_eq!(codes, vec!["6".to_string()], "ALREADY_EXISTS");
        }
        other => panic!("{other:?}"),
    }
    c.write(vec![sy::delete(t.connection_key(&key).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    assert_eq!(read().await, shell["after_delete"]);
    assert_eq!(shell["after_delete"].as_array().unwrap().len(), 0);
}
