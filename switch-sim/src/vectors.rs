//! Packet vectors: JSON files under tests/vectors/ that state, for a P4
//! program, table writes, input frames (port, bytes) and the expected
//! outputs, digests and counter deltas. The format is plain so a script can
//! replay the same files against bmv2 (simple_switch_grpc + P4Runtime, or
//! simple_switch_CLI and a pcap), see docs/SWITCH-SIM.md.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::entries::{parse_value, EntryText, Value};
use crate::fast::Engine;
use crate::switch::{ApiError, Switch};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorFile {
    pub description: String,
    /// Program path relative to the repository root.
    pub program: String,
    /// `-D` defines for the compiler (p4c-bm2-ss -DNAME=VALUE).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defines: BTreeMap<String, String>,
    /// Table writes done before the first case.
    pub entries: Vec<EntryText>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub description: String,
    /// Table writes done before this case's packet; `expect_error` names
    /// the failure a write must produce (e.g. "table_full").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<WriteText>,
    /// Absent: the case only performs its writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Frame>,
    #[serde(default)]
    pub outputs: Vec<Frame>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<DigestText>,
    /// Counter cells that must grow by exactly the given packets:
    /// "counter_name[index]" -> packets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteText {
    #[serde(flatten)]
    pub entry: EntryText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub port: u16,
    /// Lower-case hex, no separators.
    pub hex: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestText {
    pub receiver: u32,
    #[serde(rename = "type")]
    pub type_name: String,
    pub fields: BTreeMap<String, Value>,
}

pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn from_hex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err("odd hex length".into());
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string())).collect()
}

fn error_kind(e: &ApiError) -> String {
    match e {
        ApiError::Table(crate::table::TableError::Full(..)) => "table_full".into(),
        ApiError::Table(crate::table::TableError::Exists(..)) => "exists".into(),
        ApiError::Table(crate::table::TableError::NotFound(..)) => "not_found".into(),
        _ => "invalid".into(),
    }
}

fn counter_cell(key: &str) -> Result<(&str, usize), String> {
    let (name, rest) = key.split_once('[').ok_or_else(|| format!("counter `{key}`: want name[index]"))?;
    let idx = rest.trim_end_matches(']').parse().map_err(|e| format!("counter `{key}`: {e}"))?;
    Ok((name, idx))
}

/// Loads the vector file's program (relative to `root`) and runs every
/// case; returns one message per mismatch (empty: all passed).
pub fn run(root: &Path, v: &VectorFile) -> Result<Vec<String>, String> {
    run_on(root, v, Engine::Fast)
}

/// `run` on the given engine.
pub fn run_on(root: &Path, v: &VectorFile, engine: Engine) -> Result<Vec<String>, String> {
    let defines: Vec<(String, String)> = v.defines.iter().map(|(k, x)| (k.clone(), x.clone())).collect();
    // Strict: a program p4c would not compile in reasonable time fails
    // its vectors (the vectors stand for what runs on bmv2).
    let mut sw = Switch::load_strict(&root.join(&v.program), &defines).map_err(|e| e.to_string())?;
    sw.set_engine(engine)?;
    for e in &v.entries {
        sw.apply_text(e).map_err(|err| format!("entry {e:?}: {err}"))?;
    }
    let mut fails = Vec::new();
    for c in &v.cases {
        let d = &c.description;
        for w in &c.entries {
            match (sw.apply_text(&w.entry), &w.expect_error) {
                (Ok(()), None) => {}
                (Err(e), Some(want)) if &error_kind(&e) == want => {}
                (r, want) => fails.push(format!("{d}: write {:?}: got {r:?}, want error {want:?}", w.entry.table)),
            }
        }
        let Some(input) = &c.input else { continue };
        let before: Vec<(u64, u64)> = c
            .counters
            .keys()
            .map(|k| counter_cell(k).and_then(|(n, i)| sw.counter(n, i).map_err(|e| e.to_string())))
            .collect::<Result<_, _>>()?;
        let frame = from_hex(&input.hex)?;
        let got = sw.process(input.port, &frame);
        let got: Vec<Frame> = got.into_iter().map(|(port, b)| Frame { port, hex: to_hex(&b) }).collect();
        if got != c.outputs {
            fails.push(format!("{d}: outputs\n   got {got:?}\n  want {:?}", c.outputs));
        }
        let digests = sw.take_digests();
        let got_d: Vec<DigestText> = digests
            .iter()
            .map(|g| DigestText {
                receiver: g.receiver,
                type_name: g.type_name.clone(),
                fields: g.fields.iter().map(|(n, _, v)| (n.clone(), Value::Num(*v))).collect(),
            })
            .collect();
        let norm = |ds: &[DigestText]| -> Result<Vec<(u32, String, BTreeMap<String, u64>)>, String> {
            ds.iter()
                .map(|x| {
                    let f = x.fields.iter().map(|(k, v)| parse_value(v).map(|n| (k.clone(), n))).collect::<Result<_, _>>()?;
                    Ok((x.receiver, x.type_name.clone(), f))
                })
                .collect()
        };
        if norm(&got_d)? != norm(&c.digests)? {
            fails.push(format!("{d}: digests\n   got {got_d:?}\n  want {:?}", c.digests));
        }
        for ((k, want), (p0, _)) in c.counters.iter().zip(before) {
            let (n, i) = counter_cell(k)?;
            let (p1, _) = sw.counter(n, i).map_err(|e| e.to_string())?;
            if p1 - p0 != *want {
                fails.push(format!("{d}: counter {k} grew by {}, want {want}", p1 - p0));
            }
        }
    }
    Ok(fails)
}
