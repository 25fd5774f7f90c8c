//! The control task against the real switch-sim P4Runtime server
//! (in-process, 127.0.0.1, ephemeral port) running p4/switchyard.p4. The
//! test plays the worker through `ControlLink` and the operator (who loads
//! the program and the routes) through its own lower-priority controller;
//! what the switch holds is read back from the device and exercised with
//! packets injected into the running program.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use switchyard_control::client::{ClientOptions, P4rtClient};
use switchyard_control::p4info::P4InfoIndex;
use switchyard_control::proto::p4::v1::{self as p4, write_request::Atomicity};
use switchyard_control::switchyard::{self as sy, ConnMode, SwitchyardTables};
use switchyard_frontend::config::{self, Config, OffloadMode};
use switchyard_frontend::offload::{OffloadEvent, OffloadRequest, RefusedReason};
use switchyard_control_plane::{ControlLink, P4rtLink, P4rtOptions, SwitchLink};
use switchyard_p4rt_server::{Device, DeviceOptions, Server};
use switchyard_frontend::engine::packet::{self, Out};
use switchyard_frontend::engine::{Action, Engine};
use switchyard_wire::cookie::{CookieInput, CookieKeyring, CookieSecret};
use switchyard_wire::flow::ConnKey;
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::tcp::TcpRepr;
use switchyard_wire::tcp_option::{SynOptions, TcpOption, TcpOptions};

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 1);
const B0: Ipv4Addr = Ipv4Addr::new(198, 18, 10, 2);
const B1: Ipv4Addr = Ipv4Addr::new(198, 18, 11, 2);
const B2: Ipv4Addr = Ipv4Addr::new(198, 18, 12, 2);
const WAIT: Duration = Duration::from_secs(5);

fn test_config(idle_ms: u64) -> Config {
    let src = format!(
        r#"
[frontend]
mac = "02:53:59:00:00:10"
switch_mac = "02:53:59:01:00:10"
[switch]
p4runtime = "127.0.0.1:9559"
insecure = true
[cookie]
secrets = [{{ k0 = 0x03020100, k1 = 0x07060504 }}, {{ k0 = 0xdeadbeef, k1 = 0x0badf00d }}]
rotation_secs = 60
[timeouts]
idle_ms = {idle_ms}
[[services]]
name = "web"
vip = "198.18.100.1"
port = 80
[[services.routes]]
path_prefix = "/api/"
pool = "api"
offload = "request"
[[services.routes]]
pool = "web"
[[pools]]
name = "web"
backends = [{{ address = "198.18.10.2", port = 80 }}, {{ address = "198.18.11.2", port = 8080 }}]
[[pools]]
name = "api"
backends = [{{ address = "198.18.12.2", port = 80 }}]
"#
    );
    config::parse(&src, "test.toml").expect("valid test config")
}

