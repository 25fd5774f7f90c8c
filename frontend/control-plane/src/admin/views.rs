//! The admin API's JSON answers, from the config, a worker snapshot and
//! the control task's numbers (plain functions, no I/O).
//!
//! A backend's name is its `ADDR:PORT` (the config numbers backends by
//! distinct address:port and gives them no other name); the bare `ADDR`
//! also names it when only one backend has that address.

use serde_json::{json, Value};
use switchyard_frontend::config::Config;
use switchyard_wire::flow::BackendIndex;
use switchyard_wire::reason::FrontendCounter as Fc;

use super::routes::Refusal;
use crate::command::{EngineSnapshot, FlowPhase, FlowView, MAX_LISTED_FLOWS};
use crate::health::HealthBoard;
use crate::requests::{ConnectionTable, SwitchState};
use crate::stats::ControlStats;
use switchyard_control::switchyard::ConnMode;

pub fn backend_name(cfg: &Config, b: BackendIndex) -> String {
    cfg.backends.get(usize::from(b)).map_or_else(|| format!("#{b}"), |s| format!("{}:{}", s.address, s.port))
}

/// The backend `name` names.
pub fn backend_index(cfg: &Config, name: &str) -> Result<BackendIndex, Refusal> {
    let by_full = cfg.backends.iter().position(|b| format!("{}:{}", b.address, b.port) == name);
    let by_addr: Vec<usize> = cfg.backends.iter().enumerate().filter(|(_, b)| b.address.to_string() == name).map(|(i, _)| i).collect();
    match (by_full, by_addr.as_slice()) {
        (Some(i), _) | (None, &[i]) => Ok(i as BackendIndex),
        (None, []) => Err(Refusal {
            status: 404,
            message: format!(
                "no backend `{name}`; backends are: {}",
                (0..cfg.backends.len()).map(|i| backend_name(cfg, i as BackendIndex)).collect::<Vec<_>>().join(", ")
            ),
        }),
        (None, _) => Err(Refusal { status: 400, message: format!("`{name}` has several ports; name one as ADDR:PORT") }),
    }
}

fn service_name(cfg: &Config, vip_id: u16) -> String {
    cfg.services.get(usize::from(vip_id)).map_or_else(|| format!("#{vip_id}"), |s| s.name.clone())
}

fn mode_name(m: Option<ConnMode>) -> &'static str {
    match m {
        Some(ConnMode::Connection) => "connection",
        Some(ConnMode::Request) => "request",
        None => "unknown",
    }
}

pub fn status(cfg: &Config, snap: &EngineSnapshot, cs: &ControlStats, switch: SwitchState, uptime_s: f64, admin_refused: u64) -> Value {
    use std::sync::atomic::Ordering::Relaxed;
    let c = &snap.counters;
    let drops = c.drops_total();
    let phases: serde_json::Map<String, Value> = FlowPhase::ALL.iter().map(|&p| (p.name().to_string(), json!(snap.phase_count(p)))).collect();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": (uptime_s * 10.0).round() / 10.0,
        "switch": switch.name(),
        "services": cfg.services.len(),
        "backends": cfg.backends.len(),
        "flows": snap.flow_count,
        "flows_by_state": phases,
        "counters": {
            "setups": c[Fc::NewFlows],
            "requests": c[Fc::RequestsSent],
            "offload_requested": c[Fc::OffloadRequested],
            "offload_installed": c[Fc::OffloadInstalled],
            "offload_refused": c[Fc::OffloadRefused],
            "responses_carried": c[Fc::ResponsesCarried],
            "stateless_resets": c[Fc::StatelessResets],
            "drops": drops,
        },
        "switch_entries": {
            "tracked": cs.conn_entries_tracked.load(Relaxed),
            "table_size": cs.conn_table_size.load(Relaxed),
            "install_latency_p50_ms": cs.install_latency.quantile(0.5).as_secs_f64() * 1e3,
            "install_latency_p99_ms": cs.install_latency.quantile(0.99).as_secs_f64() * 1e3,
            "rotations": cs.rotations.load(Relaxed),
        },
        "admin_refused": admin_refused,
    })
}

/// One backend: where it is, its pools (with its weight in each), flags,
/// its health checks, the worker's flows on it and the switch entries
/// naming it (`entries`, per backend; None without a switch).
pub fn backend(cfg: &Config, snap: &EngineSnapshot, health: &HealthBoard, entries: Option<&[u64]>, b: BackendIndex) -> Value {
    let spec = cfg.backends[usize::from(b)];
    let flags = snap.backends.get(usize::from(b)).copied().unwrap_or_default();
    let pools: Vec<Value> = cfg
        .pools
        .iter()
        .filter_map(|p| p.members.iter().find(|(m, _)| *m == b).map(|(_, w)| json!({ "pool": p.name, "weight": w })))
        .collect();
    json!({
        "name": backend_name(cfg, b),
        "address": spec.address.to_string(),
        "port": spec.port,
        "pools": pools,
        "healthy": flags.healthy,
        "draining": flags.draining,
        "ejected": flags.ejected,
        "ejections": flags.ejections,
        "checks": checks(health, b),
        "active_flows": flags.active_flows,
        "switch_entries": entries.and_then(|e| e.get(usize::from(b)).copied()),
    })
}

