//! `switchyard-ctl push-pipeline` / `apply-entries` (switchyard_control::provision)
//! against the real switch-sim P4Runtime server started WITHOUT a program, as
//! bmv2's simple_switch_grpc starts: the P4Info file (binary and text format)
//! and the P4 source as device config are pushed, the testbed's style of
//! entries file is applied and read back, malformed and refused entries are
//! reported by index. The last test drives the built binary itself.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use switchyard_control::client::{ClientOptions, P4rtClient};
use switchyard_control::p4info::P4InfoIndex;
use switchyard_control::proto::p4::v1::{
    self as p4, get_forwarding_pipeline_config_request::ResponseType, set_forwarding_pipeline_config_request::Action,
};
use switchyard_control::proto::prost::Message;
use switchyard_control::provision::{self, Applied, ProvisionError, WRITER_ELECTION_ID};
use switchyard_entries::EntriesFile;
use switchyard_p4rt_server::DeviceOptions;
use switchyard_wire::frame::TcpFrame;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/infra-entries.json")
}

fn p4_dir() -> PathBuf {
    p4_path().parent().unwrap().to_path_buf()
}

/// The P4Info `switchyard-p4info -o` (p4c's id scheme) writes, as a binary file.
fn write_p4info_bin(dir: &TempDir) -> PathBuf {
    let (info, _) = pipeline(&[]);
    let p = dir.path("sw.p4info.bin");
    std::fs::write(&p, info.encode_to_vec()).unwrap();
    p
}

/// A switch with no program; its include dir is p4/, so the P4 source text
/// itself is a valid device config.
async fn empty_switch() -> TestSwitch {
    start_switch(DeviceOptions { include_dir: Some(p4_dir()), ..Default::default() }).await
}

async fn writer(endpoint: &str) -> P4rtClient {
    P4rtClient::connect(endpoint, ClientOptions { election_id: WRITER_ELECTION_ID, ..Default::default() }).await.expect("connect")
}

fn table_action(e: &p4::TableEntry) -> Option<&p4::Action> {
    match e.action.as_ref()?.r#type.as_ref()? {
        p4::table_action::Type::Action(a) => Some(a),
        _ => None,
    }
}

async fn read_default(c: &P4rtClient, table_id: u32) -> p4::TableEntry {
    let got = c
        .read(vec![p4::Entity {
            entity: Some(p4::entity::Entity::TableEntry(p4::TableEntry { table_id, is_default_action: true, ..Default::default() })),
        }])
        .await
        .expect("read default entry");
    match got.into_iter().next().and_then(|e| e.entity) {
        Some(p4::entity::Entity::TableEntry(t)) => t,
        other => panic!("no default entry for {table_id:#x}: {other:?}"),
    }
}

