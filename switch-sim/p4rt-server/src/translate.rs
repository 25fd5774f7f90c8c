//! P4Runtime table entries <-> switch-sim entries, with the specification's
//! checks: known ids, byte strings that fit their widths, LPM and ternary
//! values with no bits outside the prefix or mask, don't-care matches
//! omitted rather than sent, every exact field present, priority > 0 exactly
//! when the key has ternary/range/optional fields, actions the table allows
//! with each parameter exactly once.

use p4runtime_proto::p4::v1::{self as p4, field_match::FieldMatchType, table_action};
use switchyard_switch_sim::ir::{mask, MatchKind};
use switchyard_switch_sim::table::{Entry, FieldMatch};
use switchyard_switch_sim::TableEntry;
use tonic::Code;

use crate::pipeline::{Pipeline, TableMap};

/// A refused update: the gRPC code and a message naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    pub code: Code,
    pub message: String,
}

pub fn fail<T>(code: Code, message: impl Into<String>) -> Result<T, Fail> {
    Err(Fail { code, message: message.into() })
}

pub fn invalid<T>(message: impl Into<String>) -> Result<T, Fail> {
    fail(Code::InvalidArgument, message)
}

/// A byte string as a `bit<width>` value (canonical or padded).
pub fn decode(bytes: &[u8], width: u32, what: &str) -> Result<u64, Fail> {
    if bytes.is_empty() {
        return invalid(format!("{what}: empty byte string"));
    }
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let sig = &bytes[start..];
    if sig.len() > 8 || (width < 64 && sig.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)) > mask(width)) {
        return invalid(format!("{what}: value does not fit in bit<{width}>"));
    }
    if bytes.len() > width.div_ceil(8) as usize {
        return invalid(format!("{what}: {} bytes for bit<{width}>", bytes.len()));
    }
    Ok(sig.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
}

/// The canonical byte string of a value: big-endian, no leading zero bytes.
pub fn encode(v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let start = b.iter().position(|x| *x != 0).unwrap_or(7);
    b[start..].to_vec()
}

fn prefix_mask(width: u32, len: u32) -> u64 {
    if len == 0 {
        0
    } else {
        mask(width) & !mask(width - len)
    }
}

/// The key of `e` in the program's field order, plus its priority.
pub fn key(t: &TableMap, e: &p4::TableEntry) -> Result<(Vec<FieldMatch>, i32), Fail> {
    let mut out: Vec<Option<FieldMatch>> = vec![None; t.fields.len()];
    for m in &e.r#match {
        let Some(i) = t.fields.iter().position(|f| f.id == m.field_id) else {
            return invalid(format!("{}: no match field with id {}", t.name, m.field_id));
        };
        if out[i].is_some() {
            return invalid(format!("{}: match field {} given twice", t.name, m.field_id));
        }
        let f = &t.fields[i];
        let what = format!("{} field {}", t.name, f.id);
        let w = f.width;
        let fm = match (&f.kind, &m.field_match_type) {
            (MatchKind::Exact, Some(FieldMatchType::Exact(x))) => FieldMatch::Exact(decode(&x.value, w, &what)?),
            (MatchKind::Lpm, Some(FieldMatchType::Lpm(x))) => {
                let v = decode(&x.value, w, &what)?;
                if x.prefix_len <= 0 || x.prefix_len as u32 > w {
                    return invalid(format!("{what}: prefix length {} (1..={w}; omit the field for /0)", x.prefix_len));
                }
                if v & !prefix_mask(w, x.prefix_len as u32) != 0 {
                    return invalid(format!("{what}: bits set after the /{} prefix", x.prefix_len));
                }
                FieldMatch::Lpm { value: v, prefix_len: x.prefix_len as u32 }
            }
            (MatchKind::Ternary, Some(FieldMatchType::Ternary(x))) => {
                let v = decode(&x.value, w, &what)?;
                let mk = decode(&x.mask, w, &what)?;
                if mk == 0 {
                    return invalid(format!("{what}: an all-zero mask is a don't-care; omit the field"));
                }
                if v & !mk != 0 {
                    return invalid(format!("{what}: value bits outside the mask"));
                }
                FieldMatch::Ternary { value: v, mask: mk }
            }
            (MatchKind::Range, Some(FieldMatchType::Range(x))) => {
                let lo = decode(&x.low, w, &what)?;
                let hi = decode(&x.high, w, &what)?;
                if lo > hi {
                    return invalid(format!("{what}: low > high"));
                }
                if lo == 0 && hi == mask(w) {
                    return invalid(format!("{what}: the full range is a don't-care; omit the field"));
                }
                FieldMatch::Range { low: lo, high: hi }
            }
            (MatchKind::Optional, Some(FieldMatchType::Optional(x))) => FieldMatch::Optional(Some(decode(&x.value, w, &what)?)),
            (k, _) => return invalid(format!("{what}: the field is {k:?}; the match given is of another kind")),
        };
        out[i] = Some(fm);
    }
    let mut key = Vec::with_capacity(out.len());
    for (i, m) in out.into_iter().enumerate() {
        let f = &t.fields[i];
        key.push(match (m, f.kind) {
            (Some(m), _) => m,
            (None, MatchKind::Exact) => return invalid(format!("{}: exact field {} is missing", t.name, f.id)),
            (None, MatchKind::Lpm) => FieldMatch::Lpm { value: 0, prefix_len: 0 },
            (None, MatchKind::Ternary) => FieldMatch::Ternary { value: 0, mask: 0 },
            (None, MatchKind::Range) => FieldMatch::Range { low: 0, high: mask(f.width) },
            (None, MatchKind::Optional) => FieldMatch::Optional(None),
        });
    }
    match (t.needs_priority(), e.priority) {
        (true, p) if p <= 0 => return invalid(format!("{}: a key with ternary, range or optional fields needs priority > 0", t.name)),
        (false, p) if p != 0 => return invalid(format!("{}: priority must be 0 for exact/lpm keys", t.name)),
        _ => {}
    }
    Ok((key, e.priority))
}

