//! What `switchyard-testbed demo` shows a person: in `router` mode the
//! baseline (curl straight to every backend through a kernel router); in
//! `sim` mode the load balancer itself (clients to the VIP, the P4 program
//! answering SYNs, the front-end routing by host and path, agents splicing).

use std::path::Path;

use anyhow::{bail, Result};

use crate::lb::{self, Frontend, FrontendDriver};
use crate::{addr, bodies, clients, netns, SwitchMode, Testbed, TestbedSpec, NS_PREFIX};

/// One request of the demo and where the example config routes it.
pub struct DemoRequest {
    pub what: &'static str,
    pub path: &'static str,
    pub headers: &'static [&'static str],
    pub status: u16,
    /// Backends of the pool the route names.
    pub pool: &'static [&'static str],
}

/// The requests, against frontend/examples/switchyard.toml's routes.
pub const REQUESTS: &[DemoRequest] = &[
    DemoRequest { what: "default route -> pool web", path: "/1k", headers: &[], status: 200, pool: &["b0", "b1"] },
    DemoRequest { what: "default route -> pool web", path: "/10k", headers: &[], status: 200, pool: &["b0", "b1"] },
    DemoRequest { what: "host api.example.test + /v1/ -> api", path: "/v1/1m", headers: &["Host: api.example.test"], status: 200, pool: &["b1", "b2"] },
    DemoRequest { what: "path regex *.css -> pool static", path: "/static/app.css", headers: &[], status: 404, pool: &["b2"] },
    DemoRequest { what: "*.example.test + x-canary -> api", path: "/10k", headers: &["Host: www.example.test", "x-canary: 1"], status: 200, pool: &["b1", "b2"] },
    DemoRequest { what: "10 MB download -> pool web", path: "/10m", headers: &[], status: 200, pool: &["b0", "b1"] },
];

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
    println!("   front-end up; it programmed the switch's services over P4Runtime and offloads every connection it splices");

    let (rx0, tx0) = tb.client.link_packets("eth0")?;
    let vip = addr::VIP;
    println!("\n== curl from {} to the VIP {vip}, routed by the front-end's L7 rules", tb.client.name());
    println!("{:<38} {:<16} {:>6} {:>8} {:>10} {:>8} body", "route", "path", "status", "backend", "bytes", "seconds");
    let mut bad = 0;
    for r in REQUESTS {
        let mut extra: Vec<&str> = Vec::new();
        for h in r.headers {
            extra.extend(["-H", h]);
        }
        let f = clients::fetch(&tb.client, &format!("http://{vip}{}", r.path), &tb.dir.join("body"), 60, &extra)?;
        let in_pool = f.backend.as_deref().is_some_and(|b| r.pool.contains(&b));
        let ok = f.status == r.status && in_pool && (r.status != 200 || f.verified.is_ok());
        bad += usize::from(!ok);
        println!(
            "{:<38} {:<16} {:>6} {:>8} {:>10} {:>8.3} {}{}",
            r.what, r.path, f.status, f.backend.as_deref().unwrap_or("-"), f.bytes, f.seconds, verified(&f),
            if ok { "" } else { "   <-- UNEXPECTED" }
        );
    }
    bad += ab_run(&tb, &format!("http://{vip}/1k"), ab_requests)?;
    let (rx1, tx1) = tb.client.link_packets("eth0")?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    let sw = lb::switch_counters(&tb).unwrap_or_default();
    let ports = lb::switch_stats(&tb);
    let log = fe.stop();
    let c = lb::frontend_counters(&log);
    let g = |m: &std::collections::HashMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let client_pkts = rx1 - rx0 + tx1 - tx0;
    let (conns, fe_rx, fe_tx) = (g(&c, "new"), g(&c, "rx"), g(&c, "tx"));
    println!("\n== what happened");
    let row = |k: &str, v: String| println!("   {k:<44} {v}");
    row("client connections (front-end flows)", conns.to_string());
    row("packets on the client's link", client_pkts.to_string());
    row(
        "packets the front-end received / sent",
        format!("{fe_rx} / {fe_tx}  ({:.1} per connection)", (fe_rx + fe_tx) as f64 / conns.max(1) as f64),
    );
    row(
        "client packets the switch carried alone",
        format!("{:.2}%", 100.0 * (1.0 - fe_rx as f64 / client_pkts.max(1) as f64)),
    );
    row("switch: SYNs answered with a cookie", g(&sw, "path.syn_answered").to_string());
    row("switch: to the front-end", g(&sw, "path.to_frontend").to_string());
    row("switch: offloaded in / out", format!("{} / {}", g(&sw, "path.offloaded_in"), g(&sw, "path.offloaded_out")));
    row("switch: FIN/RST digests", g(&sw, "path.teardown_digest").to_string());
    row(
        "switch: kernel drops on its ports",
        format!("{} of {} (PACKET_STATISTICS)", g(&ports, "kernel_rx_drops"), g(&ports, "kernel_rx")),
    );
    row(
        "front-end: frames dropped before the worker",
        format!(
            "kernel {} imissed {} rx_nombuf {}",
            g(&c, "driver.kernel_rx_drops"),
            g(&c, "driver.imissed"),
            g(&c, "driver.rx_nombuf")
        ),
    );
    row(
        "entries installed / refused (table full)",
        format!("{} / {}", g(&c, "switch.ok"), g(&c, "switch.refused_full")),
    );
    row(
        "install latency mean / p50 / p99",
        format!(
            "{:.2} / {:.2} / {:.2} ms",
            g(&c, "switch.mean_us") as f64 / 1000.0,
            g(&c, "switch.p50_us") as f64 / 1000.0,
            g(&c, "switch.p99_us") as f64 / 1000.0
        ),
    );
    let drops: Vec<String> = c.iter().filter(|(k, _)| k.starts_with("drop.")).map(|(k, v)| format!("{}={v}", &k[5..])).collect();
    row("front-end drops", if drops.is_empty() { "none".into() } else { drops.join(" ") });
    finish(tb, bad)
}

/// Dispatches on the mode.
pub fn run(spec: TestbedSpec, config: &Path, ab_requests: u32) -> Result<()> {
    match spec.mode {
        SwitchMode::Router => router(spec, ab_requests),
        SwitchMode::Sim | SwitchMode::Bmv2 => load_balancer(&spec.tag, spec.backends, spec.mode, config, ab_requests),
    }
}
