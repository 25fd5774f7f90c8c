//! Semantic checks of a parsed config file, each error tied to the span
//! of the value at fault.

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::HashMap;
use std::time::Duration;

use switchyard_wire::cookie::CookieSecret;
use switchyard_wire::ethernet::MacAddr;
use switchyard_wire::flow::BackendIndex;
use toml::Spanned;

use super::model::*;
use super::raw::{self, OffloadModeRaw};
use super::SpanError;

type VResult<T> = Result<T, SpanError>;

fn err<T>(s: &Spanned<impl Sized>, msg: impl Into<String>) -> VResult<T> {
    Err(SpanError::new(s.span(), msg))
}

fn mac(s: &Spanned<String>) -> VResult<MacAddr> {
    let parts: Vec<&str> = s.get_ref().split(':').collect();
    let mut m = [0u8; 6];
    if parts.len() != 6 {
        return err(s, format!("`{}` is not a MAC address (want six hex pairs like 02:00:00:00:00:01)", s.get_ref()));
    }
    for (i, p) in parts.iter().enumerate() {
        m[i] = match (p.len(), u8::from_str_radix(p, 16)) {
            (2, Ok(b)) => b,
            _ => return err(s, format!("`{}` is not a MAC address: bad byte `{p}`", s.get_ref())),
        };
    }
    Ok(m)
}

fn ipv4(s: &Spanned<String>, what: &str) -> VResult<Ipv4Addr> {
    s.get_ref().parse().or_else(|_| err(s, format!("{what} `{}` is not an IPv4 address", s.get_ref())))
}

fn sockaddr(s: &Spanned<String>, what: &str) -> VResult<SocketAddrV4> {
    s.get_ref().parse().or_else(|_| err(s, format!("{what} `{}` is not an IPv4 address:port", s.get_ref())))
}

fn positive(s: &Option<Spanned<u64>>, default: u64, what: &str) -> VResult<u64> {
    match s {
        None => Ok(default),
        Some(v) if *v.get_ref() == 0 => err(v, format!("{what} must be above 0")),
        Some(v) => Ok(*v.get_ref()),
    }
}

/// RFC 9110 token characters (methods, header names).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn mode(m: OffloadModeRaw) -> OffloadMode {
    match m {
        OffloadModeRaw::Connection => OffloadMode::Connection,
        OffloadModeRaw::Request => OffloadMode::Request,
    }
}

