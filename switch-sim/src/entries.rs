//! The text form of table entries and values shared by `--entries FILE`,
//! the packet vectors and tests. Values are JSON numbers or strings:
//! `"198.18.0.1"`, `"02:00:00:00:00:01"`, `"0x1f"`, `"42"`. Match fields:
//! exact value; `"198.18.1.0/24"` (lpm); `"0x0a&&&0xff"` (ternary);
//! `"10..20"` (range); `"*"` (wildcard ternary/optional/lpm).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::table::FieldMatch;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Num(u64),
    Text(String),
}

/// One table write: an entry (with `match`) or the default action
/// (`"default": true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryText {
    pub table: String,
    #[serde(default, rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub matches: BTreeMap<String, Value>,
    pub action: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Idle timeout in milliseconds (tables with support_timeout).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub idle_timeout_ms: u64,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EntriesFile {
    pub entries: Vec<EntryText>,
}

pub fn parse_value(v: &Value) -> Result<u64, String> {
    match v {
        Value::Num(n) => Ok(*n),
        Value::Text(s) => parse_scalar(s.trim()),
    }
}

pub fn parse_scalar(s: &str) -> Result<u64, String> {
    if let Ok(a) = s.parse::<std::net::Ipv4Addr>() {
        return Ok(u64::from(u32::from(a)));
    }
    if s.len() == 17 && s.split(':').count() == 6 {
        let mut v = 0u64;
        for part in s.split(':') {
            v = (v << 8) | u64::from(u8::from_str_radix(part, 16).map_err(|e| format!("{s}: {e}"))?);
        }
        return Ok(v);
    }
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).map_err(|e| format!("{s}: {e}"));
    }
    s.parse::<u64>().map_err(|e| format!("`{s}`: {e}"))
}

/// Parses a match value for a field of `kind`.
pub fn parse_match(v: &Value, kind: crate::ir::MatchKind, width: u32) -> Result<FieldMatch, String> {
    use crate::ir::MatchKind as K;
    let text = match v {
        Value::Num(n) => {
            return Ok(match kind {
                K::Exact => FieldMatch::Exact(*n),
                K::Lpm => FieldMatch::Lpm { value: *n, prefix_len: width },
                K::Ternary => FieldMatch::Ternary { value: *n, mask: crate::ir::mask(width) },
                K::Range => FieldMatch::Range { low: *n, high: *n },
                K::Optional => FieldMatch::Optional(Some(*n)),
            })
        }
        Value::Text(s) => s.trim(),
    };
    if text == "*" {
        return Ok(match kind {
            K::Ternary => FieldMatch::Ternary { value: 0, mask: 0 },
            K::Lpm => FieldMatch::Lpm { value: 0, prefix_len: 0 },
            K::Optional => FieldMatch::Optional(None),
            K::Range => FieldMatch::Range { low: 0, high: crate::ir::mask(width) },
            K::Exact => return Err("`*` on an exact field".into()),
        });
    }
    if let Some((a, b)) = text.split_once("&&&") {
        return Ok(FieldMatch::Ternary { value: parse_scalar(a.trim())?, mask: parse_scalar(b.trim())? });
    }
    if let Some((a, b)) = text.split_once("..") {
        return Ok(FieldMatch::Range { low: parse_scalar(a.trim())?, high: parse_scalar(b.trim())? });
    }
    if let Some((a, b)) = text.split_once('/') {
        let plen: u32 = b.trim().parse().map_err(|e| format!("{text}: {e}"))?;
        return Ok(FieldMatch::Lpm { value: parse_scalar(a.trim())?, prefix_len: plen });
    }
    let n = parse_scalar(text)?;
    parse_match(&Value::Num(n), kind, width)
}
