//! From runs to figures: medians and spread over repetitions, ratios to
//! nginx from the same repetition, flagged runs, CSV, Markdown tables,
//! plots and the targets.
//!
//! A run is a flat JSON object (see `RUN_METRICS`); a metric that could
//! not be read is `null` and prints as "n/a".

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{json, Value};

use crate::plot::{Chart, Series};

/// Numeric per-run metrics that are aggregated (name, header, scale for display).
pub const RUN_METRICS: &[&str] = &[
    "req_per_s",
    "goodput_mbit_s",
    "lat_p50_us",
    "lat_p99_us",
    "lat_p999_us",
    "lat1k_p50_us",
    "lat1k_p99_us",
    "lat1k_p999_us",
    "lb_cpu_us_per_req",
    "lb_cpu_ticks_us_per_req",
    "lb_pkts_per_req",
    "mgmt_pkts_per_req",
    "backend_retrans_pct",
    "switch_drops",
    "install_p50_us",
    "install_p99_us",
    "ok",
    "errors",
    "timeouts",
];

pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// The key of a cell: workload, mode, concurrency.
pub fn cell_key(r: &Value) -> (String, String, u64) {
    (r["workload"].as_str().unwrap_or("").into(), r["mode"].as_str().unwrap_or("").into(), r["concurrency"].as_u64().unwrap_or(0))
}

/// One row per (cell, system): for each metric `median`, `min`, `max`,
/// `ratio` (median over repetitions of this system's value / nginx's in
/// the same repetition); `reps`, `flagged_reps` (runs with any error or
/// timeout), the totals of errors and timeouts.
pub fn summarize(runs: &[Value]) -> Vec<Value> {
    let mut groups: BTreeMap<((String, String, u64), String), Vec<&Value>> = BTreeMap::new();
    for r in runs {
        groups.entry((cell_key(r), r["system"].as_str().unwrap_or("").to_string())).or_default().push(r);
    }
    let mut out = Vec::new();
    for ((cell, system), rs) in &groups {
        let nginx = groups.get(&(cell.clone(), "nginx".to_string()));
        let mut m = serde_json::Map::new();
        for k in RUN_METRICS {
            let mut v: Vec<f64> = rs.iter().filter_map(|r| num(r, k)).collect();
            let (lo, hi) = (v.iter().cloned().fold(f64::INFINITY, f64::min), v.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
            let med = median(&mut v);
            let mut ratios: Vec<f64> = rs
                .iter()
                .filter_map(|r| {
                    let n = nginx?.iter().find(|n| n["rep"] == r["rep"])?;
                    let (a, b) = (num(r, k)?, num(n, k)?);
                    (b != 0.0).then(|| a / b)
                })
                .collect();
            m.insert(
                k.to_string(),
                json!({ "median": med, "min": med.map(|_| lo), "max": med.map(|_| hi), "ratio": median(&mut ratios) }),
            );
        }
        let flagged: Vec<u64> = rs.iter().filter(|r| r["flagged"].as_bool() == Some(true)).filter_map(|r| r["rep"].as_u64()).collect();
        let sum = |k: &str| rs.iter().filter_map(|r| r[k].as_u64()).sum::<u64>();
        out.push(json!({
            "workload": cell.0, "mode": cell.1, "concurrency": cell.2, "system": system,
            "reps": rs.len(), "flagged_reps": flagged, "errors_total": sum("errors"), "timeouts_total": sum("timeouts"),
            "close_stalls_total": sum("close_stall"), "ok_total": sum("ok"),
            "metrics": Value::Object(m),
        }));
    }
    out
}

fn metric<'a>(row: &'a Value, k: &str) -> &'a Value {
    &row["metrics"][k]
}

/// "12.3 ±4%" (median, half the min..max range relative to the median),
/// "n/a" when not measured.
pub fn fmt_spread(row: &Value, k: &str, scale: f64, digits: usize) -> String {
    let m = metric(row, k);
    match m["median"].as_f64() {
        None => "n/a".into(),
        Some(med) => {
            let (lo, hi) = (m["min"].as_f64().unwrap_or(med), m["max"].as_f64().unwrap_or(med));
            let spread = if med.abs() > 0.0 { (hi - lo) / 2.0 / med.abs() * 100.0 } else { 0.0 };
            let v = med * scale;
            // Small values keep two significant digits.
            let digits = if v != 0.0 && v.abs() < 1.0 { digits.max((-v.abs().log10()).floor() as usize + 2) } else { digits };
            if spread >= 0.5 {
                format!("{v:.digits$} ±{spread:.0}%")
            } else {
                format!("{v:.digits$}")
            }
        }
    }
}

