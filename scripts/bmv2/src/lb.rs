//! The load balancer's processes on the testbed: the eBPF agent on every
//! backend and the front-end in its namespace. The switch side is the
//! testbed's switch mode.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use switchyard_control::tls::Generated;
use switchyard_frontend::config::Config;

use crate::switch_entries::{SecretEntries, ServiceEntries};
use crate::{addr, find_bin, Testbed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontendDriver {
    /// DPDK with net_af_packet on the front-end's interface (--no-huge).
    Dpdk,
    /// The portable AF_PACKET driver.
    AfPacket,
}

impl FrontendDriver {
    fn arg(self) -> &'static str {
        match self {
            FrontendDriver::Dpdk => "dpdk",
            FrontendDriver::AfPacket => "af-packet",
        }
    }
}

/// The switch's service tables for `cfg`, as the front-end numbers VIPs
/// (service order) and backends (`config.backends` order). Each service
/// gets the backends its routes' pools name.
pub fn services_from_config(cfg: &Config) -> (Vec<ServiceEntries>, SecretEntries) {
    let services = cfg
        .services
        .iter()
        .map(|s| {
            let mut idx: Vec<u16> = s.routes.iter().flat_map(|r| cfg.pools[r.pool].members.iter().map(|(b, _)| *b)).collect();
            idx.sort_unstable();
            idx.dedup();
            let backends = idx.iter().map(|&i| (i, cfg.backends[usize::from(i)].address, cfg.backends[usize::from(i)].port)).collect();
            ServiceEntries { vip: s.vip, port: s.port, vip_id: s.id, backends }
        })
        .collect();
    let ring = cfg.cookie.keyring();
    let cur = ring.current();
    let prev = cfg.cookie.secrets.get(1).map(|p| (p.k0, p.k1)).unwrap_or((0, 0));
    (services, SecretEntries { cur: (cur.k0, cur.k1), cur_gen: ring.current_generation(), prev })
}

/// Starts `switchyard-agent` on every backend (entered with nsenter so its
/// pinned maps are visible to `switchyard-agent status`), waiting for each
/// presence probe to listen.
pub fn start_agents(tb: &Testbed) -> Result<Vec<Child>> {
    let bin = find_bin("switchyard-agent")?;
    let alt = crate::nginx::ALT_PORT.to_string();
    let mut agents = Vec::new();
    for (i, ns) in tb.backend_ns.iter().enumerate() {
        let listen = format!("{}:{}", addr::backend(i), addr::AGENT_PROBE_PORT);
        let log = tb.dir.join(format!("agent-b{i}.log"));
        let child = ns.spawn_nsenter(
            &[bin.to_str().unwrap(), "run", "--iface", "eth0", "--service-port", "80", "--service-port", &alt, "--status-listen", &listen],
            &log,
        )?;
        agents.push(child);
        ns.wait_listening(addr::AGENT_PROBE_PORT, Duration::from_secs(20))
            .with_context(|| format!("agent on b{i}: {}", std::fs::read_to_string(&log).unwrap_or_default()))?;
    }
    Ok(agents)
}

/// The `[switch]` section of `text` with the testbed's mutual TLS (the
/// `frontend` certificate; any transport keys the file had are replaced),
/// or `insecure = true` when the testbed has no TLS.
fn with_switch_tls(text: &str, tls: Option<&Generated>) -> String {
    const KEYS: [&str; 5] = ["tls_ca", "tls_cert", "tls_key", "tls_server_name", "insecure"];
    let ours = match tls.and_then(|g| g.clients.iter().find(|(n, _)| n == "frontend")) {
        Some((_, f)) => format!(
            "tls_ca = {:?}\ntls_cert = {:?}\ntls_key = {:?}\ntls_server_name = \"{}\"\n",
            f.ca.display().to_string(),
            f.cert.display().to_string(),
            f.key.display().to_string(),
            addr::MGMT_SWITCH
        ),
        None => "insecure = true\n".to_string(),
    };
    let mut out = String::new();
    let mut in_switch = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_switch = t.starts_with("[switch]");
            out.push_str(line);
            out.push('\n');
            if in_switch {
                out.push_str(&ours);
            }
            continue;
        }
        let key = t.split(['=', ' ']).next().unwrap_or("");
        if in_switch && KEYS.contains(&key) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A copy of the front-end config whose DPDK `--file-prefix` names this
