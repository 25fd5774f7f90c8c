//! What `switchyard-testbed demo` shows a person: in `router` mode the
//! baseline (curl straight to every backend through a kernel router); in
//! `sim` mode the load balancer itself (clients to the VIP, the P4 program
//! answering SYNs, the front-end routing by host and path, agents splicing).

use std::path::Path;

use anyhow::{bail, Result};

use crate::lb::{self, Frontend, FrontendDriver};
use crate::figures::{show, Counters};
use crate::{addr, bodies, clients, netns, tcpstat, SwitchMode, Testbed, TestbedSpec, NS_PREFIX};

/// One request of the demo and where the example config routes it.
pub struct DemoRequest {
    pub what: &'static str,
    /// The VIP's port: 80 (service web) or 8080 (service gateway).
    pub port: u16,
    pub path: &'static str,
    pub headers: &'static [&'static str],
    pub status: u16,
    /// Backends of the pool the route names.
    pub pool: &'static [&'static str],
}

/// The requests, against frontend/examples/switchyard.toml's routes.
pub const REQUESTS: &[DemoRequest] = &[
    DemoRequest { what: "default route -> pool web", port: 80, path: "/1k", headers: &[], status: 200, pool: &["b0", "b1"] },
    DemoRequest { what: "default route -> pool web", port: 80, path: "/10k", headers: &[], status: 200, pool: &["b0", "b1"] },
    DemoRequest { what: "host api.example.test + /v1/ -> api", port: 80, path: "/v1/1m", headers: &["Host: api.example.test"], status: 200, pool: &["b1", "b2"] },
    DemoRequest { what: "path regex *.css -> pool static", port: 80, path: "/static/app.css", headers: &[], status: 200, pool: &["b2"] },
    DemoRequest { what: "*.example.test + x-canary -> api", port: 80, path: "/10k", headers: &["Host: www.example.test", "x-canary: 1"], status: 200, pool: &["b1", "b2"] },
    DemoRequest { what: "gateway (request mode) -> gateway-a", port: 8080, path: "/1k", headers: &[], status: 200, pool: &["b0", "b1"] },
    DemoRequest { what: "gateway /b/ -> gateway-b", port: 8080, path: "/b/10k", headers: &[], status: 200, pool: &["b2"] },
    DemoRequest { what: "10 MB download -> pool web", port: 80, path: "/10m", headers: &[], status: 200, pool: &["b0", "b1"] },
];

impl DemoRequest {
    /// Its URL on the VIP (`:port` unless 80).
    pub fn url(&self) -> String {
        match self.port {
            80 => format!("http://{}{}", addr::VIP, self.path),
            p => format!("http://{}:{p}{}", addr::VIP, self.path),
        }
    }
}

fn verified(f: &clients::Fetch) -> String {
    match &f.verified {
        Ok(()) => "verified".into(),
        Err(_) if f.status != 200 => "-".into(),
        Err(e) => e.clone(),
    }
}

/// The baseline: every body from every backend, routed by the kernel.
pub fn router(spec: TestbedSpec, ab_requests: u32) -> Result<()> {
    println!("== Switchyard testbed, switch mode router (kernel forwarding), {} nginx backends", spec.backends);
    let tb = Testbed::up(spec)?;
    println!("namespaces: {}", tb.namespaces().iter().map(|n| n.name()).collect::<Vec<_>>().join(" "));
    println!("\n== curl from {} through the switch, every byte verified", tb.client.name());
    println!("{:<28} {:>6} {:>10} {:>8} {:>9} body", "url", "status", "bytes", "backend", "seconds");
    let mut bad = 0;
    for i in 0..tb.backends.len() {
        for (path, _) in bodies::SIZES {
            let url = format!("http://{}{}", tb.backend_addr(i), path);
            let f = clients::fetch(&tb.client, &url, &tb.dir.join("body"), 60, &[])?;
            bad += usize::from(!(f.status == 200 && f.verified.is_ok() && f.backend.as_deref() == Some(&format!("b{i}"))));
            println!("{:<28} {:>6} {:>10} {:>8} {:>9.3} {}", f.url, f.status, f.bytes, f.backend.as_deref().unwrap_or("-"), f.seconds, verified(&f));
        }
    }
    bad += ab_run(&tb, &format!("http://{}/1k", tb.backend_addr(0)), ab_requests)?;
    finish(tb, bad)
}

fn ab_run(tb: &Testbed, url: &str, n: u32) -> Result<usize> {
    println!("\n== ab -k -n {n} -c 16 {url}");
    let r = clients::ab(&tb.client, url, n, 16, 60)?;
    println!("complete {}  failed {}  non-2xx {}  {:.0} requests/s", r.complete, r.failed, r.non_2xx, r.requests_per_sec);
    Ok(usize::from(r.failed > 0 || r.non_2xx > 0 || r.complete < u64::from(n)))
}

