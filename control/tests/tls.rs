//! The P4Runtime channel over mutual TLS, in process (no root): the switch
//! admits only clients whose certificate its CA signed, a client admits only
//! a switch its CA signed, and a Write is accepted only on the connection
//! whose StreamChannel won the arbitration.

mod common;

use std::time::Duration;

use common::*;
use switchyard_control::client::{BackoffPolicy, ClientOptions, ClientTls, P4rtClient};
use switchyard_control::p4info::P4InfoIndex;
use switchyard_control::proto::p4::v1::{self as p4, p4_runtime_client::P4RuntimeClient, write_request::Atomicity};
use switchyard_control::proto::tls::TlsFiles;
use switchyard_control::proto::tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use switchyard_control::switchyard::{self as sy, CookieSecret, SwitchyardTables};
use switchyard_p4rt_server::DeviceOptions;
use switchyard_wire::flow::ConnKey;

const CURRENT: CookieSecret = CookieSecret { k0: 0x1111_2222, k1: 0x3333_4444, generation: 1 };
const PREVIOUS: CookieSecret = CookieSecret { k0: 0x5555_6666, k1: 0x7777_8888, generation: 0 };

fn opts(election_id: u128, tls: Option<ClientTls>) -> ClientOptions {
    ClientOptions {
        election_id,
        tls,
        connect_timeout: Duration::from_secs(2),
        arbitration_timeout: Duration::from_secs(2),
        backoff: BackoffPolicy { max_attempts: Some(2), ..Default::default() },
        ..Default::default()
    }
}

/// A Read of the cookie secrets (the keyless table's default entry) on a raw
/// channel built with `tls` (None: plain gRPC).
async fn read_secrets(addr: std::net::SocketAddr, tls: Option<ClientTlsConfig>, table_id: u32) -> Result<Vec<p4::Entity>, String> {
    let mut ep = Endpoint::from_shared(format!("{}://{addr}", if tls.is_some() { "https" } else { "http" })).unwrap().connect_timeout(Duration::from_secs(2));
    if let Some(t) = tls {
        ep = ep.tls_config(t).unwrap();
    }
    let channel = ep.connect().await.map_err(|e| format!("connect: {e:?}"))?;
    let entity = p4::Entity {
        entity: Some(p4::entity::Entity::TableEntry(p4::TableEntry { table_id, is_default_action: true, ..Default::default() })),
    };
    let req = p4::ReadRequest { device_id: 1, entities: vec![entity], role: String::new() };
    let mut s = P4RuntimeClient::new(channel).read(req).await.map_err(|e| format!("read: {e:?}"))?.into_inner();
    let mut out = Vec::new();
    while let Some(r) = s.message().await.map_err(|e| format!("read stream: {e:?}"))? {
        out.extend(r.entities);
    }
    Ok(out)
}

