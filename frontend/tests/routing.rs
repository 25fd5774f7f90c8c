//! Routing matrix, pool policies, Maglev disruption and weights.

use core::net::Ipv4Addr;

use switchyard_frontend::config;
use switchyard_frontend::http::{header_storage, parse_head, HeadStatus};
use switchyard_frontend::maglev::MaglevTable;
use switchyard_frontend::route::{Decision, Router};

const CONF: &str = r#"
[frontend]
mac = "02:00:00:00:00:10"
switch_mac = "02:00:00:00:00:01"
[switch]
p4runtime = "198.18.0.1:9559"
[cookie]
secrets = [{ k0 = 1, k1 = 2 }]
rotation_secs = 60

[[services]]
name = "web"
vip = "198.18.100.1"
port = 80
[[services.routes]]
host = "api.example.test"
path_prefix = "/v1/"
pool = "a"
[[services.routes]]
path_exact = "/exact"
pool = "b"
[[services.routes]]
path_regex = '^/img/[0-9]+\.png$'
pool = "c"
[[services.routes]]
host = "*.example.test"
method = "POST"
pool = "b"
[[services.routes]]
headers = { "x-canary" = "1" }
pool = "c"
[[services.routes]]
host = "only.test"
pool = "a"

[[pools]]
name = "a"
backends = [{ address = "198.18.2.1", port = 80 }]
[[pools]]
name = "b"
backends = [{ address = "198.18.2.2", port = 80 }]
[[pools]]
name = "c"
policy = "least_flows"
backends = [{ address = "198.18.2.3", port = 80 }, { address = "198.18.2.4", port = 80 }]
"#;

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fn decide(r: &mut Router, req: &str) -> Decision {
    let mut st = header_storage();
    let HeadStatus::Complete(h) = parse_head(req.as_bytes(), &mut st).unwrap() else { panic!("partial: {req}") };
    r.decide(0, CLIENT, &h)
}

fn pool_of(d: Decision) -> Option<usize> {
    match d {
        Decision::Backend { pool, .. } => Some(pool),
        _ => None,
    }
}

#[test]
fn route_matrix() {
    let c = config::parse(CONF, "t").unwrap();
    let mut r = Router::new(&c);
    // (description, request, expected pool index or None for 404)
    let cases: &[(&str, &str, Option<usize>)] = &[
        ("host+prefix", "GET /v1/users HTTP/1.1\r\nHost: api.example.test\r\n\r\n", Some(0)),
        ("host with port and case", "GET /v1/x?q=1 HTTP/1.1\r\nHost: API.Example.Test:80\r\n\r\n", Some(0)),
        ("prefix wrong host", "GET /v1/users HTTP/1.1\r\nHost: other.test\r\n\r\n", None),
        ("exact", "GET /exact HTTP/1.1\r\nHost: x\r\n\r\n", Some(1)),
        ("exact ignores query", "GET /exact?a=b HTTP/1.1\r\nHost: x\r\n\r\n", Some(1)),
        ("exact is not prefix", "GET /exactly HTTP/1.1\r\nHost: x\r\n\r\n", None),
        ("regex", "GET /img/42.png HTTP/1.1\r\nHost: x\r\n\r\n", Some(2)),
        ("regex anchored", "GET /img/42.png.bak HTTP/1.1\r\nHost: x\r\n\r\n", None),
        ("wildcard+method", "POST /any HTTP/1.1\r\nHost: www.example.test\r\nContent-Length: 0\r\n\r\n", Some(1)),
        ("wildcard deep", "POST /any HTTP/1.1\r\nHost: a.b.example.test\r\nContent-Length: 0\r\n\r\n", Some(1)),
        ("wildcard not bare domain", "POST /any HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\n\r\n", None),
        ("wildcard wrong method", "GET /any HTTP/1.1\r\nHost: www.example.test\r\n\r\n", None),
        ("header", "GET /z HTTP/1.1\r\nHost: q\r\nX-Canary: 1\r\n\r\n", Some(2)),
        ("header wrong value", "GET /z HTTP/1.1\r\nHost: q\r\nX-Canary: 2\r\n\r\n", None),
        ("first match wins", "GET /exact HTTP/1.1\r\nHost: only.test\r\n\r\n", Some(1)),
        ("last route", "GET / HTTP/1.1\r\nHost: only.test\r\n\r\n", Some(0)),
    ];
    for (what, req, want) in cases {
        let d = decide(&mut r, req);
        assert_eq!(pool_of(d), *want, "{what}: {d:?}");
        if want.is_none() {
            assert_eq!(d, Decision::NoRoute, "{what}");
        }
    }
}

