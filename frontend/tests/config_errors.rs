//! Config refusals carry file:line:col and say what is wrong: a fixture
//! table of (description, edit of the example, expected location, expected
//! words).

use switchyard_frontend::config::{self, HashKey, HostMatch, OffloadMode, PathMatch, Policy};

const EXAMPLE: &str = include_str!("../examples/switchyard.toml");

#[test]
fn example_loads() {
    let c = config::parse(EXAMPLE, "switchyard.toml").expect("example is valid");
    assert_eq!(c.services.len(), 2);
    let web = &c.services[0];
    assert_eq!((web.vip.to_string().as_str(), web.port, web.offload), ("198.18.100.1", 80, OffloadMode::Connection));
    assert_eq!(web.routes.len(), 4);
    assert_eq!(web.routes[0].host, Some(HostMatch::Exact("api.example.test".into())));
    assert!(matches!(web.routes[1].path, Some(PathMatch::Regex(_))));
    assert_eq!(web.routes[2].host, Some(HostMatch::Wildcard(".example.test".into())));
    assert_eq!(web.routes[2].offload, OffloadMode::Request);
    assert_eq!(web.routes[2].headers, vec![("x-canary".to_string(), "1".to_string())]);
    // Three distinct backends on port 80 although 198.18.11.2 and 12.2
    // appear in two pools, and three on 8080 for the gateway service.
    assert_eq!(c.backends.len(), 6);
    let gw = &c.services[1];
    assert_eq!((gw.id, gw.port, gw.offload), (1, 8080, OffloadMode::Request));
    assert_eq!(c.pools[1].policy, Policy::Maglev(HashKey::ClientIp));
    assert_eq!(c.pools[1].members, vec![(1, 2), (2, 1)]);
    assert_eq!(c.cookie.secrets.len(), 2);
    assert_eq!(c.cookie.secrets[0].k0, 0x0302_0100);
    assert_eq!(c.frontend.mac, [0x02, 0x53, 0x59, 0, 0, 0x01]);
    assert_eq!(c.switch.syn_ack.wscale, 7);
    assert_eq!(c.dpdk.eal_args[0], "--no-huge");
    let admin = c.admin.expect("the example enables the admin API");
    assert_eq!((admin.listen.to_string().as_str(), admin.allow_remote), ("127.0.0.1:9180", false));
    assert_eq!(c.cookie.rotated_secrets_file, None);
    assert_eq!(c.frontend.host_address, Some("198.18.2.2".parse().unwrap()));
    let web = c.pools[0].health.as_ref().expect("the example checks pool `web`");
    assert_eq!((web.path.as_str(), web.interval.as_millis(), web.timeout.as_millis()), ("/health", 2000, 2000));
    assert_eq!((web.rise, web.fall, web.expect_status), (2, 3, 200));
    assert!(c.pools[1].health.is_none(), "no [pools.health]: no active checks");
    let defaults = edit("interval_ms = 2000\ntimeout_ms = 2000\nrise = 2\nfall = 3\nexpect_status = 200\n", "");
    let d = config::parse(&defaults, "t.toml").unwrap();
    assert_eq!(d.pools[0].health.as_ref(), Some(web), "the keys left out take the defaults, which the example spells out");
    let bare = edit("path = \"/health\"", "");
    assert_eq!(config::parse(&bare, "t.toml").unwrap().pools[0].health.as_ref().unwrap().path, "/");
    let status_port = edit("interval_ms = 2000", "port = 8081\ninterval_ms = 2000");
    assert_eq!(config::parse(&status_port, "t.toml").unwrap().pools[0].health.as_ref().unwrap().port, Some(8081));
    assert_eq!(web.port, None, "each backend's own port by default");
    let short = edit("interval_ms = 2000\ntimeout_ms = 2000\n", "interval_ms = 200\n");
    assert_eq!(config::parse(&short, "t.toml").unwrap().pools[0].health.as_ref().unwrap().timeout.as_millis(), 200, "the default timeout is cut to the interval");
    let open = edit("listen = \"127.0.0.1:9180\"", "listen = \"0.0.0.0:9180\"");
    assert!(config::parse(&open, "t.toml").unwrap().admin.is_some_and(|a| !a.allow_remote), "0.0.0.0 serves local clients");
    let remote = edit("listen = \"127.0.0.1:9180\"", "listen = \"198.18.0.9:9180\"\nallow_remote = true");
    assert!(config::parse(&remote, "t.toml").unwrap().admin.is_some_and(|a| a.allow_remote));
}

