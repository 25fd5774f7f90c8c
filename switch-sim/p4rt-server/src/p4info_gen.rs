//! P4Info from a compiled switch-sim program, with the ids and names p4c
//! writes, so a controller written against p4c's P4Info (or bmv2) sees the
//! same numbers here.
//!
//! Ids: `(prefix << 24) | (jenkins_one_at_a_time(name) & 0xFFFFFF)`, names
//! taken in sorted order per kind, a collision takes the next free value
//! (hash + 1, + 2 …). Match fields, parameters and digest members are
//! numbered 1, 2, 3… in declaration order. Only actions some table
//! references are listed (as p4c does). `@id` annotations are not carried
//! by switch-sim's IR; the Switchyard program uses none (see P4RUNTIME.md).

use std::collections::{BTreeMap, HashSet};

use p4runtime_proto::p4::config::v1::{
    self as cfg, action_ref::Scope, counter_spec, match_field, meter_spec, p4_bitstring_like_type_spec,
    p4_data_type_spec, p4_struct_type_spec, table::IdleTimeoutBehavior,
};
use switchyard_switch_sim::ir::{CounterKind, MatchKind, MeterKind, Program, St};

pub const PREFIX_ACTION: u32 = 0x01;
pub const PREFIX_TABLE: u32 = 0x02;
pub const PREFIX_COUNTER: u32 = 0x12;
pub const PREFIX_DIRECT_COUNTER: u32 = 0x13;
pub const PREFIX_METER: u32 = 0x14;
pub const PREFIX_DIRECT_METER: u32 = 0x15;
pub const PREFIX_REGISTER: u32 = 0x16;
pub const PREFIX_DIGEST: u32 = 0x17;

/// Bob Jenkins' one-at-a-time hash, as p4c's P4Runtime serializer uses it.
pub fn jenkins_one_at_a_time(s: &str) -> u32 {
    let mut h: u32 = 0;
    for b in s.bytes() {
        h = h.wrapping_add(u32::from(b));
        h = h.wrapping_add(h << 10);
        h ^= h >> 6;
    }
    h = h.wrapping_add(h << 3);
    h ^= h >> 11;
    h.wrapping_add(h << 15)
}

/// Ids for `names` of one kind: sorted order, collisions take the next free id.
pub fn assign_ids(prefix: u32, names: &[String], taken: &mut HashSet<u32>) -> BTreeMap<String, u32> {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut out = BTreeMap::new();
    for n in sorted {
        let mut low = jenkins_one_at_a_time(n) & 0x00FF_FFFF;
        let id = loop {
            let id = (prefix << 24) | low;
            // Id 0 within a prefix is "unset" in P4Runtime; skip it too.
            if low != 0 && taken.insert(id) {
                break id;
            }
            low = (low + 1) & 0x00FF_FFFF;
        };
        out.insert(n.clone(), id);
    }
    out
}

/// A digest the program emits: its type name and (member name, width) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestShape {
    pub name: String,
    pub members: Vec<(String, u32)>,
}

