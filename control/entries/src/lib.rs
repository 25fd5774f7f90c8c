//! The text form of table entries and values, shared by switch-sim's
//! `--entries FILE`, its packet vectors and `switchyard-ctl apply-entries`
//! (which writes the same file to any P4Runtime switch). One parser, so a
//! file means the same thing to switch-sim and to bmv2.
//!
//! Values are JSON numbers or strings: `"198.18.0.1"`, `"02:00:00:00:00:01"`,
//! `"0x1f"`, `"42"`. Match fields: exact value; `"198.18.1.0/24"` (lpm);
//! `"0x0a&&&0xff"` (ternary); `"10..20"` (range); `"*"` (wildcard
//! ternary/optional/lpm/range). Values are at most 64 bits.
//!
//! This crate only parses the text; what a form means for a field of a given
//! match kind and width is decided by the user (switch-sim's
//! `entries::parse_match`, switchyard-control's `entries` module).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

/// IPv4 address, MAC address, `0x` hex or decimal.
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

/// A match value as written, before the field's kind gives it a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchText {
    /// A plain value (a JSON number or a scalar string): exact match, or
    /// the full-width form of the field's kind.
    Value(u64),
    /// `value/prefix_len`
    Lpm { value: u64, prefix_len: u32 },
    /// `value&&&mask`
    Ternary { value: u64, mask: u64 },
    /// `low..high` (inclusive)
    Range { low: u64, high: u64 },
    /// `*`
    Any,
}

/// Parses a match value; the forms are tried in this order: `*`, `&&&`,
/// `..`, `/`, scalar.
pub fn parse_match_text(v: &Value) -> Result<MatchText, String> {
    let text = match v {
        Value::Num(n) => return Ok(MatchText::Value(*n)),
        Value::Text(s) => s.trim(),
    };
    if text == "*" {
        return Ok(MatchText::Any);
    }
    if let Some((a, b)) = text.split_once("&&&") {
        return Ok(MatchText::Ternary { value: parse_scalar(a.trim())?, mask: parse_scalar(b.trim())? });
    }
    if let Some((a, b)) = text.split_once("..") {
        return Ok(MatchText::Range { low: parse_scalar(a.trim())?, high: parse_scalar(b.trim())? });
    }
    if let Some((a, b)) = text.split_once('/') {
        let prefix_len: u32 = b.trim().parse().map_err(|e| format!("{text}: {e}"))?;
        return Ok(MatchText::Lpm { value: parse_scalar(a.trim())?, prefix_len });
    }
    Ok(MatchText::Value(parse_scalar(text)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn scalars() {
        assert_eq!(parse_scalar("198.18.0.1"), Ok(0xc612_0001));
        assert_eq!(parse_scalar("02:00:00:00:00:10"), Ok(0x0200_0000_0010));
        assert_eq!(parse_scalar("0x1f"), Ok(31));
        assert_eq!(parse_scalar("0X1F"), Ok(31));
        assert_eq!(parse_scalar("42"), Ok(42));
        assert!(parse_scalar("zz").is_err());
        assert!(parse_scalar("02:00:00:00:00:zz").is_err());
        assert_eq!(parse_value(&Value::Num(7)), Ok(7));
        assert_eq!(parse_value(&t(" 0x10 ")), Ok(16));
    }

    #[test]
    fn match_forms() {
        assert_eq!(parse_match_text(&Value::Num(5)), Ok(MatchText::Value(5)));
        assert_eq!(parse_match_text(&t("10.0.0.1")), Ok(MatchText::Value(0x0a00_0001)));
        assert_eq!(parse_match_text(&t("*")), Ok(MatchText::Any));
        assert_eq!(parse_match_text(&t("198.18.1.0/24")), Ok(MatchText::Lpm { value: 0xc612_0100, prefix_len: 24 }));
        assert_eq!(parse_match_text(&t("0x0a00&&&0xff00")), Ok(MatchText::Ternary { value: 0x0a00, mask: 0xff00 }));
        assert_eq!(parse_match_text(&t("10..20")), Ok(MatchText::Range { low: 10, high: 20 }));
        assert_eq!(parse_match_text(&t("10.0.0.1..10.0.0.9")), Ok(MatchText::Range { low: 0x0a00_0001, high: 0x0a00_0009 }));
        assert!(parse_match_text(&t("1.2.3.0/x")).is_err());
        assert!(parse_match_text(&t("1&&&q")).is_err());
    }

    #[test]
    fn file_round_trip() {
        let j = r#"{"entries":[{"table":"t","match":{"f":"1.2.3.0/24"},"action":"a","params":{"p":1}},
                   {"table":"t","default":true,"action":"b","idle_timeout_ms":0,"priority":0}]}"#;
        let f: EntriesFile = serde_json::from_str(j).unwrap();
        assert_eq!(f.entries.len(), 2);
        assert!(f.entries[1].default);
        assert_eq!(f.entries[0].params["p"], Value::Num(1));
    }
}