/// Replaces the first occurrence of `from` in the example by `to`.
fn edit(from: &str, to: &str) -> String {
    assert!(EXAMPLE.contains(from), "fixture edit target `{from}` not in example");
    EXAMPLE.replacen(from, to, 1)
}

/// The example with an `[access_log]` section holding `body`.
fn access_log(body: &str) -> String {
    format!("{EXAMPLE}\n[access_log]\n{body}\n")
}

#[test]
fn access_log_section() {
    use config::{AccessLogSettings, AccessLogTarget};
    assert_eq!(config::parse(EXAMPLE, "t.toml").unwrap().access_log, None, "off unless configured");
    let stdout = config::parse(&access_log("path = \"-\""), "t.toml").unwrap();
    assert_eq!(stdout.access_log, Some(AccessLogSettings { target: AccessLogTarget::Stdout, sample: 1 }));
    let file = config::parse(&access_log("path = \"/var/log/switchyard/access.log\"\nsample = 10"), "t.toml").unwrap();
    assert_eq!(file.access_log, Some(AccessLogSettings { target: AccessLogTarget::File("/var/log/switchyard/access.log".into()), sample: 10 }));
}

fn line_of(src: &str, needle: &str) -> usize {
    src.lines().position(|l| l.contains(needle)).expect("needle") + 1
}

