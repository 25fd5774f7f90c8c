//! The load balancer's processes on the testbed: the eBPF agent on every
//! backend and the front-end in its namespace. The switch side is the
//! testbed's switch mode.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
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

pub struct Frontend {
    pub child: Child,
    pub log: PathBuf,
}

impl Frontend {
    /// Starts the front-end in the front-end namespace and waits until it
    /// polls its port.
    pub fn start(tb: &Testbed, config: &Path, driver: FrontendDriver, no_switch: bool) -> Result<Self> {
        let bin = find_bin("switchyard-frontend")?;
        let log = tb.dir.join("frontend.log");
        let _ = std::fs::remove_file(&log);
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
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut child = tb.frontend.spawn(&args, &log)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("front-end up") {
                return Ok(Self { child, log });
            }
            if let Some(st) = child.try_wait()? {
                bail!("front-end exited ({st}):\n{text}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("front-end did not come up within 30 s:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it with SIGINT (it prints its counters on the way out) and
    /// returns its log.
    pub fn stop(mut self) -> String {
        let _ = crate::cmd::output(&["kill", "-INT", &self.child.id().to_string()]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The front-end's exit summary as name -> value: the counters line
/// (`flows 3 new 3 ...`, pairs of name and number) and the drops line
/// (`drops: bad_cookie=5 ...`, keyed `drop.<reason>`).
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
        } else if line.starts_with("flows ") {
            let words: Vec<&str> = line.split_whitespace().collect();
            // Names may be two words ("offload req"): join every word run
            // before a number.
            let mut name: Vec<&str> = Vec::new();
            for w in words {
                match w.parse::<u64>() {
                    Ok(v) if !name.is_empty() => {
                        m.insert(name.join("_"), v);
                        name.clear();
                    }
                    _ => name.push(w),
                }
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_summary() {
        let log = "front-end up\nflows 4 new 22 replayed_syns 22 offload req 22 ok 0 refused 22\ndrops: bad_cookie=7 no_flow=1\n";
        let m = frontend_counters(log);
        assert_eq!(m["new"], 22);
        assert_eq!(m["offload_req"], 22);
        assert_eq!(m["ok"], 0);
        assert_eq!(m["drop.bad_cookie"], 7);
        assert!(frontend_counters("nothing").is_empty());
    }
}