fn secrets_of(entities: &[p4::Entity]) -> Vec<Vec<u8>> {
    match entities {
        [p4::Entity { entity: Some(p4::entity::Entity::TableEntry(t)) }] => match t.action.as_ref().and_then(|a| a.r#type.as_ref()) {
            Some(p4::table_action::Type::Action(a)) => a.params.iter().map(|p| p.value.clone()).collect(),
            other => panic!("no action in {other:?}"),
        },
        other => panic!("one default entry expected: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_clients_with_a_certificate_of_the_ca_get_in() {
    let dir = TempDir::new("mtls");
    let (sw, certs) = start_switch_tls(DeviceOptions::default(), &dir.path("ours")).await;
    // Another CA's set: its client certificates must not get in, and its
    // clients must not trust our switch.
    let theirs = switchyard_control::tls::generate(&dir.path("theirs"), &["127.0.0.1".into()], &["frontend"]).unwrap();
    for f in [&certs.switch.ca, &certs.switch.cert, &certs.switch.key, &certs.clients[0].1.key] {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600, "{}", f.display());
    }

    // The right certificate: primary, pipeline, secrets written.
    let fe = P4rtClient::connect(&sw.endpoint, opts(10, certs.client("frontend", "127.0.0.1"))).await.expect("the frontend certificate gets in");
    assert!(fe.is_primary());
    let (info, cfg) = pipeline(&[]);
    fe.set_pipeline(info.clone(), cfg, 1, p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit).await.unwrap();
    let t = SwitchyardTables::new(P4InfoIndex::new(info).unwrap()).unwrap();
    fe.write(vec![sy::modify(t.cookie_secrets(CURRENT, PREVIOUS).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    let table_id = t.index().table(switchyard_control::switchyard::TABLE_COOKIE_SECRETS).unwrap().id;

    // Another authenticated controller (the ctl certificate) reads them.
    let ctl = certs.client("ctl", "127.0.0.1").unwrap().files;
    let ok = read_secrets(sw.addr, Some(ctl.client_config(Some("127.0.0.1")).unwrap()), table_id).await.expect("an authenticated read");
    let values = secrets_of(&ok);
    assert_eq!(values[0], vec![0x11, 0x11, 0x22, 0x22], "cur_k0 read back: {values:?}");

    // No client certificate (TLS, trusting our CA): refused.
    let ca = std::fs::read(&certs.switch.ca).unwrap();
    let anonymous = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ca)).domain_name("127.0.0.1");
    read_secrets(sw.addr, Some(anonymous), table_id).await.expect_err("a client without a certificate reads nothing");
    // A certificate another CA signed: refused.
    let foreign = TlsFiles { ca: certs.switch.ca.clone(), cert: theirs.clients[0].1.cert.clone(), key: theirs.clients[0].1.key.clone() };
    read_secrets(sw.addr, Some(foreign.client_config(Some("127.0.0.1")).unwrap()), table_id).await.expect_err("another CA's certificate reads nothing");
    // Plain gRPC to the TLS port: refused.
    read_secrets(sw.addr, None, table_id).await.expect_err("plain gRPC reads nothing");
    // The project's client with no certificate, or another CA's, cannot arbitrate either.
    for (what, tls) in [("none", None), ("foreign", theirs.client("frontend", "127.0.0.1"))] {
        let tls = tls.map(|c| ClientTls { files: TlsFiles { ca: certs.switch.ca.clone(), ..c.files }, ..c });
        let e = P4rtClient::connect(&format!("http://{}", sw.addr), opts(20, tls)).await.err().expect(what).to_string();
        assert!(e.contains("no arbitration answer (the stream broke"), "{what}: {e}");
    }
    // A client that trusts another CA refuses our switch (its certificate
    // is not one its CA signed), even with a certificate our CA accepts.
    let wrong_trust = ClientTls { files: TlsFiles { ca: theirs.switch.ca.clone(), ..ctl.clone() }, server_name: Some("127.0.0.1".into()) };
    let t = std::time::Instant::now();
    let e = P4rtClient::connect(&sw.endpoint, opts(20, Some(wrong_trust))).await.err().expect("wrong trust").to_string();
    assert!(e.contains("invalid peer certificate"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(1), "not retried: {:?}", t.elapsed());
    // A name the switch's certificate does not carry: refused.
    let wrong_name = ClientTls { files: ctl.clone(), server_name: Some("switch.example".into()) };
    assert!(P4rtClient::connect(&sw.endpoint, opts(20, Some(wrong_name))).await.is_err());
    // No name given: the endpoint's host (an IP address in the certificate) is checked, and
    // an `http://` endpoint still gets TLS.
    let by_address = ClientTls { files: ctl, server_name: None };
    let c = P4rtClient::connect(&format!("http://{}", sw.addr), opts(5, Some(by_address))).await.expect("the address is in the certificate");
    assert!(!c.is_primary());
    drop(c);
    // None of that disturbed the primary.
    assert!(fe.is_primary());
    assert_eq!(secrets_of(&fe.read(vec![p4::Entity { entity: Some(p4::entity::Entity::TableEntry(p4::TableEntry { table_id, is_default_action: true, ..Default::default() })) }]).await.unwrap()), values);
}

/// The finding: a Write quoting the primary's election id from a
/// connection whose stream never arbitrated (or arbitrated lower) was
/// accepted. It is refused now, even from an authenticated controller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_with_the_primarys_id_from_another_connection_is_refused() {
    let dir = TempDir::new("impostor");
    let (sw, certs) = start_switch_tls(DeviceOptions::default(), &dir.path("tls")).await;
    let fe = P4rtClient::connect(&sw.endpoint, opts(10, certs.client("frontend", "127.0.0.1"))).await.unwrap();
    let (info, cfg) = pipeline(&[]);
    fe.set_pipeline(info.clone(), cfg.clone(), 1, p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit).await.unwrap();
    let t = SwitchyardTables::new(P4InfoIndex::new(info.clone()).unwrap()).unwrap();
    let key = ConnKey { client_ip: CLIENT, client_port: 40000, vip_id: 7 };
    let write = |election: u128, update: p4::Update| p4::WriteRequest {
        device_id: 1,
        election_id: Some(p4::Uint128 { high: (election >> 64) as u64, low: election as u64 }),
        updates: vec![update],
        atomicity: Atomicity::ContinueOnError as i32,
        ..Default::default()
    };
    // An authenticated controller on its own connection, never arbitrated.
    let ctl = certs.client("ctl", "127.0.0.1").unwrap().files;
    let channel = Endpoint::from_shared(format!("https://{}", sw.addr)).unwrap().tls_config(ctl.client_config(Some("127.0.0.1")).unwrap()).unwrap().connect().await.unwrap();
    let mut raw = P4RuntimeClient::new(channel);
    let st = raw.write(write(10, sy::insert(t.connection(&key, 3, None).unwrap()))).await.expect_err("an impostor's INSERT");
    assert_eq!(st.code(), switchyard_control::proto::tonic::Code::PermissionDenied, "{st:?}");
    assert!(st.message().contains("did not win the arbitration"), "{st:?}");
    let pipeline_req = p4::SetForwardingPipelineConfigRequest {
        device_id: 1,
        election_id: Some(p4::Uint128 { high: 0, low: 10 }),
        action: p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit as i32,
        config: Some(p4::ForwardingPipelineConfig { p4info: Some(info), p4_device_config: cfg, cookie: None }),
        ..Default::default()
    };
    let st = raw.set_forwarding_pipeline_config(pipeline_req).await.expect_err("an impostor's pipeline push");
    assert_eq!(st.code(), switchyard_control::proto::tonic::Code::PermissionDenied, "{st:?}");
    assert!(fe.read_table(t.connection_table_id()).await.unwrap().is_empty(), "nothing was written");

    // The primary's own Write, and then its DELETE quoted by the impostor: refused.
    fe.write(vec![sy::insert(t.connection(&key, 3, None).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    let st = raw.write(write(10, sy::delete(t.connection_key(&key).unwrap()))).await.expect_err("an impostor's DELETE");
    assert_eq!(st.code(), switchyard_control::proto::tonic::Code::PermissionDenied);
    assert_eq!(fe.read_table(t.connection_table_id()).await.unwrap().len(), 1, "the entry is still there");

    // A backup (arbitrated lower on its own stream) quoting the primary's id: refused too.
    let backup = P4rtClient::connect(&sw.endpoint, opts(5, certs.client("ctl", "127.0.0.1"))).await.unwrap();
    assert!(!backup.is_primary());
    assert!(backup.write(vec![sy::delete(t.connection_key(&key).unwrap())], Atomicity::ContinueOnError).await.is_err());
    assert_eq!(fe.read_table(t.connection_table_id()).await.unwrap().len(), 1);
    // The primary still writes.
    fe.write(vec![sy::delete(t.connection_key(&key).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    assert!(fe.read_table(t.connection_table_id()).await.unwrap().is_empty());
}