/// The action of `e` as (program action name, parameter values), checked
/// against the table's action list; `default` selects the scope rule.
pub fn action(p: &Pipeline, t: &TableMap, e: &p4::TableEntry, default: bool) -> Result<(usize, Vec<u64>), Fail> {
    let a = match e.action.as_ref().and_then(|a| a.r#type.as_ref()) {
        Some(table_action::Type::Action(a)) => a,
        Some(_) => return fail(Code::Unimplemented, format!("{}: action profiles are not supported", t.name)),
        None => return invalid(format!("{}: the entry has no action", t.name)),
    };
    let Some((index, default_only, table_only)) = t.actions.get(&a.action_id).copied() else {
        return invalid(format!("{}: action id {} is not one of the table's actions", t.name, a.action_id));
    };
    if default && table_only {
        return invalid(format!("{}: action {} is @tableonly", t.name, a.action_id));
    }
    if !default && default_only {
        return invalid(format!("{}: action {} is @defaultonly", t.name, a.action_id));
    }
    let am = &p.actions[&a.action_id];
    let mut vals: Vec<Option<u64>> = vec![None; am.params.len()];
    for prm in &a.params {
        let Some(i) = am.params.iter().position(|(id, _)| *id == prm.param_id) else {
            return invalid(format!("{}: action {} has no parameter {}", t.name, a.action_id, prm.param_id));
        };
        if vals[i].is_some() {
            return invalid(format!("{}: parameter {} given twice", t.name, prm.param_id));
        }
        vals[i] = Some(decode(&prm.value, am.params[i].1, &format!("{} parameter {}", t.name, prm.param_id))?);
    }
    let vals: Option<Vec<u64>> = vals.into_iter().collect();
    match vals {
        Some(v) => Ok((index, v)),
        None => invalid(format!("{}: action {} is missing parameters", t.name, a.action_id)),
    }
}

/// A full entry for INSERT/MODIFY (TTL raised to the 500 ms minimum).
pub fn entry(p: &Pipeline, t: &TableMap, e: &p4::TableEntry) -> Result<TableEntry, Fail> {
    let (matches, priority) = key(t, e)?;
    let (a, params) = action(p, t, e, false)?;
    if e.idle_timeout_ns < 0 {
        return invalid(format!("{}: negative idle_timeout_ns", t.name));
    }
    if e.idle_timeout_ns > 0 && !t.support_timeout {
        return invalid(format!("{}: the table does not support idle timeouts", t.name));
    }
    let ttl = if e.idle_timeout_ns > 0 { (e.idle_timeout_ns as u64).max(crate::MIN_IDLE_TIMEOUT_NS) } else { 0 };
    Ok(TableEntry { matches, action: p.program.actions[a].name.clone(), params, priority, idle_timeout_ns: ttl })
}