pub fn fmt_ratio(row: &Value, k: &str) -> String {
    match metric(row, k)["ratio"].as_f64() {
        None => "n/a".into(),
        Some(r) if r >= 10.0 => format!("{r:.0}×"),
        Some(r) if r >= 0.1 => format!("{r:.2}×"),
        Some(r) => format!("1/{:.0}", 1.0 / r),
    }
}

const SYSTEM_ORDER: &[&str] = &["switchyard", "switchyard-request", "nginx", "haproxy"];

fn sys_rank(s: &str) -> usize {
    SYSTEM_ORDER.iter().position(|x| *x == s).unwrap_or(9)
}

fn cells(summary: &[Value]) -> Vec<(String, String, u64)> {
    let mut c: Vec<(String, String, u64)> = summary.iter().map(cell_key).collect();
    c.dedup();
    let order = |w: &str| crate::workload::WORKLOADS.iter().position(|x| x.name == w).unwrap_or(99);
    c.sort_by(|a, b| (order(&a.0), &a.1, a.2).cmp(&(order(&b.0), &b.1, b.2)));
    c.dedup();
    c
}

fn rows_of<'a>(summary: &'a [Value], cell: &(String, String, u64)) -> Vec<&'a Value> {
    let mut v: Vec<&Value> = summary.iter().filter(|r| &cell_key(r) == cell).collect();
    v.sort_by_key(|r| sys_rank(r["system"].as_str().unwrap_or("")));
    v
}

/// The Markdown tables: one per cell.
pub fn markdown(summary: &[Value]) -> String {
    let mut s = String::new();
    for cell in cells(summary) {
        let mode = if cell.1 == "close" { "new connection per request" } else { "keep-alive" };
        let _ = writeln!(s, "\n#### {} · {mode} · concurrency {}\n", cell.0, cell.2);
        let _ = writeln!(s, "| system | req/s | ×nginx | goodput Mbit/s | p50 ms | p99 ms | p99.9 ms | 1 KB p99 ms | errors / timeouts (flagged reps) | LB CPU µs/req | ×nginx | LB pkts/req | ×nginx | backend retrans % | switch drops | install p50 / p99 ms |");
        let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for r in rows_of(summary, &cell) {
            let flagged = r["flagged_reps"].as_array().map(|a| a.len()).unwrap_or(0);
            let err = format!(
                "{} / {}{}",
                r["errors_total"],
                r["timeouts_total"],
                if flagged > 0 { format!(" (**{flagged} of {}**)", r["reps"]) } else { String::new() }
            );
            let install = if metric(r, "install_p50_us")["median"].is_null() {
                "-".to_string()
            } else {
                format!("{} / {}", fmt_spread(r, "install_p50_us", 1e-3, 2), fmt_spread(r, "install_p99_us", 1e-3, 2))
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r["system"].as_str().unwrap_or(""),
                fmt_spread(r, "req_per_s", 1.0, 0),
                fmt_ratio(r, "req_per_s"),
                fmt_spread(r, "goodput_mbit_s", 1.0, 1),
                fmt_spread(r, "lat_p50_us", 1e-3, 2),
                fmt_spread(r, "lat_p99_us", 1e-3, 2),
                fmt_spread(r, "lat_p999_us", 1e-3, 2),
                fmt_spread(r, "lat1k_p99_us", 1e-3, 2),
                err,
                fmt_spread(r, "lb_cpu_us_per_req", 1.0, 1),
                fmt_ratio(r, "lb_cpu_us_per_req"),
                fmt_spread(r, "lb_pkts_per_req", 1.0, 1),
                fmt_ratio(r, "lb_pkts_per_req"),
                fmt_spread(r, "backend_retrans_pct", 1.0, 2),
                fmt_spread(r, "switch_drops", 1.0, 0),
                install,
            );
        }
    }
    s
}

/// The summary as CSV: one line per (cell, system, metric).
pub fn csv(summary: &[Value]) -> String {
    let mut s = String::from("workload,mode,concurrency,system,reps,flagged_reps,errors_total,timeouts_total,metric,median,min,max,ratio_to_nginx\n");
    let f = |v: &Value| v.as_f64().map(|x| format!("{x}")).unwrap_or_default();
    for r in summary {
        for k in RUN_METRICS {
            let m = metric(r, k);
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{k},{},{},{},{}",
                r["workload"].as_str().unwrap_or(""),
                r["mode"].as_str().unwrap_or(""),
                r["concurrency"],
                r["system"].as_str().unwrap_or(""),
                r["reps"],
                r["flagged_reps"].as_array().map(|a| a.len()).unwrap_or(0),
                r["errors_total"],
                r["timeouts_total"],
                f(&m["median"]),
                f(&m["min"]),
                f(&m["max"]),
                f(&m["ratio"]),
            );
        }
    }
    s
}

