//! The admin API's JSON as a person reads it: aligned columns, one line
//! per backend, flow or entry, and what was cut.

use serde_json::Value;

/// Columns padded to their widest cell, two spaces apart.
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = w[i])).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out += &line(r.iter().map(String::as_str).collect());
    }
    out
}

fn s(v: &Value) -> String {
    match v {
        Value::String(t) => t.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn yes_no(v: &Value) -> String {
    if v.as_bool() == Some(true) { "yes" } else { "no" }.into()
}

pub fn status(v: &Value) -> String {
    let mut out = format!(
        "front-end {}  up {}s  switch {}  {} services, {} backends\n",
        s(&v["version"]),
        s(&v["uptime_seconds"]),
        s(&v["switch"]),
        s(&v["services"]),
        s(&v["backends"])
    );
    let phases: Vec<String> = v["flows_by_state"].as_object().map(|m| m.iter().map(|(k, n)| format!("{k} {n}")).collect()).unwrap_or_default();
    out += &format!("flows {} ({})\n", s(&v["flows"]), phases.join(", "));
    let c = &v["counters"];
    let counters: Vec<String> = c.as_object().map(|m| m.iter().map(|(k, n)| format!("{k} {n}")).collect()).unwrap_or_default();
    out += &format!("counters: {}\n", counters.join(", "));
    let e = &v["switch_entries"];
    out += &format!(
        "switch entries: {} tracked of {} (table size), install latency p50 {:.2} ms p99 {:.2} ms, {} rotations\n",
        s(&e["tracked"]),
        s(&e["table_size"]),
        e["install_latency_p50_ms"].as_f64().unwrap_or(0.0),
        e["install_latency_p99_ms"].as_f64().unwrap_or(0.0),
        s(&e["rotations"])
    );
    out + &format!("admin requests refused (not loopback): {}\n", s(&v["admin_refused"]))
}

fn pools(b: &Value) -> String {
    let list: Vec<String> = b["pools"].as_array().map(|a| a.iter().map(|p| format!("{}(w{})", s(&p["pool"]), s(&p["weight"]))).collect()).unwrap_or_default();
    list.join(",")
}

/// `-` without checks, `ok` while all pass, else each failing one with
/// its last error (a check that failed but is still up is not listed).
fn checks(b: &Value) -> String {
    let Some(list) = b["checks"].as_array().filter(|a| !a.is_empty()) else { return "-".into() };
    let failing: Vec<String> =
        list.iter().filter(|c| c["up"].as_bool() == Some(false)).map(|c| format!("{} ({})", s(&c["check"]), s(&c["last_error"]))).collect();
    if failing.is_empty() { "ok".into() } else { failing.join(", ") }
}

/// `yes`, `no` (its checks fail) or `ejected` (passively, for its
/// cool-down).
fn health(b: &Value) -> String {
    if b["healthy"].as_bool() == Some(true) && b["ejected"].as_bool() == Some(true) {
        return "ejected".into();
    }
    yes_no(&b["healthy"])
}

fn backend_row(b: &Value) -> Vec<String> {
    vec![s(&b["name"]), pools(b), health(b), yes_no(&b["draining"]), s(&b["active_flows"]), s(&b["switch_entries"]), checks(b)]
}

const BACKEND_HEADER: [&str; 7] = ["BACKEND", "POOLS(WEIGHT)", "HEALTHY", "DRAINING", "FLOWS", "SWITCH_ENTRIES", "CHECKS"];

pub fn backends(v: &Value) -> String {
    let rows: Vec<Vec<String>> = v["backends"].as_array().map(|a| a.iter().map(backend_row).collect()).unwrap_or_default();
    columns(&BACKEND_HEADER, &rows)
}

/// The answer to drain/undrain: the backend as it is now.
pub fn backend(v: &Value) -> String {
    let what = if v["draining"].as_bool() == Some(true) {
        let entries = match &v["switch_entries"] {
            Value::Null => String::new(),
            n => format!(" and {n} switch entries"),
        };
        format!("{} draining: no new flows; {} active flows{entries} remain\n", s(&v["name"]), s(&v["active_flows"]))
    } else {
        format!("{} takes new flows again ({} active)\n", s(&v["name"]), s(&v["active_flows"]))
    };
    what + &columns(&BACKEND_HEADER, &[backend_row(v)])
}

pub fn flows(v: &Value) -> String {
    let rows: Vec<Vec<String>> = v["flows"]
        .as_array()
        .map(|a| a.iter().map(|f| vec![s(&f["client"]), s(&f["service"]), s(&f["backend"]), s(&f["state"])]).collect())
        .unwrap_or_default();
    columns(&["CLIENT", "SERVICE", "BACKEND", "STATE"], &rows)
        + &format!("{} flows matched, {} listed (at most {})\n", s(&v["matched"]), s(&v["listed"]), s(&v["limit"]))
}

pub fn table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = v["entries"]
        .as_array()
        .map(|a| a.iter().map(|e| vec![s(&e["client"]), s(&e["service"]), s(&e["backend"]), s(&e["mode"])]).collect())
        .unwrap_or_default();
    columns(&["CLIENT", "SERVICE", "BACKEND", "MODE"], &rows)
        + &format!(
            "{} entries on the switch, {} listed; {} tracked by the control task; table size {}\n",
            s(&v["total"]),
            s(&v["listed"]),
            s(&v["tracked_by_control_task"]),
            s(&v["table_size"])
        )
}

pub fn rotated(v: &Value) -> String {
    let kept = match &v["persisted_to"] {
        Value::String(p) => format!("; kept in {p}"),
        _ => "; not kept across restarts (no [cookie] rotated_secrets_file)".into(),
    };
    format!("cookie secret rotated: the switch signs with the new one ({} rotations so far){kept}\n", s(&v["rotations"]))
}

pub fn reloaded(v: &Value) -> String {
    let list = |k: &str| -> Vec<String> { v[k].as_array().map(|a| a.iter().map(s).collect()).unwrap_or_default() };
    let applied = list("applied");
    let mut out = if applied.is_empty() {
        format!("reloaded {}: nothing to apply\n", s(&v["file"]))
    } else {
        format!("reloaded {}: applied\n", s(&v["file"])) + &applied.iter().map(|a| format!("  {a}\n")).collect::<String>()
    };
    for r in list("retiring") {
        out += &format!("retiring {r}: no service reaches it; its backend_address entry is deleted once its flows end\n");
    }
    for d in list("draining") {
        out += &format!("draining service {d}: its VIP refuses new connections; its vip entry is deleted once its flows end\n");
    }
    for n in list("not_applied") {
        out += &format!("not applied: {n}\n");
    }
    for w in list("warnings") {
        out += &format!("warning: {w}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn columns_align_and_backends_read_well() {
        let v = json!({ "backends": [
            { "name": "198.18.10.2:80", "pools": [{ "pool": "web", "weight": 1 }], "healthy": true, "draining": false, "active_flows": 3 },
            { "name": "198.18.11.2:8080", "pools": [{ "pool": "web", "weight": 2 }, { "pool": "api", "weight": 1 }], "healthy": false, "draining": true, "active_flows": 0, "switch_entries": 5,
              "checks": [{ "check": "http:web", "up": false, "last_error": "connect: Connection refused" }, { "check": "agent", "up": true, "last_error": null }] },
            { "name": "198.18.12.2:80", "pools": [], "healthy": true, "draining": false, "active_flows": 0, "checks": [{ "check": "agent", "up": true }] },
            { "name": "198.18.13.2:80", "pools": [], "healthy": true, "ejected": true, "draining": false, "active_flows": 0 },
        ]});
        let out = backends(&v);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "BACKEND           POOLS(WEIGHT)    HEALTHY  DRAINING  FLOWS  SWITCH_ENTRIES  CHECKS");
        assert_eq!(lines[1], "198.18.10.2:80    web(w1)          yes      no        3      -               -");
        assert_eq!(lines[2], "198.18.11.2:8080  web(w2),api(w1)  no       yes       0      5               http:web (connect: Connection refused)");
        assert_eq!(lines[3], "198.18.12.2:80                     yes      no        0      -               ok");
        assert_eq!(lines[4], "198.18.13.2:80                     ejected  no        0      -               -");
    }

    #[test]
    fn a_reload_lists_what_it_did() {
        let v = json!({ "file": "f.toml", "applied": ["pool `web` changed"], "not_applied": ["[cookie] changed: not applied"], "warnings": [] });
        assert_eq!(reloaded(&v), "reloaded f.toml: applied\n  pool `web` changed\nnot applied: [cookie] changed: not applied\n");
        assert_eq!(reloaded(&json!({ "file": "f.toml", "applied": [], "not_applied": [], "warnings": [] })), "reloaded f.toml: nothing to apply\n");
    }

    #[test]
    fn drain_answer_says_what_remains() {
        let v = json!({ "name": "b", "pools": [], "healthy": true, "draining": true, "active_flows": 2, "switch_entries": 1 });
        assert!(backend(&v).starts_with("b draining: no new flows; 2 active flows and 1 switch entries remain\n"));
        let f = flows(&json!({ "matched": 5, "listed": 1, "limit": 1000, "flows": [{ "client": "198.18.0.2:4000", "service": "web", "backend": null, "state": "assembling" }] }));
        assert!(f.contains("198.18.0.2:4000  web      -        assembling"), "{f}");
        assert!(f.ends_with("5 flows matched, 1 listed (at most 1000)\n"));
    }
}
