//! `GET /metrics` on the presence probe's listener: the agent's counters in
//! the Prometheus text format (OpenMetrics 1.0 as prometheus-client writes
//! it). Nothing is kept here: each scrape renders the probe's latest sample
//! (at most a second old) into a fresh registry, so every counter is the
//! BPF map's own total, which starts at 0 when the daemon loads the
//! programs. Every name is listed in docs/OPERATIONS.md ("Metrics") and
//! docs/AGENT.md; a test below checks the first.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::counters::{AGENT_PATHS, AGENT_REASONS};
use crate::probe::Health;

/// Every metric's name starts so (the front-end's `switchyard_frontend`).
pub const PREFIX: &str = "switchyard_agent";

/// The content type of `render`'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labeled<M> = Family<Vec<(&'static str, String)>, M>;

fn gauge(registry: &mut Registry, name: &str, help: &str, labels: Vec<(&'static str, String)>, v: i64) {
    let f = Labeled::<Gauge>::default();
    f.get_or_create(&labels).set(v);
    registry.register(name, help, f);
}

/// The exposition text of one sample. `map_size` is the flow map's
/// capacity (`--map-size`).
pub fn render(iface: &str, map_size: u32, h: &Health) -> String {
    let mut registry = Registry::with_prefix(PREFIX);
    let iface_label = || vec![("iface", iface.to_string())];
    let mut info = iface_label();
    info.push(("version", env!("CARGO_PKG_VERSION").to_string()));
    gauge(&mut registry, "info", "The running agent (value 1)", info, 1);
    gauge(&mut registry, "attached", "1 while both programs are attached to the interface", iface_label(), i64::from(h.attached));
    gauge(&mut registry, "flows", "Entries in the flow map (sy_flows)", iface_label(), h.flows as i64);
    gauge(&mut registry, "flow_map_capacity", "Entries the flow map holds at most (--map-size)", iface_label(), i64::from(map_size));
    if let Some(c) = &h.counters {
        let packets = Labeled::<Counter>::default();
        for p in AGENT_PATHS {
            packets.get_or_create(&vec![("iface", iface.to_string()), ("path", p.reason().name.to_string())]).inc_by(c.path(*p));
        }
        registry.register("packets", "Packets the agent rewrote or acted on, by path (wire::reason PathCounter)", packets);
        let passed = Labeled::<Counter>::default();
        for r in AGENT_REASONS {
            passed.get_or_create(&vec![("iface", iface.to_string()), ("reason", r.reason().name.to_string())]).inc_by(c.reason(*r));
        }
        registry.register(
            "passed_packets",
            "Packets the agent passed unchanged, by reason (wire::reason DropReason; the agent never drops)",
            passed,
        );
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use switchyard_wire::reason::{DropReason, PathCounter};

    use super::*;
    use crate::abi::COUNTERS;
    use crate::counters::{path_index, reason_index, Counters};

    fn sample_health() -> Health {
        let mut rows = vec![vec![0u64; 2]; COUNTERS as usize];
        rows[path_index(PathCounter::AgentEgress) as usize] = vec![3, 4];
        rows[reason_index(DropReason::NoFlow) as usize] = vec![1, 1];
        Health { attached: true, flows: 5, counters: Some(Counters::from_per_cpu(rows)) }
    }

    /// (name, sorted labels) → value.
    type Samples = HashMap<(String, Vec<(String, String)>), f64>;

    /// By the parser the control plane's tests use.
    fn parse(text: &str) -> Samples {
        for line in text.lines() {
            let known = !matches!(prometheus_parse::LineInfo::parse(line), prometheus_parse::LineInfo::Ignored);
            assert!(known || line == "# EOF" || line.starts_with("# UNIT "), "a line the parser cannot read: `{line}`");
        }
        let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text");
        let mut m = HashMap::new();
        for s in parsed.samples {
            let v = match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                other => panic!("unexpected {other:?}"),
            };
            let mut labels: Vec<(String, String)> = s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            labels.sort();
            m.insert((s.metric, labels), v);
        }
        m
    }

    fn get(m: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut l: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        l.push(("iface".into(), "eth0".into()));
        l.sort();
        *m.get(&(name.to_string(), l.clone())).unwrap_or_else(|| panic!("{name} {l:?} missing"))
    }

    #[test]
    fn renders_parseable_counters() {
        let text = render("eth0", 4096, &sample_health());
        assert!(text.ends_with("# EOF\n"), "{text}");
        let m = parse(&text);
        assert_eq!(get(&m, "switchyard_agent_attached", &[]), 1.0);
        assert_eq!(get(&m, "switchyard_agent_flows", &[]), 5.0);
        assert_eq!(get(&m, "switchyard_agent_flow_map_capacity", &[]), 4096.0);
        assert_eq!(get(&m, "switchyard_agent_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
        assert_eq!(get(&m, "switchyard_agent_packets_total", &[("path", "agent_egress")]), 7.0);
        assert_eq!(get(&m, "switchyard_agent_packets_total", &[("path", "agent_ingress")]), 0.0);
        assert_eq!(get(&m, "switchyard_agent_passed_packets_total", &[("reason", "no_flow")]), 2.0);
        let paths = m.keys().filter(|(n, _)| n == "switchyard_agent_packets_total").count();
        let reasons = m.keys().filter(|(n, _)| n == "switchyard_agent_passed_packets_total").count();
        assert_eq!((paths, reasons), (AGENT_PATHS.len(), AGENT_REASONS.len()));
    }

    #[test]
    fn detached_or_unreadable_counters_still_render() {
        let text = render("eth0", 4096, &Health { attached: false, flows: 0, counters: None });
        let m = parse(&text);
        assert_eq!(get(&m, "switchyard_agent_attached", &[]), 0.0);
        assert!(!text.contains("switchyard_agent_packets_total"), "{text}");
    }

    /// Every name `render` writes is in docs/OPERATIONS.md and docs/AGENT.md.
    #[test]
    fn every_metric_is_documented() {
        let text = render("eth0", 4096, &sample_health());
        let names: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let (n, t) = (w.next()?, w.next()?);
                Some(format!("{n}{}", if t == "counter" { "_total" } else { "" }))
            })
            .collect();
        assert_eq!(names.len(), 6, "{names:?}");
        for doc in ["OPERATIONS.md", "AGENT.md"] {
            let docs = std::fs::read_to_string(format!("{}/../docs/{doc}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let missing: Vec<&String> = names.iter().filter(|n| !docs.contains(&format!("`{n}`"))).collect();
            assert!(missing.is_empty(), "metrics missing from docs/{doc}: {missing:?}");
        }
    }
}