/// Read form of a match field list (don't-care fields omitted).
pub fn matches_out(t: &TableMap, key: &[FieldMatch]) -> Vec<p4::FieldMatch> {
    let mut out = Vec::new();
    for (f, m) in t.fields.iter().zip(key) {
        use p4::field_match as fm;
        let ty = match m {
            FieldMatch::Exact(v) => Some(FieldMatchType::Exact(fm::Exact { value: encode(*v) })),
            FieldMatch::Lpm { prefix_len: 0, .. } => None,
            FieldMatch::Lpm { value, prefix_len } => Some(FieldMatchType::Lpm(fm::Lpm { value: encode(*value), prefix_len: *prefix_len as i32 })),
            FieldMatch::Ternary { mask: 0, .. } => None,
            FieldMatch::Ternary { value, mask } => Some(FieldMatchType::Ternary(fm::Ternary { value: encode(*value), mask: encode(*mask) })),
            FieldMatch::Range { low: 0, high } if *high == mask(f.width) => None,
            FieldMatch::Range { low, high } => Some(FieldMatchType::Range(fm::Range { low: encode(*low), high: encode(*high) })),
            FieldMatch::Optional(None) => None,
            FieldMatch::Optional(Some(v)) => Some(FieldMatchType::Optional(fm::Optional { value: encode(*v) })),
        };
        if let Some(ty) = ty {
            out.push(p4::FieldMatch { field_id: f.id, field_match_type: Some(ty) });
        }
    }
    out
}

pub fn action_out(p: &Pipeline, action: usize, args: &[u64]) -> Option<p4::TableAction> {
    let id = *p.action_ids.get(&action)?;
    let am = &p.actions[&id];
    Some(p4::TableAction {
        r#type: Some(table_action::Type::Action(p4::Action {
            action_id: id,
            params: am.params.iter().zip(args).map(|((pid, _), v)| p4::action::Param { param_id: *pid, value: encode(*v) }).collect(),
        })),
    })
}

/// A P4Runtime MeterConfig (switch-sim's meters are two-rate three-colour:
/// eburst, of the single-rate forms, must be 0).
pub fn meter_config(c: &p4::MeterConfig) -> Result<switchyard_switch_sim::MeterConfig, Fail> {
    if c.cir < 0 || c.cburst < 0 || c.pir < 0 || c.pburst < 0 {
        return invalid("negative meter rates or bursts");
    }
    if c.eburst != 0 {
        return invalid("eburst is for single-rate meters; v1model meters are two-rate three-colour");
    }
    Ok(switchyard_switch_sim::MeterConfig { cir: c.cir as u64, cburst: c.cburst as u64, pir: c.pir as u64, pburst: c.pburst as u64 })
}

pub fn meter_config_out(c: switchyard_switch_sim::MeterConfig) -> p4::MeterConfig {
    p4::MeterConfig { cir: c.cir as i64, cburst: c.cburst as i64, pir: c.pir as i64, pburst: c.pburst as i64, eburst: 0 }
}

/// An installed entry as a Read returns it.
pub fn entry_out(p: &Pipeline, t: &TableMap, e: &Entry, now_ns: u64, with_hit_time: bool) -> p4::TableEntry {
    p4::TableEntry {
        table_id: t.id,
        r#match: matches_out(t, &e.spec.matches),
        action: action_out(p, e.spec.action, &e.spec.args),
        priority: if t.needs_priority() { e.spec.priority } else { 0 },
        idle_timeout_ns: e.spec.idle_timeout_ns as i64,
        time_since_last_hit: with_hit_time.then(|| p4::table_entry::IdleTimeout { elapsed_ns: now_ns.saturating_sub(e.last_hit_ns) as i64 }),
        is_const: t.const_entries,
        meter_config: e.meter_config().map(meter_config_out),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_strings() {
        assert_eq!(decode(&[0, 0, 5], 24, "x"), Ok(5));
        assert_eq!(decode(&[1, 0], 9, "x"), Ok(256));
        assert_eq!(decode(&[2, 0], 9, "x").unwrap_err().code, Code::InvalidArgument);
        assert_eq!(decode(&[0, 0, 1], 9, "x").unwrap_err().code, Code::InvalidArgument, "longer than the width's bytes");
        assert_eq!(decode(&[], 8, "x").unwrap_err().code, Code::InvalidArgument);
        assert_eq!(encode(0), vec![0]);
        assert_eq!(encode(0x0102), vec![1, 2]);
    }
}