fn finish(tb: Testbed, bad: usize) -> Result<()> {
    drop(tb);
    println!("\n== torn down; namespaces left: {}", netns::list(NS_PREFIX).len());
    if bad > 0 {
        bail!("{bad} check(s) failed");
    }
    println!("all checks passed");
    Ok(())
}

/// The load balancer: switch-sim with its P4Runtime server, the DPDK
/// front-end programming it, agents, nginx.
pub fn load_balancer(tag: &str, backends: usize, mode: SwitchMode, config: &Path, ab_requests: u32) -> Result<()> {
    switchyard_frontend::config::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tb = Testbed::up(TestbedSpec::new(tag, backends, mode))?;
    let switch = if tb.spec.mode == SwitchMode::Bmv2 { "bmv2 (simple_switch_grpc)" } else { "switch-sim" };
    println!("== Switchyard: {switch} executing p4/switchyard.p4 (P4Runtime on {}:{}), DPDK front-end, {backends} nginx backends with the eBPF agent", addr::MGMT_SWITCH, addr::P4RUNTIME_PORT);
    println!("   config {}", config.display());
    let _agents = lb::start_agents(&tb)?;
    println!("   agents attached on {} backends", tb.backends.len());
    let fe = Frontend::start(&tb, config, FrontendDriver::Dpdk, false)?;
    println!("   front-end up; it programmed the switch's services over P4Runtime and offloads the connections it splices (a small response to a last request it carries itself)");

    let (rx0, tx0) = tb.client.link_packets("eth0")?;
    let segs_before = backend_segments(&tb);
    let vip = addr::VIP;
    println!("\n== curl from {} to the VIP {vip}, routed by the front-end's L7 rules", tb.client.name());
    println!("{:<38} {:<16} {:>6} {:>8} {:>10} {:>8} body", "route", "path", "status", "backend", "bytes", "seconds");
    let mut bad = 0;
    for r in REQUESTS {
        let mut extra: Vec<&str> = Vec::new();
        for h in r.headers {
            extra.extend(["-H", h]);
        }
        let f = clients::fetch(&tb.client, &r.url(), &tb.dir.join("body"), 60, &extra)?;
        let in_pool = f.backend.as_deref().is_some_and(|b| r.pool.contains(&b));
        let ok = f.status == r.status && in_pool && (r.status != 200 || f.verified.is_ok());
        bad += usize::from(!ok);
        println!(
            "{:<38} {:<16} {:>6} {:>8} {:>10} {:>8.3} {}{}",
            r.what, r.url().trim_start_matches(&format!("http://{vip}")), f.status, f.backend.as_deref().unwrap_or("-"), f.bytes, f.seconds, verified(&f),
            if ok { "" } else { "   <-- UNEXPECTED" }
        );
    }
    bad += ab_run(&tb, &format!("http://{vip}/1k"), ab_requests)?;
    let (rx1, tx1) = tb.client.link_packets("eth0")?;
    // The switch prints its stats line every second: let one more out.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let segs_after = backend_segments(&tb);
    let sw = Counters::new("switchyard-ctl counters", lb::switch_counters(&tb).map_err(|e| format!("{e:#}")));
    let ports = Counters::new("the switch's stats line (switch.log)", Ok(lb::switch_stats(&tb)));
    let log = fe.stop();
    let c = Counters::new("the front-end's log", Ok(lb::frontend_counters(&log)));
    let retrans = match (&segs_before, &segs_after) {
        (Ok(b), Ok(a)) => tcpstat::sent_and_retransmitted(b, a),
        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
    };
    print_table(&c, log.lines().any(|l| l.starts_with("drops: ")), &sw, &ports, rx1 - rx0 + tx1 - tx0, retrans);
    finish(tb, bad)
}

/// Every backend's TCP segment counters, or why they could not be read.
fn backend_segments(tb: &Testbed) -> Result<Vec<std::collections::HashMap<String, u64>>, String> {
    tb.backend_ns.iter().map(tcpstat::segments).collect::<Result<_>>().map_err(|e| format!("{e:#}"))
}

