//! The C header's numbers against the one registry (wire/src/reason.rs) and
//! the Rust mirrors in src/abi.rs. Runs without root.

use std::collections::BTreeMap;

use switchyard_agent::abi;
use switchyard_agent::counters::{AGENT_PATHS, AGENT_REASONS};
use switchyard_wire::reason::{DROP_REASONS, PATH_COUNTERS};

const HEADER: &str = include_str!("../bpf/agent_abi.h");
const PROGRAM: &str = include_str!("../bpf/agent.c");

/// `NAME = value` enum rows and `#define NAME value` lines with a prefix.
fn constants(prefix: &str) -> BTreeMap<String, u64> {
    constants_in(HEADER, prefix)
}

fn constants_in(text: &str, prefix: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.split("/*").next().unwrap().trim();
        let (name, value) = if let Some(rest) = line.strip_prefix("#define ") {
            let mut it = rest.split_whitespace();
            match (it.next(), it.next()) {
                (Some(n), Some(v)) => (n, v),
                _ => continue,
            }
        } else if let Some((n, v)) = line.trim_end_matches(',').split_once(" = ") {
            (n.trim(), v.trim())
        } else {
            continue;
        };
        if !name.starts_with(prefix) {
            continue;
        }
        let parsed = if let Some(h) = value.strip_prefix("0x") { u64::from_str_radix(h, 16) } else { value.parse() };
        if let Ok(v) = parsed {
            out.insert(name.to_string(), v);
        }
    }
    out
}

#[test]
fn path_codes_match_the_registry() {
    let c = constants("SY_PATH_");
    assert_eq!(c.len(), AGENT_PATHS.len(), "header and AGENT_PATHS list the same paths: {c:?}");
    for p in AGENT_PATHS {
        let row = p.reason();
        let name = format!("SY_PATH_{}", row.name.to_uppercase());
        assert_eq!(c.get(&name), Some(&u64::from(row.code)), "{name}");
        assert!(PATH_COUNTERS.contains(row));
    }
}

#[test]
fn reason_codes_match_the_registry() {
    let c = constants("SY_REASON_");
    let c: BTreeMap<_, _> = c.into_iter().filter(|(k, _)| k != "SY_REASON_BASE").collect();
    assert_eq!(c.len(), AGENT_REASONS.len(), "header and AGENT_REASONS list the same reasons: {c:?}");
    for r in AGENT_REASONS {
        let row = r.reason();
        let name = format!("SY_REASON_{}", row.name.to_uppercase());
        assert_eq!(c.get(&name), Some(&u64::from(row.code)), "{name}");
        assert!(DROP_REASONS.contains(row));
    }
}

#[test]
fn layout_and_flags_match_the_rust_mirror() {
    let c = constants("SY_");
    assert_eq!(c["SY_REASON_BASE"], u64::from(abi::REASON_BASE));
    assert_eq!(c["SY_COUNTERS"], u64::from(abi::COUNTERS));
    let f = constants("SY_F_");
    for (name, v) in [
        ("SY_F_SPLICED", abi::flags::SPLICED),
        ("SY_F_WSCALE", abi::flags::WSCALE),
        ("SY_F_BACKEND_WS", abi::flags::BACKEND_WS),
        ("SY_F_FIN_IN", abi::flags::FIN_IN),
        ("SY_F_FIN_OUT", abi::flags::FIN_OUT),
        ("SY_F_FIN_IN_ACKED", abi::flags::FIN_IN_ACKED),
        ("SY_F_FIN_OUT_ACKED", abi::flags::FIN_OUT_ACKED),
    ] {
        assert_eq!(f.get(name), Some(&u64::from(v)), "{name}");
    }
}

#[test]
fn struct_fields_in_the_mirrored_order() {
    // Field order of the C structs, as the Rust mirrors declare them.
    let order = |s: &str, fields: &[&str]| {
        let body = HEADER.split(&format!("struct {s} {{")).nth(1).unwrap().split("};").next().unwrap();
        let mut last = 0;
        for f in fields {
            let at = body.find(&format!(" {f}")).unwrap_or_else(|| panic!("{s}.{f} missing"));
            assert!(at >= last, "{s}.{f} out of order");
            last = at;
        }
    };
    order("sy_flow_key", &["client_ip;", "backend_ip;", "client_port;", "backend_port;"]);
    order(
        "sy_flow",
        &["switch_isn;", "client_isn;", "delta;", "fin_in_end;", "fin_out_end;", "flags;", "client_ws;", "backend_ws;", "pad[2];"],
    );
    order("sy_config", &["switch_ws;", "pad[3];"]);
}

#[test]
fn program_limits_match_wire() {
    // agent.c clamps the client's window scale as wire (and the P4 program's
    // COOKIE_MAX_WSCALE, switch-sim/tests/p4_codes.rs) do, and the loader
    // refuses --switch-wscale above the same value (object::limits is wire's).
    let c = constants_in(PROGRAM, "MAX_");
    assert_eq!(c.get("MAX_WSCALE"), Some(&u64::from(switchyard_wire::tcp_option::MAX_WSCALE)), "agent.c MAX_WSCALE");
    assert_eq!(c.get("MAX_TCP_OPT_LEN"), Some(&(switchyard_wire::tcp_option::MAX_OPTIONS_LEN as u64)), "agent.c MAX_TCP_OPT_LEN");
}
