//! A committed pipeline: the program, the P4Info the controller pushed, and
//! the maps from that P4Info's ids to the program's tables, actions and
//! parameters. Objects are matched by fully qualified name, so any id scheme
//! the controller's P4Info uses works; every width and match kind must agree
//! with the program or the config is refused.

use std::collections::HashMap;
use std::sync::Arc;

use p4runtime_proto::p4::config::v1::{self as cfg, match_field};
use switchyard_switch_sim::ir::{MatchKind, Program};

use crate::p4info_gen;

#[derive(Debug, Clone)]
pub struct FieldMap {
    pub id: u32,
    pub kind: MatchKind,
    pub width: u32,
}

#[derive(Debug, Clone)]
pub struct TableMap {
    /// Index in `Program::tables`.
    pub index: usize,
    pub id: u32,
    pub name: String,
    /// In the program's key order.
    pub fields: Vec<FieldMap>,
    /// P4Info action id -> (program action index, default only, table only).
    pub actions: HashMap<u32, (usize, bool, bool)>,
    pub support_timeout: bool,
    pub const_entries: bool,
    pub const_default: bool,
    pub size: usize,
}

impl TableMap {
    /// Ternary, range or optional fields make priorities meaningful.
    pub fn needs_priority(&self) -> bool {
        self.fields.iter().any(|f| matches!(f.kind, MatchKind::Ternary | MatchKind::Range | MatchKind::Optional))
    }
}

#[derive(Debug, Clone)]
pub struct ActionMap {
    pub index: usize,
    pub id: u32,
    /// (param id, width) in the program's parameter order.
    pub params: Vec<(u32, u32)>,
}

#[derive(Debug, Clone)]
pub struct DigestMap {
    pub id: u32,
    pub name: String,
    pub widths: Vec<u32>,
}

#[derive(Debug)]
pub struct Pipeline {
    pub program: Arc<Program>,
    pub p4info: cfg::P4Info,
    pub device_config: Vec<u8>,
    pub cookie: u64,
    pub tables: HashMap<u32, TableMap>,
    pub actions: HashMap<u32, ActionMap>,
    /// Program action index -> P4Info action id.
    pub action_ids: HashMap<usize, u32>,
    /// Program table index -> P4Info table id.
    pub table_ids: Vec<u32>,
    pub digests: HashMap<u32, DigestMap>,
    pub digest_by_name: HashMap<String, u32>,
    /// Indexed counters: P4Info id -> (name, size).
    pub counters: HashMap<u32, (String, usize)>,
    /// Indexed meters: P4Info id -> (name, size).
    pub meters: HashMap<u32, (String, usize)>,
}

fn kind_of(f: &cfg::MatchField) -> Option<MatchKind> {
    match &f.r#match {
        Some(match_field::Match::MatchType(t)) => match match_field::MatchType::try_from(*t).ok()? {
            match_field::MatchType::Exact => Some(MatchKind::Exact),
            match_field::MatchType::Lpm => Some(MatchKind::Lpm),
            match_field::MatchType::Ternary => Some(MatchKind::Ternary),
            match_field::MatchType::Range => Some(MatchKind::Range),
            match_field::MatchType::Optional => Some(MatchKind::Optional),
            match_field::MatchType::Unspecified => None,
        },
        _ => None,
    }
}

fn name_of(p: &Option<cfg::Preamble>) -> Result<(u32, &str), String> {
    match p {
        Some(p) if p.id != 0 && !p.name.is_empty() => Ok((p.id, p.name.as_str())),
        _ => Err("an object without a preamble, id or name".into()),
    }
}