fn p4_path() -> PathBuf {
    std::fs::canonicalize(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../p4/switchyard.p4")).expect("p4/switchyard.p4")
}

/// The switch with the program loaded (as the testbed starts it), the
/// operator's routes written by a controller with a lower election id, and
/// the runtime serving both.
struct TestSwitch {
    rt: tokio::runtime::Runtime,
    server: Server,
    addr: std::net::SocketAddr,
    tables: SwitchyardTables,
    _operator: Option<P4rtClient>,
}

fn start_switch(defines: &[(&str, &str)], with_program: bool) -> TestSwitch {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let defs: Vec<(String, String)> = defines.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    let sw = switchyard_switch_sim::Switch::load(&p4_path(), &defs).expect("switchyard.p4 loads");
    let info = switchyard_p4rt_server::p4info_gen::generate(sw.program());
    let mut device = Device::new(DeviceOptions::default());
    if with_program {
        let cfg = serde_json::json!({ "p4_path": p4_path(), "defines": defs.into_iter().collect::<std::collections::BTreeMap<_, _>>() });
        device.install_program(Arc::new(sw.program().clone()), cfg.to_string().into_bytes()).unwrap();
    }
    let server = Server::new(device);
    let (addr, _task) = rt.block_on(switchyard_p4rt_server::serve(server.clone(), "127.0.0.1:0".parse().unwrap())).expect("bind");
    let tables = SwitchyardTables::new(P4InfoIndex::new(info).unwrap()).unwrap();
    let operator = with_program.then(|| {
        rt.block_on(async {
            let c = P4rtClient::connect(&format!("http://{addr}"), ClientOptions { election_id: 1, ..Default::default() }).await.expect("operator connects");
            let mac = [2, 0, 0, 0, 0, 1];
            let routes = vec![
                sy::insert(tables.route("198.18.0.0".parse().unwrap(), 24, 1, mac, mac).unwrap()),
                sy::insert(tables.route("198.18.8.0".parse().unwrap(), 21, 2, mac, mac).unwrap()),
                // A front-end is live: with frontend_count 0 SYNs are refused (RST).
                sy::modify(tables.frontend_count(1).unwrap()),
            ];
            c.write(routes, Atomicity::ContinueOnError).await.expect("operator routes");
            c
        })
    });
    TestSwitch { rt, server, addr, tables, _operator: operator }
}

impl TestSwitch {
    fn read(&self, entry: p4::TableEntry) -> Vec<p4::TableEntry> {
        let req = p4::ReadRequest { device_id: 1, entities: vec![p4::Entity { entity: Some(p4::entity::Entity::TableEntry(entry)) }], role: String::new() };
        self.server
            .device()
            .read(&req)
            .expect("read")
            .into_iter()
            .filter_map(|e| match e.entity {
                Some(p4::entity::Entity::TableEntry(t)) => Some(t),
                _ => None,
            })
            .collect()
    }

    fn table(&self, name: &str) -> Vec<p4::TableEntry> {
        self.read(p4::TableEntry { table_id: self.tables.index().table(name).unwrap().id, ..Default::default() })
    }

    fn connections(&self) -> Vec<(ConnKey, Option<u16>, Option<ConnMode>)> {
        self.table(sy::TABLE_CONNECTION)
            .iter()
            .map(|e| {
                let (k, b) = self.tables.decode_connection(e).unwrap().unwrap();
                (k, b, self.tables.connection_mode(e))
            })
            .collect()
    }

    /// The cookie_secrets default action's parameters by name.
    fn secrets(&self) -> Vec<(String, u64)> {
        let id = self.tables.index().table(sy::TABLE_COOKIE_SECRETS).unwrap().id;
        let e = self.read(p4::TableEntry { table_id: id, is_default_action: true, ..Default::default() });
        let Some(p4::table_action::Type::Action(a)) = e[0].action.as_ref().and_then(|a| a.r#type.clone()) else { panic!("no action") };
        let ai = self.tables.index().action_by_id(a.action_id).unwrap();
        a.params
            .iter()
            .map(|p| {
                let name = ai.params.iter().find(|x| x.id == p.param_id).unwrap().name.clone();
                (name, switchyard_control::bitstring::decode_u128(&p.value, 64).unwrap() as u64)
            })
            .collect()
    }

    fn inject(&self, frame: &[u8]) -> Option<(u16, Vec<u8>)> {
        self.server.device().inject(1, frame)
    }
}

struct FrontEnd {
    link: ControlLink,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FrontEnd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn options(sw: &TestSwitch, cfg: &Config) -> P4rtOptions {
    let mut o = P4rtOptions::from_config(cfg, 10);
    o.endpoint = format!("http://{}", sw.addr);
    o.rotation = None;
    o
}

fn front_end(cfg: &Config, options: P4rtOptions) -> anyhow::Result<FrontEnd> {
    let stop = Arc::new(AtomicBool::new(false));
    let (link, thread) = ControlLink::spawn(SwitchLink::P4Runtime(Box::new(P4rtLink { config: cfg.clone(), options })), stop.clone())?;
    Ok(FrontEnd { link, stop, thread: Some(thread) })
}

fn key(port: u16) -> ConnKey {
    ConnKey { client_ip: CLIENT, client_port: port, vip_id: 0 }
}

fn install(fe: &FrontEnd, k: ConnKey, backend: u16, mode: OffloadMode) -> OffloadEvent {
    assert_eq!(fe.link.submit(OffloadRequest::Install { key: k, backend, mode }), None);
    fe.link.wait_event(WAIT).expect("a completion")
}

fn until(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < deadline, "{what}: not within {deadline:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

/// Ethernet + IPv4 + TCP (seq 1000, ack 2000) + payload, both checksums
/// valid (the switch verifies a SYN's before it answers it).
fn tcp_frame(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let tcp = TcpRepr { src_port: sport, dst_port: dport, seq: 1000, ack: 2000, flags, window: 0xffff, options: TcpOptions::NONE, payload };
    let repr = FrameRepr::new([0x02, 0, 0, 0, 0, 0xbb], [0x02, 0, 0, 0, 0, 0xaa], src, dst, tcp);
    FrameRepr { ident: 1, ..repr }.to_vec().expect("a small frame")
}

/// (destination address, destination port) of a TCP frame.
fn destination(f: &[u8]) -> (Ipv4Addr, u16) {
    let f = TcpFrame::new_checked(f).expect("a TCP frame");
    (f.ipv4().dst(), f.tcp().dst_port())
}

const FIN_ACK: u8 = 0x11;
const ACK: u8 = 0x10;
const SYN: u8 = 0x02;

#[test]
fn programs_the_services_and_installs_moves_and_deletes_connections() {
    let sw = start_switch(&[], true);
    let cfg = test_config(300_000);
    let fe = front_end(&cfg, options(&sw, &cfg)).expect("front-end reaches the switch");

    // Services read back: the VIP, every backend, and each backend's VIP.
    assert_eq!(sw.table(sy::TABLE_VIP).len(), 1, "one service");
    let vip_hit = sw.read(sw.tables.vip_key(VIP, 80).unwrap());
    assert_eq!(vip_hit.len(), 1, "VIP {VIP}:80 programmed");
    assert_eq!(vip_hit[0].action, sw.tables.vip(VIP, 80, 0).unwrap().action, "as VIP id 0");
    let backends = sw.table(sy::TABLE_BACKEND);
    assert_eq!(backends.len(), 3);
    for (i, (addr, port)) in [(B0, 80), (B1, 8080), (B2, 80)].into_iter().enumerate() {
        let want = sw.tables.backend(i as u16, addr, port).unwrap();
        assert!(backends.iter().any(|e| e.r#match == want.r#match && e.action == want.action), "backend {i} = {addr}:{port}");
        let want = sw.tables.backend_address(addr, port, 0, i as u16, VIP, 80).unwrap();
        assert!(sw.table(sy::TABLE_BACKEND_ADDRESS).iter().any(|e| e.r#match == want.r#match && e.action == want.action), "origin of {addr}:{port}");
        let want = sw.tables.backend_service(addr, port).unwrap();
        assert!(sw.table(sy::TABLE_BACKEND_SERVICE).iter().any(|e| e.r#match == want.r#match && e.action == want.action), "edge guard for {addr}:{port}");
    }
    assert_eq!(sw.table(sy::TABLE_BACKEND_SERVICE).len(), 3, "one edge guard per backend");
    // The engine's keyring: current = the first secret, generation 1.
    let ring = cfg.cookie.keyring();
    let s = sw.secrets();
    let get = |n: &str| s.iter().find(|(k, _)| k == n).unwrap().1;
    assert_eq!((get("cur_k0"), get("cur_k1"), get("cur_gen")), (u64::from(ring.current().k0), u64::from(ring.current().k1), 1));
    assert_eq!((get("prev_k0"), get("prev_k1")), (0xdeadbeef, 0x0badf00d));

    // Install (connection mode): an entry, and packets to the VIP now go to the backend.
    assert_eq!(install(&fe, key(40000), 1, OffloadMode::Connection), OffloadEvent::Installed { key: key(40000), backend: 1 });
    assert_eq!(sw.connections(), vec![(key(40000), Some(1), Some(ConnMode::Connection))]);
    let entry = sw.read(sw.tables.connection_key(&key(40000)).unwrap());
    assert_eq!(entry[0].idle_timeout_ns, 300_000_000_000, "idle timeout = timeouts.idle_ms");
    let (port, out) = sw.inject(&tcp_frame(CLIENT, 40000, VIP, 80, ACK, b"x")).expect("offloaded");
    assert_eq!((port, destination(&out)), (2, (B1, 8080)));

    // Install again (request mode, another backend): the entry moves.
    assert_eq!(install(&fe, key(40000), 2, OffloadMode::Request), OffloadEvent::Installed { key: key(40000), backend: 2 });
    assert_eq!(sw.connections(), vec![(key(40000), Some(2), Some(ConnMode::Request))]);
    assert_eq!(fe.link.stats().moved.load(Ordering::Relaxed), 1);

    // Detach (a request-mode hand-over): answered once the entry is gone
    // (the engine holds the hand-over for it), and the next Install for
    // the key is an INSERT again, not a move.
    assert_eq!(fe.link.submit(OffloadRequest::Detach { key: key(40000) }), None);
    assert_eq!(fe.link.wait_event(WAIT), Some(OffloadEvent::Detached { key: key(40000), removed: true }));
    assert!(sw.connections().is_empty(), "gone before the answer");
    assert_eq!(install(&fe, key(40000), 2, OffloadMode::Request), OffloadEvent::Installed { key: key(40000), backend: 2 });
    assert_eq!(fe.link.stats().moved.load(Ordering::Relaxed), 1, "an INSERT after the detach");
    assert_eq!(fe.link.stats().detaches.load(Ordering::Relaxed), 1);

    // Delete, and a second Delete of what is gone is no failure.
    fe.link.submit(OffloadRequest::Delete { key: key(40000) });
    until("entry deleted", WAIT, || sw.connections().is_empty());
    fe.link.submit(OffloadRequest::Delete { key: key(40000) });
    assert_eq!(install(&fe, key(40001), 0, OffloadMode::Connection), OffloadEvent::Installed { key: key(40001), backend: 0 });
    let st = fe.link.stats();
    assert_eq!(st.delete_failed.load(Ordering::Relaxed), 0);
    assert_eq!(st.install_latency.count(), 4);
    assert!(st.install_latency.quantile(0.99) > Duration::ZERO);
    eprintln!("{}", st.line());
}

#[test]
fn a_full_table_is_refused_as_table_full() {
    let sw = start_switch(&[("CONNECTION_TABLE_SIZE", "2")], true);
    let cfg = test_config(300_000);
    let fe = front_end(&cfg, options(&sw, &cfg)).unwrap();
    assert!(matches!(install(&fe, key(1), 0, OffloadMode::Connection), OffloadEvent::Installed { .. }));
    assert!(matches!(install(&fe, key(2), 0, OffloadMode::Connection), OffloadEvent::Installed { .. }));
    assert_eq!(install(&fe, key(3), 0, OffloadMode::Connection), OffloadEvent::Refused { key: key(3), backend: 0, reason: RefusedReason::TableFull });
    // A deletion frees room again.
    fe.link.submit(OffloadRequest::Delete { key: key(1) });
    until("entry deleted", WAIT, || sw.connections().len() == 1);
    assert!(matches!(install(&fe, key(3), 0, OffloadMode::Connection), OffloadEvent::Installed { .. }));
    assert_eq!(fe.link.stats().refused_table_full.load(Ordering::Relaxed), 1);
}

#[test]
fn teardown_digests_delete_after_the_grace_and_only_once_quiet() {
    let sw = start_switch(&[], true);
    let cfg = test_config(300_000);
    let mut o = options(&sw, &cfg);
    let grace = Duration::from_millis(400);
    o.teardown_grace = grace;
    let fe = front_end(&cfg, o).unwrap();
    let (closed, half) = (key(41000), key(41001));
    install(&fe, closed, 0, OffloadMode::Connection);
    install(&fe, half, 0, OffloadMode::Connection);

    let fin_at = Instant::now();
    assert!(sw.inject(&tcp_frame(CLIENT, closed.client_port, VIP, 80, FIN_ACK, b"")).is_some(), "FIN rewritten by the switch");
    assert!(sw.inject(&tcp_frame(CLIENT, half.client_port, VIP, 80, FIN_ACK, b"")).is_some());
    until("two teardown digests", WAIT, || fe.link.stats().teardown_digests.load(Ordering::Relaxed) == 2);
    // The half-closed one keeps carrying the backend's data past the grace.
    let gone_after = std::thread::scope(|s| {
        s.spawn(|| {
            while fin_at.elapsed() < grace * 3 {
                assert!(sw.inject(&tcp_frame(B0, 80, CLIENT, half.client_port, ACK, b"data")).is_some(), "half-closed flow still offloaded");
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        until("closed flow's entry deleted", WAIT, || !sw.connections().iter().any(|c| c.0 == closed));
        fin_at.elapsed()
    });
    assert!(gone_after >= grace, "deleted only after the grace ({gone_after:?})");
    assert!(sw.connections().iter().any(|c| c.0 == half), "the busy half-closed flow kept its entry for 3 graces");
    let quiet_from = Instant::now();
    until("half-closed flow deleted once quiet", WAIT, || sw.connections().is_empty());
    eprintln!("closed flow deleted {gone_after:?} after its FIN; the half-closed one {:?} after its last packet", quiet_from.elapsed());
    assert_eq!(fe.link.stats().teardown_deletes.load(Ordering::Relaxed), 2);
}

#[test]
fn idle_timeouts_delete_at_once() {
    let sw = start_switch(&[], true);
    let cfg = test_config(500);
    let fe = front_end(&cfg, options(&sw, &cfg)).unwrap();
    install(&fe, key(42000), 0, OffloadMode::Connection);
    assert_eq!(sw.connections().len(), 1);
    let t = until("idle entry deleted", WAIT, || sw.connections().is_empty());
    assert!(t >= Duration::from_millis(300), "not before its idle timeout ({t:?})");
    assert_eq!(fe.link.stats().idle_deletes.load(Ordering::Relaxed), 1);
}

#[test]
fn rotation_reaches_the_worker_before_the_switch_signs_with_it() {
    let sw = start_switch(&[], true);
    let cfg = test_config(300_000);
    let mut o = options(&sw, &cfg);
    o.rotation = Some(Duration::from_millis(300));
    let fe = front_end(&cfg, o).unwrap();
    let before = sw.secrets();
    let next = fe.link.wait_rotation(WAIT).expect("a rotation event");
    assert_ne!((next.k0, next.k1), (0x03020100, 0x07060504));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sw.secrets(), before, "the switch waits until the worker applied the secret");

    let mut engine_ring: CookieKeyring = cfg.cookie.keyring();
    engine_ring.rotate(next);
    fe.link.rotation_applied();
    until("switch signs with the new secret", WAIT, || sw.secrets() != before);
    let s = sw.secrets();
    let get = |n: &str| s.iter().find(|(k, _)| k == n).unwrap().1;
    assert_eq!((get("cur_k0"), get("cur_k1"), get("cur_gen")), (u64::from(next.k0), u64::from(next.k1), 0), "generation flipped");
    assert_eq!((get("prev_k0"), get("prev_k1")), (0x03020100, 0x07060504), "the old current is the previous");
    assert_eq!(fe.link.stats().rotations.load(Ordering::Relaxed), 1);

    // A SYN-ACK the switch signs now validates with the rotated engine
    // keyring, and not with the keyring an unrotated engine has.
    let (_, synack) = sw.inject(&tcp_frame(CLIENT, 43000, VIP, 80, SYN, b"")).expect("SYN answered");
    let cookie = TcpFrame::new_checked(&synack[..]).expect("a SYN-ACK").tcp().seq();
    let input = CookieInput { client_ip: CLIENT, client_port: 43000, vip: VIP, vport: 80, client_isn: 1000 };
    assert!(engine_ring.validate(cookie, &input).is_ok(), "rotated engine accepts");
    assert!(cfg.cookie.keyring().validate(cookie, &input).is_err(), "an engine that did not rotate would refuse");

    // The next period brings another rotation, again through the worker.
    let again = fe.link.wait_rotation(WAIT).expect("second rotation");
    assert_ne!(again, next);
}

#[test]
fn an_unreachable_switch_fails_the_start_with_its_address() {
    let cfg = test_config(300_000);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // closed when dropped
    let mut o = P4rtOptions::from_config(&cfg, 10);
    o.endpoint = format!("http://{dead}");
    o.start_timeout = Duration::from_millis(1500);
    let t = Instant::now();
    let err = front_end(&cfg, o).err().expect("start fails").to_string();
    assert!(err.contains(&dead.to_string()) && err.contains("cannot reach"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10), "bounded ({:?})", t.elapsed());

    let sw = start_switch(&[], false);
    let mut o = options(&sw, &cfg);
    o.start_timeout = Duration::from_millis(800);
    let err = front_end(&cfg, o).err().expect("no pipeline").to_string();
    assert!(err.contains("no pipeline") && err.contains(&sw.addr.to_string()), "{err}");
    drop(sw.rt);
}

/// (dst, dport, flags, payload length) of the engine's frames; offload
/// requests go to the control task as the worker sends them.
fn engine_out(fe: &FrontEnd, out: &mut Vec<Action>) -> Vec<(Ipv4Addr, u16, u8, usize)> {
    let mut tx = Vec::new();
    for a in out.drain(..) {
        match a {
            Action::Transmit(f) => {
                let f = TcpFrame::new_checked(&f[..]).unwrap();
                tx.push((f.ipv4().dst(), f.tcp().dst_port(), f.tcp().flags(), f.payload().len()));
            }
            Action::Offload(r) => assert_eq!(fe.link.submit(r), None),
        }
    }
    tx
}

/// The engine's own offload request, for a flow it spliced, lands in the
/// switch as the entry its packets need: same key, the backend the engine
/// chose, the route's mode — and the completion marks the flow offloaded.
#[test]
fn the_engines_install_becomes_a_working_switch_entry() {
    let sw = start_switch(&[], true);
    let cfg = test_config(300_000);
    let fe = front_end(&cfg, options(&sw, &cfg)).unwrap();
    let mut engine = Engine::new(&cfg);
    let mut out = Vec::new();
    let (mac, swmac) = ([2, 0x53, 0x59, 1, 0, 0x10], [2, 0x53, 0x59, 0, 0, 0x10]);
    let c_isn = 0x1234_0000u32;
    for (cport, path, mode) in [(44000u16, "/index.html", ConnMode::Connection), (44001, "/api/v1", ConnMode::Request)] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: example.test\r\n\r\n");
        let opts = SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, timestamps: false };
        let input = CookieInput { client_ip: CLIENT, client_port: cport, vip: VIP, vport: 80, client_isn: c_isn };
        let s = engine.keyring().generate(&input, &opts);
        let frame = |src, sport, dst, dport, seq, ack, flags, o: &[TcpOption<'_>], payload: &[u8]| {
            packet::emit(&Out { src, sport, dst, dport, seq, ack, flags, window: 502, options: o, payload }, mac, swmac)
        };
        let mut f = frame(CLIENT, cport, VIP, 80, c_isn + 1, s + 1, ACK | 0x08, &[], req.as_bytes());
        engine.handle_frame(&mut f, 0, &mut out);
        let syn = engine_out(&fe, &mut out);
        assert_eq!(syn.len(), 1, "the replayed SYN");
        let (dip, dport) = (syn[0].0, syn[0].1);
        let mut f = frame(dip, dport, CLIENT, cport, s, c_isn + 1, SYN | ACK, &[TcpOption::Mss(1460)], b"");
        engine.handle_frame(&mut f, 1, &mut out);
        assert!(engine_out(&fe, &mut out).iter().any(|t| t.3 == req.len()), "the request to the backend");
        let mut f = frame(dip, dport, CLIENT, cport, s + 1, c_isn + 1 + req.len() as u32, ACK, &[], b"");
        engine.handle_frame(&mut f, 2, &mut out);
        engine_out(&fe, &mut out);
        let ev = fe.link.wait_event(WAIT).expect("the engine asked for an install");
        let OffloadEvent::Installed { key: k, backend } = ev else { panic!("{ev:?}") };
        assert_eq!(k, key(cport));
        engine.on_offload(ev, 3, &mut out);
        let b = cfg.backends[usize::from(backend)];
        assert_eq!((b.address, b.port), (dip, dport), "the entry's backend is the one the engine spliced to");
        assert!(sw.connections().contains(&(key(cport), Some(backend), Some(mode))), "{:?}", sw.connections());
        // The client's next bare ACK is carried by the switch to that backend.
        let (_, fwd) = sw.inject(&tcp_frame(CLIENT, cport, VIP, 80, ACK, b"")).expect("offloaded");
        assert_eq!(destination(&fwd), (dip, dport));
    }
    assert_eq!(engine.counters()[switchyard_wire::reason::FrontendCounter::OffloadInstalled], 2);
}

/// Another controller takes primacy: installs are refused as unreachable
/// (the flow stays on the front-end path); when it leaves, the front-end is
/// primary again, programs its services again (the usurper had removed the
/// VIP) and installs work.
#[test]
fn primacy_lost_refuses_and_regained_reprograms() {
    let sw = start_switch(&[], true);
    let cfg = test_config(300_000);
    let fe = front_end(&cfg, options(&sw, &cfg)).unwrap();
    let usurper = sw.rt.block_on(async {
        let c = P4rtClient::connect(&format!("http://{}", sw.addr), ClientOptions { election_id: 20, ..Default::default() }).await.unwrap();
        assert!(c.is_primary());
        c.write(vec![sy::delete(sw.tables.vip_key(VIP, 80).unwrap())], Atomicity::ContinueOnError).await.unwrap();
        c
    });
    assert!(sw.table(sy::TABLE_VIP).is_empty());
    let ev = install(&fe, key(45000), 0, OffloadMode::Connection);
    assert_eq!(ev, OffloadEvent::Refused { key: key(45000), backend: 0, reason: RefusedReason::SwitchUnreachable });
    assert!(sw.connections().is_empty());

    sw.rt.block_on(async move { drop(usurper) });
    until("services programmed again", WAIT, || sw.table(sy::TABLE_VIP).len() == 1);
    assert!(matches!(install(&fe, key(45000), 0, OffloadMode::Connection), OffloadEvent::Installed { .. }));
    assert_eq!(fe.link.stats().refused_unreachable.load(Ordering::Relaxed), 1);
}

/// What the admin API asks of the control task, against the real switch:
/// the connection table read back from the switch, a rotation now (the
/// period is an hour) acknowledged by the worker and then signed with by
/// the switch, the pair kept in `rotated_secrets_file` (mode 0600), and a
/// restart loading it in place of the config's secrets.
#[test]
fn admin_requests_read_the_table_rotate_now_and_keep_the_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let sw = start_switch(&[], true);
    let dir = std::env::temp_dir().join(format!("sy-admin-p4rt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secrets.json");
    let mut cfg = test_config(300_000);
    cfg.cookie.rotated_secrets_file = Some(file.clone());
    let mut o = options(&sw, &cfg);
    o.rotation = Some(Duration::from_secs(3600));
    let fe = front_end(&cfg, o).unwrap();
    let requests = fe.link.control_requests();
    assert_eq!(requests.switch_state(), switchyard_control_plane::SwitchState::Primary);
    assert_eq!(install(&fe, key(46000), 1, OffloadMode::Connection), OffloadEvent::Installed { key: key(46000), backend: 1 });
    assert_eq!(install(&fe, key(46001), 2, OffloadMode::Request), OffloadEvent::Installed { key: key(46001), backend: 2 });

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert_eq!(rt.block_on(requests.entries_per_backend(3)), Ok(Some(vec![0, 1, 1])), "what a drain of backend 1 or 2 waits on");
    let t = rt.block_on(requests.connection_table()).unwrap();
    assert_eq!((t.total, t.tracked), (2, 2));
    let mut got: Vec<_> = t.entries.iter().map(|e| (e.key, e.backend, e.mode)).collect();
    got.sort_by_key(|e| e.0.client_port);
    assert_eq!(got, vec![(key(46000), Some(1), Some(ConnMode::Connection)), (key(46001), Some(2), Some(ConnMode::Request))]);

    // The rotation waits for the worker's acknowledgement: play the worker.
    let worker = std::thread::scope(|s| {
        let rotated = s.spawn(|| rt.block_on(requests.rotate_secret(WAIT)));
        let next = fe.link.wait_rotation(WAIT).expect("the worker hears first");
        fe.link.rotation_applied();
        (next, rotated.join().unwrap())
    });
    let (next, rotated) = worker;
    assert_eq!(rotated, Ok(1), "answered once the switch signs with it");
    let s = sw.secrets();
    let get = |n: &str| s.iter().find(|(k, _)| k == n).unwrap().1;
    assert_eq!((get("cur_k0"), get("cur_k1")), (u64::from(next.k0), u64::from(next.k1)));
    let (cur, prev) = switchyard_control_plane::secret_store::load(&file).unwrap().expect("kept");
    assert_eq!((cur, (prev.k0, prev.k1)), (next, (0x03020100, 0x07060504)));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    drop(fe);

    // A restart signs with the kept secret, not the config's.
    let mut restarted = test_config(300_000);
    restarted.cookie.rotated_secrets_file = Some(file.clone());
    assert!(switchyard_control_plane::secret_store::apply(&mut restarted).unwrap().unwrap().contains("rotated by an earlier run"));
    assert_eq!(restarted.cookie.secrets, vec![next, CookieSecret { k0: 0x03020100, k1: 0x07060504 }]);
    let fe = front_end(&restarted, options(&sw, &restarted)).unwrap();
    let s = sw.secrets();
    let get = |n: &str| s.iter().find(|(k, _)| k == n).unwrap().1;
    assert_eq!((get("cur_k0"), get("cur_k1")), (u64::from(next.k0), u64::from(next.k1)), "the switch signs with the kept secret");
    drop(fe);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The metrics scrape's read of the switch's P4 counters, through the
/// control task's session (the reader `switchyard-ctl counters` uses):
/// a SYN the switch answered moves `syn_answered`, packets and bytes; a
/// frame to no route moves the `no_route` drop.
#[test]
fn switch_counters_are_read_through_the_control_task() {
    let sw = start_switch(&[], true);
    let cfg = test_config(300_000);
    let fe = front_end(&cfg, options(&sw, &cfg)).unwrap();
    let requests = fe.link.control_requests();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let before = rt.block_on(requests.switch_counters()).unwrap().expect("a switch");
    let find = |rows: &[switchyard_control::counters::CounterRow], name: &str| rows.iter().find(|r| r.reason.name == name).map_or((0, 0), |r| (r.packets, r.bytes));
    sw.inject(&tcp_frame(CLIENT, 47000, VIP, 80, SYN, b""));
    sw.inject(&tcp_frame(CLIENT, 47001, "203.0.113.9".parse().unwrap(), 80, ACK, b""));
    let after = rt.block_on(requests.switch_counters()).unwrap().expect("a switch");
    let (p0, b0) = find(&before.paths, "syn_answered");
    let (p1, b1) = find(&after.paths, "syn_answered");
    assert_eq!(p1, p0 + 1, "{after:?}");
    assert!(b1 > b0, "{after:?}");
    assert_eq!(find(&after.drops, "no_route").0, find(&before.drops, "no_route").0 + 1, "{after:?}");
    assert!(after.paths.iter().all(|r| switchyard_wire::reason::PATH_COUNTERS.contains(r.reason)));
}

/// A hot reload's switch side: a new service and a new backend get their
/// entries (INSERT), kept ones are rewritten in place (MODIFY), installs
/// to the new backend's index then work.
#[test]
fn a_reload_programs_new_services_and_backends() {
    let sw = start_switch(&[], true);
    let cfg = test_config(300_000);
    let fe = front_end(&cfg, options(&sw, &cfg)).unwrap();
    assert_eq!((sw.table(sy::TABLE_VIP).len(), sw.table(sy::TABLE_BACKEND).len()), (1, 3));
    let src = r#"
[frontend]
mac = "02:53:59:00:00:10"
switch_mac = "02:53:59:01:00:10"
[switch]
p4runtime = "127.0.0.1:9559"
insecure = true
[cookie]
secrets = [{ k0 = 0x03020100, k1 = 0x07060504 }, { k0 = 0xdeadbeef, k1 = 0x0badf00d }]
rotation_secs = 60
[[services]]
name = "web"
vip = "198.18.100.1"
port = 80
[[services.routes]]
pool = "web"
[[services]]
name = "gw"
vip = "198.18.100.2"
port = 8080
[[services.routes]]
pool = "gw"
[[pools]]
name = "web"
backends = [{ address = "198.18.10.2", port = 80 }, { address = "198.18.11.2", port = 8080 }]
[[pools]]
name = "gw"
backends = [{ address = "198.18.13.2", port = 8080 }]
"#;
    let new = config::parse(src, "t.toml").unwrap();
    let plan = switchyard_control_plane::reload::plan(&cfg, &cfg, &new, "t.toml").unwrap();
    assert_eq!(plan.config.backends.len(), 4, "198.18.12.2 keeps index 2, 13.2 is 3");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let warnings = rt.block_on(fe.link.control_requests().reprogram(Arc::new(plan.config.clone()))).unwrap();
    assert!(warnings.iter().any(|w| w.contains("198.18.12.2:80 is in no service's pools")), "{warnings:?}");
    assert_eq!((sw.table(sy::TABLE_VIP).len(), sw.table(sy::TABLE_BACKEND).len()), (2, 4));
    let gw = ConnKey { client_ip: CLIENT, client_port: 47000, vip_id: 1 };
    assert_eq!(install(&fe, gw, 3, OffloadMode::Request), OffloadEvent::Installed { key: gw, backend: 3 });
    // 198.18.12.2:80 is reached by no service now: its backend_address
    // entry stays (flows may still use it) until the retirement deletes it.
    assert_eq!(plan.retired, vec![2]);
    assert_eq!(sw.table(sy::TABLE_BACKEND_ADDRESS).len(), 4);
    rt.block_on(fe.link.control_requests().delete_backend_address([198, 18, 12, 2].into(), 80)).unwrap();
    assert_eq!(sw.table(sy::TABLE_BACKEND_ADDRESS).len(), 3);
    rt.block_on(fe.link.control_requests().delete_backend_address([198, 18, 12, 2].into(), 80)).expect("already gone is fine");
}

/// `[switch]` with neither mutual TLS nor `insecure = true`: the start is
/// refused before anything is sent, and says what to set.
#[test]
fn a_switch_section_without_a_transport_is_refused_at_start() {
    let cfg = test_config(300_000);
    let sw = start_switch(&[], false);
    let mut o = options(&sw, &cfg);
    o.transport = None;
    let err = front_end(&cfg, o).err().expect("start refused").to_string();
    assert!(err.contains("tls_ca, tls_cert and tls_key") && err.contains("insecure = true"), "{err}");
    drop(sw.rt);
}