/// The "what happened" table: every figure read from the front-end's log,
/// the switch's P4 counters and stats line, the client's link and the
/// backends' nstat, or the reason it could not be read.
fn print_table(c: &Counters, drops_line: bool, sw: &Counters, ports: &Counters, client_pkts: u64, retrans: Result<(u64, u64), String>) {
    println!("\n== what happened");
    let row = |k: &str, v: String| println!("   {k:<44} {v}");
    let both = |a: Result<u64, String>, b: Result<u64, String>| a.and_then(|a| Ok((a, b?)));
    row("client connections (front-end flows)", show(&c.get("setups")));
    row("packets on the client's link", client_pkts.to_string());
    row(
        "packets the front-end received / sent",
        show(&both(c.get("rx"), c.get("tx")).and_then(|(rx, tx)| {
            let conns = c.get("setups")?;
            Ok(format!("{rx} / {tx}  ({:.1} per connection)", (rx + tx) as f64 / conns.max(1) as f64))
        })),
    );
    row(
        "front-end rx against the client's link",
        show(&c.get("rx").map(|rx| format!("{:.2}% (both directions of every flow count in rx)", 100.0 * rx as f64 / client_pkts.max(1) as f64))),
    );
    row(
        "front-end: offloads asked / installed",
        show(&both(c.get("engine_offload_requests"), c.get("engine_offloads_installed")).map(|(r, o)| format!("{r} / {o}"))),
    );
    row(
        "front-end: responses carried, not offloaded",
        show(&c.get("responses_carried").map(|n| {
            format!("{n} (a last request, Connection: close or HTTP/1.0 without keep-alive, with a small response; ab -k asks keep-alive, so its connections are offloaded)")
        })),
    );
    row("switch: SYNs answered with a cookie", show(&sw.get("path.syn_answered")));
    row("switch: to the front-end", show(&sw.get("path.to_frontend")));
    row("switch: offloaded in / out", show(&both(sw.get("path.offloaded_in"), sw.get("path.offloaded_out")).map(|(i, o)| format!("{i} / {o}"))));
    row("switch: FIN/RST digests", show(&sw.get("path.teardown_digest")));
    row(
        "switch: P4 drops (drop.* counters)",
        show(&sw.with_prefix("drop.").and_then(|d| {
            if d.is_empty() {
                return Err("switchyard-ctl printed no drop.* counter".to_string());
            }
            let total: u64 = d.iter().map(|(_, v)| v).sum();
            let named: Vec<String> = d.iter().filter(|(_, v)| *v > 0).map(|(k, v)| format!("{k}={v}")).collect();
            Ok(if named.is_empty() { format!("{total}") } else { format!("{total}: {}", named.join(" ")) })
        })),
    );
    row(
        "switch: kernel drops on its ports",
        show(&both(ports.get("kernel_rx_drops"), ports.get("kernel_rx")).map(|(d, n)| format!("{d} of {n} (PACKET_STATISTICS)"))),
    );
    row("switch: frames it could not send", show(&ports.get("send_dropped")));
    row(
        "backends: TCP segments retransmitted",
        show(&retrans.map(|(out, re)| format!("{re} of {out} sent ({:.3}%, nstat)", 100.0 * re as f64 / out.max(1) as f64))),
    );
    row(
        "front-end: frames dropped before the worker",
        // DPDK's line adds imissed / rx_nombuf to the kernel's drops of its
        // net_af_packet sockets; the AF_PACKET driver has the kernel's only.
        show(&c.get("driver.kernel_rx_drops").and_then(|k| match c.get("driver.imissed") {
            Ok(m) => Ok(format!("kernel {k} imissed {m} rx_nombuf {}", c.get("driver.rx_nombuf")?)),
            Err(_) => Ok(format!("kernel {k}")),
        })),
    );
    row(
        "entries installed / refused (table full)",
        show(&both(c.get("switch.ok"), c.get("switch.refused_full")).map(|(o, r)| format!("{o} / {r}"))),
    );
    row(
        "install latency mean / p50 / p99",
        show(&both(c.get("switch.mean_us"), c.get("switch.p50_us")).and_then(|(mean, p50)| {
            Ok(format!("{:.2} / {:.2} / {:.2} ms", mean as f64 / 1000.0, p50 as f64 / 1000.0, c.get("switch.p99_us")? as f64 / 1000.0))
        })),
    );
    row(
        "front-end drops",
        // The exit summary's `drops:` line lists only reasons above zero.
        show(&c.with_prefix("drop.").and_then(|d| {
            if !drops_line {
                return Err("the front-end's log has no `drops:` line".to_string());
            }
            Ok(if d.is_empty() { "none".to_string() } else { d.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ") })
        })),
    );
}

/// Dispatches on the mode.
pub fn run(spec: TestbedSpec, config: &Path, ab_requests: u32) -> Result<()> {
    match spec.mode {
        SwitchMode::Router => router(spec, ab_requests),
        SwitchMode::Sim | SwitchMode::Bmv2 => load_balancer(&spec.tag, spec.backends, spec.mode, config, ab_requests),
    }
}