fn point(r: &Value, k: &str, x: f64) -> Option<(f64, f64, f64, f64)> {
    let m = metric(r, k);
    Some((x, m["median"].as_f64()?, m["min"].as_f64()?, m["max"].as_f64()?))
}

/// The plots: (file name, SVG). LB CPU and packets per request against
/// response size (fixed-size workloads at the sweep's concurrency, both
/// connection modes), requests/s against concurrency (per workload/mode).
pub fn plots(summary: &[Value], size_conc: u64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let systems: Vec<String> = {
        let mut v: Vec<String> = summary.iter().filter_map(|r| r["system"].as_str().map(str::to_string)).collect();
        v.sort_by_key(|s| sys_rank(s));
        v.dedup();
        v
    };
    let size_ticks = Some(vec![(1024.0, "1 KB".to_string()), (10240.0, "10 KB".into()), (102400.0, "100 KB".into()), (1048576.0, "1 MB".into()), (10485760.0, "10 MB".into())]);
    for mode in ["close", "keepalive"] {
        let mname = if mode == "close" { "new connection per request" } else { "keep-alive" };
        for (k, what, file) in [("lb_cpu_us_per_req", "LB CPU per request (µs)", "cpu_per_req"), ("lb_pkts_per_req", "LB packets per request", "pkts_per_req")] {
            let series: Vec<Series> = systems
                .iter()
                .map(|sys| Series {
                    name: sys.clone(),
                    points: summary
                        .iter()
                        .filter(|r| r["system"] == sys.as_str() && r["mode"] == mode && r["concurrency"].as_u64() == Some(size_conc))
                        .filter_map(|r| {
                            let w = crate::workload::by_name(r["workload"].as_str()?)?;
                            if w.name == "t1" {
                                return None;
                            }
                            point(r, k, w.fixed_size()? as f64)
                        })
                        .collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect();
            out.push((
                format!("{file}_vs_size_{mode}.svg"),
                Chart {
                    title: format!("{what} vs response size · {mname} · c={size_conc}"),
                    x_label: "response size (log)".into(),
                    y_label: format!("{what} (log)"),
                    x_log: true,
                    y_log: true,
                    x_ticks: size_ticks.clone(),
                    series,
                }
                .svg(),
            ));
        }
    }
    let mut wm: Vec<(String, String)> = summary.iter().map(|r| (r["workload"].as_str().unwrap_or("").to_string(), r["mode"].as_str().unwrap_or("").to_string())).collect();
    wm.sort();
    wm.dedup();
    for (w, mode) in wm {
        let series: Vec<Series> = systems
            .iter()
            .map(|sys| Series {
                name: sys.clone(),
                points: summary
                    .iter()
                    .filter(|r| r["system"] == sys.as_str() && r["workload"] == w.as_str() && r["mode"] == mode.as_str())
                    .filter_map(|r| point(r, "req_per_s", r["concurrency"].as_f64()?))
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        if series.iter().map(|s| s.points.len()).max().unwrap_or(0) < 2 {
            continue;
        }
        let mname = if mode == "close" { "new connection per request" } else { "keep-alive" };
        out.push((
            format!("rps_vs_concurrency_{w}_{mode}.svg"),
            Chart {
                title: format!("requests/s vs concurrency · {w} · {mname}"),
                x_label: "concurrent connections (log)".into(),
                y_label: "requests/s".into(),
                x_log: true,
                y_log: false,
                x_ticks: Some(vec![(1.0, "1".into()), (32.0, "32".into()), (256.0, "256".into())]),
                series,
            }
            .svg(),
        ));
    }
    out
}

fn find<'a>(summary: &'a [Value], w: &str, mode: &str, conc: Option<u64>, sys: &str) -> Vec<&'a Value> {
    summary
        .iter()
        .filter(|r| r["workload"] == w && r["mode"] == mode && r["system"] == sys && conc.map_or(true, |c| r["concurrency"].as_u64() == Some(c)))
        .collect()
}

/// The targets, each evaluated where this run has the figures:
/// (target, measured, verdict).
pub fn targets(summary: &[Value], conc: u64) -> Vec<(String, String, String)> {
    let mut t = Vec::new();
    let verdict = |ok: Option<bool>| match ok {
        Some(true) => "met".to_string(),
        Some(false) => "**not met**".to_string(),
        None => "not measured".to_string(),
    };
    let ratio = |r: &Value, k: &str| metric(r, k)["ratio"].as_f64();
    for w in ["t2", "t3"] {
        for mode in ["keepalive", "close"] {
            let rows = find(summary, w, mode, Some(conc), "switchyard");
            let r = rows.first().and_then(|r| ratio(r, "lb_cpu_us_per_req"));
            t.push((
                format!("LB CPU per request, {w}, {mode}, c={conc}: ≤ 1/20 of nginx"),
                r.map(|x| format!("{} of nginx", if x > 0.0 && x < 1.0 { format!("1/{:.1}", 1.0 / x) } else { format!("{x:.2}×") })).unwrap_or("n/a".into()),
                verdict(r.map(|x| x <= 0.05)),
            ));
        }
    }
    let r = find(summary, "1k", "close", Some(conc), "switchyard").first().and_then(|r| ratio(r, "lb_cpu_us_per_req"));
    t.push((
        format!("LB CPU per new 1 KB connection (c={conc}): ≤ 1/4 of nginx"),
        r.map(|x| format!("{x:.2}× nginx")).unwrap_or("n/a".into()),
        verdict(r.map(|x| x <= 0.25)),
    ));
    for mode in ["close", "keepalive"] {
        let rows = find(summary, "10m", mode, None, "switchyard");
        let r = rows.first().and_then(|r| ratio(r, "lb_pkts_per_req"));
        let abs = rows.first().and_then(|r| metric(r, "lb_pkts_per_req")["median"].as_f64());
        let ng = find(summary, "10m", mode, rows.first().and_then(|r| r["concurrency"].as_u64()), "nginx");
        let ngabs = ng.first().and_then(|r| metric(r, "lb_pkts_per_req")["median"].as_f64());
        t.push((
            format!("LB packets per 10 MB response ({mode}): ≤ 1/1,000 of nginx"),
            match (abs, ngabs, r) {
                (Some(a), Some(b), Some(x)) => format!("{a:.1} vs {b:.0} (1/{:.0})", 1.0 / x.max(1e-9)),
                _ => "n/a".into(),
            },
            verdict(r.map(|x| x <= 0.001)),
        ));
    }
    for mode in ["close", "keepalive"] {
        let mut worst: Option<(u64, f64)> = None;
        let mut any = false;
        let mut all_ok = true;
        for r in find(summary, "1k", mode, None, "switchyard") {
            let c = r["concurrency"].as_u64().unwrap_or(0);
            let n = find(summary, "1k", mode, Some(c), "nginx");
            let (Some(a), Some(b)) = (metric(r, "lat_p99_us")["median"].as_f64(), n.first().and_then(|n| metric(n, "lat_p99_us")["median"].as_f64())) else { continue };
            any = true;
            if a > b {
                all_ok = false;
            }
            if worst.map_or(true, |(_, x)| a / b > x) {
                worst = Some((c, a / b));
            }
        }
        t.push((
            format!("1 KB latency p99 ≤ nginx's at every concurrency ({mode})"),
            worst.map(|(c, x)| format!("worst c={c}: {x:.2}× nginx's p99")).unwrap_or("n/a".into()),
            verdict(any.then_some(all_ok)),
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sys: &str, rep: u64, rps: f64, cpu: Option<f64>, errors: u64) -> Value {
        json!({"system": sys, "rep": rep, "workload": "1k", "mode": "close", "concurrency": 32, "req_per_s": rps,
               "lb_cpu_us_per_req": cpu, "errors": errors, "timeouts": 0, "ok": 100, "flagged": errors > 0})
    }

    #[test]
    fn medians_spread_ratios_and_flags() {
        let runs = vec![
            run("nginx", 0, 1000.0, Some(50.0), 0),
            run("nginx", 1, 1100.0, Some(40.0), 0),
            run("nginx", 2, 900.0, Some(60.0), 0),
            run("switchyard", 0, 500.0, Some(5.0), 0),
            run("switchyard", 1, 2200.0, None, 3),
            run("switchyard", 2, 450.0, Some(6.0), 0),
        ];
        let s = summarize(&runs);
        let sy = s.iter().find(|r| r["system"] == "switchyard").unwrap();
        assert_eq!(sy["metrics"]["req_per_s"]["median"].as_f64(), Some(500.0));
        assert_eq!(sy["metrics"]["req_per_s"]["ratio"].as_f64(), Some(0.5));
        assert_eq!(sy["metrics"]["lb_cpu_us_per_req"]["median"].as_f64(), Some(5.5));
        assert_eq!(sy["flagged_reps"], json!([1]));
        assert_eq!(sy["errors_total"], 3);
        assert_eq!(fmt_spread(sy, "switch_drops", 1.0, 0), "n/a");
        let md = markdown(&s);
        assert!(md.contains("| switchyard | 500 ±175% | 0.50× |"), "{md}");
        assert!(md.contains("(**1 of 3**)"), "{md}");
        assert!(csv(&s).lines().count() > 2);
        let t = targets(&s, 32);
        assert!(t.iter().any(|(n, _, v)| n.contains("new 1 KB") && v == "met"), "{t:?}");
    }
}
