//! The text form of table entries and values shared by `--entries FILE`,
//! the packet vectors and tests. The file format and the text parsing live
//! in `switchyard-entries` (control/entries), which `switchyard-ctl
//! apply-entries` uses too; here a parsed match form gets switch-sim's
//! meaning for a field of a given kind and width. Values are JSON numbers
//! or strings: `"198.18.0.1"`, `"02:00:00:00:00:01"`, `"0x1f"`, `"42"`.
//! Match fields: exact value; `"198.18.1.0/24"` (lpm); `"0x0a&&&0xff"`
//! (ternary); `"10..20"` (range); `"*"` (wildcard ternary/optional/lpm).

pub use switchyard_entries::{parse_match_text, parse_scalar, parse_value, EntriesFile, EntryText, MatchText, Value};

use crate::table::FieldMatch;

/// Parses a match value for a field of `kind`.
pub fn parse_match(v: &Value, kind: crate::ir::MatchKind, width: u32) -> Result<FieldMatch, String> {
    use crate::ir::MatchKind as K;
    Ok(match parse_match_text(v)? {
        MatchText::Value(n) => match kind {
            K::Exact => FieldMatch::Exact(n),
            K::Lpm => FieldMatch::Lpm { value: n, prefix_len: width },
            K::Ternary => FieldMatch::Ternary { value: n, mask: crate::ir::mask(width) },
            K::Range => FieldMatch::Range { low: n, high: n },
            K::Optional => FieldMatch::Optional(Some(n)),
        },
        MatchText::Any => match kind {
            K::Ternary => FieldMatch::Ternary { value: 0, mask: 0 },
            K::Lpm => FieldMatch::Lpm { value: 0, prefix_len: 0 },
            K::Optional => FieldMatch::Optional(None),
            K::Range => FieldMatch::Range { low: 0, high: crate::ir::mask(width) },
            K::Exact => return Err("`*` on an exact field".into()),
        },
        MatchText::Ternary { value, mask } => FieldMatch::Ternary { value, mask },
        MatchText::Range { low, high } => FieldMatch::Range { low, high },
        MatchText::Lpm { value, prefix_len } => FieldMatch::Lpm { value, prefix_len },
    })
}