/// testbed, so two testbeds' front-ends never share DPDK's runtime files,
/// and whose `[switch]` uses the testbed's certificates.
fn with_file_prefix(config: &Path, tag: &str, dir: &Path, tls: Option<&Generated>) -> Result<PathBuf> {
    let text = std::fs::read_to_string(config).with_context(|| format!("{}", config.display()))?;
    let text = with_switch_tls(&text, tls);
    const KEY: &str = "--file-prefix=";
    let out = match text.find(KEY) {
        Some(i) => {
            let end = text[i + KEY.len()..].find(|c: char| c == '"' || c == '\'' || c.is_whitespace()).map(|j| i + KEY.len() + j).unwrap_or(text.len());
            format!("{}{KEY}sy-{tag}{}", &text[..i], &text[end..])
        }
        None => text,
    };
    let path = dir.join("frontend.toml");
    std::fs::write(&path, out)?;
    Ok(path)
}

pub struct Frontend {
    pub child: Child,
    pub log: PathBuf,
}

impl Frontend {
    /// Starts the front-end in the front-end namespace and waits until it
    /// polls its port.
    pub fn start(tb: &Testbed, config: &Path, driver: FrontendDriver, no_switch: bool) -> Result<Self> {
        Self::start_with(tb, config, driver, no_switch, &[])
    }

