//! Shared pieces of the end-to-end tests (the tests themselves are under
//! `e2e/`; packet vectors shared by every engine live under `vectors/`).

use switchyard_testbed::{netns, NS_PREFIX};

/// Asserts that no namespace of the testbed tagged `tag` is left.
pub fn assert_no_namespaces(tag: &str) {
    let left = netns::list(&format!("{NS_PREFIX}{tag}-"));
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}

/// The example front-end config (the testbed's), with its path.
pub fn example_config() -> (std::path::PathBuf, switchyard_frontend::config::Config) {
    let path = switchyard_testbed::repo_root().join("frontend/examples/switchyard.toml");
    let cfg = switchyard_frontend::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    (path, cfg)
}

/// A copy of the example config in `dir` (as `name`) with each `(line,
/// replacement)` applied once; panics if a line is not there (the example
/// changed under the test). Parsed before it is returned.
pub fn example_config_with(dir: &std::path::Path, name: &str, edits: &[(&str, String)]) -> std::path::PathBuf {
    let (path, _) = example_config();
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (line, with) in edits {
        assert!(text.contains(line), "the example config has no `{line}` any more");
        text = text.replacen(line, with, 1);
    }
    let out = dir.join(name);
    std::fs::write(&out, &text).unwrap();
    switchyard_frontend::config::load(&out).unwrap_or_else(|e| panic!("{e}"));
    out
}

/// The front-end's admin API as the example config sets it (in the
/// front-end's namespace).
pub const ADMIN_API: &str = "http://127.0.0.1:9180";

/// `GET /backends` of the front-end running in `tb`, by backend name
/// (`ADDR:PORT`).
pub fn backends(tb: &switchyard_testbed::Testbed) -> std::collections::HashMap<String, serde_json::Value> {
    let text = tb.frontend.exec(&["curl", "-sS", "--max-time", "5", &format!("{ADMIN_API}/backends")]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    v["backends"].as_array().unwrap().iter().map(|b| (b["name"].as_str().unwrap().to_string(), b.clone())).collect()
}

/// Waits (bounded by `within`) until backend `name`'s `healthy` flag is
/// `healthy`; returns how long it took, or panics with its checks.
pub fn wait_healthy(tb: &switchyard_testbed::Testbed, name: &str, healthy: bool, within: std::time::Duration) -> std::time::Duration {
    let start = std::time::Instant::now();
    loop {
        let b = backends(tb).remove(name).unwrap_or_else(|| panic!("no backend {name}"));
        if b["healthy"].as_bool() == Some(healthy) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{name} not healthy={healthy} within {within:?}: {b}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Waits (bounded) until every check of backend `name` has run at least
/// `probes` times and passes: the checks reach it.
pub fn wait_checks_pass(tb: &switchyard_testbed::Testbed, name: &str, probes: u64, within: std::time::Duration) {
    let start = std::time::Instant::now();
    loop {
        let b = backends(tb).remove(name).unwrap_or_else(|| panic!("no backend {name}"));
        let checks = b["checks"].as_array().cloned().unwrap_or_default();
        let passed = !checks.is_empty()
            && checks.iter().all(|c| c["up"] == true && c["probes"].as_u64() >= Some(probes) && c["failures"] == 0);
        if passed {
            return;
        }
        assert!(start.elapsed() < within, "{name}'s checks do not pass within {within:?}: {b}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `n` requests for `path` through the VIP one after the other, each on a
/// connection of its own (`Connection: close`): (status, backend) of each,
/// every 200 body verified.
pub fn sequential_requests(tb: &switchyard_testbed::Testbed, path: &str, n: usize) -> Vec<(u16, Option<String>)> {
    use switchyard_testbed::clients::{fetch_many, Request};
    let url = format!("http://{}{path}", switchyard_testbed::addr::VIP);
    let reqs: Vec<Request> = (0..n).map(|_| Request::get(url.clone()).header("Connection: close")).collect();
    let out = fetch_many(&tb.client, &reqs, &tb.dir.join("sequential"), 10, false).unwrap();
    out.into_iter()
        .map(|f| {
            if f.status == 200 {
                assert_eq!(f.verified, Ok(()), "{f:?}");
            }
            (f.status, f.backend)
        })
        .collect()
}

/// The `switchyard` CLI run in the front-end's namespace against its admin
/// API (`ADMIN_API`): success, stdout, stderr.
pub fn cli(fe_ns: &switchyard_testbed::Netns, args: &[&str]) -> (bool, String, String) {
    let bin = switchyard_testbed::find_bin("switchyard").unwrap();
    let admin = ADMIN_API.trim_start_matches("http://");
    let mut argv = vec![bin.to_str().unwrap(), "--admin", admin];
    argv.extend_from_slice(args);
    let o = fe_ns.output(&argv).unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `cli`, which must succeed: its stdout.
pub fn cli_ok(fe_ns: &switchyard_testbed::Netns, args: &[&str]) -> String {
    let (ok, out, err) = cli(fe_ns, args);
    assert!(ok, "switchyard {args:?} failed: {err}");
    out
}
