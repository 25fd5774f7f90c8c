//! The admin API and the `switchyard` CLI against the running load
//! balancer (issue 13): real curl traffic through the VIP, the CLI's
//! `status`, `backends`, `table`, `flows`, `drain`/`undrain` and
//! `rotate-secret` run in the front-end's namespace and their output
//! checked; new flows avoid a drained backend while a download already on
//! it completes byte for byte; a reload (`switchyard reload`, SIGHUP)
//! moves new flows to a changed route while one started before completes,
//! and an invalid file is refused with its line; a reload without a
//! service refuses its VIP's new connections at once while a download on
//! it completes, then deletes its vip entry, and brings it back when it is
//! named again; a backend moved between services under a download of the
//! old one (carried for the new one meanwhile); the access log's JSON
//! lines; `/metrics` parsed with a Prometheus text
//! parser, its counters moving with the traffic; a client on a
//! non-loopback address refused with 403.

use std::time::{Duration, Instant};

use switchyard_e2e::{assert_no_namespaces, cli, cli_ok, example_config_with};
use switchyard_testbed::lb::{Frontend, FrontendDriver};
use switchyard_testbed::{addr, bodies, clients, lb, Netns, SwitchMode, Testbed, TestbedSpec};

/// A non-loopback address given to the front-end namespace's lo for the
/// refusal check (in the project's 198.18.0.0/15, used by nothing else).
const NOT_LOOPBACK: &str = "198.18.253.9";
/// Requests per check: bounded, enough for round robin to show both backends.
const REQUESTS: usize = 8;

/// (metric name, labels) -> value, parsed by prometheus-parse.
fn metrics(fe_ns: &Netns) -> std::collections::HashMap<String, f64> {
    let text = fe_ns.exec(&["curl", "-sS", "--max-time", "10", &format!("{}/metrics", switchyard_e2e::ADMIN_API)]).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text");
    assert!(scrape.samples.len() > 40, "{text}");
    scrape
        .samples
        .into_iter()
        .filter_map(|s| {
            let v = match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                _ => return None,
            };
            let mut labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            labels.sort();
            Some((format!("{}{{{}}}", s.metric, labels.join(",")), v))
        })
        .collect()
}

/// The backends (b0, b1, ...) that served `n` fresh requests for `/1k`.
fn served_by(tb: &Testbed, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let f = clients::fetch(&tb.client, &format!("http://{}/1k?n={i}", addr::VIP), &tb.dir.join("c"), 20, &[]).unwrap();
            assert_eq!((f.status, &f.verified), (200, &Ok(())), "{f:?}");
            f.backend.expect("the backend header")
        })
        .collect()
}

