//! `GET /metrics`: the front-end's numbers in the Prometheus text format
//! (OpenMetrics 1.0 as prometheus-client writes it).
//!
//! Nothing is kept here: each scrape takes a fresh `EngineSnapshot` from
//! the worker and reads the control task's atomics, and a collector writes
//! them as constant metrics. Counters therefore start at 0 with the
//! process, as Prometheus expects. Every name is listed, with its meaning,
//! in docs/OPERATIONS.md ("Metrics"); `tests/metrics.rs` checks the two
//! agree.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use switchyard_control::counters::{CounterRow, SwitchCounters};
use switchyard_frontend::config::Config;
use switchyard_frontend::http::ErrorReply;
use switchyard_wire::reason::{DropReason, Export, FrontendCounter, COUNTER_FAMILIES, DROP_REASONS};

use crate::command::{EngineSnapshot, FlowPhase};
use crate::requests::SwitchState;
use crate::stats::ControlStats;

/// Every metric's name starts so (the agent's would start
/// `switchyard_agent_`).
pub const PREFIX: &str = "switchyard_frontend";
/// The install-latency histogram's bucket bounds, in µs: from a
/// same-rack switch (~100 µs) to a struggling one (seconds), as
/// docs/FRONTEND.md's measurements spread.
pub const LATENCY_BOUNDS_US: [u64; 16] =
    [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 10_000_000];

/// What the admin server itself counts.
#[derive(Debug, Default)]
pub struct AdminCounters {
    /// Requests refused because the client was not on a loopback address.
    pub refused_remote: AtomicU64,
    pub requests: AtomicU64,
    /// Hot reloads (POST /reload, SIGHUP) taken, and refused.
    pub reloads_applied: AtomicU64,
    pub reloads_refused: AtomicU64,
}

/// One scrape's inputs.
pub struct Scrape<'a> {
    pub config: &'a Config,
    pub engine: &'a EngineSnapshot,
    /// Switch entries per backend (None: no switch, or not known now).
    pub backend_entries: Option<&'a [u64]>,
    /// The switch's P4 counters, read for this scrape (None: no switch, or
    /// it did not answer in time).
    pub switch_counters: Option<&'a SwitchCounters>,
    /// The health checks' states.
    pub health: &'a crate::health::HealthBoard,
    pub control: &'a ControlStats,
    pub switch: SwitchState,
    pub admin: &'a AdminCounters,
    pub uptime_seconds: f64,
}

/// The exposition text of one scrape.
pub fn render(s: &Scrape<'_>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Frozen(collect(s))));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// The content type of `render`'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone)]
enum Value {
    Counter(u64),
    Gauge(f64),
    /// (sum, count, cumulative (le, count)) in seconds.
    Histogram(f64, u64, Vec<(f64, u64)>),
}

