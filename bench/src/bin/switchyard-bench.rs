//! `switchyard-bench` (run by `scripts/bench`): Switchyard, nginx and
//! HAProxy side by side on one namespace testbed (sim mode, 3 nginx
//! backends), interleaved run by run, with figures, tables and plots.
//! docs/BENCHMARKS.md describes what is measured and how.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::{json, Value};
use switchyard_bench::loadgen::ConnMode;
use switchyard_bench::{measure, report, workload};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::proxies::{self, Proxy, ProxyKind, PROXY_PORT, PROXY_VIP};
use switchyard_testbed::{addr, netns, SwitchMode, Testbed, TestbedSpec};

#[derive(Parser)]
#[command(version, about = "Switchyard against nginx and HAProxy on the namespace testbed")]
struct Args {
    /// The CI check: three cells, one repetition, 2 s each; fails unless
    /// every system produced figures and Switchyard had no error or timeout.
    #[arg(long)]
    short: bool,
    /// Repetitions of every (cell, system) (default 3; short: 1).
    #[arg(long)]
    reps: Option<usize>,
    /// Seconds of load per run (default 3; short: 2).
    #[arg(long)]
    seconds: Option<f64>,
    /// Output directory (default target/bench/<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value = "bench")]
    tag: String,
    /// Systems, comma-separated: switchyard, switchyard-request, nginx, haproxy.
    #[arg(long)]
    systems: Option<String>,
    /// Only these workloads (comma-separated: 1k,10k,100k,1m,10m,t1,t2,t3),
    /// crossed with --modes and --concurrency, instead of the full matrix.
    #[arg(long)]
    workloads: Option<String>,
    /// close, keepalive (comma-separated; with --workloads).
    #[arg(long)]
    modes: Option<String>,
    /// Concurrencies (comma-separated; with --workloads; default 32).
    #[arg(long)]
    concurrency: Option<String>,
    /// Read/connect inactivity timeout of the load generator.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// Pace every run to this many requests per second over all its
    /// connections (issue 11 measures the front-end's CPU per connection
    /// at 5,000 new connections per second); default: closed loop, each
    /// connection as fast as it goes.
    #[arg(long)]
    rate: Option<f64>,
    /// Run the front-end with `--idle-spin-us N` (it polls N µs after its
    /// last frame before it blocks). Its process CPU then includes the
    /// spinning; `fe_busy_us_per_req` (the worker's rounds that had work)
    /// is the CPU it spent working, the figure a polling loop is judged by.
    #[arg(long)]
    frontend_idle_spin_us: Option<u64>,
    /// Only re-render summary, tables and plots from an earlier results.json.
    #[arg(long, value_name = "RESULTS_JSON")]
    report: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum System {
    Switchyard,
    SwitchyardRequest,
    Nginx,
    Haproxy,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Switchyard => "switchyard",
            System::SwitchyardRequest => "switchyard-request",
            System::Nginx => "nginx",
            System::Haproxy => "haproxy",
        }
    }
    fn parse(s: &str) -> Result<Self> {
        Ok(match s.trim() {
            "switchyard" => System::Switchyard,
            "switchyard-request" => System::SwitchyardRequest,
            "nginx" => System::Nginx,
            "haproxy" => System::Haproxy,
            o => bail!("unknown system `{o}`"),
        })
    }
    fn target(self) -> std::net::SocketAddr {
        match self {
            System::Switchyard | System::SwitchyardRequest => (addr::VIP, 80).into(),
            System::Nginx | System::Haproxy => (PROXY_VIP, PROXY_PORT).into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Cell {
    workload: &'static str,
    mode: ConnMode,
    conc: usize,
    systems: Vec<System>,
}

const SIZE_SWEEP_CONC: usize = 32;

fn full_matrix() -> Vec<Cell> {
    let base = vec![System::Switchyard, System::Nginx, System::Haproxy];
    let with_req = vec![System::Switchyard, System::SwitchyardRequest, System::Nginx, System::Haproxy];
    let mut v = Vec::new();
    for w in ["1k", "t2", "t3"] {
        for mode in [ConnMode::Close, ConnMode::KeepAlive] {
            for conc in [1, 32, 256] {
                let systems = if conc == 32 && w != "t3" { with_req.clone() } else { base.clone() };
                v.push(Cell { workload: w, mode, conc, systems });
            }
        }
    }
    for w in ["10k", "100k", "1m", "10m"] {
        for mode in [ConnMode::Close, ConnMode::KeepAlive] {
            v.push(Cell { workload: w, mode, conc: SIZE_SWEEP_CONC, systems: base.clone() });
        }
    }
    v
}

fn short_matrix() -> Vec<Cell> {
    let base = vec![System::Switchyard, System::Nginx, System::Haproxy];
    vec![
        Cell { workload: "1k", mode: ConnMode::Close, conc: 32, systems: base.clone() },
        Cell { workload: "1k", mode: ConnMode::KeepAlive, conc: 32, systems: base.clone() },
        Cell { workload: "t2", mode: ConnMode::KeepAlive, conc: 32, systems: base },
    ]
}

fn list<T>(s: &Option<String>, f: impl Fn(&str) -> Result<T>) -> Result<Option<Vec<T>>> {
    s.as_ref().map(|s| s.split(',').filter(|x| !x.trim().is_empty()).map(|x| f(x.trim())).collect()).transpose()
}

fn matrix(a: &Args) -> Result<Vec<Cell>> {
    let systems = list(&a.systems, System::parse)?;
    let mut cells = if a.workloads.is_some() || a.concurrency.is_some() || a.modes.is_some() {
        let ws = list(&a.workloads, |w| workload::by_name(w).map(|w| w.name).with_context(|| format!("unknown workload `{w}`")))?.unwrap_or(vec!["1k"]);
        let ms = list(&a.modes, |m| m.parse::<ConnMode>().map_err(anyhow::Error::msg))?.unwrap_or(vec![ConnMode::Close, ConnMode::KeepAlive]);
        let cs = list(&a.concurrency, |c| c.parse::<usize>().context("concurrency"))?.unwrap_or(vec![32]);
        let mut v = Vec::new();
        for &w in &ws {
            for &mode in &ms {
                for &conc in &cs {
                    v.push(Cell { workload: w, mode, conc, systems: vec![System::Switchyard, System::Nginx, System::Haproxy] });
                }
            }
        }
        v
    } else if a.short {
        short_matrix()
    } else {
        full_matrix()
    };
    if let Some(s) = systems {
        for c in &mut cells {
            c.systems = s.clone();
        }
    }
    Ok(cells)
}

/// A system under test, running.
enum Running {
    Frontend(Frontend),
    Proxy(Proxy),
}

impl Running {
    fn pids(&self) -> Vec<u32> {
        match self {
            Running::Frontend(f) => vec![f.child.id()],
            Running::Proxy(p) => {
                let mut v = vec![p.pid()];
                v.extend(measure::children(p.pid()));
                v
            }
        }
    }
}

struct Ctx {
    tb: Testbed,
    loadgen: PathBuf,
    cfg_connection: PathBuf,
    cfg_request: PathBuf,
    timeout_ms: u64,
    rate: Option<f64>,
    frontend_idle_spin_us: Option<u64>,
}

fn start(ctx: &Ctx, sys: System) -> Result<Running> {
    Ok(match sys {
        System::Switchyard | System::SwitchyardRequest => {
            let cfg = if sys == System::Switchyard { &ctx.cfg_connection } else { &ctx.cfg_request };
            let spin = ctx.frontend_idle_spin_us.map(|us| us.to_string());
            let extra: Vec<&str> = spin.as_deref().map(|us| vec!["--idle-spin-us", us]).unwrap_or_default();
            let fe = Frontend::start_with(&ctx.tb, cfg, FrontendDriver::AfPacket, false, &extra)?;
            // "front-end up" comes just before the worker's first poll.
            std::thread::sleep(Duration::from_millis(200));
            Running::Frontend(fe)
        }
        System::Nginx => Running::Proxy(Proxy::start(&ctx.tb, ProxyKind::Nginx)?),
        System::Haproxy => Running::Proxy(Proxy::start(&ctx.tb, ProxyKind::Haproxy)?),
    })
}

/// What is read before and after a run.
struct Snap {
    cpu: Option<measure::Cpu>,
    threads: std::collections::BTreeMap<String, u64>,
    fe_link: Option<(u64, u64)>,
    mgmt_link: Option<(u64, u64)>,
    retrans: Option<(u64, u64)>,
    ss_drops: Option<u64>,
    sim_lines: usize,
    sim: Option<(u64, u64)>,
}

fn snap(ctx: &Ctx, pids: &[u32]) -> Snap {
    let tb = &ctx.tb;
    let retrans = tb.backend_ns.iter().map(measure::tcp_retrans).try_fold((0, 0), |acc, r| r.map(|(a, b)| (acc.0 + a, acc.1 + b)));
    let log = std::fs::read_to_string(tb.dir.join("switch.log")).unwrap_or_default();
    Snap {
        cpu: measure::cpu(pids),
        threads: measure::cpu_by_thread(pids),
        fe_link: tb.frontend.link_packets("eth0").ok(),
        mgmt_link: tb.frontend.link_packets("mgmt0").ok(),
        retrans,
        ss_drops: measure::packet_socket_drops(&tb.switch),
        sim_lines: log.matches("switch stats: ").count(),
        sim: measure::switch_sim_drops(&log),
    }
}

fn d2(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> Option<u64> {
    let (a, b) = (a?, b?);
    Some((b.0 + b.1).checked_sub(a.0 + a.1)?)
}

fn per(x: Option<f64>, n: u64) -> Value {
    match x {
        Some(x) if n > 0 => json!(x / n as f64),
        _ => Value::Null,
    }
}

fn loadgen(ctx: &Ctx, sys: System, cell: &Cell, seconds: f64) -> Result<Value> {
    let target = sys.target().to_string();
    let (c, s, t) = (cell.conc.to_string(), seconds.to_string(), ctx.timeout_ms.to_string());
    let lg = ctx.loadgen.to_string_lossy().into_owned();
    let rate = ctx.rate.map(|r| r.to_string());
    let mut args = vec![
        lg.as_str(), "--target", &target, "--workload", cell.workload, "--mode", cell.mode.name(), "-c", &c, "--seconds", &s, "--timeout-ms", &t,
        "--max-request-ms", "30000", "-n", "2000000",
    ];
    if let Some(r) = &rate {
        args.extend(["--rate", r.as_str()]);
    }
    let out = ctx.tb.client.output(&args)?;
    if !out.status.success() {
        bail!("load generator failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).with_context(|| format!("load generator output: {}", String::from_utf8_lossy(&out.stdout)))
}

/// One measured run of `sys` on `cell`.
fn run_one(ctx: &Ctx, sys: System, cell: &Cell, rep: usize, seconds: f64) -> Result<Value> {
    let running = start(ctx, sys)?;
    let pids = running.pids();
    // The front-end's idle CPU (its loop's wake-ups with no traffic), read
    // over 1 s before the load: subtracted from the teardown grace window
    // below, so that window counts the work on the run's connections only.
    let idle_ns_per_s = match running {
        Running::Frontend(_) => {
            let a = measure::cpu(&pids);
            std::thread::sleep(Duration::from_secs(1));
            a.zip(measure::cpu(&pids)).map(|(a, b)| b.sched_ns.saturating_sub(a.sched_ns) as f64)
        }
        Running::Proxy(_) => None,
    };
    let before = snap(ctx, &pids);
    let t0 = Instant::now();
    let lg = loadgen(ctx, sys, cell, seconds);
    let load_s = t0.elapsed().as_secs_f64();
    // The load window's CPU, then (Switchyard) the teardown grace: the
    // control plane deletes each closed connection's entry 2 s after its
    // FIN, work that belongs to the connection.
    let after_load = snap(ctx, &pids);
    let grace = matches!(running, Running::Frontend(_));
    const GRACE_S: f64 = 2.5;
    if grace {
        std::thread::sleep(Duration::from_secs_f64(GRACE_S));
    }
    let after_grace = grace.then(|| snap(ctx, &pids));
    let after = after_grace.as_ref().unwrap_or(&after_load);
    let fe_counters = match running {
        Running::Frontend(fe) => Some(lb::frontend_counters(&fe.stop())),
        Running::Proxy(mut p) => {
            p.stop();
            None
        }
    };
    let lg = lg?;
    let ok = lg["ok"].as_u64().unwrap_or(0);
    let errors = lg["errors"].as_u64().unwrap_or(0);
    let timeouts = lg["timeouts"].as_u64().unwrap_or(0);
    let close_stall = lg["failures"]["close_stall"].as_u64().unwrap_or(0);
    // µs of LB CPU: the load window, plus (Switchyard) what the grace
    // window took above the idle rate.
    let cpu_load_only = match (before.cpu, after_load.cpu) {
        (Some(a), Some(b)) => Some(b.sched_ns.saturating_sub(a.sched_ns) as f64 / 1000.0),
        _ => None,
    };
    let grace_excess = match (after_load.cpu, after.cpu) {
        (Some(a), Some(b)) if grace => Some((b.sched_ns.saturating_sub(a.sched_ns) as f64 - idle_ns_per_s.unwrap_or(0.0) * GRACE_S).max(0.0) / 1000.0),
        _ => Some(0.0),
    };
    let cpu_ns = cpu_load_only.zip(grace_excess).map(|(a, b)| a + b);
    let cpu_ticks_us = match (before.cpu, after.cpu) {
        (Some(a), Some(b)) => Some(b.ticks.saturating_sub(a.ticks) as f64 * 10_000.0),
        _ => None,
    };
    let lb_pkts = d2(before.fe_link, after.fe_link);
    let mgmt_pkts = d2(before.mgmt_link, after.mgmt_link);
    let (retrans, outsegs) = match (before.retrans, after.retrans) {
        (Some(a), Some(b)) => (Some(b.0.saturating_sub(a.0)), Some(b.1.saturating_sub(a.1))),
        _ => (None, None),
    };
    let sim_delta = (after.sim_lines > before.sim_lines).then(|| Some((after.sim?.0.checked_sub(before.sim?.0)?, after.sim?.1.checked_sub(before.sim?.1)?))).flatten();
    let ss_drops = match (before.ss_drops, after.ss_drops) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) + sim_delta.map_or(0, |d| d.1)),
        _ => None,
    };
    // Per thread name, µs per request over the whole window (idle included).
    let by_thread: serde_json::Map<String, Value> = after
        .threads
        .iter()
        .map(|(k, b)| (k.clone(), per(Some(b.saturating_sub(before.threads.get(k).copied().unwrap_or(0)) as f64 / 1000.0), ok)))
        .collect();
    let lat1k = &lg["by_path"]["/1k"];
    let mut r = json!({
        "system": sys.name(), "rep": rep, "workload": cell.workload, "mode": cell.mode.name(), "concurrency": cell.conc,
        "seconds": seconds, "load_wall_s": load_s,
        "ok": ok, "errors": errors, "timeouts": timeouts, "close_stall": close_stall,
        "failures": lg["failures"], "failure_samples": lg["failure_samples"], "connects": lg["connects"],
        "flagged": errors + timeouts > 0,
        "req_per_s": lg["req_per_s"], "goodput_mbit_s": lg["goodput_mbit_s"],
        "lat_p50_us": lg["latency_us"]["p50"], "lat_p99_us": lg["latency_us"]["p99"], "lat_p999_us": lg["latency_us"]["p999"],
        "lat1k_p50_us": lat1k["p50"], "lat1k_p99_us": lat1k["p99"], "lat1k_p999_us": lat1k["p999"],
        "by_path": lg["by_path"],
        "lb_cpu_us": cpu_ns, "lb_cpu_us_per_req": per(cpu_ns, ok),
        "lb_cpu_load_window_us_per_req": per(cpu_load_only, ok),
        "lb_idle_cpu_us_per_s": idle_ns_per_s.map(|x| x / 1000.0),
        "lb_cpu_by_thread_us_per_req": by_thread,
        "lb_cpu_ticks_us_per_req": per(cpu_ticks_us, ok),
        "lb_pkts": lb_pkts, "lb_pkts_per_req": per(lb_pkts.map(|x| x as f64), ok),
        "backend_retrans": retrans, "backend_out_segs": outsegs,
        "backend_retrans_pct": match (retrans, outsegs) { (Some(r), Some(o)) if o > 0 => json!(100.0 * r as f64 / o as f64), _ => Value::Null },
        "switch_drops": ss_drops,
        "switch_sim_drops": sim_delta.map(|d| json!({"kernel_rx_drops": d.0, "send_dropped": d.1})),
    });
    if sys == System::Switchyard || sys == System::SwitchyardRequest {
        r["mgmt_pkts_per_req"] = per(mgmt_pkts.map(|x| x as f64), ok);
        if let Some(c) = &fe_counters {
            let g = |k: &str| c.get(k).copied();
            let installed = g("switch.latency_n").unwrap_or(0) > 0;
            r["install_p50_us"] = if installed { json!(g("switch.p50_us")) } else { Value::Null };
            r["install_p99_us"] = if installed { json!(g("switch.p99_us")) } else { Value::Null };
            r["fe_flows"] = json!(g("new"));
            r["fe_offloaded"] = json!(g("switch.ok"));
            r["fe_engine_pkts_per_req"] = per(g("rx").zip(g("tx")).map(|(a, b)| (a + b) as f64), ok);
            // The worker's rounds with work over the front-end's life (the
            // idle second before the load and the grace after included).
            r["fe_busy_us_per_req"] = per(g("busy_ms").map(|ms| ms as f64 * 1000.0), ok);
            r["fe_acks_coalesced_per_req"] = per(g("acks_coalesced").map(|n| n as f64), ok);
            let drops: serde_json::Map<String, Value> = c.iter().filter(|(k, _)| k.starts_with("drop.")).map(|(k, v)| (k[5..].to_string(), json!(v))).collect();
            r["fe_drops"] = Value::Object(drops);
        }
    }
    Ok(r)
}

fn machine() -> Value {
    let sh = |a: &[&str]| switchyard_testbed::cmd::run(a).map(|s| s.trim().to_string()).unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default().lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("").trim().to_string();
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "kernel": sh(&["uname", "-r"]),
        "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "nginx": sh(&["sh", "-c", "nginx -v 2>&1"]),
        "haproxy": sh(&["sh", "-c", "haproxy -v | head -1"]),
        "commit": sh(&["git", "-C", &switchyard_testbed::repo_root().to_string_lossy(), "rev-parse", "--short", "HEAD"]),
        "date": sh(&["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"]),
    })
}

