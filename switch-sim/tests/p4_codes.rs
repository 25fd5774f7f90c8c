//! The P4 program's copies of the shared codes and constants must equal the
//! wire crate's registry (wire/src/reason.rs, cookie.rs, synack.rs).

use std::collections::HashMap;

use switchyard_wire::reason::{DROP_REASONS, PATH_COUNTERS};
use switchyard_wire::{cookie, synack};

fn defines() -> HashMap<String, u64> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../p4/include/constants.p4");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("#define") else { continue };
        let mut it = rest.split_whitespace();
        let (Some(name), Some(value)) = (it.next(), it.next()) else { continue };
        let digits = value.split_once('w').map(|(_, d)| d).unwrap_or(value);
        let v = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
            Some(h) => u64::from_str_radix(h, 16),
            None => digits.parse(),
        };
        if let Ok(v) = v {
            out.insert(name.to_string(), v);
        }
    }
    out
}

fn p4_name(prefix: &str, snake: &str) -> String {
    format!("{prefix}{}", snake.to_ascii_uppercase())
}

#[test]
fn p4_codes_match_registry() {
    let d = defines();
    let mut checked = 0;
    for (prefix, table) in [("DROP_", DROP_REASONS), ("PATH_", PATH_COUNTERS)] {
        // Every code the P4 program defines must be the registry's.
        for (name, value) in d.iter().filter(|(k, _)| k.starts_with(prefix)) {
            let row = table
                .iter()
                .find(|r| p4_name(prefix, r.name) == *name)
                .unwrap_or_else(|| panic!("{name} is not in wire::reason"));
            assert_eq!(*value, u64::from(row.code), "{name}");
            checked += 1;
        }
    }
    // The switch's own reasons and all switch path counters are present.
    for must in ["DROP_TRUNCATED", "DROP_NO_ROUTE", "DROP_BAD_TCP_FLAGS", "DROP_NO_FRONTEND", "PATH_SYN_ANSWERED", "PATH_TEARDOWN_DIGEST"] {
        assert!(d.contains_key(must), "{must} missing from constants.p4");
    }
    assert!(checked >= 18, "only {checked} codes checked");
    let max = DROP_REASONS.iter().chain(PATH_COUNTERS).map(|r| u64::from(r.code)).max().unwrap();
    assert!(d["REASON_COUNTER_SIZE"] > max, "counter arrays must cover every code");
}

#[test]
fn p4_synack_and_cookie_constants_match_wire() {
    let d = defines();
    assert_eq!(d["SYNACK_MSS"], u64::from(synack::MSS));
    assert_eq!(d["SYNACK_WSCALE"], u64::from(synack::WSCALE));
    assert_eq!(d["SYNACK_WINDOW"], u64::from(synack::WINDOW));
    assert_eq!(d["SYNACK_TTL"], u64::from(synack::TTL));
    assert_eq!(d["SYNACK_TCP_BYTES"], synack::TCP_HEADER_LEN as u64);
    assert_eq!(d["SYNACK_DATA_OFFSET"] * 4, synack::TCP_HEADER_LEN as u64);
    assert_eq!(d["COOKIE_MAC_MASK"], u64::from(cookie::MAC_MASK));
    assert_eq!(d["COOKIE_WSCALE_NONE"], u64::from(cookie::WSCALE_NONE));
    assert_eq!(d["COOKIE_MAX_WSCALE"], u64::from(switchyard_wire::tcp_option::MAX_WSCALE));
    // The MSS thresholds in the ingress are MSS_TABLE.
    let p4 = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../p4/switchyard.p4")).unwrap();
    for (i, m) in cookie::MSS_TABLE.iter().enumerate().skip(1) {
        let needle = format!("meta.syn_mss >= {m}) {{\n                                mss_idx = {i};");
        assert!(p4.contains(&needle), "MSS_TABLE[{i}] = {m} not found in switchyard.p4");
    }
}