#[test]
fn refusals_are_located() {
    // (description, source, line marker (a unique text on the expected line), expected words)
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("unknown pool", edit("pool = \"static\"", "pool = \"nosuch\""), "pool = \"nosuch\"", "unknown pool `nosuch`"),
        ("weight zero", edit("weight = 2,", "weight = 0,"), "weight = 0,", "weight must be at least 1"),
        ("bad regex", edit(r"path_regex = '^/static/.*\.(css|js|png)$'", "path_regex = '^/static/(['"), "path_regex = '^/static/([", "does not compile"),
        (
            "duplicate VIP",
            format!("{EXAMPLE}\n[[services]]\nname = \"web2\"\nvip = \"198.18.100.1\" # dup\nport = 80\n[[services.routes]]\npool = \"web\"\n"),
            "# dup",
            "duplicate VIP 198.18.100.1:80",
        ),
        ("bad vip", edit("vip = \"198.18.100.1\"", "vip = \"198.18.100\""), "vip = \"198.18.100\"", "not an IPv4 address"),
        ("bad mac", edit("mac = \"02:53:59:00:00:01\"", "mac = \"02:53:59:00:00\""), "mac = \"02:53:59:00:00\"", "not a MAC address"),
        ("unknown policy", edit("policy = \"least_flows\"", "policy = \"random\""), "policy = \"random\"", "unknown policy `random`"),
        ("bad hash", edit("hash = \"client_ip\"", "hash = \"url\""), "hash = \"url\"", "want `client_ip`"),
        ("wildcard in middle", edit("host = \"*.example.test\"", "host = \"api.*.test\""), "host = \"api.*.test\"", "not a host name"),
        ("two path kinds", edit("path_prefix = \"/v1/\"", "path_prefix = \"/v1/\"\npath_exact = \"/x\""), "path_exact = \"/x\"", "at most one of"),
        ("type error", edit("port = 80\noffload", "port = \"eighty\"\noffload"), "port = \"eighty\"", "invalid type"),
        ("unknown key", edit("rotation_secs = 60", "rotation_secs = 60\nrotaton = 5"), "rotaton = 5", "unknown field `rotaton`"),
        ("bad offload mode", edit("offload = \"connection\"", "offload = \"packet\""), "offload = \"packet\"", "unknown variant `packet`"),
        ("wscale too big", edit("syn_ack_wscale = 7", "syn_ack_wscale = 15"), "syn_ack_wscale = 15", "0..=14"),
        ("zero rotation", edit("rotation_secs = 60", "rotation_secs = 0"), "rotation_secs = 0", "above 0"),
        ("bad p4runtime", edit("p4runtime = \"198.18.254.1:9559\"", "p4runtime = \"switch\""), "p4runtime = \"switch\"", "address:port"),
        ("syntax", edit("[timeouts]", "[timeouts"), "[timeouts", ""),
        ("admin address", edit("listen = \"127.0.0.1:9180\"", "listen = \"localhost\""), "listen = \"localhost\"", "not an ip:port"),
        ("admin port 0", edit("listen = \"127.0.0.1:9180\"", "listen = \"127.0.0.1:0\""), "listen = \"127.0.0.1:0\"", "fixed port"),
        (
            "admin remote address without allow_remote",
            edit("listen = \"127.0.0.1:9180\"", "listen = \"198.18.0.9:9180\""),
            "listen = \"198.18.0.9:9180\"",
            "allow_remote = true",
        ),
        (
            "relative secrets file",
            edit("rotation_secs = 60", "rotation_secs = 60\nrotated_secrets_file = \"secrets.json\""),
            "rotated_secrets_file",
            "absolute path",
        ),
        ("health path", edit("path = \"/health\"", "path = \"health\""), "path = \"health\"", "must start with `/`"),
        ("health path with a space", edit("path = \"/health\"", "path = \"/a b\""), "path = \"/a b\"", "no spaces"),
        ("bad host address", edit("host_address = \"198.18.2.2\"", "host_address = \"fe\""), "host_address = \"fe\"", "host_address `fe` is not an IPv4 address"),
        ("health port zero", edit("interval_ms = 2000", "port = 0\ninterval_ms = 2000"), "port = 0", "health port must not be 0"),
        ("health interval too short", edit("interval_ms = 2000", "interval_ms = 10"), "interval_ms = 10", "at least 100"),
        ("health timeout above the interval", edit("timeout_ms = 2000", "timeout_ms = 2500"), "timeout_ms = 2500", "at most interval_ms (2000)"),
        ("health timeout zero", edit("timeout_ms = 2000", "timeout_ms = 0"), "timeout_ms = 0", "above 0"),
        ("health rise zero", edit("rise = 2", "rise = 0"), "rise = 0", "rise must be 1..=100"),
        ("health fall too big", edit("fall = 3", "fall = 1000"), "fall = 1000", "fall must be 1..=100"),
        ("health status", edit("expect_status = 200", "expect_status = 2000"), "expect_status = 2000", "not an HTTP status"),
        ("health unknown key", edit("expect_status = 200", "expect_status = 200\nexpect_body = \"ok\""), "expect_body", "unknown field `expect_body`"),
        ("access log relative path", access_log("path = \"access.log\""), "path = \"access.log\"", "absolute file path, or `-`"),
        ("access log directory", access_log("path = \"/var/log/\""), "path = \"/var/log/\"", "absolute file path"),
        ("access log sample zero", access_log("path = \"-\"\nsample = 0"), "sample = 0", "access_log.sample 0 must be 1.."),
        ("access log sample negative", access_log("path = \"-\"\nsample = -2"), "sample = -2", "invalid value"),
        ("access log without path", format!("{EXAMPLE}\n[access_log] # no path\nsample = 2\n"), "# no path", "missing field `path`"),
        ("access log unknown key", access_log("path = \"-\"\nformat = \"json\""), "format = ", "unknown field `format`"),
    ];
    for (what, src, marker, words) in cases {
        let e = config::parse(&src, "t.toml").err().unwrap_or_else(|| panic!("{what}: accepted"));
        let want_line = line_of(&src, marker);
        assert_eq!(e.line, want_line, "{what}: {e}");
        assert!(e.message.contains(words), "{what}: `{}` lacks `{words}`", e.message);
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("t.toml:{want_line}:")), "{what}: {shown}");
    }
}

#[test]
fn missing_section_is_an_error() {
    let e = config::parse("[frontend]\nmac = \"02:00:00:00:00:01\"\nswitch_mac = \"02:00:00:00:00:02\"\n", "x.toml").unwrap_err();
    assert!(e.message.contains("missing field"), "{e}");
}