fn write_outputs(out: &Path, meta: &Value, runs: &[Value]) -> Result<Vec<Value>> {
    let summary = report::summarize(runs);
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&json!({ "meta": meta, "runs": runs, "summary": summary }))?)?;
    std::fs::write(out.join("results.csv"), report::csv(&summary))?;
    for (name, svg) in report::plots(&summary, SIZE_SWEEP_CONC as u64) {
        std::fs::write(out.join(name), svg)?;
    }
    let mut md = String::new();
    md.push_str(&format!("## Run {}\n\n", meta["machine"]["date"].as_str().unwrap_or("")));
    md.push_str(&format!(
        "machine: {} ({} cores), kernel {}, load average at start {}; {}; {}; commit {}; {} repetitions of {} s per (cell, system), interleaved{}\n\n",
        meta["machine"]["cpu"].as_str().unwrap_or(""),
        meta["machine"]["cores"],
        meta["machine"]["kernel"].as_str().unwrap_or(""),
        meta["machine"]["loadavg_at_start"].as_str().unwrap_or(""),
        meta["machine"]["nginx"].as_str().unwrap_or(""),
        meta["machine"]["haproxy"].as_str().unwrap_or(""),
        meta["machine"]["commit"].as_str().unwrap_or(""),
        meta["reps"],
        meta["seconds"],
        meta["rate"].as_f64().map(|r| format!("; paced to {r} requests/s per run")).unwrap_or_default(),
    ));
    md.push_str("### Targets (issue 12)\n\n| target | measured | verdict |\n| --- | --- | --- |\n");
    for (t, m, v) in report::targets(&summary, SIZE_SWEEP_CONC as u64) {
        md.push_str(&format!("| {t} | {m} | {v} |\n"));
    }
    let flagged: Vec<String> = runs
        .iter()
        .filter(|r| r["flagged"].as_bool() == Some(true) || r["close_stall"].as_u64().unwrap_or(0) > 0 || r["error"].is_string())
        .map(|r| {
            format!(
                "- {} {} {} c={} rep {}: {} ok, failures {}{}",
                r["system"].as_str().unwrap_or(""),
                r["workload"].as_str().unwrap_or(""),
                r["mode"].as_str().unwrap_or(""),
                r["concurrency"],
                r["rep"],
                r["ok"],
                r["failures"],
                r["failure_samples"].as_array().and_then(|a| a.first()).and_then(Value::as_str).map(|s| format!(" (e.g. {s})")).unwrap_or_default()
                    + &r["error"].as_str().map(|e| format!(" run failed: {}", e.lines().next().unwrap_or(""))).unwrap_or_default()
            )
        })
        .collect();
    md.push_str(&format!("\n### Runs with errors or timeouts ({} of {})\n\n", flagged.len(), runs.len()));
    if flagged.is_empty() {
        md.push_str("none\n");
    } else {
        md.push_str(&flagged.join("\n"));
        md.push('\n');
    }
    md.push_str("\n### Tables\n\nMedian over repetitions, ±half the min–max range; ×nginx is the median of per-repetition ratios to nginx in the same cell.\n");
    md.push_str(&report::markdown(&summary));
    std::fs::write(out.join("summary.md"), &md)?;
    Ok(summary)
}

