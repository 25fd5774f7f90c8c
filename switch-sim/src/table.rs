//! Table state: entries keyed the way P4Runtime names them (table and
//! action names, typed big-endian byte values), per-table size limits,
//! idle-timeout timestamps and direct counters; lookups by exact hash,
//! LPM (one hash map per prefix length) or a priority scan (ternary,
//! range, optional).

use hashbrown::HashMap;

use crate::ir::{mask, MatchKind, TableDef};

/// One key field of an entry as the control plane gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldMatch {
    Exact(u64),
    Lpm { value: u64, prefix_len: u32 },
    Ternary { value: u64, mask: u64 },
    Range { low: u64, high: u64 },
    /// Optional match: None is a wildcard.
    Optional(Option<u64>),
}

/// An entry in resolved form (action index, argument values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySpec {
    pub matches: Vec<FieldMatch>,
    pub priority: i32,
    pub action: usize,
    pub args: Vec<u64>,
    /// Idle timeout in nanoseconds; 0 = never.
    pub idle_timeout_ns: u64,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub spec: EntrySpec,
    /// Last time the entry matched (or was installed), for idle timeouts.
    pub last_hit_ns: u64,
    pub packets: u64,
    pub bytes: u64,
    /// The table's direct meter for this entry, boxed and only when it has
    /// rates (unconfigured: GREEN), so entries of unmetered tables stay
    /// small.
    pub meter: Option<Box<crate::meter::MeterCell>>,
}

impl Entry {
    /// The rates of the entry's direct meter (None: unconfigured).
    pub fn meter_config(&self) -> Option<crate::meter::MeterConfig> {
        self.meter.as_ref().and_then(|m| m.config())
    }