#[derive(Debug, Clone)]
struct Family {
    name: String,
    help: &'static str,
    unit: Option<Unit>,
    /// (labels, value); empty labels for a single series.
    series: Vec<(Vec<(&'static str, String)>, Value)>,
}

fn one(name: impl Into<String>, help: &'static str, v: Value) -> Family {
    Family { name: name.into(), help, unit: None, series: vec![(vec![], v)] }
}

fn labeled(name: impl Into<String>, help: &'static str, key: &'static str, series: impl IntoIterator<Item = (String, Value)>) -> Family {
    Family { name: name.into(), help, unit: None, series: series.into_iter().map(|(l, v)| (vec![(key, l)], v)).collect() }
}

/// The engine's counters, every row of the registry
/// (`wire::reason::FRONTEND_COUNTERS`) by its name and help text: its own
/// metric, or a series of its family.
fn engine_families(c: &switchyard_frontend::engine::Counters) -> Vec<Family> {
    let mut fams: Vec<Family> = FrontendCounter::ALL
        .iter()
        .filter(|k| k.row().export == Export::Total)
        .map(|&k| one(format!("{PREFIX}_{}", k.row().name), k.row().what, Value::Counter(c[k])))
        .collect();
    for f in COUNTER_FAMILIES {
        let series = FrontendCounter::ALL.iter().filter_map(|&k| match k.row().export {
            Export::Series(g, value) if g == *f => Some((value.to_string(), Value::Counter(c[k]))),
            _ => None,
        });
        fams.push(labeled(format!("{PREFIX}_{}", f.name), f.what, f.label, series));
    }
    fams.push(labeled(
        format!("{PREFIX}_error_replies"),
        "HTTP error replies the front-end sent itself (then closed the connection), by status",
        "status",
        ErrorReply::ALL.iter().map(|&r| (r.status().to_string(), Value::Counter(c.replied(r)))),
    ));
    fams
}

fn flag(b: bool) -> Value {
    Value::Gauge(if b { 1.0 } else { 0.0 })
}

fn collect(s: &Scrape<'_>) -> Vec<Family> {
    let c = &s.engine.counters;
    let cs = s.control;
    let g = |a: &AtomicU64| a.load(Relaxed);
    let backend_names: Vec<String> = s.config.backends.iter().map(|b| format!("{}:{}", b.address, b.port)).collect();
    let per_backend = |f: &dyn Fn(usize) -> Value| -> Vec<(String, Value)> {
        backend_names.iter().enumerate().map(|(i, n)| (n.clone(), f(i))).collect()
    };
    let backend = |i: usize| s.engine.backends.get(i).copied().unwrap_or_default();
    let latency = &cs.install_latency;
    let buckets = latency.cumulative(&LATENCY_BOUNDS_US);
    let mut hist: Vec<(f64, u64)> = LATENCY_BOUNDS_US.iter().zip(&buckets).map(|(&b, &n)| (b as f64 / 1e6, n)).collect();
    hist.push((f64::INFINITY, latency.count()));
    let mut fams = vec![
        Family {
            name: "switchyard_frontend_info".into(),
            help: "The running front-end (value 1)",
            unit: None,
            series: vec![(vec![("version", env!("CARGO_PKG_VERSION").to_string())], Value::Gauge(1.0))],
        },
        Family { name: "switchyard_frontend_uptime".into(), help: "Time since the admin API started", unit: Some(Unit::Seconds), series: vec![(vec![], Value::Gauge(s.uptime_seconds))] },
        labeled(
            "switchyard_frontend_flows",
            "Flows in the worker's table by phase (offloaded: the switch carries it alone)",
            "state",
            FlowPhase::ALL.iter().map(|&p| (p.name().to_string(), Value::Gauge(s.engine.phase_count(p) as f64))),
        ),
        one("switchyard_frontend_flow_table_capacity", "Flows the worker's table holds at most", Value::Gauge(f64::from(s.config.frontend.flow_table_capacity))),
        one(
            "switchyard_frontend_cookie_validation_failures",
            "ACKs to a VIP whose SYN cookie did not validate (the bad_cookie drops)",
            Value::Counter(c.dropped(DropReason::BadCookie)),
        ),
        labeled(
            "switchyard_frontend_drops",
            "Packets the front-end dropped, by reason of the shared registry (wire::reason)",
            "reason",
            DROP_REASONS.iter().filter_map(|r| Some((r.name.to_string(), Value::Counter(c.dropped(DropReason::from_code(r.code)?))))),
        ),
        one("switchyard_frontend_offload_requests", "Switch entries the engine asked for", Value::Counter(g(&cs.install_requests))),
        one("switchyard_frontend_offloads_installed", "Switch entries installed", Value::Counter(g(&cs.installed))),
        labeled(
            "switchyard_frontend_offload_refusals",
            "Installs refused (the flow stays on the front-end path), by reason",
            "reason",
            [
                ("table_full".to_string(), Value::Counter(g(&cs.refused_table_full))),
                ("switch_unreachable".to_string(), Value::Counter(g(&cs.refused_unreachable))),
                ("failed".to_string(), Value::Counter(g(&cs.refused_failed))),
                ("backend_moving".to_string(), Value::Counter(g(&cs.refused_moving))),
                ("queue_full".to_string(), Value::Counter(g(&cs.refused_queue_full))),
            ],
        ),
        Family {
            name: "switchyard_frontend_offload_install_latency".into(),
            help: "From the worker's install request to the switch's answer",
            unit: Some(Unit::Seconds),
            series: vec![(vec![], Value::Histogram(latency.sum_us() as f64 / 1e6, latency.count(), hist))],
        },
        labeled(
            "switchyard_frontend_switch_entry_deletes",
            "Connection entries deleted, by cause",
            "cause",
            [
                ("engine".to_string(), Value::Counter(g(&cs.engine_deletes))),
                ("detach".to_string(), Value::Counter(g(&cs.detaches))),
                ("teardown".to_string(), Value::Counter(g(&cs.teardown_deletes))),
                ("idle_timeout".to_string(), Value::Counter(g(&cs.idle_deletes))),
            ],
        ),
        one("switchyard_frontend_switch_entry_delete_failures", "Deletes the switch refused (the idle timeout removes those entries)", Value::Counter(g(&cs.delete_failed))),
        one("switchyard_frontend_switch_connection_entries", "Connection entries the control task believes installed", Value::Gauge(g(&cs.conn_entries_tracked) as f64)),
        one("switchyard_frontend_switch_up", "1 while this front-end is the switch's primary controller", flag(s.switch == SwitchState::Primary)),
        one("switchyard_frontend_cookie_rotations", "Cookie secret rotations completed (written to the switch)", Value::Counter(g(&cs.rotations))),
        labeled("switchyard_frontend_backend_flows", "Flows on each backend (this worker's count)", "backend", per_backend(&|i| Value::Gauge(f64::from(backend(i).active_flows)))),
        labeled("switchyard_frontend_backend_healthy", "1 while a backend is healthy", "backend", per_backend(&|i| flag(backend(i).healthy))),
        Family {
            name: "switchyard_frontend_backend_health_transitions".into(),
            help: "Changes of a backend's health by its checks, by the state it went to",
            unit: None,
            series: backend_names
                .iter()
                .enumerate()
                .flat_map(|(i, n)| {
                    let (down, up) = s.health.backends.get(i).map_or((0, 0), |h| (h.went_down, h.went_up));
                    [
                        (vec![("backend", n.clone()), ("to", "down".to_string())], Value::Counter(down)),
                        (vec![("backend", n.clone()), ("to", "up".to_string())], Value::Counter(up)),
                    ]
                })
                .collect(),
        },
        labeled(
            "switchyard_frontend_backend_ejected",
            "1 while a backend is passively ejected (failed handshakes in a row) for its cool-down",
            "backend",
            per_backend(&|i| flag(backend(i).ejected)),
        ),
        labeled(
            "switchyard_frontend_backend_ejections",
            "Passive ejections of a backend (failed handshakes in a row)",
            "backend",
            per_backend(&|i| Value::Counter(backend(i).ejections)),
        ),
        labeled("switchyard_frontend_backend_draining", "1 while a backend is draining (no new flows)", "backend", per_backend(&|i| flag(backend(i).draining))),
        one("switchyard_frontend_admin_requests", "Requests to the admin API", Value::Counter(g(&s.admin.requests))),
        one("switchyard_frontend_admin_refused", "Admin API requests refused: the client was not on a loopback address", Value::Counter(g(&s.admin.refused_remote))),
        labeled(
            "switchyard_frontend_reloads",
            "Config reloads (POST /reload, SIGHUP), by outcome",
            "outcome",
            [("applied".to_string(), Value::Counter(g(&s.admin.reloads_applied))), ("refused".to_string(), Value::Counter(g(&s.admin.reloads_refused)))],
        ),
    ];
    fams.extend(engine_families(c));
    if let Some(e) = s.backend_entries {
        fams.push(labeled(
            "switchyard_frontend_backend_switch_entries",
            "Connection entries naming each backend (its offloaded flows: what a drain waits on)",
            "backend",
            per_backend(&|i| Value::Gauge(e.get(i).copied().unwrap_or(0) as f64)),
        ));
    }
    let checks: Vec<(Vec<(&'static str, String)>, Value)> = s
        .health
        .backends
        .iter()
        .zip(&backend_names)
        .flat_map(|(h, n)| h.checks.iter().map(move |(k, c)| (vec![("backend", n.clone()), ("check", k.label())], flag(c.up))))
        .collect();
    if !checks.is_empty() {
        fams.push(Family {
            name: "switchyard_frontend_backend_check_up".into(),
            help: "1 while a health check of a backend passes (check: http:POOL or agent)",
            unit: None,
            series: checks,
        });
    }
    if let Some(sc) = s.switch_counters {
        fams.extend(switch_families(sc));
    }
    let size = g(&cs.conn_table_size);
    if size > 0 {
        fams.push(one("switchyard_frontend_switch_connection_table_size", "The switch's connection table size (from its P4Info)", Value::Gauge(size as f64)));
    }
    fams
}

/// The P4 program's `path_counter` and `drop_counter`, packets and bytes
/// per registry name. The switch's own totals: they start at 0 with its
/// pipeline, not with this process.
fn switch_families(sc: &SwitchCounters) -> [Family; 4] {
    let rows = |rows: &[CounterRow], bytes: bool| -> Vec<(String, Value)> {
        rows.iter().map(|r| (r.reason.name.to_string(), Value::Counter(if bytes { r.bytes } else { r.packets }))).collect()
    };
    [
        labeled("switchyard_frontend_switch_path_packets", "Packets the switch counted per path (P4 path_counter)", "path", rows(&sc.paths, false)),
        labeled("switchyard_frontend_switch_path_bytes", "Bytes the switch counted per path (P4 path_counter)", "path", rows(&sc.paths, true)),
        labeled("switchyard_frontend_switch_drops", "Frames the switch dropped, by reason (P4 drop_counter)", "reason", rows(&sc.drops, false)),
        labeled("switchyard_frontend_switch_dropped_bytes", "Bytes of the frames the switch dropped, by reason (P4 drop_counter)", "reason", rows(&sc.drops, true)),
    ]
}

/// One scrape's values, encoded as constant metrics.
#[derive(Debug)]
struct Frozen(Vec<Family>);

impl Collector for Frozen {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.0 {
            let kind = match f.series.first().map(|(_, v)| v) {
                Some(Value::Counter(_)) => MetricType::Counter,
                Some(Value::Histogram(..)) => MetricType::Histogram,
                _ => MetricType::Gauge,
            };
            let mut m = encoder.encode_descriptor(&f.name, f.help, f.unit.as_ref(), kind)?;
            for (labels, v) in &f.series {
                if labels.is_empty() {
                    encode_value(v, &mut m)?;
                } else {
                    let set: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    encode_value(v, &mut m.encode_family(&set)?)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_value(v: &Value, m: &mut MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
    match v {
        Value::Counter(n) => m.encode_counter::<NoLabelSet, _, u64>(n, None),
        Value::Gauge(x) => m.encode_gauge(x),
        Value::Histogram(sum, count, buckets) => m.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None),
    }
}

/// Every metric name `render` writes (as sampled: counters with
/// `_total`, units appended), for the docs check.
pub fn exported_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (n, t) = (w.next()?, w.next()?);
            let mut s = String::new();
            let _ = write!(s, "{n}{}", if t == "counter" { "_total" } else { "" });
            Some(s)
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;
    use switchyard_wire::reason::{DropReason, PathCounter};

    use super::*;

    /// Every row of the front-end's counter registry is exported, under
    /// its name, with its help text and value, and documented in
    /// docs/OPERATIONS.md (its metric, or its family and label value).
    #[test]
    fn every_registry_counter_is_exported_and_documented() {
        use switchyard_wire::reason::FRONTEND_COUNTERS;
        let mut c = switchyard_frontend::engine::Counters::default();
        for (i, &k) in FrontendCounter::ALL.iter().enumerate() {
            c[k] = 100 + i as u64;
        }
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Frozen(engine_families(&c))));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/OPERATIONS.md")).unwrap();
        for (i, row) in FRONTEND_COUNTERS.iter().enumerate() {
            let (family, help, sample) = match row.export {
                Export::Total => (row.name, row.what, format!("{PREFIX}_{}_total {}\n", row.name, 100 + i)),
                Export::Series(f, value) => (f.name, f.what, format!("{PREFIX}_{}_total{{{}=\"{value}\"}} {}\n", f.name, f.label, 100 + i)),
            };
            assert!(text.contains(&format!("# HELP {PREFIX}_{family} {help}\n")), "{}: {text}", row.name);
            assert!(text.contains(&format!("# TYPE {PREFIX}_{family} counter\n")), "{}: {text}", row.name);
            assert!(text.contains(&sample), "{}: no {sample:?} in {text}", row.name);
            let line = docs.lines().find(|l| l.starts_with(&format!("| `{PREFIX}_{family}_total` |")));
            assert!(line.is_some(), "{PREFIX}_{family}_total ({}) not in docs/OPERATIONS.md's metrics table", row.name);
            if let Export::Series(_, value) = row.export {
                assert!(line.is_some_and(|l| l.contains(&format!("`{value}`"))), "{}: label value `{value}` not documented", row.name);
            }
        }
        assert_eq!(FrontendCounter::ALL.len(), FRONTEND_COUNTERS.len());
        c.reply(ErrorReply::ServiceUnavailable);
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Frozen(engine_families(&c))));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains(&format!("{PREFIX}_error_replies_total{{status=\"503\"}} 1\n")), "{text}");
        assert!(text.contains(&format!("{PREFIX}_error_replies_total{{status=\"400\"}} 0\n")), "{text}");
    }

    /// The switch's counters, through the same encoder as a scrape, read
    /// back by the parser the admin API's tests use.
    #[test]
    fn switch_counters_render_as_parseable_counters() {
        let row = |reason, packets, bytes| CounterRow { reason, packets, bytes };
        let sc = SwitchCounters {
            paths: vec![row(PathCounter::SynAnswered.reason(), 3, 180), row(PathCounter::ToFrontend.reason(), 0, 0)],
            drops: vec![row(DropReason::NoRoute.reason(), 1, 60)],
        };
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Frozen(switch_families(&sc).into())));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text");
        let get = |name: &str, key: &str, label: &str| {
            let s = parsed.samples.iter().find(|s| s.metric == name && s.labels.get(key) == Some(label)).unwrap_or_else(|| panic!("{name} {label}: {text}"));
            // prometheus-parse reads OpenMetrics `_total` samples as untyped.
            match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
                ref v => panic!("{name} is {v:?}, not a counter"),
            }
        };
        for family in ["path_packets", "path_bytes", "drops", "dropped_bytes"] {
            assert!(text.contains(&format!("# TYPE switchyard_frontend_switch_{family} counter\n")), "{text}");
        }
        assert_eq!(get("switchyard_frontend_switch_path_packets_total", "path", "syn_answered"), 3.0);
        assert_eq!(get("switchyard_frontend_switch_path_bytes_total", "path", "syn_answered"), 180.0);
        assert_eq!(get("switchyard_frontend_switch_path_packets_total", "path", "to_frontend"), 0.0);
        assert_eq!(get("switchyard_frontend_switch_drops_total", "reason", "no_route"), 1.0);
        assert_eq!(get("switchyard_frontend_switch_dropped_bytes_total", "reason", "no_route"), 60.0);
    }
}
