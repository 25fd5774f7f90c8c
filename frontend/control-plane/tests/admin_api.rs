//! The admin API and the `switchyard` CLI in-process, no root: a worker
//! thread owning a real `Engine` (fed crafted frames) behind a
//! `ControlLink` without a switch, the admin server on 127.0.0.1 (an
//! ephemeral port), requests from the CLI's own client and from the
//! built `switchyard` binary. /metrics is parsed with a Prometheus text
//! parser (prometheus-parse) and its counters checked to move with the
//! traffic; every exported name must be documented in docs/OPERATIONS.md.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Sender};
use serde_json::Value;
use switchyard_control_plane::admin::{AdminContext, AdminServer, Reloader};
use switchyard_control_plane::cli::http::request;
use switchyard_control_plane::metrics;
use switchyard_control_plane::{ControlLink, SwitchLink};
use switchyard_frontend::config::{self, AdminSettings, Config};
use switchyard_frontend::engine::packet::{self, Out};
use switchyard_frontend::engine::Engine;
use switchyard_wire::cookie::CookieInput;
use switchyard_wire::reason::DROP_REASONS;
use switchyard_wire::tcp::ACK;
use switchyard_wire::tcp_option::SynOptions;

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 1);
const MAC: [u8; 6] = [2, 0x53, 0x59, 1, 0, 0x10];
const SWITCH_MAC: [u8; 6] = [2, 0x53, 0x59, 0, 0, 0x10];

const SRC: &str = r#"
[frontend]
mac = "02:53:59:00:00:10"
switch_mac = "02:53:59:01:00:10"
[switch]
p4runtime = "127.0.0.1:9559"
[cookie]
secrets = [{ k0 = 0x03020100, k1 = 0x07060504 }]
rotation_secs = 60
[[services]]
name = "web"
vip = "198.18.100.1"
port = 80
[[services.routes]]
pool = "web"
[[pools]]
name = "web"
backends = [{ address = "198.18.10.2", port = 80 }, { address = "198.18.11.2", port = 80, weight = 2 }]
[admin]
listen = "127.0.0.1:9180"
"#;

fn test_config() -> Config {
    config::parse(SRC, "test.toml").expect("valid test config")
}

/// The worker and the admin server, stopped on drop.
struct FrontEnd {
    admin: SocketAddr,
    frames: Sender<Vec<u8>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    server: Option<AdminServer>,
}

impl Drop for FrontEnd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(s) = self.server.take() {
            s.join();
        }
    }
}