/// Every `digest<T>(…)` call in the program, by type name (first shape wins).
pub fn digests(prog: &Program) -> Vec<DigestShape> {
    fn walk(sts: &[St], out: &mut Vec<DigestShape>) {
        for s in sts {
            match s {
                St::Digest(d) => {
                    if !out.iter().any(|x| x.name == d.type_name) {
                        let members = d.names.iter().cloned().zip(d.data.iter().map(|(_, w)| *w)).collect();
                        out.push(DigestShape { name: d.type_name.clone(), members });
                    }
                }
                St::If(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                St::Block(b) => walk(b, out),
                St::Switch(_, arms, dflt) => {
                    for (_, b) in arms {
                        walk(b, out);
                    }
                    walk(dflt, out);
                }
                St::Apply(a) => {
                    for b in [&a.on_hit, &a.on_miss, &a.default_arm].into_iter().flatten() {
                        walk(b, out);
                    }
                    for (_, b) in &a.by_action {
                        walk(b, out);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for a in &prog.actions {
        walk(&a.body, &mut out);
    }
    for s in &prog.states {
        walk(&s.body, &mut out);
    }
    for b in [&prog.verify, &prog.ingress, &prog.egress, &prog.compute, &prog.deparser] {
        walk(b, &mut out);
    }
    out
}

/// The shortest dot-separated suffix of `name` that no other name ends with.
fn alias(name: &str, all: &[String]) -> String {
    let parts: Vec<&str> = name.split('.').collect();
    for k in 1..=parts.len() {
        let suffix = parts[parts.len() - k..].join(".");
        let clash = all.iter().filter(|o| o.as_str() != name).any(|o| o == &suffix || o.ends_with(&format!(".{suffix}")));
        if !clash {
            return suffix;
        }
    }
    name.to_string()
}

fn preamble(id: u32, name: &str, all: &[String]) -> Option<cfg::Preamble> {
    Some(cfg::Preamble { id, name: name.to_string(), alias: alias(name, all), ..Default::default() })
}

fn bit_type(width: u32) -> cfg::P4DataTypeSpec {
    cfg::P4DataTypeSpec {
        type_spec: Some(p4_data_type_spec::TypeSpec::Bitstring(cfg::P4BitstringLikeTypeSpec {
            type_spec: Some(p4_bitstring_like_type_spec::TypeSpec::Bit(cfg::P4BitTypeSpec { bitwidth: width as i32 })),
            ..Default::default()
        })),
    }
}

/// The P4Info of a compiled program.
pub fn generate(prog: &Program) -> cfg::P4Info {
    let mut used_actions: Vec<usize> = prog.tables.iter().flat_map(|t| t.actions.iter().copied()).collect();
    used_actions.sort();
    used_actions.dedup();
    let action_names: Vec<String> = used_actions.iter().map(|a| prog.actions[*a].name.clone()).collect();
    let table_names: Vec<String> = prog.tables.iter().map(|t| t.name.clone()).collect();
    let counter_names: Vec<String> = prog.counters.iter().filter(|c| !c.direct).map(|c| c.name.clone()).collect();
    let direct_names: Vec<String> = prog.counters.iter().filter(|c| c.direct).map(|c| c.name.clone()).collect();
    let register_names: Vec<String> = prog.registers.iter().map(|r| r.name.clone()).collect();
    let meter_names: Vec<String> = prog.meters.iter().filter(|m| !m.direct).map(|m| m.name.clone()).collect();
    let direct_meter_names: Vec<String> = prog.meters.iter().filter(|m| m.direct).map(|m| m.name.clone()).collect();
    let digest_shapes = digests(prog);
    let digest_names: Vec<String> = digest_shapes.iter().map(|d| d.name.clone()).collect();

    let all: Vec<String> =
        [&action_names, &table_names, &counter_names, &direct_names, &meter_names, &direct_meter_names, &register_names, &digest_names]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let mut taken = HashSet::new();
    let action_ids = assign_ids(PREFIX_ACTION, &action_names, &mut taken);
    let table_ids = assign_ids(PREFIX_TABLE, &table_names, &mut taken);
    let counter_ids = assign_ids(PREFIX_COUNTER, &counter_names, &mut taken);
    let direct_ids = assign_ids(PREFIX_DIRECT_COUNTER, &direct_names, &mut taken);
    let register_ids = assign_ids(PREFIX_REGISTER, &register_names, &mut taken);
    let meter_ids = assign_ids(PREFIX_METER, &meter_names, &mut taken);
    let direct_meter_ids = assign_ids(PREFIX_DIRECT_METER, &direct_meter_names, &mut taken);
    let digest_ids = assign_ids(PREFIX_DIGEST, &digest_names, &mut taken);

    let mut info = cfg::P4Info {
        pkg_info: Some(cfg::PkgInfo { arch: "v1model".into(), ..Default::default() }),
        ..Default::default()
    };

    let mut actions: Vec<cfg::Action> = used_actions
        .iter()
        .map(|a| {
            let ad = &prog.actions[*a];
            cfg::Action {
                preamble: preamble(action_ids[&ad.name], &ad.name, &all),
                params: ad
                    .params
                    .iter()
                    .enumerate()
                    .map(|(i, p)| cfg::action::Param {
                        id: i as u32 + 1,
                        name: p.name.clone(),
                        bitwidth: p.width as i32,
                        ..Default::default()
                    })
                    .collect(),
            }
        })
        .collect();
    actions.sort_by(|a, b| a.preamble.as_ref().map(|p| &p.name).cmp(&b.preamble.as_ref().map(|p| &p.name)));
    actions.dedup_by(|a, b| a.preamble == b.preamble);
    info.actions = actions;

    for t in &prog.tables {
        let tid = table_ids[&t.name];
        let match_fields = t
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| cfg::MatchField {
                id: i as u32 + 1,
                name: k.name.clone(),
                bitwidth: k.width as i32,
                r#match: Some(match_field::Match::MatchType(
                    match k.kind {
                        MatchKind::Exact => match_field::MatchType::Exact,
                        MatchKind::Lpm => match_field::MatchType::Lpm,
                        MatchKind::Ternary => match_field::MatchType::Ternary,
                        MatchKind::Range => match_field::MatchType::Range,
                        MatchKind::Optional => match_field::MatchType::Optional,
                    } as i32,
                )),
                ..Default::default()
            })
            .collect();
        let action_refs = t
            .actions
            .iter()
            .map(|a| {
                let (scope, ann) = if t.default_only.contains(a) {
                    (Scope::DefaultOnly, vec!["@defaultonly".to_string()])
                } else if t.table_only.contains(a) {
                    (Scope::TableOnly, vec!["@tableonly".to_string()])
                } else {
                    (Scope::TableAndDefault, vec![])
                };
                cfg::ActionRef { id: action_ids[&prog.actions[*a].name], scope: scope as i32, annotations: ann, ..Default::default() }
            })
            .collect();
        let direct_resource_ids = t
            .direct_counter
            .and_then(|c| direct_ids.get(&prog.counters[c].name).copied())
            .into_iter()
            .chain(t.direct_meter.and_then(|m| direct_meter_ids.get(&prog.meters[m].name).copied()))
            .collect();
        info.tables.push(cfg::Table {
            preamble: preamble(tid, &t.name, &all),
            match_fields,
            action_refs,
            const_default_action_id: if t.const_default { action_ids[&prog.actions[t.default_action.0].name] } else { 0 },
            direct_resource_ids,
            size: t.size as i64,
            idle_timeout_behavior: if t.support_timeout {
                IdleTimeoutBehavior::NotifyControl as i32
            } else {
                IdleTimeoutBehavior::NoTimeout as i32
            },
            is_const_table: t.const_entries,
            has_initial_entries: !t.entries.is_empty(),
            ..Default::default()
        });
    }
    info.tables.sort_by(|a, b| a.preamble.as_ref().map(|p| &p.name).cmp(&b.preamble.as_ref().map(|p| &p.name)));

    let unit = |k: CounterKind| {
        (match k {
            CounterKind::Packets => counter_spec::Unit::Packets,
            CounterKind::Bytes => counter_spec::Unit::Bytes,
            CounterKind::PacketsAndBytes => counter_spec::Unit::Both,
        }) as i32
    };
    for c in &prog.counters {
        if c.direct {
            let table = prog.tables.iter().position(|t| t.direct_counter.map(|d| prog.counters[d].name == c.name).unwrap_or(false));
            info.direct_counters.push(cfg::DirectCounter {
                preamble: preamble(direct_ids[&c.name], &c.name, &all),
                spec: Some(cfg::CounterSpec { unit: unit(c.kind) }),
                direct_table_id: table.map(|t| table_ids[&prog.tables[t].name]).unwrap_or(0),
            });
        } else {
            info.counters.push(cfg::Counter {
                preamble: preamble(counter_ids[&c.name], &c.name, &all),
                spec: Some(cfg::CounterSpec { unit: unit(c.kind) }),
                size: c.size as i64,
                ..Default::default()
            });
        }
    }
    for m in &prog.meters {
        let spec = Some(cfg::MeterSpec {
            unit: (match m.kind {
                MeterKind::Packets => meter_spec::Unit::Packets,
                MeterKind::Bytes => meter_spec::Unit::Bytes,
            }) as i32,
            r#type: meter_spec::Type::TwoRateThreeColor as i32,
        });
        if m.direct {
            let table = prog.tables.iter().position(|t| t.direct_meter.map(|d| prog.meters[d].name == m.name).unwrap_or(false));
            info.direct_meters.push(cfg::DirectMeter {
                preamble: preamble(direct_meter_ids[&m.name], &m.name, &all),
                spec,
                direct_table_id: table.map(|t| table_ids[&prog.tables[t].name]).unwrap_or(0),
            });
        } else {
            info.meters.push(cfg::Meter { preamble: preamble(meter_ids[&m.name], &m.name, &all), spec, size: m.size as i64, ..Default::default() });
        }
    }
    for r in &prog.registers {
        info.registers.push(cfg::Register {
            preamble: preamble(register_ids[&r.name], &r.name, &all),
            type_spec: Some(bit_type(r.width)),
            size: r.size as i32,
            ..Default::default()
        });
    }
    let mut structs = std::collections::HashMap::new();
    for d in &digest_shapes {
        info.digests.push(cfg::Digest {
            preamble: preamble(digest_ids[&d.name], &d.name, &all),
            type_spec: Some(cfg::P4DataTypeSpec { type_spec: Some(p4_data_type_spec::TypeSpec::Struct(cfg::P4NamedType { name: d.name.clone() })) }),
        });
        structs.insert(
            d.name.clone(),
            cfg::P4StructTypeSpec {
                members: d
                    .members
                    .iter()
                    .map(|(n, w)| p4_struct_type_spec::Member { name: n.clone(), type_spec: Some(bit_type(*w)) })
                    .collect(),
                ..Default::default()
            },
        );
    }
    if !structs.is_empty() {
        info.type_info = Some(cfg::P4TypeInfo { structs, ..Default::default() });
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_p4c_ids() {
        // Values from p4c's output for the P4 tutorials' basic.p4.
        let mut taken = HashSet::new();
        let a = assign_ids(PREFIX_ACTION, &["NoAction".to_string()], &mut taken);
        assert_eq!(a["NoAction"], 21257015);
        let t = assign_ids(PREFIX_TABLE, &["MyIngress.ipv4_lpm".to_string()], &mut taken);
        assert_eq!(t["MyIngress.ipv4_lpm"], 37375156);
    }

    #[test]
    fn collision_takes_next_id_in_sorted_order() {
        let mut taken = HashSet::new();
        let h = jenkins_one_at_a_time("b") & 0xFFFFFF;
        taken.insert((PREFIX_ACTION << 24) | h);
        let ids = assign_ids(PREFIX_ACTION, &["b".to_string()], &mut taken);
        assert_eq!(ids["b"], (PREFIX_ACTION << 24) | (h + 1));
    }

    #[test]
    fn alias_is_shortest_unique_suffix() {
        let all = vec!["A.t".to_string(), "B.t".to_string(), "A.u".to_string()];
        assert_eq!(alias("A.t", &all), "A.t");
        assert_eq!(alias("A.u", &all), "u");
    }
}