    /// `start` with extra command-line arguments (e.g. `--stats-interval 1`).
    pub fn start_with(tb: &Testbed, config: &Path, driver: FrontendDriver, no_switch: bool, extra: &[&str]) -> Result<Self> {
        let bin = find_bin("switchyard-frontend")?;
        let log = tb.dir.join("frontend.log");
        let _ = std::fs::remove_file(&log);
        let config = with_file_prefix(config, &tb.spec.tag, &tb.dir, tb.tls.as_ref())?;
        let config = config.as_path();
        let mut argv = vec![
            bin.to_string_lossy().into_owned(),
            "--config".into(),
            config.to_string_lossy().into_owned(),
            "--driver".into(),
            driver.arg().into(),
            "--iface".into(),
            "eth0".into(),
        ];
        if no_switch {
            argv.push("--no-switch".into());
        }
        argv.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut child = tb.frontend.spawn(&args, &log)?;
        wait_started(&mut child, &log, "front-end up", "front-end")?;
        // DPDK's net_af_packet takes eth0 down and up when it starts its
        // port, which flushes the namespace's static neighbour of the
        // gateway (the switch answers no ARP): the health checks, which
        // leave through this host's kernel, would then fail with `No route
        // to host`. Pin it again.
        tb.frontend.pin_neighbour(&addr::FRONTEND_GW.to_string(), &addr::mac_str(addr::mac(1, true)), "eth0")?;
        Ok(Self { child, log })
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until its counters (periodic `stats` lines, needs
    /// `--stats-interval`) satisfy `ok`.
    pub fn wait_counters(&self, timeout: Duration, ok: impl Fn(&std::collections::HashMap<String, u64>) -> bool) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if ok(&frontend_counters(&self.log())) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("front-end counters did not reach the expected state in {timeout:?}:\n{}", self.log())
    }

    /// SIGKILL: the front-end dies without a word, as in a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops it with SIGINT (it prints its counters on the way out) and
    /// returns its log.
    pub fn stop(mut self) -> String {
        crate::cmd::stop_child(&mut self.child, "-INT", Duration::from_secs(10));
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Waits (at most 30 s) until a spawned process's log shows `marker`; its
/// log in the error if it exits first or never gets there (then killed).
fn wait_started(child: &mut Child, log: &Path, marker: &str, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(marker) {
            return Ok(());
        }
        if let Some(st) = child.try_wait()? {
            bail!("{what} exited ({st}):\n{text}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("{what} did not come up within 30 s:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `switchyard-frontends`, the watcher that keeps the switch's set of live
/// front-ends, run in the front-end namespace (the one with the management
/// link) for the testbed's one front-end: host 1's switch port and MAC,
/// its admin API at `admin` (the config's `[admin] listen`).
pub struct FrontendWatcher {
    pub child: Child,
    pub log: PathBuf,
}

impl FrontendWatcher {
    /// Starts it probing every `interval_ms` (fall 3, rise 2, the probe's
    /// timeout one interval) and waits until it has read the switch.
    pub fn start(tb: &Testbed, admin: std::net::SocketAddrV4, interval_ms: u64) -> Result<Self> {
        let log = tb.dir.join("frontends.log");
        let _ = std::fs::remove_file(&log);
        let mac = addr::mac_str(addr::mac(1, false));
        let mut argv = vec![find_bin("switchyard-frontends")?.to_string_lossy().into_owned()];
        argv.extend(crate::topology::ctl_switch_args(tb.tls.as_ref()));
        argv.extend([
            "--frontend".to_string(),
            format!("fe0={},{mac},{admin}", crate::switch_entries::port_of(1)),
            "--interval-ms".into(),
            interval_ms.to_string(),
            "--timeout-ms".into(),
            interval_ms.to_string(),
        ]);
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut child = tb.frontend.spawn(&args, &log)?;
        wait_started(&mut child, &log, "watching 1 front-ends", "switchyard-frontends")?;
        Ok(Self { child, log })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until its log contains `line`.
    pub fn wait_log(&self, line: &str, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.log().contains(line) {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("switchyard-frontends did not log `{line}` within {timeout:?}:\n{}", self.log())
    }

    pub fn stop(mut self) -> String {
        crate::cmd::stop_child(&mut self.child, "-INT", Duration::from_secs(5));
        self.log()
    }
}

/// The front-end's counters as name -> value, from its exit summary and
/// its periodic `stats` lines (the latest value wins): pairs of name and
/// number (`rx 10 tx 9 flows 3 setups 3 replayed_syns 3 ...`; a name of two
/// words is joined with `_`) and the drops line (`drops: bad_cookie=5`,
/// keyed `drop.<reason>`).
pub fn frontend_counters(log: &str) -> std::collections::HashMap<String, u64> {
    let mut m = std::collections::HashMap::new();
    for line in log.lines() {
        if let Some(drops) = line.strip_prefix("drops: ") {
            for kv in drops.split_whitespace() {
                if let Some((k, v)) = kv.split_once('=') {
                    if let Ok(v) = v.parse() {
                        m.insert(format!("drop.{k}"), v);
                    }
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("switch: ") {
            // The control task's line: `install req 9 ok 9 (moved 0) refused
            // full 0 ...; latency n 9 mean 3.74ms p50 3.84ms ...`. Keys get
            // `switch.`; durations are stored in microseconds (`_us`).
            let mut name: Vec<&str> = Vec::new();
            for w in rest.split(|c: char| c.is_whitespace() || "();".contains(c)).filter(|w| !w.is_empty()) {
                let (num, unit) = match w.strip_suffix("ms") {
                    Some(n) => (n.parse::<f64>().ok().map(|v| (v * 1000.0) as u64), "_us"),
                    None => (w.parse::<u64>().ok(), ""),
                };
                match num {
                    Some(v) if !name.is_empty() => {
                        m.insert(format!("switch.{}{unit}", name.join("_")), v);
                        name.clear();
                    }
                    _ => name.push(w),
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("driver ") {
            // The driver's line (`driver af_packet rx 5 ... kernel_rx_drops 0`,
            // `driver dpdk port 0 ... imissed 0 rx_nombuf 0`): keys get `driver.`.
            let w: Vec<&str> = rest.split_whitespace().skip(1).collect();
            for kv in w.chunks(2) {
                if let [k, v] = kv {
                    if let Ok(v) = v.parse() {
                        m.insert(format!("driver.{k}"), v);
                    }
                }
            }
            continue;
        }
        let pairs = if let Some(rest) = line.strip_prefix("stats ") {
            rest
        } else if line.starts_with("flows ") {
            line
        } else if let Some(rest) = line.strip_prefix("front-end stopped after ") {
            // "<secs>s: rx N tx N built N no_buffer N; <driver stats>"
            rest.split_once(": ").map(|(_, r)| r.split(';').next().unwrap_or("")).unwrap_or("")
        } else {
            continue;
        };
        let mut name: Vec<&str> = Vec::new();
        for w in pairs.split_whitespace() {
            match w.parse::<u64>() {
                Ok(v) if !name.is_empty() => {
                    m.insert(name.join("_"), v);
                    name.clear();
                }
                _ => name.push(w),
            }
        }
    }
    m
}

/// The switch's latest `switch stats:` line (switch-sim and switchyard-p4rt
/// print one every `--stats-interval`, the testbed asks for 1 s, and one at
/// exit; docs/SWITCH-SIM.md) as name -> value: the loop's counts
/// (`received`, `sent`, `send_dropped`, `no_interface`), the kernel's
/// PACKET_STATISTICS summed over the ports (`kernel_rx`, `kernel_rx_drops`)
/// and per port `port.<N>.kernel_rx_drops` etc. Empty before the first line.
pub fn switch_stats(tb: &Testbed) -> std::collections::HashMap<String, u64> {
    parse_switch_stats(&std::fs::read_to_string(tb.dir.join("switch.log")).unwrap_or_default())
}

/// `switch_stats` from a log's text: the last stats line wins (each is a
/// whole snapshot).
pub fn parse_switch_stats(log: &str) -> std::collections::HashMap<String, u64> {
    let Some(line) = log.lines().filter_map(|l| l.split_once("switch stats: ").map(|(_, r)| r)).next_back() else {
        return Default::default();
    };
    let mut m = std::collections::HashMap::new();
    for seg in line.split(" | ") {
        // "port 10 (s-b0): kernel_rx 5 kernel_rx_drops 0" or the totals.
        let (prefix, pairs) = match seg.strip_prefix("port ").and_then(|r| r.split_once(": ")) {
            Some((p, rest)) => (format!("port.{}.", p.split_whitespace().next().unwrap_or("")), rest),
            None => (String::new(), seg),
        };
        let w: Vec<&str> = pairs.split_whitespace().collect();
        for kv in w.chunks(2) {
            if let [k, v] = kv {
                if let Ok(v) = v.parse() {
                    m.insert(format!("{prefix}{k}"), v);
                }
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    /// The testbed's copy of a config uses its certificates, whatever
    /// transport the file chose, and still parses.
    #[test]
    fn the_config_copy_uses_the_testbeds_certificates() {
        use switchyard_frontend::config::SwitchTransport;
        let dir = std::env::temp_dir().join(format!("sy-lb-tls-{}", std::process::id()));
        let g = switchyard_control::tls::generate(&dir, &["switch".into()], &["frontend"]).unwrap();
        let example = include_str!("../../../frontend/examples/switchyard.toml").replacen("[switch]\n", "[switch]\ninsecure = true\n", 1);
        let text = with_switch_tls(&example, Some(&g));
        let cfg = switchyard_frontend::config::parse(&text, "copy.toml").unwrap();
        let f = &g.clients[0].1;
        let want = SwitchTransport::MutualTls { ca: f.ca.clone(), cert: f.cert.clone(), key: f.key.clone(), server_name: Some(addr::MGMT_SWITCH.to_string()) };
        assert_eq!(cfg.switch.transport, Some(want));
        let plain = switchyard_frontend::config::parse(&with_switch_tls(&example, None), "copy.toml").unwrap();
        assert_eq!(plain.switch.transport, Some(SwitchTransport::Insecure));
        let _ = std::fs::remove_dir_all(&dir);
    }

    use super::*;

    #[test]
    fn parses_the_summary() {
        let log = "front-end up\nstats rx 5 tx 4 flows 1 setups 1\nfront-end stopped after 1.3s: rx 19280 tx 19258 built 44 no_buffer 0; dpdk port 0: PortStats { rx_packets: 19280 }\nflows 4 setups 22 replayed_syns 22 engine_offload_requests 22 engine_offloads_installed 0 engine_offload_refusals 22\ndrops: bad_cookie=7 no_flow=1\n";
        let m = frontend_counters(log);
        assert_eq!((m["rx"], m["tx"], m["no_buffer"]), (19280, 19258, 0));
        assert!(!m.contains_key("rx_packets:"));
        assert_eq!(m["setups"], 22);
        assert_eq!(m["engine_offload_requests"], 22);
        assert_eq!(m["engine_offloads_installed"], 0);
        assert_eq!(m["drop.bad_cookie"], 7);
        assert!(frontend_counters("nothing").is_empty());
        let d = frontend_counters("driver af_packet rx 9 tx 8 tx_errors 0 kernel_rx 10 kernel_rx_drops 1 rcvbuf 67108864 sndbuf 67108864\ndriver dpdk port 0 rx_packets 5 tx_packets 4 imissed 2 rx_nombuf 3 ierrors 0 oerrors 0");
        assert_eq!((d["driver.kernel_rx_drops"], d["driver.rcvbuf"], d["driver.imissed"], d["driver.rx_nombuf"]), (1, 67108864, 2, 3));
        assert!(!d.contains_key("rx"));
        let s = frontend_counters("switch: install req 9 ok 8 (moved 1) refused full 2 unreachable 0 failed 0; latency n 8 mean 3.74ms p50 3.84ms p99 7.68ms max 8.05ms; deletes engine 5");
        assert_eq!((s["switch.install_req"], s["switch.ok"], s["switch.moved"], s["switch.refused_full"]), (9, 8, 1, 2));
        assert_eq!((s["switch.latency_n"], s["switch.mean_us"], s["switch.p99_us"]), (8, 3740, 7680));
    }

    #[test]
    fn parses_the_switch_stats_line() {
        let log = "switch stats: received 1 sent 1 send_dropped 0 no_interface 0 kernel_rx 1 kernel_rx_drops 9\n\
                   switchyard-p4rt: stopping (SIGTERM); switch stats: received 10 sent 9 send_dropped 1 no_interface 0 kernel_rx 12 kernel_rx_drops 2 \
                   | port 1 (s-cli): kernel_rx 4 kernel_rx_drops 0 rcvbuf 33554432 | port 10 (s-b0): kernel_rx 8 kernel_rx_drops 2 rcvbuf 33554432\n";
        let m = parse_switch_stats(log);
        assert_eq!((m["received"], m["send_dropped"], m["kernel_rx_drops"]), (10, 1, 2));
        assert_eq!((m["port.1.kernel_rx"], m["port.10.kernel_rx_drops"], m["port.10.rcvbuf"]), (4, 2, 33554432));
        assert!(parse_switch_stats("nothing").is_empty());
    }
}

/// Runs `switchyard-ctl` in the front-end namespace against the testbed's
/// switch (over mutual TLS with the `ctl` certificate); its stdout.
pub fn ctl(tb: &Testbed, args: &[&str]) -> Result<String> {
    let mut argv = vec![find_bin("switchyard-ctl")?.to_string_lossy().into_owned()];
    argv.extend(crate::topology::ctl_switch_args(tb.tls.as_ref()));
    argv.extend(args.iter().map(|a| a.to_string()));
    tb.frontend.exec(&argv.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Writes the switch's number of live front-ends (`frontend_count`'s
/// default action) over P4Runtime with `switchyard-ctl apply-entries`, as
/// an operator or a health checker does; 0 makes the switch refuse new
/// connections with a RST (docs/P4.md).
pub fn set_frontend_count(tb: &Testbed, count: u16) -> Result<()> {
    let file = tb.dir.join("frontend-count.json");
    let entries = serde_json::json!({"entries": [
        {"table": "frontend_count", "default": true, "action": "set_frontend_count", "params": {"count": count}}
    ]});
    std::fs::write(&file, entries.to_string())?;
    ctl(tb, &["apply-entries", file.to_str().unwrap()])?;
    Ok(())
}

/// The P4 program's counters read over P4Runtime with `switchyard-ctl`
/// from the front-end namespace (the only one with a management link):
/// `path.<name>` and `drop.<name>`, named by the shared registry.
pub fn switch_counters(tb: &Testbed) -> Result<std::collections::HashMap<String, u64>> {
    let out = ctl(tb, &["counters", "--plain"])?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect())
}