#[test]
fn unhealthy_and_draining_get_no_new_flows() {
    let c = config::parse(CONF, "t").unwrap();
    let mut r = Router::new(&c);
    let req = "GET /exact HTTP/1.1\r\nHost: x\r\n\r\n";
    let b = r.backend_by_addr(Ipv4Addr::new(198, 18, 2, 2), 80).unwrap();
    assert!(matches!(decide(&mut r, req), Decision::Backend { backend, .. } if backend == b));
    r.set_backend_flags(b, false, false);
    assert_eq!(decide(&mut r, req), Decision::NoHealthyBackend { pool: 1 });
    r.set_backend_flags(b, true, true);
    assert_eq!(decide(&mut r, req), Decision::NoHealthyBackend { pool: 1 });
    r.set_backend_flags(b, true, false);
    assert!(matches!(decide(&mut r, req), Decision::Backend { .. }));
    // In a two-member pool the other member takes everything.
    let req_c = "GET /img/1.png HTTP/1.1\r\nHost: x\r\n\r\n";
    let b3 = r.backend_by_addr(Ipv4Addr::new(198, 18, 2, 3), 80).unwrap();
    r.set_backend_flags(b3, true, true);
    for _ in 0..10 {
        assert!(matches!(decide(&mut r, req_c), Decision::Backend { backend, .. } if backend != b3));
    }
}

#[test]
fn least_flows_balances() {
    let c = config::parse(CONF, "t").unwrap();
    let mut r = Router::new(&c);
    let req = "GET /img/1.png HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut counts = [0u32; 8];
    for _ in 0..100 {
        let Decision::Backend { backend, .. } = decide(&mut r, req) else { panic!() };
        r.flow_started(backend);
        counts[usize::from(backend)] += 1;
    }
    let (b3, b4) = (counts[2], counts[3]);
    assert_eq!((b3, b4), (50, 50), "{counts:?}");
}

fn pool_conf(policy: &str, backends: &[(u8, u32)]) -> String {
    let list: Vec<String> =
        backends.iter().map(|(o, w)| format!("{{ address = \"198.18.3.{o}\", port = 80, weight = {w} }}")).collect();
    format!(
        "[frontend]\nmac = \"02:00:00:00:00:10\"\nswitch_mac = \"02:00:00:00:00:01\"\n[switch]\np4runtime = \"198.18.0.1:9559\"\n\
         [cookie]\nsecrets = [{{ k0 = 1, k1 = 2 }}]\nrotation_secs = 60\n\
         [[services]]\nname = \"s\"\nvip = \"198.18.100.1\"\nport = 80\n[[services.routes]]\npool = \"p\"\n\
         [[pools]]\nname = \"p\"\n{policy}\nbackends = [{}]\n",
        list.join(", ")
    )
}