pub fn backends(cfg: &Config, snap: &EngineSnapshot, health: &HealthBoard, entries: Option<&[u64]>) -> Value {
    json!({ "backends": (0..cfg.backends.len()).map(|i| backend(cfg, snap, health, entries, i as BackendIndex)).collect::<Vec<_>>() })
}

/// A backend's health checks: each one's state and last failure.
fn checks(health: &HealthBoard, b: BackendIndex) -> Value {
    let Some(h) = health.backends.get(usize::from(b)) else { return json!([]) };
    h.checks
        .iter()
        .map(|(kind, c)| {
            json!({
                "check": kind.label(),
                "up": c.up,
                "streak": c.streak,
                "probes": c.probes,
                "failures": c.failures,
                "last_error": c.last_error,
            })
        })
        .collect()
}

fn flow(cfg: &Config, f: &FlowView) -> Value {
    json!({
        "client": f.client.to_string(),
        "service": service_name(cfg, f.vip_id),
        "backend": f.backend.map(|b| backend_name(cfg, b)),
        "state": f.phase.name(),
    })
}

pub fn flows(cfg: &Config, snap: &EngineSnapshot) -> Value {
    json!({
        "matched": snap.matched,
        "listed": snap.flows.len(),
        "limit": MAX_LISTED_FLOWS,
        "flows": snap.flows.iter().map(|f| flow(cfg, f)).collect::<Vec<_>>(),
    })
}

pub fn table(cfg: &Config, t: &ConnectionTable) -> Value {
    let entries: Vec<Value> = t
        .entries
        .iter()
        .map(|e| {
            json!({
                "client": format!("{}:{}", e.key.client_ip, e.key.client_port),
                "service": service_name(cfg, e.key.vip_id),
                "backend": e.backend.map(|b| backend_name(cfg, b)),
                "mode": mode_name(e.mode),
            })
        })
        .collect();
    json!({
        "source": "read from the switch (P4Runtime Read of the connection table)",
        "total": t.total,
        "listed": entries.len(),
        "tracked_by_control_task": t.tracked,
        "table_size": t.capacity,
        "entries": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[frontend]
mac = "02:53:59:00:00:10"
switch_mac = "02:53:59:01:00:10"
[switch]
p4runtime = "127.0.0.1:9559"
[cookie]
secrets = [{ k0 = 1, k1 = 2 }]
rotation_secs = 60
[[services]]
name = "web"
vip = "198.18.100.1"
port = 80
[[services.routes]]
pool = "web"
[[pools]]
name = "web"
backends = [{ address = "198.18.10.2", port = 80, weight = 3 }, { address = "198.18.11.2", port = 80 }, { address = "198.18.11.2", port = 8080 }]
"#;

    #[test]
    fn backends_by_full_name_or_unique_address() {
        let cfg = switchyard_frontend::config::parse(CONFIG, "t.toml").unwrap();
        assert_eq!(backend_index(&cfg, "198.18.10.2:80"), Ok(0));
        assert_eq!(backend_index(&cfg, "198.18.10.2"), Ok(0), "a unique address");
        assert_eq!(backend_index(&cfg, "198.18.11.2:8080"), Ok(2));
        assert_eq!(backend_index(&cfg, "198.18.11.2").unwrap_err().status, 400, "two ports: ambiguous");
        let e = backend_index(&cfg, "198.18.99.2").unwrap_err();
        assert_eq!(e.status, 404);
        assert!(e.message.contains("198.18.11.2:8080"), "lists the names: {}", e.message);
    }

    #[test]
    fn a_backend_shows_pool_weight_and_flags() {
        let cfg = switchyard_frontend::config::parse(CONFIG, "t.toml").unwrap();
        let mut snap = EngineSnapshot::default();
        snap.backends = vec![Default::default(); 3];
        snap.backends[0].draining = true;
        snap.backends[0].active_flows = 4;
        let mut health = HealthBoard::default();
        let t = crate::health::CheckTarget { backend: 0, kind: crate::health::CheckKind::Agent, addr: "198.18.10.2:9100".parse().unwrap(), check: crate::health::agent_probe() };
        health.retarget(3, std::slice::from_ref(&t));
        health.observe(&t, Err("connect: refused".into()));
        let v = backend(&cfg, &snap, &health, Some(&[7, 0, 0]), 0);
        assert_eq!(v["switch_entries"], 7);
        assert_eq!(v["checks"], json!([{ "check": "agent", "up": true, "streak": 1, "probes": 1, "failures": 1, "last_error": "connect: refused" }]));
        assert_eq!(backend(&cfg, &snap, &health, None, 1)["checks"], json!([]), "no check");
        assert_eq!(backend(&cfg, &snap, &health, None, 0)["switch_entries"], Value::Null, "no switch");
        assert_eq!(v["name"], "198.18.10.2:80");
        assert_eq!(v["pools"], json!([{ "pool": "web", "weight": 3 }]));
        assert_eq!((v["draining"].as_bool(), v["active_flows"].as_u64()), (Some(true), Some(4)));
    }
}