impl Pipeline {
    /// Checks `p4info` against the program and builds the id maps.
    pub fn new(program: Arc<Program>, p4info: cfg::P4Info, device_config: Vec<u8>, cookie: u64) -> Result<Pipeline, String> {
        let prog = &*program;
        let mut actions = HashMap::new();
        let mut action_ids = HashMap::new();
        for a in &p4info.actions {
            let (id, name) = name_of(&a.preamble)?;
            let index = prog.actions.iter().position(|x| x.name == name).ok_or_else(|| format!("P4Info action {name} is not in the program"))?;
            let def = &prog.actions[index];
            if def.params.len() != a.params.len() {
                return Err(format!("P4Info action {name} has {} parameters, the program {}", a.params.len(), def.params.len()));
            }
            let mut params = Vec::new();
            for p in &def.params {
                let q = a.params.iter().find(|q| q.name == p.name).ok_or_else(|| format!("P4Info action {name} lacks parameter {}", p.name))?;
                if q.bitwidth != p.width as i32 || q.id == 0 {
                    return Err(format!("P4Info {name}.{}: bitwidth {} (program: {}) or id 0", p.name, q.bitwidth, p.width));
                }
                params.push((q.id, p.width));
            }
            if actions.insert(id, ActionMap { index, id, params }).is_some() {
                return Err(format!("P4Info action id {id:#x} is used twice"));
            }
            action_ids.insert(index, id);
        }
        let mut tables = HashMap::new();
        let mut table_ids = vec![0; prog.tables.len()];
        for t in &p4info.tables {
            let (id, name) = name_of(&t.preamble)?;
            let index = prog.tables.iter().position(|x| x.name == name).ok_or_else(|| format!("P4Info table {name} is not in the program"))?;
            let def = &prog.tables[index];
            if def.keys.len() != t.match_fields.len() {
                return Err(format!("P4Info table {name} has {} match fields, the program {}", t.match_fields.len(), def.keys.len()));
            }
            let mut fields = Vec::new();
            for k in &def.keys {
                let f = t.match_fields.iter().find(|f| f.name == k.name).ok_or_else(|| format!("P4Info table {name} lacks match field {}", k.name))?;
                if f.bitwidth != k.width as i32 || kind_of(f) != Some(k.kind) || f.id == 0 {
                    return Err(format!("P4Info {name}.{}: width or match kind differs from the program", k.name));
                }
                fields.push(FieldMap { id: f.id, kind: k.kind, width: k.width });
            }
            let mut acts = HashMap::new();
            for r in &t.action_refs {
                let a = actions.get(&r.id).ok_or_else(|| format!("P4Info table {name} refers to unknown action {:#x}", r.id))?;
                if !def.actions.contains(&a.index) {
                    return Err(format!("P4Info table {name}: the program's table has no action {}", prog.actions[a.index].name));
                }
                acts.insert(r.id, (a.index, def.default_only.contains(&a.index), def.table_only.contains(&a.index)));
            }
            table_ids[index] = id;
            tables.insert(
                id,
                TableMap {
                    index,
                    id,
                    name: name.to_string(),
                    fields,
                    actions: acts,
                    support_timeout: def.support_timeout,
                    const_entries: def.const_entries,
                    const_default: def.const_default,
                    size: def.size,
                },
            );
        }
        let shapes = p4info_gen::digests(prog);
        let mut digests = HashMap::new();
        let mut digest_by_name = HashMap::new();
        for d in &p4info.digests {
            let (id, name) = name_of(&d.preamble)?;
            let shape = shapes.iter().find(|s| s.name == name).ok_or_else(|| format!("P4Info digest {name} is not emitted by the program"))?;
            digests.insert(id, DigestMap { id, name: name.to_string(), widths: shape.members.iter().map(|m| m.1).collect() });
            digest_by_name.insert(name.to_string(), id);
        }
        let mut counters = HashMap::new();
        for c in &p4info.counters {
            let (id, name) = name_of(&c.preamble)?;
            let def = prog.counters.iter().find(|x| x.name == name && !x.direct).ok_or_else(|| format!("P4Info counter {name} is not in the program"))?;
            counters.insert(id, (name.to_string(), def.size));
        }
        let mut meters = HashMap::new();
        for m in &p4info.meters {
            let (id, name) = name_of(&m.preamble)?;
            let def = prog.meters.iter().find(|x| x.name == name && !x.direct).ok_or_else(|| format!("P4Info meter {name} is not in the program"))?;
            meters.insert(id, (name.to_string(), def.size));
        }
        Ok(Pipeline { program, p4info, device_config, cookie, tables, actions, action_ids, table_ids, digests, digest_by_name, counters, meters })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROG: &str = r#"
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<16> b; }
struct hs { h_t h; }
struct m_t { }
parser P(packet_in pkt, out hs hdr, inout m_t m, inout standard_metadata_t s) { state start { pkt.extract(hdr.h); transition accept; } }
control V(inout hs hdr, inout m_t m) { apply { } }
control I(inout hs hdr, inout m_t m, inout standard_metadata_t s) {
    action fwd(bit<9> port) { s.egress_spec = port; }
    action drop() { mark_to_drop(s); }
    table t { key = { hdr.h.a : exact; hdr.h.b : ternary @name("bee"); } actions = { fwd; drop; } default_action = drop(); size = 4; }
    apply { t.apply(); }
}
control E(inout hs hdr, inout m_t m, inout standard_metadata_t s) { apply { } }
control C(inout hs hdr, inout m_t m) { apply { } }
control D(packet_out pkt, in hs hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"#;

    pub fn small_program() -> Arc<Program> {
        let sw = switchyard_switch_sim::Switch::load_str("t.p4", PROG).expect("test program compiles");
        Arc::new(sw.program().clone())
    }

    #[test]
    fn generated_p4info_maps_back_and_mismatches_are_refused() {
        let prog = small_program();
        let info = p4info_gen::generate(&prog);
        let t = &info.tables[0];
        assert_eq!(t.preamble.as_ref().unwrap().name, "I.t");
        assert_eq!(t.preamble.as_ref().unwrap().alias, "t");
        assert_eq!(t.match_fields[1].name, "bee");
        assert_eq!(t.match_fields[1].id, 2);
        let p = Pipeline::new(prog.clone(), info.clone(), vec![], 0).expect("own P4Info maps");
        assert!(p.tables[&t.preamble.as_ref().unwrap().id].needs_priority());

        let mut bad = info.clone();
        bad.tables[0].match_fields[0].bitwidth = 9;
        assert!(Pipeline::new(prog.clone(), bad, vec![], 0).unwrap_err().contains("width"));
        let mut bad = info;
        bad.actions[0].preamble.as_mut().unwrap().name = "I.nope".into();
        assert!(Pipeline::new(prog, bad, vec![], 0).unwrap_err().contains("not in the program"));
    }
}
