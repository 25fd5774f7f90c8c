//! `[switch]` transport keys: mutual TLS (tls_ca + tls_cert + tls_key,
//! absolute paths, optional tls_server_name), `insecure = true`, or
//! neither (the front-end then refuses to connect); wrong mixes are
//! refused with file:line:col.

use switchyard_frontend::config::{self, SwitchTransport};

const EXAMPLE: &str = include_str!("../examples/switchyard.toml");

fn with_switch_keys(keys: &str) -> String {
    EXAMPLE.replacen("[switch]\n", &format!("[switch]\n{keys}\n"), 1)
}

#[test]
fn transports_parse() {
    assert_eq!(config::parse(EXAMPLE, "x.toml").unwrap().switch.transport, None, "the example chooses none");
    let c = config::parse(&with_switch_keys("insecure = true"), "x.toml").unwrap();
    assert_eq!(c.switch.transport, Some(SwitchTransport::Insecure));
    let c = config::parse(&with_switch_keys("tls_ca = \"/t/ca.pem\"\ntls_cert = \"/t/fe.pem\"\ntls_key = \"/t/fe.key\"\ntls_server_name = \"switch\""), "x.toml").unwrap();
    assert_eq!(
        c.switch.transport,
        Some(SwitchTransport::MutualTls { ca: "/t/ca.pem".into(), cert: "/t/fe.pem".into(), key: "/t/fe.key".into(), server_name: Some("switch".into()) })
    );
}

#[test]
fn wrong_mixes_are_refused_where_they_are() {
    let cases = [
        ("tls_ca = \"/t/ca.pem\"\ninsecure = true", "insecure = true", "exclude each other"),
        ("tls_ca = \"/t/ca.pem\"\ntls_cert = \"/t/fe.pem\"", "tls_ca =", "go together"),
        ("tls_ca = \"ca.pem\"\ntls_cert = \"/t/fe.pem\"\ntls_key = \"/t/fe.key\"", "tls_ca =", "absolute path"),
        ("tls_server_name = \"switch\"", "tls_server_name", "needs tls_ca"),
    ];
    for (keys, marker, words) in cases {
        let src = with_switch_keys(keys);
        let e = config::parse(&src, "x.toml").expect_err(keys).to_string();
        let line = src.lines().position(|l| l.contains(marker)).unwrap() + 1;
        assert!(e.contains(&format!("x.toml:{line}:")) && e.contains(words), "{keys}: {e}");
    }
}
