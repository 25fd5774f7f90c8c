//! The control-plane client against the real switch-sim P4Runtime server
//! (in-process, 127.0.0.1, ephemeral port): pipeline push, typed writes that
//! change forwarding, reads, every error status, arbitration between two
//! controllers, digests and idle timeouts, and a bounded fuzz of Write.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::*;
use switchyard_control::client::{ClientError, Event, Mastership};
use switchyard_control::proto::p4::v1::{
    self as p4, get_forwarding_pipeline_config_request::ResponseType, p4_runtime_client::P4RuntimeClient, write_request::Atomicity,
};
use switchyard_control::switchyard::{self as sy, CookieSecret, SwitchyardTables};
use switchyard_p4rt_server::DeviceOptions;
use switchyard_wire::flow::ConnKey;
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use tonic::Code;

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn key(port: u16) -> ConnKey {
    ConnKey { client_ip: CLIENT, client_port: port, vip_id: 7 }
}

async fn base_config(c: &switchyard_control::client::P4rtClient, t: &SwitchyardTables) {
    let ups = vec![
        sy::insert(t.vip(VIP, 80, 7).unwrap()),
        sy::insert(t.backend(3, BACKEND, 8080).unwrap()),
        sy::insert(t.backend_address(BACKEND, 8080, 7, 3, VIP, 80).unwrap()),
        sy::insert(t.route("198.19.2.0".parse().unwrap(), 24, 2, MAC_A, MAC_B).unwrap()),
        sy::insert(t.route("198.18.1.0".parse().unwrap(), 24, 1, MAC_B, MAC_A).unwrap()),
        sy::modify(t.cookie_secrets(CookieSecret { k0: 1, k1: 2, generation: 1 }, CookieSecret { k0: 3, k1: 4, generation: 0 }).unwrap()),
    ];
    c.write(ups, Atomicity::ContinueOnError).await.expect("base config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_written_over_p4runtime_change_forwarding() {
    let sw = start_switch(DeviceOptions::default()).await;
    let (c, index) = primary_with_pipeline(&sw.endpoint, 10, &[]).await;
    assert_eq!(c.capabilities().await.unwrap(), "1.4.1");
    let got = c.get_pipeline(ResponseType::All).await.unwrap();
    assert_eq!(got.p4info.as_ref(), Some(index.p4info()), "the server returns the P4Info we pushed");
    assert_eq!(got.cookie.unwrap().cookie, 42);

    let t = SwitchyardTables::new((*index).clone()).unwrap();
    base_config(&c, &t).await;
    let pkt = tcp_frame(CLIENT, 40000, VIP, 80, 0x10, b"GET / HTTP/1.1\r\n\r\n");
    // No connection entry and no front-end port: the packet is dropped.
    assert_eq!(sw.server.device().inject(1, &pkt), None);

    c.write(vec![sy::insert(t.connection(&key(40000), 3, None).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    let (port, out) = sw.server.device().inject(1, &pkt).expect("offloaded packet forwarded");
    assert_eq!(port, 2, "routed towards the backend");
    let out = TcpFrame::new_checked(&out[..]).expect("a TCP frame");
    let r = FrameRepr::parse(&out);
    assert_eq!(r.dst, BACKEND, "destination rewritten to the backend");
    assert_eq!(r.tcp.dst_port, 8080);
    assert_eq!(r.ttl, 63, "TTL decremented");
    assert_eq!(r.dst_mac, MAC_B, "next-hop MAC");
    out.check_checksums().expect("checksums updated with the rewrite");

    // Read back, exactly what was written.
    let entries = c.read_table(t.connection_table_id()).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(t.decode_connection(&entries[0]).unwrap(), Some((key(40000), Some(3))));
    let wildcard = c.read_table(0).await.unwrap();
    assert_eq!(wildcard.len(), 6, "vip, backend, backend_address, 2 routes, connection");

    // Modify to another backend, then delete: forwarding follows.
    c.write(vec![sy::insert(t.backend(4, "198.19.2.11".parse().unwrap(), 9090).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    c.write(vec![sy::modify(t.connection(&key(40000), 4, None).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    let (_, out) = sw.server.device().inject(1, &pkt).unwrap();
    assert_eq!(TcpFrame::new_checked(&out[..]).unwrap().ipv4().dst(), Ipv4Addr::new(198, 19, 2, 11));
    c.write(vec![sy::delete(t.connection_key(&key(40000)).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    assert_eq!(sw.server.device().inject(1, &pkt), None);
    assert!(c.read_table(t.connection_table_id()).await.unwrap().is_empty());
}

async fn expect_update_error(c: &switchyard_control::client::P4rtClient, ups: Vec<p4::Update>, code: Code) {
    match c.write(ups, Atomicity::ContinueOnError).await {
        Err(ClientError::Updates(v)) => {
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].code, code, "{}", v[0].message);
            assert!(!v[0].message.is_empty());
        }
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_status() {
    let sw = start_switch(DeviceOptions::default()).await;
    let c = client(&sw.endpoint, 10).await;
    // FAILED_PRECONDITION: no pipeline yet (Write and Read).
    let (info, cfg) = pipeline(&[("CONNECTION_TABLE_SIZE", "4")]);
    let t = SwitchyardTables::new(switchyard_control::p4info::P4InfoIndex::new(info.clone()).unwrap()).unwrap();
    match c.write(vec![sy::insert(t.vip(VIP, 80, 7).unwrap())], Atomicity::ContinueOnError).await {
        Err(ClientError::Rpc(s)) => assert_eq!(s.code(), Code::FailedPrecondition),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.read_table(0).await.unwrap_err().code(), Some(Code::FailedPrecondition));
    // A device config that is not P4 is refused; so is a P4Info that does not match.
    let bad = c.set_pipeline(info.clone(), b"{\"p4_source\": \"not p4 at all\"}".to_vec(), 1, p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit).await;
    assert_eq!(bad.unwrap_err().code(), Some(Code::InvalidArgument));
    let mut wrong = info.clone();
    wrong.tables[0].match_fields[0].bitwidth += 1;
    let bad = c.set_pipeline(wrong, cfg.clone(), 1, p4::set_forwarding_pipeline_config_request::Action::Verify).await;
    assert_eq!(bad.unwrap_err().code(), Some(Code::InvalidArgument));
    c.set_pipeline(info, cfg, 1, p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit).await.unwrap();

    let conn = |p| t.connection(&key(p), 1, None).unwrap();
    c.write(vec![sy::insert(conn(1))], Atomicity::ContinueOnError).await.unwrap();
    // ALREADY_EXISTS, NOT_FOUND.
    expect_update_error(&c, vec![sy::insert(conn(1))], Code::AlreadyExists).await;
    expect_update_error(&c, vec![sy::delete(t.connection_key(&key(2)).unwrap())], Code::NotFound).await;
    expect_update_error(&c, vec![sy::modify(conn(2))], Code::NotFound).await;
    // INVALID_ARGUMENT: unknown table id, a value wider than its field, a missing exact field.
    let mut e = conn(3);
    e.table_id = 0x02ff_ffff;
    expect_update_error(&c, vec![sy::insert(e)], Code::InvalidArgument).await;
    let mut e = conn(3);
    if let Some(p4::field_match::FieldMatchType::Exact(x)) = &mut e.r#match[1].field_match_type {
        x.value = vec![1, 0, 0]; // 24 bits into a 16-bit port
    }
    expect_update_error(&c, vec![sy::insert(e)], Code::InvalidArgument).await;
    let mut e = conn(3);
    e.r#match.pop();
    expect_update_error(&c, vec![sy::insert(e)], Code::InvalidArgument).await;
    // RESOURCE_EXHAUSTED: the table holds 4.
    for p in 2..=4 {
        c.write(vec![sy::insert(conn(p))], Atomicity::ContinueOnError).await.unwrap();
    }
    expect_update_error(&c, vec![sy::insert(conn(5))], Code::ResourceExhausted).await;

    // Per-update details in a mixed batch, CONTINUE_ON_ERROR: the good one applies.
    c.write(vec![sy::delete(t.connection_key(&key(4)).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    match c.write(vec![sy::insert(conn(1)), sy::insert(conn(9))], Atomicity::ContinueOnError).await {
        Err(ClientError::Updates(v)) => {
            assert_eq!(v.iter().map(|s| s.code).collect::<Vec<_>>(), vec![Code::AlreadyExists, Code::Ok]);
        }
        other => panic!("{other:?}"),
    }
    // ROLLBACK_ON_ERROR: a failing batch leaves nothing behind.
    c.write(vec![sy::delete(t.connection_key(&key(9)).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    let before = c.read_table(t.connection_table_id()).await.unwrap().len();
    match c.write(vec![sy::insert(conn(9)), sy::delete(t.connection_key(&key(2)).unwrap()), sy::insert(conn(1))], Atomicity::RollbackOnError).await {
        Err(ClientError::Updates(v)) => {
            assert_eq!(v.iter().map(|s| s.code).collect::<Vec<_>>(), vec![Code::Aborted, Code::Aborted, Code::AlreadyExists]);
        }
        other => panic!("{other:?}"),
    }
    let after = c.read_table(t.connection_table_id()).await.unwrap();
    assert_eq!(after.len(), before);
    assert!(after.iter().any(|e| t.decode_connection(e).unwrap().unwrap().0 == key(2)), "the deleted entry was restored");

    // PERMISSION_DENIED: a backup's write, sent raw so the server decides.
    let backup = client(&sw.endpoint, 5).await;
    assert!(matches!(backup.mastership(), Mastership::Backup { primary_election_id: Some(10) }));
    assert!(matches!(backup.write(vec![sy::insert(conn(7))], Atomicity::ContinueOnError).await, Err(ClientError::NotPrimary { .. })));
    let mut raw = P4RuntimeClient::connect(sw.endpoint.clone()).await.unwrap();
    let req = p4::WriteRequest { device_id: 1, election_id: Some(p4::Uint128 { high: 0, low: 5 }), updates: vec![sy::insert(conn(7))], ..Default::default() };
    assert_eq!(raw.write(req).await.unwrap_err().code(), Code::PermissionDenied);
    // Wrong device id.
    let req = p4::WriteRequest { device_id: 99, election_id: Some(p4::Uint128 { high: 0, low: 10 }), ..Default::default() };
    assert_eq!(raw.write(req).await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_changes_and_old_primary_is_refused() {
    let sw = start_switch(DeviceOptions::default()).await;
    let (a, index) = primary_with_pipeline(&sw.endpoint, 10, &[]).await;
    let t = SwitchyardTables::new((*index).clone()).unwrap();
    let mut a_events = a.subscribe();
    a.write(vec![sy::insert(t.connection(&key(1), 1, None).unwrap())], Atomicity::ContinueOnError).await.unwrap();

    let b = client(&sw.endpoint, 20).await;
    assert_eq!(b.mastership(), Mastership::Primary);
    // A learns it lost primacy from the stream, and is told as an event.
    let m = a.wait_mastership(Duration::from_secs(5), |m| *m != Mastership::Primary).await;
    assert_eq!(m, Some(Mastership::Backup { primary_election_id: Some(20) }));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut told = false;
    while Instant::now() < deadline && !told {
        if let Ok(Ok(Event::Mastership(Mastership::Backup { .. }))) = tokio::time::timeout(Duration::from_millis(500), a_events.recv()).await {
            told = true;
        }
    }
    assert!(told, "the old primary gets a Mastership event");
    let r = a.write(vec![sy::insert(t.connection(&key(2), 1, None).unwrap())], Atomicity::ContinueOnError).await;
    assert!(matches!(r, Err(ClientError::NotPrimary { primary_election_id: Some(20) })), "{r:?}");
    b.write(vec![sy::insert(t.connection(&key(2), 1, None).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    // Reads are not arbitrated: the backup sees the new primary's entry.
    assert_eq!(a.read_table(t.connection_table_id()).await.unwrap().len(), 2);

    // A raises its election id above B's and takes primacy back.
    let mut a2 = a.clone();
    a2.set_election_id(30);
    assert_eq!(a2.wait_mastership(Duration::from_secs(5), |m| *m == Mastership::Primary).await, Some(Mastership::Primary));
    assert_eq!(b.wait_mastership(Duration::from_secs(5), |m| *m != Mastership::Primary).await, Some(Mastership::Backup { primary_election_id: Some(30) }));
    a2.write(vec![sy::insert(t.connection(&key(3), 1, None).unwrap())], Atomicity::ContinueOnError).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_and_idle_timeouts_reach_the_primary() {
    let sw = start_switch(DeviceOptions::default()).await;
    let (c, index) = primary_with_pipeline(&sw.endpoint, 10, &[]).await;
    let t = SwitchyardTables::new((*index).clone()).unwrap();
    let mut events = c.subscribe();
    base_config(&c, &t).await;
    let cfg = t.teardown_digest_config(Duration::from_millis(1), 16, Duration::from_secs(1)).expect("program has the teardown digest");
    c.write(vec![cfg], Atomicity::ContinueOnError).await.unwrap();
    c.write(vec![sy::insert(t.connection(&key(40000), 3, Some(Duration::from_millis(600))).unwrap())], Atomicity::ContinueOnError).await.unwrap();

    let fin = tcp_frame(CLIENT, 40000, VIP, 80, 0x11, b"");
    assert!(sw.server.device().inject(1, &fin).is_some(), "FIN on an offloaded flow is forwarded");
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut teardown, mut idle) = (None, None);
    while Instant::now() < deadline && (teardown.is_none() || idle.is_none()) {
        match tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            Ok(Ok(Event::Digest(d))) => teardown = t.decode_teardowns(&d).into_iter().next(),
            Ok(Ok(Event::IdleTimeout(n))) => {
                idle = n.table_entry.iter().find_map(|e| t.decode_connection(e).ok().flatten());
            }
            _ => {}
        }
    }
    let td = teardown.expect("teardown digest delivered");
    assert_eq!(td.key, key(40000));
    assert_eq!(td.backend, 3);
    assert_eq!(td.tcp_flags, 0x11);
    assert_eq!(idle.expect("idle timeout notification").0, key(40000));
}

/// xorshift64*: a fixed-seed generator, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self) -> Vec<u8> {
        let n = [0, 1, 2, 3, 4, 6, 17, 300][self.below(8) as usize];
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_writes_are_refused_and_the_server_keeps_serving() {
    let sw = start_switch(DeviceOptions::default()).await;
    let (c, index) = primary_with_pipeline(&sw.endpoint, 10, &[]).await;
    let t = SwitchyardTables::new((*index).clone()).unwrap();
    let table_ids: Vec<u32> = index.tables().map(|t| t.id).collect();
    let action_ids: Vec<u32> = index.actions().map(|a| a.id).collect();
    let mut raw = P4RuntimeClient::connect(sw.endpoint.clone()).await.unwrap();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let (mut ok, mut refused) = (0, 0);
    let started = Instant::now();
    for _ in 0..1500 {
        let mut updates = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let table_id = if rng.below(4) == 0 { rng.next() as u32 } else { table_ids[rng.below(table_ids.len() as u64) as usize] };
            let mut te = p4::TableEntry { table_id, priority: [0, 0, 1, -1, i32::MAX][rng.below(5) as usize], ..Default::default() };
            for _ in 0..rng.below(5) {
                use p4::field_match::*;
                let fmt = match rng.below(6) {
                    0 => FieldMatchType::Exact(Exact { value: rng.bytes() }),
                    1 => FieldMatchType::Lpm(Lpm { value: rng.bytes(), prefix_len: rng.below(80) as i32 - 8 }),
                    2 => FieldMatchType::Ternary(Ternary { value: rng.bytes(), mask: rng.bytes() }),
                    3 => FieldMatchType::Range(Range { low: rng.bytes(), high: rng.bytes() }),
                    4 => FieldMatchType::Optional(Optional { value: rng.bytes() }),
                    _ => FieldMatchType::Other(Default::default()),
                };
                te.r#match.push(p4::FieldMatch { field_id: rng.below(5) as u32, field_match_type: Some(fmt) });
            }
            if rng.below(5) > 0 {
                let action_id = if rng.below(5) == 0 { rng.next() as u32 } else { action_ids[rng.below(action_ids.len() as u64) as usize] };
                let params = (0..rng.below(6)).map(|_| p4::action::Param { param_id: rng.below(7) as u32, value: rng.bytes() }).collect();
                te.action = Some(p4::TableAction { r#type: Some(p4::table_action::Type::Action(p4::Action { action_id, params })) });
            }
            te.is_default_action = rng.below(8) == 0;
            te.idle_timeout_ns = [0, 0, -1, 1, i64::MAX][rng.below(5) as usize];
            let entity = match rng.below(12) {
                0 => None,
                1 => Some(p4::entity::Entity::CounterEntry(Default::default())),
                2 => Some(p4::entity::Entity::DigestEntry(p4::DigestEntry { digest_id: rng.next() as u32, config: None })),
                _ => Some(p4::entity::Entity::TableEntry(te)),
            };
            updates.push(p4::Update { r#type: rng.below(5) as i32, entity: Some(p4::Entity { entity }) });
        }
        let req = p4::WriteRequest {
            device_id: 1,
            election_id: Some(p4::Uint128 { high: 0, low: 10 }),
            updates,
            atomicity: rng.below(4) as i32,
            ..Default::default()
        };
        match raw.write(req).await {
            Ok(_) => ok += 1,
            Err(s) => {
                assert_ne!(s.code(), Code::Internal, "{s:?}");
                assert_ne!(s.code(), Code::Unavailable, "the server went away: {s:?}");
                refused += 1;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "bounded in time");
    }
    println!("fuzz: {ok} accepted, {refused} refused");
    assert!(refused > 1000, "hostile requests are refused ({refused})");
    // Still serving, and still correct.
    c.write(vec![sy::insert(t.connection(&key(1), 1, None).unwrap())], Atomicity::ContinueOnError).await.unwrap();
    let n = c.read_table(t.connection_table_id()).await.unwrap();
    assert!(n.iter().any(|e| t.decode_connection(e).unwrap().unwrap().0 == key(1)));
    assert_eq!(c.capabilities().await.unwrap(), "1.4.1");
}