    /// Sets (or with None clears) the rates of the entry's direct meter.
    pub fn set_meter(&mut self, config: Option<crate::meter::MeterConfig>) {
        self.meter = config.map(|c| {
            let mut m = Box::<crate::meter::MeterCell>::default();
            m.set(Some(c));
            m
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("table {0} is full ({1} entries)")]
    Full(String, usize),
    #[error("entry already exists in {0}")]
    Exists(String),
    #[error("no such entry in {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

/// A value normalized to (value, mask) per field, the identity of an entry.
type NormKey = Vec<(u64, u64)>;

#[derive(Debug)]
enum Index {
    Keyless,
    /// All fields exact, 64 bits of key or fewer (most tables): packed
    /// key -> entry. Half the bucket size of the u128 map and a cheaper
    /// hash: the lookup every packet makes several times.
    Exact64(HashMap<u64, usize>),
    /// All fields exact: packed key -> entry.
    Exact(HashMap<u128, usize>),
    /// Exact fields plus one LPM field: per prefix length (longest first).
    Lpm { field: usize, by_len: Vec<(u32, HashMap<u128, usize>)> },
    /// Entries sorted by priority, highest first.
    Scan(Vec<usize>),
}

#[derive(Debug)]
pub struct TableState {
    pub entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    by_key: HashMap<(NormKey, i32), usize>,
    index: Index,
    pub len: usize,
    /// Runtime default action (modifiable unless const).
    pub default_action: (usize, Vec<u64>),
    widths: Vec<u32>,
    kinds: Vec<MatchKind>,
}

fn pack(widths: &[u32], vals: impl Iterator<Item = u64>) -> u128 {
    let mut k = 0u128;
    for (w, v) in widths.iter().zip(vals) {
        k = (k << *w) | u128::from(v);
    }
    k
}

/// `pack` for keys of at most 64 bits. A value wider than its field (a
/// key expression is masked to its width, entries are checked) would
/// overlap its neighbour in both forms alike.
#[inline]
fn pack64(widths: &[u32], vals: &[u64]) -> u64 {
    let mut k = 0u64;
    for (w, v) in widths.iter().zip(vals) {
        k = if *w >= 64 { *v } else { (k << *w) | *v };
    }
    k
}

impl TableState {
    pub fn new(def: &TableDef) -> Self {
        let kinds: Vec<MatchKind> = def.keys.iter().map(|k| k.kind).collect();
        let widths: Vec<u32> = def.keys.iter().map(|k| k.width).collect();
        let lpm: Vec<usize> = kinds.iter().enumerate().filter(|(_, k)| **k == MatchKind::Lpm).map(|(i, _)| i).collect();
        let others_exact = kinds.iter().all(|k| matches!(k, MatchKind::Exact | MatchKind::Lpm));
        let index = if kinds.is_empty() {
            Index::Keyless
        } else if kinds.iter().all(|k| *k == MatchKind::Exact) && widths.iter().sum::<u32>() <= 64 {
            Index::Exact64(HashMap::new())
        } else if kinds.iter().all(|k| *k == MatchKind::Exact) {
            Index::Exact(HashMap::new())
        } else if lpm.len() == 1 && others_exact {
            Index::Lpm { field: lpm[0], by_len: Vec::new() }
        } else {
            Index::Scan(Vec::new())
        };
        TableState {
            entries: Vec::new(),
            free: Vec::new(),
            by_key: HashMap::new(),
            index,
            len: 0,
            default_action: def.default_action.clone(),
            widths,
            kinds,
        }
    }

    fn norm(&self, name: &str, m: &[FieldMatch]) -> Result<NormKey, TableError> {
        if m.len() != self.kinds.len() {
            return Err(TableError::Invalid(format!("{name}: {} key fields given, table has {}", m.len(), self.kinds.len())));
        }
        let mut out = Vec::with_capacity(m.len());
        for (i, (fm, (kind, w))) in m.iter().zip(self.kinds.iter().zip(&self.widths)).enumerate() {
            let full = mask(*w);
            let fits = |v: u64| {
                if v & !full != 0 {
                    Err(TableError::Invalid(format!("{name}: key field {i}: value {v:#x} does not fit in {w} bits")))
                } else {
                    Ok(v)
                }
            };
            let nm = match (kind, fm) {
                (MatchKind::Exact, FieldMatch::Exact(v)) => (fits(*v)?, full),
                (MatchKind::Lpm, FieldMatch::Lpm { value, prefix_len }) => {
                    if *prefix_len > *w {
                        return Err(TableError::Invalid(format!("{name}: prefix length {prefix_len} > {w}")));
                    }
                    let m = if *prefix_len == 0 { 0 } else { full & !(mask(*w - prefix_len)) };
                    (fits(*value)? & m, m)
                }
                (MatchKind::Lpm, FieldMatch::Exact(v)) => (fits(*v)?, full),
                (MatchKind::Ternary, FieldMatch::Ternary { value, mask: m }) => (fits(*value)? & m, fits(*m)?),
                (MatchKind::Ternary, FieldMatch::Exact(v)) => (fits(*v)?, full),
                (MatchKind::Optional, FieldMatch::Optional(v)) => match v {
                    Some(v) => (fits(*v)?, full),
                    None => (0, 0),
                },
                (MatchKind::Range, FieldMatch::Range { low, high }) => {
                    if low > high {
                        return Err(TableError::Invalid(format!("{name}: empty range")));
                    }
                    // Ranges are stored as (low, high) in the scan index.
                    (fits(*low)?, fits(*high)?)
                }
                (k, f) => return Err(TableError::Invalid(format!("{name}: key field {i} is {k:?}, got {f:?}"))),
            };
            out.push(nm);
        }
        Ok(out)
    }

    fn needs_priority(&self) -> bool {
        matches!(self.index, Index::Scan(_))
    }

    pub fn insert(&mut self, def: &TableDef, spec: EntrySpec, now_ns: u64) -> Result<(), TableError> {
        let key = self.norm(&def.name, &spec.matches)?;
        let prio = if self.needs_priority() { spec.priority } else { 0 };
        if self.by_key.contains_key(&(key.clone(), prio)) {
            return Err(TableError::Exists(def.name.clone()));
        }
        if self.len >= def.size {
            return Err(TableError::Full(def.name.clone(), def.size));
        }
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(None);
                self.entries.len() - 1
            }
        };
        match &mut self.index {
            Index::Keyless => return Err(TableError::Invalid(format!("{}: a keyless table takes no entries", def.name))),
            Index::Exact64(m) => {
                m.insert(pack(&self.widths, key.iter().map(|k| k.0)) as u64, idx);
            }
            Index::Exact(m) => {
                m.insert(pack(&self.widths, key.iter().map(|k| k.0)), idx);
            }
            Index::Lpm { field, by_len } => {
                let plen = key[*field].1.count_ones();
                let packed = pack(&self.widths, key.iter().map(|k| k.0));
                match by_len.iter_mut().find(|(l, _)| *l == plen) {
                    Some((_, m)) => {
                        m.insert(packed, idx);
                    }
                    None => {
                        let mut m = HashMap::new();
                        m.insert(packed, idx);
                        by_len.push((plen, m));
                        by_len.sort_by_key(|x| std::cmp::Reverse(x.0));
                    }
                }
            }
            Index::Scan(v) => {
                v.push(idx);
            }
        }
        self.by_key.insert((key, prio), idx);
        self.entries[idx] = Some(Entry { spec, last_hit_ns: now_ns, packets: 0, bytes: 0, meter: None });
        self.len += 1;
        if let Index::Scan(v) = &mut self.index {
            let entries = &self.entries;
            // Highest priority first; equal priorities keep insertion order.
            v.sort_by_key(|i| std::cmp::Reverse(entries[*i].as_ref().map(|e| e.spec.priority).unwrap_or(i32::MIN)));
        }
        Ok(())
    }

    fn find(&self, def: &TableDef, m: &[FieldMatch], priority: i32) -> Result<usize, TableError> {
        let key = self.norm(&def.name, m)?;
        let prio = if self.needs_priority() { priority } else { 0 };
        self.by_key.get(&(key, prio)).copied().ok_or_else(|| TableError::NotFound(def.name.clone()))
    }

    pub fn modify(&mut self, def: &TableDef, spec: EntrySpec) -> Result<(), TableError> {
        let i = self.find(def, &spec.matches, spec.priority)?;
        let e = self.entries[i].as_mut().expect("indexed entries exist");
        e.spec.action = spec.action;
        e.spec.args = spec.args;
        e.spec.idle_timeout_ns = spec.idle_timeout_ns;
        Ok(())
    }

    pub fn delete(&mut self, def: &TableDef, m: &[FieldMatch], priority: i32) -> Result<(), TableError> {
        let i = self.find(def, m, priority)?;
        let key = self.norm(&def.name, m)?;
        let prio = if self.needs_priority() { priority } else { 0 };
        self.by_key.remove(&(key.clone(), prio));
        match &mut self.index {
            Index::Keyless => {}
            Index::Exact64(map) => {
                map.remove(&(pack(&self.widths, key.iter().map(|k| k.0)) as u64));
            }
            Index::Exact(map) => {
                map.remove(&pack(&self.widths, key.iter().map(|k| k.0)));
            }
            Index::Lpm { field, by_len } => {
                let plen = key[*field].1.count_ones();
                if let Some((_, map)) = by_len.iter_mut().find(|(l, _)| *l == plen) {
                    map.remove(&pack(&self.widths, key.iter().map(|k| k.0)));
                }
            }
            Index::Scan(v) => v.retain(|x| *x != i),
        }
        self.entries[i] = None;
        self.free.push(i);
        self.len -= 1;
        Ok(())
    }

    pub fn get_mut(&mut self, def: &TableDef, m: &[FieldMatch], priority: i32) -> Result<&mut Entry, TableError> {
        let i = self.find(def, m, priority)?;
        Ok(self.entries[i].as_mut().expect("indexed entries exist"))
    }

    pub fn get(&self, def: &TableDef, m: &[FieldMatch], priority: i32) -> Result<&Entry, TableError> {
        let i = self.find(def, m, priority)?;
        Ok(self.entries[i].as_ref().expect("indexed entries exist"))
    }

    pub fn clear(&mut self, def: &TableDef) {
        *self = TableState::new(def);
    }

    /// The matching entry for key values `k` (one per key field).
    #[inline]
    pub fn lookup(&self, k: &[u64]) -> Option<usize> {
        match &self.index {
            Index::Keyless => None,
            Index::Exact64(m) => m.get(&pack64(&self.widths, k)).copied(),
            Index::Exact(m) => m.get(&pack(&self.widths, k.iter().copied())).copied(),
            Index::Lpm { field, by_len } => {
                let w = self.widths[*field];
                for (plen, m) in by_len {
                    let pm = if *plen == 0 { 0 } else { mask(w) & !mask(w - plen) };
                    let packed = pack(
                        &self.widths,
                        k.iter().enumerate().map(|(i, v)| if i == *field { v & pm } else { *v }),
                    );
                    if let Some(i) = m.get(&packed) {
                        return Some(*i);
                    }
                }
                None
            }
            Index::Scan(v) => v.iter().copied().find(|i| {
                let e = self.entries[*i].as_ref().expect("indexed entries exist");
                self.matches(e, k)
            }),
        }
    }

    fn matches(&self, e: &Entry, k: &[u64]) -> bool {
        e.spec.matches.iter().zip(k).enumerate().all(|(i, (m, v))| match m {
            FieldMatch::Exact(x) => x == v,
            FieldMatch::Lpm { value, prefix_len } => {
                let w = self.widths[i];
                let pm = if *prefix_len == 0 { 0 } else { mask(w) & !mask(w - prefix_len) };
                v & pm == value & pm
            }
            FieldMatch::Ternary { value, mask } => v & mask == value & mask,
            FieldMatch::Range { low, high } => low <= v && v <= high,
            FieldMatch::Optional(o) => o.map_or(true, |x| x == *v),
        })
    }
}