fn main() -> Result<()> {
    let a = Args::parse();
    if let Some(path) = &a.report {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let out = path.parent().unwrap_or(Path::new("."));
        let runs = v["runs"].as_array().cloned().unwrap_or_default();
        write_outputs(out, &v["meta"], &runs)?;
        println!("{}", std::fs::read_to_string(out.join("summary.md"))?);
        return Ok(());
    }
    switchyard_testbed::require_root()?;
    let reps = a.reps.unwrap_or(if a.short { 1 } else { 3 });
    let seconds = a.seconds.unwrap_or(if a.short { 2.0 } else { 3.0 });
    let cells = matrix(&a)?;
    let root = switchyard_testbed::repo_root();
    let out = a.out.clone().unwrap_or_else(|| {
        let t = switchyard_testbed::cmd::run(&["date", "-u", "+%Y%m%d-%H%M%S"]).unwrap_or_default();
        root.join("target/bench").join(t.trim())
    });
    std::fs::create_dir_all(&out)?;
    let cfg_connection = root.join("bench/configs/switchyard-bench.toml");
    let text = std::fs::read_to_string(&cfg_connection)?;
    let cfg_request = out.join("switchyard-bench-request.toml");
    std::fs::write(&cfg_request, text.replace("offload = \"connection\"", "offload = \"request\""))?;
    let loadgen = switchyard_testbed::find_bin("switchyard-loadgen")?;

    let _stop = netns::cleanup_on_signal(&a.tag)?;
    let started = Instant::now();
    let n_runs: usize = cells.iter().map(|c| c.systems.len()).sum::<usize>() * reps;
    eprintln!("bench: {} cells, {n_runs} runs of {seconds} s, {reps} repetitions, results in {}", cells.len(), out.display());
    let tb = Testbed::up(TestbedSpec::new(&a.tag, 3, SwitchMode::Sim))?;
    let _agents = lb::start_agents(&tb)?;
    proxies::add_proxy_address(&tb)?;
    let ctx = Ctx { tb, loadgen, cfg_connection, cfg_request, timeout_ms: a.timeout_ms, rate: a.rate, frontend_idle_spin_us: a.frontend_idle_spin_us };
    let meta = json!({ "machine": machine(), "reps": reps, "seconds": seconds, "short": a.short, "timeout_ms": a.timeout_ms, "rate": a.rate, "frontend_idle_spin_us": a.frontend_idle_spin_us,
                       "proxy_vip": PROXY_VIP.to_string(), "vip": addr::VIP.to_string() });

    // Warm-up, not recorded: every system once.
    let mut systems: Vec<System> = cells.iter().flat_map(|c| c.systems.clone()).collect();
    systems.dedup();
    systems.sort_by_key(|s| *s as u8);
    systems.dedup();
    for &sys in &systems {
        let warm = Cell { workload: "1k", mode: ConnMode::KeepAlive, conc: 4, systems: vec![] };
        if let Err(e) = run_one(&ctx, sys, &warm, 0, 1.0) {
            eprintln!("bench: warm-up of {} failed: {e:#}", sys.name());
        }
    }
    let mut runs: Vec<Value> = Vec::new();
    let mut i = 0;
    for rep in 0..reps {
        for cell in &cells {
            // Interleaved: every system on this cell, the order rotated per repetition.
            let n = cell.systems.len();
            for k in 0..n {
                let sys = cell.systems[(k + rep) % n];
                i += 1;
                let r = match run_one(&ctx, sys, cell, rep, seconds) {
                    Ok(r) => r,
                    Err(e) => json!({ "system": sys.name(), "rep": rep, "workload": cell.workload, "mode": cell.mode.name(),
                                      "concurrency": cell.conc, "flagged": true, "error": format!("{e:#}") }),
                };
                eprintln!(
                    "[{i}/{n_runs} {:.0}s] {:<18} {:<4} {:<9} c={:<3} rep {}: {:>8.0} req/s ok {} err {} to {} cpu/req {} µs{} pkts/req {}{}",
                    started.elapsed().as_secs_f64(),
                    sys.name(),
                    cell.workload,
                    cell.mode.name(),
                    cell.conc,
                    rep,
                    r["req_per_s"].as_f64().unwrap_or(0.0),
                    r["ok"],
                    r["errors"],
                    r["timeouts"],
                    r["lb_cpu_us_per_req"].as_f64().map(|x| format!("{x:.1}")).unwrap_or("n/a".into()),
                    r["fe_busy_us_per_req"].as_f64().map(|x| format!(" (busy {x:.1})")).unwrap_or_default(),
                    r["lb_pkts_per_req"].as_f64().map(|x| format!("{x:.1}")).unwrap_or("n/a".into()),
                    r["error"].as_str().map(|e| format!(" RUN FAILED: {e}")).unwrap_or_default(),
                );
                runs.push(r);
                write_outputs(&out, &meta, &runs)?;
            }
        }
    }
    drop(ctx);
    let summary = write_outputs(&out, &meta, &runs)?;
    println!("{}", std::fs::read_to_string(out.join("summary.md"))?);
    eprintln!("bench: done in {:.0} s; results in {}", started.elapsed().as_secs_f64(), out.display());
    if a.short {
        let mut bad = Vec::new();
        for r in &summary {
            let sys = r["system"].as_str().unwrap_or("");
            let has = ["req_per_s", "lb_cpu_us_per_req", "lb_pkts_per_req"].iter().all(|k| r["metrics"][k]["median"].as_f64().is_some());
            if !has || r["ok_total"].as_u64().unwrap_or(0) == 0 {
                bad.push(format!("{sys} {} {} c={}: no figures", r["workload"], r["mode"], r["concurrency"]));
            }
            if sys.starts_with("switchyard") && (r["errors_total"].as_u64() != Some(0) || r["timeouts_total"].as_u64() != Some(0)) {
                bad.push(format!("{sys} {} {} c={}: {} errors, {} timeouts", r["workload"], r["mode"], r["concurrency"], r["errors_total"], r["timeouts_total"]));
            }
        }
        if runs.iter().any(|r| r["error"].is_string()) {
            bad.push("a run failed to start or finish (see above)".into());
        }
        if !bad.is_empty() {
            bail!("short benchmark check failed:\n  {}", bad.join("\n  "));
        }
        eprintln!("bench --short: every system produced figures; Switchyard had no error or timeout");
    }
    Ok(())
}