#[test]
fn round_robin_follows_weights_exactly() {
    let c = config::parse(&pool_conf("policy = \"round_robin\"", &[(1, 1), (2, 3)]), "t").unwrap();
    let mut r = Router::new(&c);
    let mut counts = [0u32; 2];
    for _ in 0..400 {
        let Decision::Backend { backend, .. } = decide(&mut r, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") else { panic!() };
        counts[usize::from(backend)] += 1;
    }
    assert_eq!(counts, [100, 300]);
}

#[test]
fn maglev_client_ip_affinity_and_header_hash() {
    let c = config::parse(&pool_conf("policy = \"maglev\"\nhash = \"header:x-user\"", &[(1, 1), (2, 1), (3, 1)]), "t").unwrap();
    let mut r = Router::new(&c);
    let req = |u: u32| format!("GET / HTTP/1.1\r\nHost: x\r\nX-User: user{u}\r\n\r\n");
    let first: Vec<Decision> = (0..50).map(|u| decide(&mut r, &req(u))).collect();
    let again: Vec<Decision> = (0..50).map(|u| decide(&mut r, &req(u))).collect();
    assert_eq!(first, again, "same header, same backend");
    let distinct: std::collections::HashSet<_> = first.iter().map(|d| pool_backend(*d)).collect();
    assert_eq!(distinct.len(), 3, "50 users spread over all 3 backends");
}

fn pool_backend(d: Decision) -> u16 {
    match d {
        Decision::Backend { backend, .. } => backend,
        other => panic!("{other:?}"),
    }
}

/// Maglev's promise: when one of N backends leaves, about 1/N of the keys
/// move (those on the leaving backend) plus a small extra churn.
#[test]
fn maglev_minimal_disruption() {
    const N: usize = 10;
    const M: usize = 65_537;
    let names: Vec<[u8; 6]> = (0..N as u8).map(|i| [198, 18, 3, i, 0, 80]).collect();
    let all: Vec<(&[u8], u32)> = names.iter().map(|n| (&n[..], 1)).collect();
    let full = MaglevTable::build(&all, M).unwrap();
    let removed = 4usize;
    let rest: Vec<(&[u8], u32)> = all.iter().enumerate().filter(|(i, _)| *i != removed).map(|(_, b)| *b).collect();
    let less = MaglevTable::build(&rest, M).unwrap();
    let keys = 20_000u32;
    let mut moved = 0;
    for k in 0..keys {
        let key = k.to_be_bytes();
        let before = full.lookup(&key);
        let after = less.lookup(&key);
        let after_orig = if after >= removed { after + 1 } else { after };
        if before == removed {
            assert_ne!(after_orig, removed);
            moved += 1;
        } else if before != after_orig {
            moved += 1;
        }
    }
    let frac = f64::from(moved) / f64::from(keys);
    // 1/N = 0.10; Maglev's extra churn is a few percent at this M/N.
    assert!((0.08..0.15).contains(&frac), "moved fraction {frac}");
}

#[test]
fn maglev_weights_within_two_percent() {
    let names: Vec<[u8; 6]> = (0..3u8).map(|i| [198, 18, 3, i, 0, 80]).collect();
    let weights = [1u32, 2, 5];
    let list: Vec<(&[u8], u32)> = names.iter().zip(weights).map(|(n, w)| (&n[..], w)).collect();
    let t = MaglevTable::build(&list, 65_537).unwrap();
    let mut share = [0usize; 3];
    for &s in t.slots() {
        share[usize::from(s)] += 1;
    }
    for i in 0..3 {
        let got = share[i] as f64 / 65_537.0;
        let want = f64::from(weights[i]) / 8.0;
        assert!((got - want).abs() < 0.02, "backend {i}: share {got:.4}, want {want:.4}");
    }
}

/// A reload's router: new routes and pools, each kept backend with its
/// run-time state (a drained one stays drained, its flow count kept).
#[test]
fn a_reconfigured_router_keeps_backend_state() {
    let c = config::parse(CONF, "t").unwrap();
    let mut r = Router::new(&c);
    let b = r.backend_by_addr(Ipv4Addr::new(198, 18, 2, 2), 80).unwrap();
    r.set_backend_flags(b, true, true);
    r.flow_started(b);
    // /exact now goes to pool a; same backend numbering.
    let moved = CONF.replacen("path_exact = \"/exact\"\npool = \"b\"", "path_exact = \"/exact\"\npool = \"a\"", 1);
    let c2 = config::parse(&moved, "t").unwrap();
    assert_eq!(c2.backends, c.backends, "same numbering");
    let mut r2 = r.reconfigured(&c2);
    assert_eq!(pool_of(decide(&mut r2, "GET /exact HTTP/1.1\r\nHost: x\r\n\r\n")), Some(0));
    assert_eq!(pool_of(decide(&mut r, "GET /exact HTTP/1.1\r\nHost: x\r\n\r\n")), None, "the old router still drains b: no backend");
    let s = r2.backend(b);
    assert_eq!((s.healthy, s.draining, s.active_flows), (true, true, 1));
}