/// `file` is where `/reload` reads the config (it need not exist for the
/// other tests).
fn start_with_file(cfg: &Config, file: &std::path::Path) -> FrontEnd {
    let stop = Arc::new(AtomicBool::new(false));
    let (link, control) = ControlLink::spawn(SwitchLink::Disabled, stop.clone()).unwrap();
    let ctx = AdminContext {
        config: std::sync::RwLock::new(Arc::new(cfg.clone())),
        // Port 0 here only: the config insists on a fixed one.
        settings: Some(AdminSettings { listen: "127.0.0.1:0".parse().unwrap(), allow_remote: false }),
        commands: link.commands(),
        control: link.control_requests(),
        counters: Default::default(),
        started: Instant::now(),
        reloader: Reloader::new(file.to_path_buf(), cfg.clone()),
    };
    let server = AdminServer::spawn(ctx, stop.clone(), false).unwrap();
    let (frames, rx) = unbounded::<Vec<u8>>();
    let (cfg2, s2) = (cfg.clone(), stop.clone());
    // The worker loop's command and frame handling, as worker.rs does it.
    let worker = std::thread::spawn(move || {
        let mut engine = Engine::new(&cfg2);
        let mut out = Vec::new();
        let start = Instant::now();
        while !s2.load(Ordering::Relaxed) {
            while let Some(c) = link.take_command() {
                c.apply(&mut engine);
            }
            while let Ok(mut f) = rx.try_recv() {
                engine.handle_frame(&mut f, start.elapsed().as_millis() as u64, &mut out);
                out.clear();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    FrontEnd { admin: server.local_addr.unwrap(), frames, stop, threads: vec![worker, control], server: Some(server) }
}

fn start(cfg: &Config) -> FrontEnd {
    start_with_file(cfg, std::path::Path::new("/nonexistent/switchyard.toml"))
}

fn frame(cport: u16, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    packet::emit(&Out { src: CLIENT, sport: cport, dst: VIP, dport: 80, seq, ack, flags: ACK | 0x08, window: 502, options: &[], payload }, MAC, SWITCH_MAC)
}

/// The client's ACK + request for a SYN the switch answered with a valid
/// cookie: a new flow, spliced to a backend (its replayed SYN goes out).
fn valid_request(cfg: &Config, cport: u16) -> Vec<u8> {
    let isn = 0x1000_0000u32;
    let input = CookieInput { client_ip: CLIENT, client_port: cport, vip: VIP, vport: 80, client_isn: isn };
    let opts = SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, timestamps: false };
    let cookie = cfg.cookie.keyring().generate(&input, &opts);
    frame(cport, isn + 1, cookie.wrapping_add(1), b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")
}

fn get(fe: &FrontEnd, method: &str, path: &str) -> (u16, Value) {
    let (status, body) = request(fe.admin, method, path).unwrap();
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
}

/// (name, sorted labels) -> value of every sample.
fn scrape(fe: &FrontEnd) -> (String, HashMap<(String, Vec<(String, String)>), f64>) {
    let (status, text) = request(fe.admin, "GET", "/metrics").unwrap();
    assert_eq!(status, 200);
    for line in text.lines() {
        let known = !matches!(prometheus_parse::LineInfo::parse(line), prometheus_parse::LineInfo::Ignored);
        assert!(known || line == "# EOF" || line.starts_with("# UNIT "), "a line the parser cannot read: `{line}`");
    }
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text");
    let mut m = HashMap::new();
    for s in parsed.samples {
        let v = match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(h) => h.last().map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => continue,
        };
        let mut labels: Vec<(String, String)> = s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        labels.sort();
        m.insert((s.metric, labels), v);
    }
    (text, m)
}

fn sample(m: &HashMap<(String, Vec<(String, String)>), f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut l: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    l.sort();
    *m.get(&(name.to_string(), l)).unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

fn until(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn metrics_parse_and_move_with_traffic() {
    let cfg = test_config();
    let fe = start(&cfg);
    let (text, before) = scrape(&fe);
    assert_eq!(sample(&before, "switchyard_frontend_setups_total", &[]), 0.0);
    assert_eq!(sample(&before, "switchyard_frontend_drops_total", &[("reason", "bad_cookie")]), 0.0);
    for r in DROP_REASONS {
        sample(&before, "switchyard_frontend_drops_total", &[("reason", r.name)]);
    }
    assert!(text.contains("# TYPE switchyard_frontend_offload_install_latency_seconds histogram"), "{text}");

    fe.frames.send(valid_request(&cfg, 40000)).unwrap();
    fe.frames.send(frame(40001, 1, 12345, b"GET / HTTP/1.1\r\n\r\n")).unwrap(); // a forged cookie
    until("the traffic counted", || sample(&scrape(&fe).1, "switchyard_frontend_setups_total", &[]) == 1.0);
    let (_, after) = scrape(&fe);
    assert_eq!(sample(&after, "switchyard_frontend_flows", &[("state", "connecting")]), 1.0, "spliced: its replayed SYN is out");
    assert_eq!(sample(&after, "switchyard_frontend_drops_total", &[("reason", "bad_cookie")]), 1.0);
    assert_eq!(sample(&after, "switchyard_frontend_cookie_validation_failures_total", &[]), 1.0);
    assert_eq!(sample(&after, "switchyard_frontend_stateless_resets_total", &[]), 1.0, "the forged ACK gets an RST");
    let on: f64 = ["198.18.10.2:80", "198.18.11.2:80"].iter().map(|b| sample(&after, "switchyard_frontend_backend_flows", &[("backend", b)])).sum();
    assert_eq!(on, 1.0);
    assert_eq!(sample(&after, "switchyard_frontend_backend_healthy", &[("backend", "198.18.10.2:80")]), 1.0);
    assert_eq!(sample(&after, "switchyard_frontend_switch_up", &[]), 0.0, "no switch");
    assert!(sample(&after, "switchyard_frontend_admin_requests_total", &[]) >= 3.0);
}

/// Every metric the front-end exports is in docs/OPERATIONS.md's table.
#[test]
fn every_metric_is_documented() {
    let cfg = test_config();
    let fe = start(&cfg);
    let (_, text) = request(fe.admin, "GET", "/metrics").unwrap();
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/OPERATIONS.md")).unwrap();
    let names = metrics::exported_names(&text);
    assert!(names.len() > 20, "{names:?}");
    let missing: Vec<&String> = names.iter().filter(|n| !docs.contains(&format!("`{n}`"))).collect();
    assert!(missing.is_empty(), "metrics missing from docs/OPERATIONS.md: {missing:?}");
    // With a switch these are exported too; documented as well.
    for n in [
        "switchyard_frontend_switch_connection_table_size",
        "switchyard_frontend_backend_switch_entries",
        "switchyard_frontend_switch_path_packets_total",
        "switchyard_frontend_switch_path_bytes_total",
        "switchyard_frontend_switch_drops_total",
        "switchyard_frontend_switch_dropped_bytes_total",
    ] {
        assert!(docs.contains(&format!("`{n}`")), "{n}");
    }
}

#[test]
fn endpoints_answer_and_drain_applies() {
    let cfg = test_config();
    let fe = start(&cfg);
    let (s, v) = get(&fe, "GET", "/status");
    assert_eq!((s, v["switch"].as_str(), v["flows"].as_u64()), (200, Some("disabled"), Some(0)));
    let (_, v) = get(&fe, "GET", "/backends");
    assert_eq!(v["backends"][1]["name"], "198.18.11.2:80");
    assert_eq!(v["backends"][1]["pools"][0]["weight"], 2);

    let (s, v) = get(&fe, "POST", "/backends/198.18.10.2:80/drain");
    assert_eq!((s, v["draining"].as_bool()), (200, Some(true)), "answered once applied: {v}");
    // Every new flow now goes to the other backend.
    for p in 0..6 {
        fe.frames.send(valid_request(&cfg, 41000 + p)).unwrap();
    }
    until("six flows", || get(&fe, "GET", "/status").1["flows"] == 6);
    let (_, v) = get(&fe, "GET", "/flows?backend=198.18.11.2:80");
    assert_eq!(v["matched"], 6, "{v}");
    assert_eq!(v["flows"][0]["backend"], "198.18.11.2:80");
    assert_eq!(v["flows"][0]["service"], "web");
    assert_eq!(get(&fe, "GET", "/flows?backend=198.18.10.2").1["matched"], 0, "the drained one got none");
    assert_eq!(get(&fe, "GET", "/flows?client=198.18.0.2").1["matched"], 6);
    assert_eq!(get(&fe, "GET", "/flows?client=198.18.0.3").1["matched"], 0);
    let (s, v) = get(&fe, "POST", "/backends/198.18.10.2:80/undrain");
    assert_eq!((s, v["draining"].as_bool()), (200, Some(false)));

    let (s, v) = get(&fe, "GET", "/table");
    assert_eq!(s, 503, "no switch, no table: {v}");
    assert!(v["error"].as_str().unwrap().contains("no switch"));
    assert_eq!(get(&fe, "POST", "/rotate-secret").0, 409);
    assert_eq!(get(&fe, "POST", "/backends/198.18.99.2:80/drain").0, 404);
    assert_eq!(get(&fe, "GET", "/nowhere").0, 404);
    assert_eq!(get(&fe, "DELETE", "/backends").0, 405);
}

/// The built `switchyard` binary against the running API: tables by
/// default, JSON with --json, a failure's reason and exit status.
#[test]
fn the_cli_prints_tables_and_json() {
    let cfg = test_config();
    let fe = start(&cfg);
    let cli = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard")).arg("--admin").arg(fe.admin.to_string()).args(args).output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (ok, out, _) = cli(&["status"]);
    assert!(ok);
    assert!(out.contains("switch disabled") && out.contains("flows 0"), "{out}");
    let (ok, out, _) = cli(&["backends"]);
    assert!(ok);
    assert!(out.lines().next().unwrap().starts_with("BACKEND"), "{out}");
    assert!(out.contains("198.18.11.2:80  web(w2)"), "{out}");
    let (ok, out, _) = cli(&["drain", "198.18.11.2"]);
    assert!(ok && out.starts_with("198.18.11.2:80 draining: no new flows; 0 active flows remain"), "{out}");
    let (ok, out, _) = cli(&["--json", "backends"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(ok && v["backends"][1]["draining"] == true);
    let (ok, out, _) = cli(&["undrain", "198.18.11.2:80"]);
    assert!(ok && out.contains("takes new flows again"), "{out}");
    fe.frames.send(valid_request(&cfg, 42000)).unwrap();
    until("one flow", || get(&fe, "GET", "/status").1["flows"] == 1);
    let (ok, out, _) = cli(&["flows", "--client", "198.18.0.2"]);
    assert!(ok && out.contains("198.18.0.2:42000") && out.contains("connecting") && out.contains("1 flows matched"), "{out}");
    let (ok, _, err) = cli(&["table"]);
    assert!(!ok && err.contains("no switch") && err.contains("HTTP 503"), "{err}");
    let (ok, _, err) = cli(&["drain", "nobody"]);
    assert!(!ok && err.contains("no backend `nobody`"), "{err}");
    let unreachable = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard")).args(["--admin", "127.0.0.1:1", "status"]).output().unwrap();
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach the admin API at 127.0.0.1:1"));
}

/// POST /reload: the same file changes nothing; a new pool membership and
/// a new backend apply to new flows (numbers kept); an invalid file is
/// refused with its line and changes nothing; a changed section a reload
/// does not apply is listed as such.
#[test]
fn reload_applies_a_diff_and_refuses_an_invalid_file() {
    let dir = std::env::temp_dir().join(format!("sy-admin-reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("frontend.toml");
    std::fs::write(&file, SRC).unwrap();
    let cfg = test_config();
    let fe = start_with_file(&cfg, &file);
    let (s, v) = get(&fe, "POST", "/reload");
    assert_eq!((s, v["applied"].as_array().map(Vec::len), v["not_applied"].as_array().map(Vec::len)), (200, Some(0), Some(0)), "{v}");

    let web = r#"backends = [{ address = "198.18.10.2", port = 80 }, { address = "198.18.11.2", port = 80, weight = 2 }]"#;
    let moved = SRC.replacen(web, r#"backends = [{ address = "198.18.12.2", port = 80 }]"#, 1).replacen("rotation_secs = 60", "rotation_secs = 30", 1);
    std::fs::write(&file, &moved).unwrap();
    let (s, v) = get(&fe, "POST", "/reload");
    assert_eq!(s, 200, "{v}");
    let applied: Vec<&str> = v["applied"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(applied.contains(&"pool `web` changed") && applied.contains(&"backend 198.18.12.2:80 added"), "{applied:?}");
    assert!(applied.iter().any(|a| a.starts_with("backend 198.18.10.2:80 in no pool now")), "{applied:?}");
    assert_eq!(v["not_applied"][0], "[cookie] changed: not applied by a reload (restart to apply it)");
    let (_, b) = get(&fe, "GET", "/backends");
    assert_eq!(b["backends"].as_array().unwrap().len(), 3, "the old backends keep their numbers: {b}");
    assert_eq!(b["backends"][2]["name"], "198.18.12.2:80");
    for p in 0..3 {
        fe.frames.send(valid_request(&cfg, 43000 + p)).unwrap();
    }
    until("three flows", || get(&fe, "GET", "/status").1["flows"] == 3);
    assert_eq!(get(&fe, "GET", "/flows?backend=198.18.12.2:80").1["matched"], 3, "new flows use the reloaded pool");

    let bad = moved.replacen(r#"{ address = "198.18.12.2", port = 80 }"#, r#"{ address = "198.18.12.2", port = 80, weight = 0 }"#, 1);
    std::fs::write(&file, &bad).unwrap();
    let (s, v) = get(&fe, "POST", "/reload");
    let e = v["error"].as_str().unwrap();
    let line = bad.lines().position(|l| l.contains("weight = 0")).unwrap() + 1;
    assert_eq!(s, 422);
    assert!(e.starts_with(&format!("{}:{line}:", file.display())) && e.contains("weight must be at least 1") && e.contains("the running config stays"), "{e}");
    fe.frames.send(valid_request(&cfg, 43010)).unwrap();
    until("a fourth flow", || get(&fe, "GET", "/status").1["flows"] == 4);
    assert_eq!(get(&fe, "GET", "/flows?backend=198.18.12.2:80").1["matched"], 4, "the refused file changed nothing");
    let (_, m) = scrape(&fe);
    assert_eq!(sample(&m, "switchyard_frontend_reloads_total", &[("outcome", "applied")]), 2.0);
    assert_eq!(sample(&m, "switchyard_frontend_reloads_total", &[("outcome", "refused")]), 1.0);
    drop(fe);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A backend on 127.0.0.1 answering `GET /healthz` with 200 while `ok`,
/// 503 otherwise.
fn health_server(ok: Arc<AtomicBool>) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let status = if ok.load(Ordering::SeqCst) { "200 OK" } else { "503 Service Unavailable" };
            let _ = s.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
        }
    });
    port
}

/// Active checks through the real checker: a backend answering 503 is
/// taken out after `fall` checks (the worker's engine takes it out of the
/// pool), shown in /backends, /metrics and the log counters, and back in
/// after `rise` passes; a backend whose agent does not answer goes out too.
#[test]
fn health_checks_take_a_failing_backend_out_and_back() {
    let good = health_server(Arc::new(AtomicBool::new(true)));
    let flaky_ok = Arc::new(AtomicBool::new(false));
    let flaky = health_server(flaky_ok.clone());
    // Nothing listens on a port just released: an agent that is gone.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let src = SRC
        .replace(
            r#"backends = [{ address = "198.18.10.2", port = 80 }, { address = "198.18.11.2", port = 80, weight = 2 }]"#,
            &format!(
                "backends = [{{ address = \"127.0.0.1\", port = {good} }}, {{ address = \"127.0.0.1\", port = {flaky} }}]\n\
                 [pools.health]\npath = \"/healthz\"\ninterval_ms = 100\ntimeout_ms = 100\nrise = 2\nfall = 2\n\
                 [[pools]]\nname = \"lonely\"\nbackends = [{{ address = \"127.0.0.1\", port = 1, agent = \"127.0.0.1:{gone}\" }}]"
            ),
        );
    let cfg = config::parse(&src, "health.toml").unwrap();
    let file = std::env::temp_dir().join(format!("sy-admin-health-{}.toml", std::process::id()));
    std::fs::write(&file, &src).unwrap();
    let fe = start_with_file(&cfg, &file);
    let name_good = format!("127.0.0.1:{good}");
    let name_flaky = format!("127.0.0.1:{flaky}");
    let healthy = |name: &str| {
        let v = get(&fe, "GET", "/backends").1;
        v["backends"].as_array().unwrap().iter().find(|b| b["name"] == name).unwrap()["healthy"].as_bool().unwrap()
    };
    let t = Instant::now();
    until("the 503 backend out", || !healthy(&name_flaky));
    // fall 2 at 100 ms, staggered start: out within ~0.3 s, reported within 0.1 s more.
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    until("the agentless backend out", || !healthy("127.0.0.1:1"));
    assert!(healthy(&name_good));
    let v = get(&fe, "GET", "/backends").1;
    let flaky_view = v["backends"].as_array().unwrap().iter().find(|b| b["name"] == name_flaky.as_str()).unwrap().clone();
    assert_eq!(flaky_view["checks"][0]["check"], "http:web");
    assert_eq!(flaky_view["checks"][0]["last_error"], "status 503, expected 200");
    let lonely = &v["backends"][2];
    assert_eq!(lonely["checks"][0]["check"], "agent");
    assert!(lonely["checks"][0]["last_error"].as_str().unwrap().starts_with("connect:"), "{lonely}");
    // New flows all go to the healthy one.
    for p in 0..4 {
        fe.frames.send(valid_request(&cfg, 42000 + p)).unwrap();
    }
    until("four flows", || get(&fe, "GET", "/status").1["flows"] == 4);
    assert_eq!(get(&fe, "GET", &format!("/flows?backend={name_good}")).1["matched"], 4);
    let (text, m) = scrape(&fe);
    assert_eq!(sample(&m, "switchyard_frontend_backend_healthy", &[("backend", &name_flaky)]), 0.0);
    assert_eq!(sample(&m, "switchyard_frontend_backend_check_up", &[("backend", &name_flaky), ("check", "http:web")]), 0.0);
    assert_eq!(sample(&m, "switchyard_frontend_backend_check_up", &[("backend", &name_good), ("check", "http:web")]), 1.0);
    assert_eq!(sample(&m, "switchyard_frontend_backend_health_transitions_total", &[("backend", &name_flaky), ("to", "down")]), 1.0);
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/OPERATIONS.md")).unwrap();
    for n in metrics::exported_names(&text) {
        assert!(docs.contains(&format!("`{n}`")), "{n} is not in docs/OPERATIONS.md");
    }
    flaky_ok.store(true, Ordering::SeqCst);
    until("the recovered backend back", || healthy(&name_flaky));
    let (_, m) = scrape(&fe);
    assert_eq!(sample(&m, "switchyard_frontend_backend_health_transitions_total", &[("backend", &name_flaky), ("to", "up")]), 1.0);
    assert!(!healthy("127.0.0.1:1"), "its agent is still gone");

    // Down again; a reload that removes the pool's checks brings it back
    // (its failing check is gone) and keeps the agent's probe.
    flaky_ok.store(false, Ordering::SeqCst);
    until("the backend out again", || !healthy(&name_flaky));
    let unchecked = src.replacen("[pools.health]\npath = \"/healthz\"\ninterval_ms = 100\ntimeout_ms = 100\nrise = 2\nfall = 2\n", "", 1);
    assert_ne!(unchecked, src);
    std::fs::write(&file, &unchecked).unwrap();
    let (status, v) = get(&fe, "POST", "/reload");
    assert_eq!(status, 200, "{v}");
    assert!(v["applied"].as_array().unwrap().iter().any(|a| a == "pool `web` changed"), "{v}");
    until("no checks, healthy", || healthy(&name_flaky));
    let v = get(&fe, "GET", "/backends").1;
    assert_eq!(v["backends"][1]["checks"], serde_json::json!([]), "{v}");
    assert_eq!(v["backends"][2]["checks"][0]["check"], "agent", "{v}");
    drop(fe);
    let _ = std::fs::remove_file(&file);
}