fn host_match(s: &Spanned<String>) -> VResult<HostMatch> {
    let h = s.get_ref().to_ascii_lowercase();
    let label_ok = |d: &str| {
        !d.is_empty() && d.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    if let Some(rest) = h.strip_prefix("*.") {
        if !label_ok(rest) {
            return err(s, format!("host pattern `{h}`: want `*.domain` with a valid domain after `*.`"));
        }
        return Ok(HostMatch::Wildcard(format!(".{rest}")));
    }
    if !label_ok(&h) {
        return err(s, format!("host `{h}` is not a host name (wildcards only as a leading `*.`)"));
    }
    Ok(HostMatch::Exact(h))
}

fn path_match(r: &raw::RouteSection) -> VResult<Option<PathMatch>> {
    let mut given: Vec<&Spanned<String>> =
        [&r.path_exact, &r.path_prefix, &r.path_regex].into_iter().flatten().collect();
    // Point at the second one written, in file order.
    given.sort_by_key(|s| s.span().start);
    if given.len() > 1 {
        return err(given[1], "a route takes at most one of path_exact, path_prefix, path_regex");
    }
    if let Some(p) = &r.path_exact {
        if !p.get_ref().starts_with('/') {
            return err(p, "path_exact must start with `/`");
        }
        return Ok(Some(PathMatch::Exact(p.get_ref().clone())));
    }
    if let Some(p) = &r.path_prefix {
        if !p.get_ref().starts_with('/') {
            return err(p, "path_prefix must start with `/`");
        }
        return Ok(Some(PathMatch::Prefix(p.get_ref().clone())));
    }
    if let Some(p) = &r.path_regex {
        // Bound compiled size: a route regex runs per request on the hot path.
        let re = regex::RegexBuilder::new(p.get_ref()).size_limit(1 << 20).build().or_else(|e| {
            let first = e.to_string().lines().last().unwrap_or("").trim().to_string();
            err(p, format!("path_regex does not compile: {first}"))
        })?;
        return Ok(Some(PathMatch::Regex(re)));
    }
    Ok(None)
}

fn hash_key(h: &Spanned<String>) -> VResult<HashKey> {
    let v = h.get_ref();
    if v == "client_ip" {
        return Ok(HashKey::ClientIp);
    }
    let named = |prefix: &str| v.strip_prefix(prefix).filter(|n| is_token(n));
    if let Some(n) = named("header:") {
        return Ok(HashKey::Header(n.to_ascii_lowercase()));
    }
    if let Some(n) = named("cookie:") {
        return Ok(HashKey::Cookie(n.to_string()));
    }
    err(h, format!("hash `{v}`: want `client_ip`, `header:NAME` or `cookie:NAME`"))
}

fn absolute(p: &Option<Spanned<String>>, what: &str) -> VResult<Option<std::path::PathBuf>> {
    match p {
        Some(s) if !std::path::Path::new(s.get_ref()).is_absolute() => err(s, format!("{what} `{}` must be an absolute path", s.get_ref())),
        Some(s) => Ok(Some(std::path::PathBuf::from(s.get_ref()))),
        None => Ok(None),
    }
}

/// `[switch]` tls_ca + tls_cert + tls_key (mutual TLS), or insecure = true,
/// or neither (None: refused when the front-end connects).
fn switch_transport(sw: &raw::SwitchSection) -> VResult<Option<SwitchTransport>> {
    let (ca, cert, key) = (absolute(&sw.tls_ca, "tls_ca")?, absolute(&sw.tls_cert, "tls_cert")?, absolute(&sw.tls_key, "tls_key")?);
    let insecure = sw.insecure.as_ref().filter(|i| *i.get_ref());
    match (ca, cert, key, insecure) {
        (Some(_), _, _, Some(i)) | (_, Some(_), _, Some(i)) | (_, _, Some(_), Some(i)) => {
            err(i, "insecure = true and tls_ca/tls_cert/tls_key exclude each other")
        }
        (Some(ca), Some(cert), Some(key), None) => {
            Ok(Some(SwitchTransport::MutualTls { ca, cert, key, server_name: sw.tls_server_name.as_ref().map(|n| n.get_ref().clone()) }))
        }
        (None, None, None, insecure) => match &sw.tls_server_name {
            Some(n) => err(n, "tls_server_name needs tls_ca, tls_cert and tls_key"),
            None => Ok(insecure.map(|_| SwitchTransport::Insecure)),
        },
        _ => {
            let given = [&sw.tls_ca, &sw.tls_cert, &sw.tls_key].into_iter().flatten().next();
            match given {
                Some(g) => err(g, "tls_ca, tls_cert and tls_key go together (mutual TLS to the switch)"),
                None => Ok(None),
            }
        }
    }
}

pub(super) fn validate(f: raw::ConfigFile) -> VResult<Config> {
    let fe = &f.frontend;
    if *fe.workers.get_ref() == 0 {
        return err(&fe.workers, "workers must be at least 1");
    }
    if *fe.flow_table_capacity.get_ref() == 0 {
        return err(&fe.flow_table_capacity, "flow_table_capacity must be at least 1");
    }
    let frontend = FrontendSettings {
        mac: mac(&fe.mac)?,
        switch_mac: mac(&fe.switch_mac)?,
        workers: *fe.workers.get_ref(),
        flow_table_capacity: *fe.flow_table_capacity.get_ref(),
        hold_until_offloaded: fe.hold_until_offloaded,
        carry_responses_up_to: *fe.carry_responses_up_to.get_ref(),
        host_address: fe.host_address.as_ref().map(|a| ipv4(a, "host_address")).transpose()?,
    };

    let sw = &f.switch;
    if *sw.syn_ack_wscale.get_ref() > switchyard_wire::tcp_option::MAX_WSCALE {
        return err(&sw.syn_ack_wscale, "syn_ack_wscale must be 0..=14 (RFC 7323)");
    }
    if *sw.syn_ack_mss.get_ref() < 88 {
        return err(&sw.syn_ack_mss, "syn_ack_mss below 88 cannot carry a TCP segment");
    }
    let switch = SwitchSettings {
        p4runtime: sockaddr(&sw.p4runtime, "p4runtime")?,
        device_id: sw.device_id,
        syn_ack: SynAckParams {
            mss: *sw.syn_ack_mss.get_ref(),
            wscale: *sw.syn_ack_wscale.get_ref(),
            window: sw.syn_ack_window,
        },
        transport: switch_transport(sw)?,
    };

    let ck = &f.cookie;
    if ck.secrets.get_ref().is_empty() || ck.secrets.get_ref().len() > 2 {
        return err(&ck.secrets, "cookie.secrets takes 1 or 2 entries (current, then previous)");
    }
    if *ck.rotation_secs.get_ref() == 0 {
        return err(&ck.rotation_secs, "rotation_secs must be above 0");
    }
    let rotated_secrets_file = match &ck.rotated_secrets_file {
        Some(p) if !std::path::Path::new(p.get_ref()).is_absolute() => {
            return err(p, format!("rotated_secrets_file `{}` must be an absolute path", p.get_ref()))
        }
        Some(p) => Some(std::path::PathBuf::from(p.get_ref())),
        None => None,
    };
    let cookie = CookieSettings {
        secrets: ck.secrets.get_ref().iter().map(|s| CookieSecret { k0: s.k0, k1: s.k1 }).collect(),
        rotation: Duration::from_secs(*ck.rotation_secs.get_ref()),
        rotated_secrets_file,
    };

    let mut port_names = HashMap::new();
    let mut ports = Vec::new();
    for p in &f.dpdk.ports {
        if port_names.insert(p.name.get_ref().clone(), ()).is_some() {
            return err(&p.name, format!("duplicate port name `{}`", p.name.get_ref()));
        }
        if *p.rx_queues.get_ref() == 0 {
            return err(&p.rx_queues, "rx_queues must be at least 1");
        }
        ports.push(PortSettings { name: p.name.get_ref().clone(), device: p.device.clone(), rx_queues: *p.rx_queues.get_ref() });
    }
    let dpdk = DpdkSettings { eal_args: f.dpdk.eal_args.clone(), ports };

    let t = &f.timeouts;
    let d = Timeouts::default();
    let timeouts = Timeouts {
        request_ms: positive(&t.request_ms, d.request_ms, "request_ms")?,
        backend_syn_rto_ms: positive(&t.backend_syn_rto_ms, d.backend_syn_rto_ms, "backend_syn_rto_ms")?,
        backend_syn_retries: t.backend_syn_retries.unwrap_or(d.backend_syn_retries),
        request_rto_ms: positive(&t.request_rto_ms, d.request_rto_ms, "request_rto_ms")?,
        request_retries: t.request_retries.unwrap_or(d.request_retries),
        closing_ms: positive(&t.closing_ms, d.closing_ms, "closing_ms")?,
        idle_ms: positive(&t.idle_ms, d.idle_ms, "idle_ms")?,
    };

    // Pools and the global backend numbering (one index per address:port,
    // shared by every pool naming it, as the switch's backend table).
    let mut backends: Vec<BackendSpec> = Vec::new();
    let mut backend_ids: HashMap<(Ipv4Addr, u16), BackendIndex> = HashMap::new();
    let mut pool_ids: HashMap<String, usize> = HashMap::new();
    let mut pools = Vec::new();
    for p in &f.pools {
        if pool_ids.contains_key(p.name.get_ref()) {
            return err(&p.name, format!("duplicate pool name `{}`", p.name.get_ref()));
        }
        let policy = match p.policy.get_ref().as_str() {
            "round_robin" | "least_flows" if p.hash.is_some() => {
                return err(p.hash.as_ref().unwrap(), "`hash` applies only to policy = \"maglev\"");
            }
            "round_robin" => Policy::RoundRobin,
            "least_flows" => Policy::LeastFlows,
            "maglev" => Policy::Maglev(match &p.hash {
                Some(h) => hash_key(h)?,
                None => HashKey::ClientIp,
            }),
            other => return err(&p.policy, format!("unknown policy `{other}` (round_robin, least_flows, maglev)")),
        };
        if p.backends.get_ref().is_empty() {
            return err(&p.backends, format!("pool `{}` has no backends", p.name.get_ref()));
        }
        let mut members: Vec<(BackendIndex, u32)> = Vec::new();
        for b in p.backends.get_ref() {
            let address = ipv4(&b.address, "backend address")?;
            if *b.port.get_ref() == 0 {
                return err(&b.port, "backend port must not be 0");
            }
            let w = *b.weight.get_ref();
            if w == 0 {
                return err(&b.weight, "weight must be at least 1 (remove the backend or mark it draining instead)");
            }
            if w > 1000 {
                return err(&b.weight, "weight above 1000: weights are relative, use smaller numbers");
            }
            let agent = b.agent.as_ref().map(|a| sockaddr(a, "agent")).transpose()?;
            let key = (address, *b.port.get_ref());
            let idx = match backend_ids.get(&key) {
                Some(&i) => {
                    if agent.is_some() && backends[usize::from(i)].agent.is_some() && backends[usize::from(i)].agent != agent {
                        return err(b.agent.as_ref().unwrap(), "this backend is named with a different agent address elsewhere");
                    }
                    if backends[usize::from(i)].agent.is_none() {
                        backends[usize::from(i)].agent = agent;
                    }
                    i
                }
                None => {
                    let i = BackendIndex::try_from(backends.len())
                        .or_else(|_| err(&b.address, "more than 65535 distinct backends"))?;
                    backends.push(BackendSpec { address, port: key.1, agent });
                    backend_ids.insert(key, i);
                    i
                }
            };
            if members.iter().any(|&(m, _)| m == idx) {
                return err(&b.address, format!("backend {}:{} listed twice in pool `{}`", key.0, key.1, p.name.get_ref()));
            }
            members.push((idx, w));
        }
        let health = p.health.as_ref().map(health_check).transpose()?;
        pool_ids.insert(p.name.get_ref().clone(), pools.len());
        pools.push(PoolSpec { name: p.name.get_ref().clone(), policy, members, health });
    }

    let mut services = Vec::new();
    let mut names = HashMap::new();
    let mut vips: HashMap<(Ipv4Addr, u16), String> = HashMap::new();
    for s in &f.services {
        if names.insert(s.name.get_ref().clone(), ()).is_some() {
            return err(&s.name, format!("duplicate service name `{}`", s.name.get_ref()));
        }
        let vip = ipv4(&s.vip, "vip")?;
        if *s.port.get_ref() == 0 {
            return err(&s.port, "service port must not be 0");
        }
        if let Some(other) = vips.insert((vip, *s.port.get_ref()), s.name.get_ref().clone()) {
            return err(&s.vip, format!("duplicate VIP {vip}:{} (already used by service `{other}`)", s.port.get_ref()));
        }
        if s.routes.is_empty() {
            return err(&s.name, format!("service `{}` has no routes (add one with only `pool = ...` as the default)", s.name.get_ref()));
        }
        let mut routes = Vec::new();
        for r in &s.routes {
            let pool = *pool_ids
                .get(r.pool.get_ref())
                .ok_or_else(|| SpanError::new(r.pool.span(), format!("route names unknown pool `{}`", r.pool.get_ref())))?;
            let method = match &r.method {
                Some(m) if !is_token(m.get_ref()) => return err(m, format!("method `{}` is not an HTTP token", m.get_ref())),
                Some(m) => Some(m.get_ref().to_ascii_uppercase()),
                None => None,
            };
            let mut headers = Vec::new();
            if let Some(h) = &r.headers {
                for (name, value) in h.get_ref() {
                    if !is_token(name) {
                        return err(h, format!("header name `{name}` is not an HTTP token"));
                    }
                    headers.push((name.to_ascii_lowercase(), value.clone()));
                }
            }
            routes.push(RouteSpec {
                host: r.host.as_ref().map(host_match).transpose()?,
                path: path_match(r)?,
                method,
                headers,
                pool,
                offload: mode(r.offload.unwrap_or(s.offload)),
            });
        }
        let id = u16::try_from(services.len()).or_else(|_| err(&s.name, "more than 65536 services"))?;
        services.push(Service {
            name: s.name.get_ref().clone(),
            id,
            vip,
            port: *s.port.get_ref(),
            offload: mode(s.offload),
            routes,
            state: ServiceState::Active,
        });
    }

    let admin = f.admin.as_ref().map(admin).transpose()?;
    let access_log = f.access_log.as_ref().map(access_log).transpose()?;
    Ok(Config { frontend, switch, cookie, dpdk, timeouts, services, pools, backends, admin, access_log, moving: Vec::new() })
}

fn health_check(h: &Spanned<raw::HealthSection>) -> VResult<HealthCheck> {
    use crate::limits::*;
    let s = h.get_ref();
    let path = match &s.path {
        // The request line carries it as is: no spaces, no control bytes.
        Some(p) if !p.get_ref().starts_with('/') || !p.get_ref().bytes().all(|b| b.is_ascii_graphic()) => {
            return err(p, format!("health path `{}` must start with `/` and hold no spaces or control characters", p.get_ref()))
        }
        Some(p) => p.get_ref().clone(),
        None => DEFAULT_HEALTH_PATH.to_string(),
    };
    let port = match &s.port {
        Some(p) if *p.get_ref() == 0 => return err(p, "health port must not be 0"),
        Some(p) => Some(*p.get_ref()),
        None => None,
    };
    let interval_ms = match &s.interval_ms {
        Some(v) if *v.get_ref() < MIN_HEALTH_INTERVAL_MS => return err(v, format!("interval_ms must be at least {MIN_HEALTH_INTERVAL_MS}")),
        Some(v) => *v.get_ref(),
        None => DEFAULT_HEALTH_INTERVAL_MS,
    };
    let timeout_ms = match &s.timeout_ms {
        Some(v) if *v.get_ref() == 0 || *v.get_ref() > interval_ms => {
            return err(v, format!("timeout_ms must be above 0 and at most interval_ms ({interval_ms})"))
        }
        Some(v) => *v.get_ref(),
        None => DEFAULT_HEALTH_TIMEOUT_MS.min(interval_ms),
    };
    let threshold = |v: &Option<Spanned<u32>>, default: u32, what: &str| match v {
        Some(n) if *n.get_ref() == 0 || *n.get_ref() > MAX_HEALTH_THRESHOLD => err(n, format!("{what} must be 1..={MAX_HEALTH_THRESHOLD}")),
        Some(n) => Ok(*n.get_ref()),
        None => Ok(default),
    };
    let expect_status = match &s.expect_status {
        Some(v) if !(100..=599).contains(v.get_ref()) => return err(v, format!("expect_status {} is not an HTTP status (100..=599)", v.get_ref())),
        Some(v) => *v.get_ref(),
        None => DEFAULT_HEALTH_EXPECT_STATUS,
    };
    Ok(HealthCheck {
        path,
        port,
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
        rise: threshold(&s.rise, DEFAULT_HEALTH_RISE, "rise")?,
        fall: threshold(&s.fall, DEFAULT_HEALTH_FALL, "fall")?,
        expect_status,
    })
}

fn admin(a: &raw::AdminSection) -> VResult<AdminSettings> {
    let listen: std::net::SocketAddr =
        a.listen.get_ref().parse().or_else(|_| err(&a.listen, format!("admin.listen `{}` is not an ip:port", a.listen.get_ref())))?;
    if listen.port() == 0 {
        return err(&a.listen, "admin.listen needs a fixed port (the CLI's --admin names it)");
    }
    // On a specific non-loopback address every client comes from a
    // non-loopback address: all would be refused. 0.0.0.0 still serves
    // local clients through 127.0.0.1.
    if !listen.ip().is_loopback() && !listen.ip().is_unspecified() && !a.allow_remote {
        return err(
            &a.listen,
            format!("admin.listen `{listen}` is not a loopback address, so every client would be refused; set allow_remote = true to serve them"),
        );
    }
    Ok(AdminSettings { listen, allow_remote: a.allow_remote })
}

fn access_log(a: &raw::AccessLogSection) -> VResult<AccessLogSettings> {
    let path = a.path.get_ref();
    let target = if path == "-" {
        AccessLogTarget::Stdout
    } else if std::path::Path::new(path).is_absolute() && !path.ends_with('/') {
        AccessLogTarget::File(std::path::PathBuf::from(path))
    } else {
        return err(&a.path, format!("access_log.path `{path}` must be an absolute file path, or `-` for stdout"));
    };
    let sample = match &a.sample {
        None => 1,
        Some(n) if *n.get_ref() == 0 || *n.get_ref() > u64::from(u32::MAX) => {
            return err(n, format!("access_log.sample {} must be 1..={} (1 in N decisions is written)", n.get_ref(), u32::MAX))
        }
        Some(n) => *n.get_ref() as u32,
    };
    Ok(AccessLogSettings { target, sample })
}