/// The backend (b0, b1, ...) in a spawned curl's response head (`-D -`
/// to its log), waiting up to 10 s for it.
fn wait_backend(log: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(b) = text.lines().find_map(|l| l.strip_prefix("X-Switchyard-Backend: ")) {
            return b.trim().to_string();
        }
        assert!(Instant::now() < deadline, "no response head in {}: {text}", log.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A rate-limited download of `url` (it lasts seconds) served by b0 (round
/// robin alternates: tries until one lands there), head to `log`.
fn download_on_b0(tb: &Testbed, url: &str, body: &std::path::Path, log: &std::path::Path) -> std::process::Child {
    for _ in 0..6 {
        let mut child = tb.client.spawn(&["curl", "-sS", "--max-time", "40", "--limit-rate", "2M", "-o", body.to_str().unwrap(), "-w", "%{http_code} ", "-D", "-", url], log).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let head = loop {
            let h = std::fs::read_to_string(log).unwrap_or_default();
            if h.contains("X-Switchyard-Backend") || Instant::now() > deadline {
                break h;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if head.contains("X-Switchyard-Backend: b0") {
            return child;
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(log);
    }
    panic!("no download of {url} landed on b0 in 6 tries");
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn the_cli_and_admin_api_against_the_running_load_balancer() {
    let tag = "adm";
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 3, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let secrets = tb.dir.join("secrets.json");
        let access_log = tb.dir.join("access.log");
        let config = example_config_with(
            &tb.dir,
            "admin.toml",
            &[
                // 0.0.0.0: loopback clients served, and the refusal of a
                // non-loopback one can be tried.
                ("listen = \"127.0.0.1:9180\"", "listen = \"0.0.0.0:9180\"".into()),
                ("rotation_secs = 60", format!("rotation_secs = 3600\nrotated_secrets_file = \"{}\"", secrets.display())),
                ("# [access_log]\n# path = \"/var/log/switchyard/access.log\"", format!("[access_log]\npath = \"{}\"", access_log.display())),
            ],
        );
        let fe = Frontend::start(&tb, &config, FrontendDriver::AfPacket, false).unwrap();
        assert!(fe.log().contains("admin API on http://0.0.0.0:9180"), "{}", fe.log());
        let ns = &tb.frontend;
        let before = metrics(ns);

        // Traffic, then status and backends as a person reads them.
        let served = served_by(&tb, REQUESTS);
        assert!(served.contains(&"b0".to_string()) && served.contains(&"b1".to_string()), "round robin over web: {served:?}");
        let status = cli_ok(ns, &["status"]);
        assert!(status.contains("switch primary"), "{status}");
        assert!(status.contains(&format!("setups {REQUESTS}")), "{status}");
        let backends = cli_ok(ns, &["backends"]);
        assert!(backends.starts_with("BACKEND"), "{backends}");
        let b0 = format!("{}:80", addr::backend(0));
        assert!(backends.lines().any(|l| l.starts_with(&b0) && l.contains("web(w1)") && l.contains("yes      no")), "{backends}");

        // A download held on b0 (rate-limited, so it lasts seconds): its
        // entry is in the switch's table.
        let body = tb.dir.join("download");
        let url = format!("http://{}/10m", addr::VIP);
        let mut download = download_on_b0(&tb, &url, &body, &tb.dir.join("download.log"));
        let deadline = Instant::now() + Duration::from_secs(10);
        let table = loop {
            let t = cli_ok(ns, &["table"]);
            if t.lines().any(|l| l.starts_with(&addr::CLIENT.to_string()) && l.contains(&b0)) || Instant::now() > deadline {
                break t;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(table.starts_with("CLIENT"), "{table}");
        assert!(table.lines().any(|l| l.starts_with(&addr::CLIENT.to_string()) && l.contains("web") && l.contains(&b0) && l.contains("connection")), "{table}");
        assert!(table.contains("entries on the switch"), "{table}");
        let json: serde_json::Value = serde_json::from_str(&cli_ok(ns, &["--json", "table"])).unwrap();
        assert!(json["total"].as_u64().unwrap() >= 1, "{json}");

        // Drain b0: new flows go to b1 only; the download on b0 finishes.
        let drained = cli_ok(ns, &["drain", &b0]);
        assert!(download.try_wait().unwrap().is_none(), "the download is still running when b0 is drained");
        assert!(drained.starts_with(&format!("{b0} draining: no new flows;")), "{drained}");
        assert!(drained.contains(" switch entries remain") && !drained.contains(" and 0 switch entries"), "the download's entry counts: {drained}");
        let served = served_by(&tb, REQUESTS);
        assert!(served.iter().all(|b| b == "b1"), "a drained backend got new flows: {served:?}");
        let flows = cli_ok(ns, &["flows", "--backend", &b0]);
        assert!(flows.starts_with("CLIENT") && flows.contains("flows matched"), "{flows}");
        let status = download.wait().unwrap();
        assert!(status.success(), "{}", std::fs::read_to_string(tb.dir.join("download.log")).unwrap_or_default());
        assert_eq!(bodies::verify("/10m", &std::fs::read(&body).unwrap()), Ok(()), "the drained backend's download completed intact");
        assert!(cli_ok(ns, &["undrain", &b0]).contains("takes new flows again"));
        assert!(served_by(&tb, REQUESTS).contains(&"b0".to_string()), "undrained: b0 takes new flows");

        // Reload: the default route moves to pool static (b2). A download
        // started before goes on from its backend; new flows go to b2.
        let mut slow = tb
            .client
            .spawn(&["curl", "-sS", "--max-time", "40", "--limit-rate", "2M", "-o", body.to_str().unwrap(), "-D", "-", &url], &tb.dir.join("slow.log"))
            .unwrap();
        let slow_backend = wait_backend(&tb.dir.join("slow.log"));
        assert!(slow_backend == "b0" || slow_backend == "b1", "{slow_backend}");
        // The file the front-end runs with: Frontend::start's copy of
        // `config` (with this testbed's DPDK file prefix).
        let running = tb.dir.join("frontend.toml");
        let original = std::fs::read_to_string(&running).unwrap();
        const DEFAULT_ROUTE: &str = "pool = \"web\"     # default: no match fields";
        assert!(original.contains(DEFAULT_ROUTE));
        std::fs::write(&running, original.replacen(DEFAULT_ROUTE, "pool = \"static\"", 1)).unwrap();
        let reloaded = cli_ok(ns, &["reload"]);
        assert!(slow.try_wait().unwrap().is_none(), "the download is still running at the reload");
        assert!(reloaded.contains("applied\n  service `web`: routes changed"), "{reloaded}");
        assert!(reloaded.contains(&format!("retiring {b0}: no service reaches it")), "only the web pool held b0: {reloaded}");
        let served = served_by(&tb, REQUESTS);
        assert!(served.iter().all(|b| b == "b2"), "new flows take the reloaded route: {served:?}");
        assert!(slow.wait().unwrap().success());
        assert_eq!(bodies::verify("/10m", &std::fs::read(&body).unwrap()), Ok(()), "the flow started before the reload completed intact");

        // An invalid file: refused with its line and reason, nothing changes.
        let bad = original.replacen(DEFAULT_ROUTE, "pool = \"nosuch\"", 1);
        let line = bad.lines().position(|l| l.contains("pool = \"nosuch\"")).unwrap() + 1;
        std::fs::write(&running, &bad).unwrap();
        let (ok, _, err) = cli(ns, &["reload"]);
        assert!(!ok && err.contains(&format!("frontend.toml:{line}:")) && err.contains("unknown pool `nosuch`") && err.contains("HTTP 422"), "{err}");
        assert!(served_by(&tb, 2).iter().all(|b| b == "b2"), "the refused reload changed nothing");

        // b0's flows end (FIN digests, the teardown grace, the engine's
        // grace for offloaded flows): its backend_address entry goes.
        let deadline = Instant::now() + Duration::from_secs(30);
        let gone = format!("reload: backend {b0} has no flows left; its backend_address entry is deleted");
        while !fe.log().contains(&gone) {
            assert!(Instant::now() < deadline, "b0 was not retired within 30 s:\n{}", fe.log());
            std::thread::sleep(Duration::from_millis(200));
        }

        // SIGHUP reloads too: the original file brings the web pool back
        // (and b0's backend_address entry: its new flows are offloaded).
        std::fs::write(&running, &original).unwrap();
        let pid = fe.child.id().to_string();
        ns.exec(&["kill", "-HUP", &pid]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fe.log().contains("reload (SIGHUP)") {
            assert!(Instant::now() < deadline, "no SIGHUP reload in the log:\n{}", fe.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(fe.log().contains("routes changed"), "{}", fe.log());
        let served = served_by(&tb, REQUESTS);
        assert!(served.iter().all(|b| b == "b0" || b == "b1") && served.contains(&"b0".to_string()), "b0 serves again, its entry written back: {served:?}");

        // A reload without service `gateway` (VIP:8080, request mode): its
        // VIP refuses new connections at once (the switch's RST), a download
        // started before completes, then its vip entry goes; named again,
        // it serves again.
        let gw_url = format!("http://{}:8080/10m", addr::VIP);
        let gw_body = tb.dir.join("gateway-download");
        let mut gw = tb
            .client
            .spawn(&["curl", "-sS", "--max-time", "40", "--limit-rate", "2M", "-o", gw_body.to_str().unwrap(), "-D", "-", &gw_url], &tb.dir.join("gw.log"))
            .unwrap();
        assert!(["b0", "b1"].contains(&wait_backend(&tb.dir.join("gw.log")).as_str()), "gateway-a serves /10m");
        let gateway = original.find("[[services]]\nname = \"gateway\"").expect("service gateway in the example");
        let block_end = gateway + original[gateway..].find("[[pools]]").unwrap();
        std::fs::write(&running, format!("{}{}", &original[..gateway], &original[block_end..])).unwrap();
        let removed = cli_ok(ns, &["reload"]);
        assert!(removed.contains("draining service gateway"), "{removed}");
        assert!(gw.try_wait().unwrap().is_none(), "the gateway download is still running at the reload");
        let t = Instant::now();
        // curl's exit 7: the connection was refused (the switch's RST).
        let refused = tb.client.output(&["curl", "-sS", "--max-time", "5", &format!("http://{}:8080/1k", addr::VIP)]).unwrap();
        let refused_err = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && refused_err.contains("curl: (7)") && t.elapsed() < Duration::from_secs(2), "a draining VIP refuses at once: {refused_err} after {:?}", t.elapsed());
        assert_eq!(served_by(&tb, 2).len(), 2, "service web is untouched");
        assert!(gw.wait().unwrap().success(), "{}", std::fs::read_to_string(tb.dir.join("gw.log")).unwrap_or_default());
        assert_eq!(bodies::verify("/10m", &std::fs::read(&gw_body).unwrap()), Ok(()), "the removed service's download completed intact");
        let deadline = Instant::now() + Duration::from_secs(30);
        let gone = format!("reload: service `gateway` ({}:8080) has no flows left; its vip entry is deleted", addr::VIP);
        while !fe.log().contains(&gone) {
            assert!(Instant::now() < deadline, "gateway's vip entry was not deleted within 30 s:\n{}\n{}\n{}", cli_ok(ns, &["flows"]), cli_ok(ns, &["table"]), fe.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        std::fs::write(&running, &original).unwrap();
        cli_ok(ns, &["reload"]);
        let f = clients::fetch(&tb.client, &format!("http://{}:8080/1k", addr::VIP), &tb.dir.join("gw-back"), 20, &[]).unwrap();
        assert_eq!((f.status, &f.verified), (200, &Ok(())), "service gateway restored: {f:?}");

        // b0:80 given from service web to gateway while a download of web
        // is on it: gateway's flows on it are carried (not offloaded: the
        // switch still maps b0's packets to web's VIP), the download
        // completes, then b0 is offloaded for gateway.
        let moved_body = tb.dir.join("moving-download");
        let mut on_b0 = download_on_b0(&tb, &url, &moved_body, &tb.dir.join("moving.log"));
        let web_pool = "    { address = \"198.18.10.2\", port = 80, weight = 1, agent = \"198.18.10.2:9100\" },\n";
        let gw_pool = "    { address = \"198.18.10.2\", port = 8080, agent = \"198.18.10.2:9100\" },\n";
        assert!(original.contains(web_pool) && original.contains(gw_pool));
        let moved = original.replacen(web_pool, "", 1).replacen(gw_pool, &format!("{gw_pool}    {{ address = \"198.18.10.2\", port = 80, agent = \"198.18.10.2:9100\" }},\n"), 1);
        std::fs::write(&running, &moved).unwrap();
        let answer = cli_ok(ns, &["reload"]);
        assert!(answer.contains(&format!("backend {b0} moves from service `web` to `gateway`")), "{answer}");
        assert!(on_b0.try_wait().unwrap().is_none(), "the download on b0 is still running at the reload");
        let refusals = |m: &std::collections::HashMap<String, f64>| m.get("switchyard_frontend_offload_refusals_total{reason=backend_moving}").copied().unwrap_or(0.0);
        let refused_before = refusals(&metrics(ns));
        let mut on_moving = 0;
        for i in 0..9 {
            let f = clients::fetch(&tb.client, &format!("http://{}:8080/100k?n={i}", addr::VIP), &tb.dir.join("mv"), 20, &[]).unwrap();
            assert_eq!((f.status, &f.verified), (200, &Ok(())), "gateway while b0 moves: {f:?}");
            on_moving += usize::from(f.backend.as_deref() == Some("b0"));
        }
        assert!(on_moving > 0, "round robin over three members gave b0 nothing");
        assert!(refusals(&metrics(ns)) > refused_before, "gateway's flows on the moving b0 were not offloaded");
        assert!(on_b0.wait().unwrap().success());
        assert_eq!(bodies::verify("/10m", &std::fs::read(&moved_body).unwrap()), Ok(()), "web's download on the moving backend completed intact");
        let done = format!("reload: backend {b0} has no flows of service `web` left; it is offloaded for `gateway` now");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !fe.log().contains(&done) {
            assert!(Instant::now() < deadline, "b0's move did not complete within 30 s:\n{}\n{}", cli_ok(ns, &["flows", "--backend", &b0]), fe.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        std::fs::write(&running, &original).unwrap();
        cli_ok(ns, &["reload"]);

        // Rotate now: kept on disk (0600), and new connections still work.
        let rotated = cli_ok(ns, &["rotate-secret"]);
        assert!(rotated.contains("cookie secret rotated") && rotated.contains("secrets.json"), "{rotated}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(served_by(&tb, 2).len(), 2);

        // A client on a non-loopback address is refused.
        ns.exec(&["ip", "addr", "add", &format!("{NOT_LOOPBACK}/32"), "dev", "lo"]).unwrap();
        let refused = ns
            .exec(&["curl", "-sS", "--max-time", "10", "--interface", NOT_LOOPBACK, "-w", " %{http_code}", &format!("http://{NOT_LOOPBACK}:9180/status")])
            .unwrap();
        assert!(refused.ends_with(" 403") && refused.contains("loopback clients only"), "{refused}");

        // The counters moved with all of it.
        let after = metrics(ns);
        let m = |k: &str| *after.get(k).unwrap_or_else(|| panic!("no {k} in {after:?}"));
        let was = |k: &str| *before.get(k).unwrap_or_else(|| panic!("no {k} before"));
        assert_eq!(was("switchyard_frontend_setups_total{}"), 0.0);
        assert!(m("switchyard_frontend_setups_total{}") >= (3 * REQUESTS + 3) as f64);
        assert!(m("switchyard_frontend_offloads_installed_total{}") >= 1.0, "the download was offloaded");
        assert_eq!(m("switchyard_frontend_cookie_rotations_total{}"), 1.0);
        assert_eq!(m("switchyard_frontend_admin_refused_total{}"), 1.0);
        assert_eq!(m("switchyard_frontend_switch_up{}"), 1.0);
        assert_eq!(m(&format!("switchyard_frontend_backend_draining{{backend={b0}}}")), 0.0);
        assert!(after.contains_key("switchyard_frontend_drops_total{reason=bad_cookie}"));
        assert_eq!(m("switchyard_frontend_reloads_total{outcome=applied}"), 6.0, "route change, SIGHUP, gateway removed, restored, b0 moved, back");
        assert_eq!(m("switchyard_frontend_reloads_total{outcome=refused}"), 1.0);
        // The switch's own P4 counters, read through the control task: the
        // offloaded download's bytes on the switch path, the SYNs it answered.
        let moved = |k: &str| m(k) - before.get(k).copied().unwrap_or(0.0);
        assert!(moved("switchyard_frontend_switch_path_bytes_total{path=offloaded_out}") > 1e6, "the download went the switch path");
        assert!(moved("switchyard_frontend_switch_path_packets_total{path=syn_answered}") >= (3 * REQUESTS) as f64);
        assert!(after.contains_key("switchyard_frontend_switch_drops_total{reason=no_route}"));
        // The access log: one JSON line per routing decision (sample 1),
        // flushed whenever the writer's queue is empty.
        let lines: Vec<serde_json::Value> =
            std::fs::read_to_string(&access_log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
        assert!(lines.len() >= (3 * REQUESTS + 10), "{} access log lines", lines.len());
        for l in &lines {
            for k in ["time", "client", "service", "method", "host", "path", "route", "pool", "backend", "offload", "setup_ms", "outcome"] {
                assert!(l.get(k).is_some(), "no `{k}` in {l}");
            }
        }
        let static_b2 = format!("{}:80", addr::backend(2));
        assert!(
            lines.iter().any(|l| l["service"] == "web" && l["pool"] == "static" && l["backend"] == static_b2.as_str() && l["path"].as_str().is_some_and(|p| p.starts_with("/1k"))),
            "the reloaded default route's requests are logged with pool static"
        );
        assert!(lines.iter().any(|l| l["service"] == "gateway" && l["path"] == "/10m" && l["offload"] == "request"), "the gateway download is logged");
        let log = fe.stop();
        println!("{log}");
    }
    assert_no_namespaces(tag);
}