#[test]
fn p4info_files_binary_and_text_format_read_the_same() {
    let dir = TempDir::new("files");
    let bin = write_p4info_bin(&dir);
    let from_bin = provision::read_p4info(&bin).expect("binary P4Info");
    let text = provision::p4info_to_text(&from_bin).unwrap();
    assert!(text.contains("SwitchyardIngress.ipv4_route"), "text format names the tables");
    for name in ["sw.p4info.txtpb", "sw.p4info.txt"] {
        std::fs::write(dir.path(name), &text).unwrap();
        assert_eq!(provision::read_p4info(&dir.path(name)).expect("text P4Info"), from_bin, "{name}");
    }
    // A text file under a binary name (and the reverse) is an error naming the file.
    std::fs::write(dir.path("wrong.bin"), "tables { preamble { id: 1 } }\n").unwrap();
    let e = provision::read_p4info(&dir.path("wrong.bin")).unwrap_err().to_string();
    assert!(e.contains("wrong.bin") && e.contains("binary"), "{e}");
    std::fs::write(dir.path("broken.txtpb"), "tables { preamble { idd: 1 } }\n").unwrap();
    let e = provision::read_p4info(&dir.path("broken.txtpb")).unwrap_err().to_string();
    assert!(e.contains("broken.txtpb") && e.contains("idd"), "{e}");
    assert!(provision::read_p4info(Path::new("/nonexistent/x.bin")).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pipeline_then_apply_entries_and_read_them_back() {
    let sw = empty_switch().await;
    let dir = TempDir::new("apply");
    let c = writer(&sw.endpoint).await;
    assert!(c.is_primary());
    let entries = provision::read_entries(&fixture()).expect("fixture");

    // Before a pipeline: a clear error, nothing else.
    match provision::apply_entries(&c, &entries).await {
        Err(ProvisionError::NoPipeline) => {}
        other => panic!("expected NoPipeline, got {other:?}"),
    }

    // The P4Info file and the P4 source as device config, as the CLI sends them.
    let info = provision::read_p4info(&write_p4info_bin(&dir)).unwrap();
    let source = std::fs::read(p4_path()).unwrap();
    provision::push_pipeline(&c, info.clone(), source, 7, Action::VerifyAndCommit).await.expect("push pipeline");
    let got = c.get_pipeline(ResponseType::All).await.unwrap();
    assert_eq!(got.p4info.as_ref(), Some(&info));
    assert_eq!(got.cookie.unwrap().cookie, 7);

    let done = provision::apply_entries(&c, &entries).await.expect("apply entries");
    assert_eq!(done, Applied { inserted: 6, defaults_modified: 2 });

    // Read back: every INSERT is on the switch as built, the defaults are set.
    let index = P4InfoIndex::new(info).unwrap();
    let built = provision::entry_updates(&index, &entries).unwrap();
    let on_switch = c.read_table(0).await.unwrap();
    assert_eq!(on_switch.len(), 6, "{on_switch:?}");
    for u in &built {
        let Some(p4::entity::Entity::TableEntry(want)) = u.entity.as_ref().and_then(|e| e.entity.clone()) else { panic!() };
        if want.is_default_action {
            assert_eq!(u.r#type, p4::update::Type::Modify as i32);
            let got = read_default(&c, want.table_id).await;
            assert_eq!(table_action(&got), table_action(&want), "default of {:#x}", want.table_id);
            continue;
        }
        assert_eq!(u.r#type, p4::update::Type::Insert as i32);
        let found = on_switch
            .iter()
            .find(|g| g.table_id == want.table_id && g.r#match == want.r#match && g.priority == want.priority)
            .unwrap_or_else(|| panic!("{want:?} not read back"));
        assert_eq!(table_action(found), table_action(&want));
    }
    // Spot checks of the value syntax: lpm a.b.c.d/len, the /0 route omits the field,
    // MAC, 0x hex and decimal strings, names by full name and by alias.
    let route = index.table("ipv4_route").unwrap();
    let routes: Vec<_> = on_switch.iter().filter(|e| e.table_id == route.id).collect();
    assert_eq!(routes.len(), 3);
    assert!(routes.iter().any(|e| e.r#match.is_empty()), "0.0.0.0/0 is the entry without the field");
    let lpm24 = routes
        .iter()
        .find_map(|e| match e.r#match.first()?.field_match_type.as_ref()? {
            p4::field_match::FieldMatchType::Lpm(l) if l.value == vec![198, 18, 1, 0] => Some(l.prefix_len),
            _ => None,
        })
        .expect("198.18.1.0/24 read back");
    assert_eq!(lpm24, 24);
    let secrets = read_default(&c, index.table("cookie_secrets").unwrap().id).await;
    let params: Vec<Vec<u8>> = table_action(&secrets).unwrap().params.iter().map(|p| p.value.clone()).collect();
    assert_eq!(params, vec![vec![3, 2, 1, 0], vec![7, 6, 5, 4], vec![1], vec![0], vec![42]]);

    // The entries forward: a packet to 198.19.2.10 leaves on port 11 with the route's MACs.
    let pkt = tcp_frame(CLIENT, 40000, BACKEND, 8080, 0x10, b"x");
    let (port, out) = sw.server.device().inject(1, &pkt).expect("routed");
    assert_eq!(port, 11);
    let out = TcpFrame::new_checked(&out[..]).expect("a TCP frame");
    let eth = out.ethernet();
    assert_eq!((eth.dst(), eth.src()), ([2, 0, 0, 0, 0, 0x0b], [2, 0, 0, 0, 0, 0xfe]));

    // Applying the same file again: the switch refuses every INSERT (ALREADY_EXISTS),
    // each named by its index; the default MODIFYs succeed.
    let e = provision::apply_entries(&c, &entries).await.unwrap_err();
    let ProvisionError::Refused { written: 2, errors: errs } = &e else { panic!("{e}") };
    assert_eq!(errs.iter().map(|x| x.index).collect::<Vec<_>>(), vec![0, 1, 2, 3, 5, 6], "{e}");
    assert!(errs.iter().all(|x| x.reason.contains("AlreadyExists")), "{e}");
    assert!(e.to_string().contains("entry 6 (table vip): refused by the switch"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_entries_are_named_by_index_and_nothing_is_written() {
    let sw = empty_switch().await;
    let c = writer(&sw.endpoint).await;
    let (info, cfg) = pipeline(&[]);
    provision::push_pipeline(&c, info, cfg, 1, Action::VerifyAndCommit).await.unwrap();
    let bad: EntriesFile = serde_json::from_value(serde_json::json!({"entries": [
        {"table": "port_role", "match": {"port": 2}, "action": "set_port_role", "params": {"role": 1}},
        {"table": "no_such_table", "match": {}, "action": "route", "params": {}},
        {"table": "ipv4_route", "match": {"dst_addr": "198.18.1.0/40"}, "action": "route",
         "params": {"port": 1, "src_mac": "02:00:00:00:00:fe", "dst_mac": "02:00:00:00:00:01"}},
        {"table": "ipv4_route", "match": {"dst_addr": "198.18.1.0/24"}, "action": "route",
         "params": {"port": 1, "src_mac": "02:00:00:00:00:zz", "dst_mac": "02:00:00:00:00:01"}},
        {"table": "port_role", "match": {"port": "*"}, "action": "set_port_role", "params": {"role": 1}},
        {"table": "port_role", "match": {"port": 3}, "action": "set_port_role", "params": {"role": 9}},
        {"table": "port_role", "match": {"port": 4}, "action": "set_port_role", "params": {}},
        {"table": "frontend_count", "default": true, "match": {"x": 1}, "action": "set_frontend_count", "params": {"count": 1}},
        {"table": "port_role", "match": {"prt": 4}, "action": "set_port_role", "params": {"role": 1}},
        {"table": "vip", "match": {"vip_addr": "198.18.100.1", "vip_port": 80}, "action": "set_vip", "params": {"vip_id": 1},
         "idle_timeout_ms": 1000}
    ]}))
    .unwrap();
    let e = provision::apply_entries(&c, &bad).await.unwrap_err();
    let ProvisionError::Malformed(errs) = &e else { panic!("{e}") };
    let text = e.to_string();
    assert_eq!(errs.iter().map(|x| x.index).collect::<Vec<_>>(), (1..=9).collect::<Vec<_>>(), "{text}");
    for (i, what) in [
        (1, "no_such_table"),
        (2, "/40"),
        (3, "src_mac"),
        (4, "`*` on an exact field"),
        (5, "role"),
        (6, "role"),
        (7, "no match, priority or idle timeout"),
        (8, "prt"),
        (9, "idle"),
    ] {
        let line = text.lines().find(|l| l.contains(&format!("entry {i} "))).unwrap_or_else(|| panic!("entry {i} in {text}"));
        assert!(line.contains(what), "entry {i} should mention {what}: {line}");
    }
    assert!(text.contains("nothing was written"), "{text}");
    assert!(c.read_table(0).await.unwrap().is_empty(), "a malformed file writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_below_the_primary_is_refused() {
    let sw = empty_switch().await;
    let (fe, _) = primary_with_pipeline(&sw.endpoint, 10, &[]).await;
    let low = P4rtClient::connect(&sw.endpoint, ClientOptions { election_id: 5, ..Default::default() }).await.unwrap();
    let (info, cfg) = pipeline(&[]);
    let e = provision::push_pipeline(&low, info, cfg, 1, Action::VerifyAndCommit).await.unwrap_err();
    assert!(e.to_string().contains("another controller with election id 10 is"), "{e}");
    let e = provision::apply_entries(&low, &provision::read_entries(&fixture()).unwrap()).await.unwrap_err();
    assert!(matches!(e, ProvisionError::NotPrimary(Some(10))), "{e}");
    assert!(fe.read_table(0).await.unwrap().is_empty());
}

/// The binary, as the testbed runs it: push-pipeline then apply-entries,
/// over mutual TLS with the `ctl` certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_pushes_and_applies() {
    let dir = TempDir::new("cli");
    let (sw, certs) = start_switch_tls(DeviceOptions { include_dir: Some(p4_dir()), ..Default::default() }, &dir.path("tls")).await;
    let p4info = write_p4info_bin(&dir);
    let addr = sw.addr.to_string();
    let ctl = certs.client("ctl", "127.0.0.1").unwrap().files;
    let tls: Vec<String> = [("--tls-ca", &ctl.ca), ("--tls-cert", &ctl.cert), ("--tls-key", &ctl.key)]
        .iter()
        .flat_map(|(f, p)| [f.to_string(), p.display().to_string()])
        .collect();
    let run = |args: Vec<String>| {
        let tls = tls.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_switchyard-ctl")).args(&tls).args(&args).output().expect("run switchyard-ctl")
        })
    };
    // Neither TLS nor --insecure: refused before connecting.
    let out = tokio::task::spawn_blocking({
        let a = addr.clone();
        move || std::process::Command::new(env!("CARGO_BIN_EXE_switchyard-ctl")).args(["--switch", &a, "counters"]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--insecure"), "{out:?}");
    let out = run(vec!["--switch".into(), addr.clone(), "apply-entries".into(), fixture().display().to_string()]).await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pipeline"), "{out:?}");

    let out = run(vec![
        "--switch".into(),
        addr.clone(),
        "push-pipeline".into(),
        "--p4info".into(),
        p4info.display().to_string(),
        "--device-config".into(),
        p4_path().display().to_string(),
        "--action".into(),
        "verify-and-commit".into(),
    ])
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("pipeline pushed"), "{out:?}");

    let out = run(vec!["--switch".into(), addr.clone(), "apply-entries".into(), fixture().display().to_string()]).await.unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 entries inserted, 2 default actions set"), "{out:?}");

    // The writer has disconnected: a controller with the front-end's lower id is primary now.
    let fe = P4rtClient::connect(&sw.endpoint, ClientOptions { election_id: 10, tls: certs.client("frontend", "localhost"), ..Default::default() })
        .await
        .unwrap();
    assert!(fe.wait_mastership(Duration::from_secs(2), |m| *m == switchyard_control::client::Mastership::Primary).await.is_some());
    assert_eq!(fe.read_table(0).await.unwrap().len(), 6);
}
