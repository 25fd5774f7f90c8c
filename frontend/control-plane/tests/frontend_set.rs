//! `switchyard-frontends`'s watcher against the real switch-sim P4Runtime
//! server (in-process, 127.0.0.1) running p4/switchyard.p4, with two
//! front-ends played by `/healthz` listeners on 127.0.0.1: the tables
//! follow the live set, a dead front-end's slots (and only those) move
//! within one probe interval of its death, no live front-end sets
//! `frontend_count` 0, and the front-ends' own primary controller (the
//! default role) keeps its primacy throughout.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_control::client::{ClientOptions, Mastership, P4rtClient};
use switchyard_control::p4info::P4InfoIndex;
use switchyard_control::switchyard::SwitchyardTables;
use switchyard_control_plane::frontend_set::liveness::Thresholds;
use switchyard_control_plane::frontend_set::watch::{self, WatchOptions};
use switchyard_control_plane::frontend_set::FrontendSpec;
use switchyard_p4rt_server::{Device, DeviceOptions, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

const INTERVAL: Duration = Duration::from_millis(100);
const WAIT: Duration = Duration::from_secs(10);

fn p4_path() -> std::path::PathBuf {
    std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../../p4/switchyard.p4")).unwrap()
}

/// A front-end's admin port answering `/healthz` as a live one does.
async fn healthz(addr: SocketAddrV4) -> JoinHandle<()> {
    let l = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else { return };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let body = "switchyard-frontend ok\n";
                let _ = s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes()).await;
            });
        }
    })
}

fn free_port() -> SocketAddrV4 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std::net::SocketAddr::V4(a) = l.local_addr().unwrap() else { unreachable!() };
    a
}

/// Slot -> front-end name, and frontend_count, as the switch holds them.
async fn tables_now(c: &P4rtClient, t: &SwitchyardTables, specs: &[FrontendSpec]) -> (BTreeMap<u16, String>, Option<u16>) {
    let (id, _) = t.frontend_port_table().unwrap();
    let mut slots = BTreeMap::new();
    for e in c.read_table(id).await.unwrap() {
        if let Some((slot, port, mac)) = t.decode_frontend_port(&e).unwrap() {
            let f = specs.iter().find(|f| (f.port, f.mac) == (port, mac)).map_or("?".to_string(), |f| f.name.clone());
            slots.insert(slot, f);
        }
    }
    (slots, watch::read_count(c, t).await.unwrap())
}

fn owned(slots: &BTreeMap<u16, String>, name: &str) -> Vec<u16> {
    slots.iter().filter(|(_, n)| *n == name).map(|(s, _)| *s).collect()
}

/// Polls until `ok` holds of the tables; how long it took.
async fn until(c: &P4rtClient, t: &SwitchyardTables, specs: &[FrontendSpec], what: &str, ok: impl Fn(&BTreeMap<u16, String>, Option<u16>) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let (s, n) = tables_now(c, t, specs).await;
        if ok(&s, n) {
            return start.elapsed();
        }
        assert!(start.elapsed() < WAIT, "{what}: not within {WAIT:?}; slots {s:?}, count {n:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_follows_the_live_front_ends() {
    let sw = switchyard_switch_sim::Switch::load(&p4_path(), &[]).expect("switchyard.p4 loads");
    let info = switchyard_p4rt_server::p4info_gen::generate(sw.program());
    let mut device = Device::new(DeviceOptions::default());
    let cfg = serde_json::json!({ "p4_path": p4_path() });
    device.install_program(Arc::new(sw.program().clone()), cfg.to_string().into_bytes()).unwrap();
    let (addr, _server) = switchyard_p4rt_server::serve(Server::new(device), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{addr}");
    let tables = SwitchyardTables::new(P4InfoIndex::new(info).unwrap()).unwrap();
    // A front-end's control task: primary of the default role.
    let frontend = P4rtClient::connect(&url, ClientOptions { election_id: 10, ..Default::default() }).await.unwrap();
    assert_eq!(frontend.mastership(), Mastership::Primary);

    let (a0, a1) = (free_port(), free_port());
    let specs: Vec<FrontendSpec> = [format!("fe0=2,02:53:59:00:00:10,{a0}"), format!("fe1=3,02:53:59:00:00:11,{a1}")].iter().map(|s| s.parse().unwrap()).collect();
    let fe0 = healthz(a0).await;
    let fe1 = healthz(a1).await;
    let opts = ClientOptions { election_id: 1, role: "switchyard-frontends".into(), ..Default::default() };
    let watcher_client = P4rtClient::connect(&url, opts).await.unwrap();
    let wopts = WatchOptions { interval: INTERVAL, timeout: Duration::from_millis(300), thresholds: Thresholds { rise: 2, fall: 2 }, resync: Duration::from_secs(30) };
    let watcher = tokio::spawn(watch::run(watcher_client, specs.clone(), wopts));

    let reader = P4rtClient::connect(&url, ClientOptions { election_id: 1, role: "test-reader".into(), ..Default::default() }).await.unwrap();
    until(&reader, &tables, &specs, "both live, 32 slots each", |s, n| n == Some(64) && owned(s, "fe0").len() == 32 && owned(s, "fe1").len() == 32).await;
    let (before, _) = tables_now(&reader, &tables, &specs).await;

    // fe1's process dies: its admin port refuses. Out at the next probe.
    fe1.abort();
    let took = until(&reader, &tables, &specs, "fe1's slots to fe0", |s, _| owned(s, "fe0").len() == 64).await;
    println!("fe1 gone: its slots moved within {took:?} (probe interval {INTERVAL:?})");
    assert!(took < INTERVAL * 5, "detection took {took:?}");
    let (after, count) = tables_now(&reader, &tables, &specs).await;
    assert_eq!(count, Some(64));
    let moved = before.iter().filter(|(s, n)| after[*s] != **n).count();
    assert_eq!(moved, 32, "only fe1's slots moved");

    // The last one dies: the switch refuses new connections.
    fe0.abort();
    until(&reader, &tables, &specs, "frontend_count 0", |_, n| n == Some(0)).await;

    // fe0 is back: after `rise` passes, every slot is its own again.
    let fe0 = healthz(a0).await;
    until(&reader, &tables, &specs, "fe0 back", |s, n| n == Some(64) && owned(s, "fe0").len() == 64).await;

    assert_eq!(frontend.mastership(), Mastership::Primary, "the front-end's control task stayed primary");
    assert!(!watcher.is_finished(), "the watcher runs on: {:?}", watcher);
    watcher.abort();
    fe0.abort();
}
