//! The in-process switch: load a program, program its tables by name,
//! inject packets, collect outputs, digests and counters. This is the API
//! the P4Runtime server (issue 4), the port driver and the tests use.

use std::path::Path;
use std::sync::Arc;

use crate::entries::{parse_match, parse_value, EntryText};
use crate::error::LoadError;
use crate::exec::{Digest, Exec, Packet, Rng, State};
use crate::meter::{MeterCell, MeterConfig};
use crate::fast::{Engine, FastEngine};
use crate::ir::{mask, CounterKind, Program};
use crate::table::{Entry, EntrySpec, FieldMatch, TableError, TableState};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    #[error("no table named {0}")]
    NoTable(String),
    #[error("table {0} has no action {1}")]
    NoAction(String, String),
    #[error("no counter named {0}")]
    NoCounter(String),
    #[error("no register named {0}")]
    NoRegister(String),
    #[error("{0}")]
    Table(#[from] TableError),
    #[error("{0}")]
    Invalid(String),
}

/// An entry for `insert`/`modify`/`delete`, by names.
#[derive(Debug, Clone)]
pub struct TableEntry {
    /// One match per key field, in key order.
    pub matches: Vec<FieldMatch>,
    pub action: String,
    /// Action data in parameter order.
    pub params: Vec<u64>,
    pub priority: i32,
    pub idle_timeout_ns: u64,
}

pub struct Switch {
    prog: Arc<Program>,
    state: State,
    pkt: Packet,
    warnings: Vec<LoadError>,
    engine: Engine,
    fast: Option<FastEngine>,
    /// Why the fast engine could not compile the program (it then runs on
    /// the interpreter).
    fast_error: Option<String>,
}

impl std::fmt::Debug for Switch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switch").field("tables", &self.prog.tables.len()).field("slots", &self.prog.n_slots).finish()
    }
}

impl Switch {
    /// Loads and compiles a P4 file; `defines` act as `-DNAME=VALUE`.
    pub fn load(path: &Path, defines: &[(String, String)]) -> Result<Switch, LoadError> {
        let (toks, files) = crate::front::lex::Lexer::run(path, defines)?;
        Self::from_tokens(&toks, &files)
    }

    /// Loads and compiles a P4 file to its checked IR without building a
    /// switch (no native code is generated): for a caller that only needs
    /// the program, such as a pipeline install that builds its own switch.
    pub fn load_program(path: &Path, defines: &[(String, String)]) -> Result<Program, LoadError> {
        let (toks, files) = crate::front::lex::Lexer::run(path, defines)?;
        let decls = crate::front::parse::parse_program(&toks).map_err(|e| files.resolve(e))?;
        crate::compile::compile(&decls).map_err(|e| files.resolve(e))
    }

    /// Loads program text held in memory (tests).
    pub fn load_str(name: &str, text: &str) -> Result<Switch, LoadError> {
        let (toks, files) = crate::front::lex::Lexer::run_text(name, text, None)?;
        Self::from_tokens(&toks, &files)
    }

    /// `load`, but a load warning (the p4c compile-time guard,
    /// `crate::guard`: an action p4c would not compile in reasonable time)
    /// refuses the program like an error (`--strict`).
    pub fn load_strict(path: &Path, defines: &[(String, String)]) -> Result<Switch, LoadError> {
        Self::strict(Self::load(path, defines)?)
    }

    /// `load_str` with warnings refused, as `load_strict`.
    pub fn load_str_strict(name: &str, text: &str) -> Result<Switch, LoadError> {
        Self::strict(Self::load_str(name, text)?)
    }

    fn strict(sw: Switch) -> Result<Switch, LoadError> {
        match sw.warnings.first() {
            Some(w) => Err(w.clone()),
            None => Ok(sw),
        }
    }

    /// What the program loaded with but p4c would not compile in
    /// reasonable time (`file:line:col: message`).
    pub fn warnings(&self) -> &[LoadError] {
        &self.warnings
    }

    fn from_tokens(toks: &[crate::front::lex::Token], files: &crate::front::lex::Files) -> Result<Switch, LoadError> {
        let decls = crate::front::parse::parse_program(toks).map_err(|e| files.resolve(e))?;
        let prog = crate::compile::compile(&decls).map_err(|e| files.resolve(e))?;
        let warnings = prog.warnings.iter().map(|w| files.resolve(w.clone())).collect();
        let mut sw = Self::new(Arc::new(prog));
        sw.warnings = warnings;
        Ok(sw)
    }

    pub fn new(prog: Arc<Program>) -> Switch {
        let mut state = State {
            tables: prog.tables.iter().map(TableState::new).collect(),
            counters: prog.counters.iter().map(|c| vec![(0, 0); c.size]).collect(),
            registers: prog.registers.iter().map(|r| vec![0; r.size]).collect(),
            digests: Vec::new(),
            now_ns: 0,
            rng: Rng::default(),
            meters: prog.meters.iter().map(|m| vec![MeterCell::default(); m.size]).collect(),
        };
        for (i, t) in prog.tables.iter().enumerate() {
            for e in &t.entries {
                // Program entries were checked at compile time except size.
                let _ = state.tables[i].insert(t, e.clone(), 0);
            }
        }
        let pkt = Packet::new(prog.n_slots);
        let (fast, fast_error) = match FastEngine::compile(prog.clone()) {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(e)),
        };
        let engine = if fast.is_some() { Engine::Fast } else { Engine::Interp };
        Switch { prog, state, pkt, warnings: Vec::new(), engine, fast, fast_error }
    }

    /// The engine that runs packets: `Fast` unless the program did not
    /// compile for it (`fast_error`) or `set_engine` chose the interpreter.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Picks the engine; Err when the fast engine cannot run this program
    /// (the interpreter stays in use).
    pub fn set_engine(&mut self, engine: Engine) -> Result<(), String> {
        if engine == Engine::Fast && self.fast.is_none() {
            return Err(self.fast_error.clone().unwrap_or_default());
        }
        self.engine = engine;
        Ok(())
    }

    /// Why the fast engine does not run this program, if it does not.
    pub fn fast_error(&self) -> Option<&str> {
        self.fast_error.as_deref()
    }

    pub fn program(&self) -> &Program {
        &self.prog
    }

    /// Sets the switch clock (ns), used for idle timeouts.
    /// Restarts the generator of v1model's `random` from `seed` (see
    /// `exec::Rng`): the same seed and packets give the same values.
    pub fn set_seed(&mut self, seed: u64) {
        self.state.rng = Rng::seeded(seed);
    }

    pub fn set_time(&mut self, now_ns: u64) {
        self.state.now_ns = now_ns;
    }

    /// A table by its full name (`SwitchyardIngress.vip`) or its unique
    /// last component (`vip`).
    pub fn table_id(&self, name: &str) -> Result<usize, ApiError> {
        if let Some(i) = self.prog.tables.iter().position(|t| t.name == name) {
            return Ok(i);
        }
        let short: Vec<usize> = (0..self.prog.tables.len())
            .filter(|i| self.prog.tables[*i].name.rsplit('.').next() == Some(name))
            .collect();
        match short.as_slice() {
            [i] => Ok(*i),
            _ => Err(ApiError::NoTable(name.to_string())),
        }
    }

    fn action_of(&self, t: usize, name: &str) -> Result<usize, ApiError> {
        let def = &self.prog.tables[t];
        def.actions
            .iter()
            .copied()
            .find(|a| {
                let n = &self.prog.actions[*a].name;
                n == name || n.rsplit('.').next() == Some(name)
            })
            .ok_or_else(|| ApiError::NoAction(def.name.clone(), name.to_string()))
    }

    fn spec(&self, t: usize, e: &TableEntry) -> Result<EntrySpec, ApiError> {
        let a = self.action_of(t, &e.action)?;
        let def = &self.prog.tables[t];
        if def.default_only.contains(&a) {
            return Err(ApiError::Invalid(format!("{} is @defaultonly in {}", e.action, def.name)));
        }
        let ad = &self.prog.actions[a];
        if ad.params.len() != e.params.len() {
            return Err(ApiError::Invalid(format!("{} takes {} parameters", ad.name, ad.params.len())));
        }
        for (p, v) in ad.params.iter().zip(&e.params) {
            if v & !mask(p.width) != 0 {
                return Err(ApiError::Invalid(format!("{}: {v:#x} does not fit in bit<{}>", p.name, p.width)));
            }
        }
        if e.idle_timeout_ns != 0 && !def.support_timeout {
            return Err(ApiError::Invalid(format!("{} does not support idle timeouts", def.name)));
        }
        Ok(EntrySpec {
            matches: e.matches.clone(),
            priority: e.priority,
            action: a,
            args: e.params.clone(),
            idle_timeout_ns: e.idle_timeout_ns,
        })
    }

    fn check_const(&self, t: usize) -> Result<(), ApiError> {
        if self.prog.tables[t].const_entries {
            return Err(ApiError::Invalid(format!("{} has const entries", self.prog.tables[t].name)));
        }
        Ok(())
    }

    pub fn insert(&mut self, table: &str, e: &TableEntry) -> Result<(), ApiError> {
        let t = self.table_id(table)?;
        self.check_const(t)?;
        let spec = self.spec(t, e)?;
        let now = self.state.now_ns;
        Ok(self.state.tables[t].insert(&self.prog.tables[t], spec, now)?)
    }

    pub fn modify(&mut self, table: &str, e: &TableEntry) -> Result<(), ApiError> {
        let t = self.table_id(table)?;
        self.check_const(t)?;
        let spec = self.spec(t, e)?;
        Ok(self.state.tables[t].modify(&self.prog.tables[t], spec)?)
    }

    pub fn delete(&mut self, table: &str, matches: &[FieldMatch], priority: i32) -> Result<(), ApiError> {
        let t = self.table_id(table)?;
        self.check_const(t)?;
        Ok(self.state.tables[t].delete(&self.prog.tables[t], matches, priority)?)
    }

    /// Reads an entry (its action, data, hit time and direct counters).
    pub fn entry(&self, table: &str, matches: &[FieldMatch], priority: i32) -> Result<&Entry, ApiError> {
        let t = self.table_id(table)?;
        Ok(self.state.tables[t].get(&self.prog.tables[t], matches, priority)?)
    }

    pub fn entry_count(&self, table: &str) -> Result<usize, ApiError> {
        Ok(self.state.tables[self.table_id(table)?].len)
    }

    /// All live entries of a table.
    pub fn entries(&self, table: &str) -> Result<Vec<&Entry>, ApiError> {
        let t = self.table_id(table)?;
        Ok(self.state.tables[t].entries.iter().flatten().collect())
    }

    /// The entry slots of table `t` (by index): `None` where an entry was
    /// deleted. For sweeps that visit a bounded slice at a time (idle
    /// timeouts) without collecting the whole table.
    pub fn table_slots(&self, t: usize) -> &[Option<Entry>] {
        self.state.tables.get(t).map_or(&[], |s| s.entries.as_slice())
    }

    pub fn clear_table(&mut self, table: &str) -> Result<(), ApiError> {
        let t = self.table_id(table)?;
        self.state.tables[t].clear(&self.prog.tables[t]);
        Ok(())
    }

    pub fn set_default(&mut self, table: &str, action: &str, params: &[u64]) -> Result<(), ApiError> {
        let t = self.table_id(table)?;
        let def = &self.prog.tables[t];
        if def.const_default {
            return Err(ApiError::Invalid(format!("{} has a const default action", def.name)));
        }
        let a = self.action_of(t, action)?;
        if def.table_only.contains(&a) {
            return Err(ApiError::Invalid(format!("{action} is @tableonly")));
        }
        let ad = &self.prog.actions[a];
        if ad.params.len() != params.len() {
            return Err(ApiError::Invalid(format!("{} takes {} parameters", ad.name, ad.params.len())));
        }
        for (p, v) in ad.params.iter().zip(params) {
            if v & !mask(p.width) != 0 {
                return Err(ApiError::Invalid(format!("{}: {v:#x} does not fit in bit<{}>", p.name, p.width)));
            }
        }
        self.state.tables[t].default_action = (a, params.to_vec());
        Ok(())
    }

    /// The current default action of table `t` (by index): (action index,
    /// action data).
    pub fn default_action(&self, t: usize) -> (usize, &[u64]) {
        let (a, args) = &self.state.tables[t].default_action;
        (*a, args)
    }

    /// Entries whose idle timeout has elapsed at the current time (the
    /// P4Runtime server sends IdleTimeoutNotifications for these).
    pub fn idle_expired(&self) -> Vec<(String, EntrySpec)> {
        let now = self.state.now_ns;
        let mut out = Vec::new();
        for (i, t) in self.state.tables.iter().enumerate() {
            for e in t.entries.iter().flatten() {
                if e.spec.idle_timeout_ns != 0 && now.saturating_sub(e.last_hit_ns) >= e.spec.idle_timeout_ns {
                    out.push((self.prog.tables[i].name.clone(), e.spec.clone()));
                }
            }
        }
        out
    }

    /// An indexed counter cell: (packets, bytes).
    pub fn counter(&self, name: &str, index: usize) -> Result<(u64, u64), ApiError> {
        let c = self
            .prog
            .counters
            .iter()
            .position(|c| c.name == name || c.name.rsplit('.').next() == Some(name))
            .ok_or_else(|| ApiError::NoCounter(name.to_string()))?;
        let (p, b) = self.state.counters[c].get(index).copied().ok_or_else(|| ApiError::Invalid(format!("{name}[{index}] out of range")))?;
        Ok(match self.prog.counters[c].kind {
            CounterKind::Packets => (p, 0),
            CounterKind::Bytes => (0, b),
            CounterKind::PacketsAndBytes => (p, b),
        })
    }

    fn meter_id(&self, name: &str) -> Result<usize, ApiError> {
        self.prog
            .meters
            .iter()
            .position(|m| m.name == name || m.name.rsplit('.').next() == Some(name))
            .ok_or_else(|| ApiError::Invalid(format!("no meter named {name}")))
    }

    /// Sets (or with None resets to unconfigured, GREEN) the rates of an
    /// indexed meter's cell; its buckets start full. P4Runtime's
    /// MeterEntry comes here (switchyard-p4rt); the entries file has no
    /// meter form.
    pub fn set_meter(&mut self, name: &str, index: usize, config: Option<MeterConfig>) -> Result<(), ApiError> {
        let m = self.meter_id(name)?;
        if self.prog.meters[m].direct {
            return Err(ApiError::Invalid(format!("{name} is a direct meter: set it per entry (set_direct_meter)")));
        }
        if let Some(c) = &config {
            c.check().map_err(ApiError::Invalid)?;
        }
        let cell = self.state.meters[m].get_mut(index).ok_or_else(|| ApiError::Invalid(format!("{name}[{index}] out of range")))?;
        cell.set(config);
        Ok(())
    }

    /// An indexed meter cell's rates (None: unconfigured).
    pub fn meter(&self, name: &str, index: usize) -> Result<Option<MeterConfig>, ApiError> {
        let m = self.meter_id(name)?;
        let cell = self.state.meters[m].get(index).ok_or_else(|| ApiError::Invalid(format!("{name}[{index}] out of range")))?;
        Ok(cell.config())
    }

    /// Sets (or resets) the rates of a table entry's direct meter.
    pub fn set_direct_meter(&mut self, table: &str, matches: &[FieldMatch], priority: i32, config: Option<MeterConfig>) -> Result<(), ApiError> {
        let t = self.table_id(table)?;
        if self.prog.tables[t].direct_meter.is_none() {
            return Err(ApiError::Invalid(format!("table {table} has no direct meter")));
        }
        if let Some(c) = &config {
            c.check().map_err(ApiError::Invalid)?;
        }
        self.state.tables[t].get_mut(&self.prog.tables[t], matches, priority)?.set_meter(config);
        Ok(())
    }

    pub fn register(&self, name: &str) -> Result<&[u64], ApiError> {
        let r = self
            .prog
            .registers
            .iter()
            .position(|c| c.name == name || c.name.rsplit('.').next() == Some(name))
            .ok_or_else(|| ApiError::NoRegister(name.to_string()))?;
        Ok(&self.state.registers[r])
    }

    pub fn register_write(&mut self, name: &str, index: usize, v: u64) -> Result<(), ApiError> {
        let r = self
            .prog
            .registers
            .iter()
            .position(|c| c.name == name || c.name.rsplit('.').next() == Some(name))
            .ok_or_else(|| ApiError::NoRegister(name.to_string()))?;
        let cell = self.state.registers[r].get_mut(index).ok_or_else(|| ApiError::Invalid("index out of range".into()))?;
        *cell = v & mask(self.prog.registers[r].width);
        Ok(())
    }

    /// Runs one packet through the pipeline. Returns the egress port; the
    /// frame is in `output()` until the next call. None: dropped.
    pub fn process_ref(&mut self, port: u16, frame: &[u8]) -> Option<u16> {
        match (self.engine, &mut self.fast) {
            (Engine::Fast, Some(f)) => f.process(port, frame, &mut self.pkt, &mut self.state),
            _ => Exec { prog: &self.prog }.process(port, frame, &mut self.pkt, &mut self.state),
        }
    }

    pub fn output(&self) -> &[u8] {
        &self.pkt.out
    }

    /// Runs one packet; returns (egress port, frame) or None when dropped.
    pub fn process(&mut self, port: u16, frame: &[u8]) -> Option<(u16, Vec<u8>)> {
        self.process_ref(port, frame).map(|p| (p, self.pkt.out.clone()))
    }

    pub fn take_digests(&mut self) -> Vec<Digest> {
        std::mem::take(&mut self.state.digests)
    }

    /// Applies one entry in the text form (see `entries`).
    pub fn apply_text(&mut self, e: &EntryText) -> Result<(), ApiError> {
        let t = self.table_id(&e.table)?;
        let a = self.action_of(t, &e.action)?;
        let ad = self.prog.actions[a].clone();
        let mut params = Vec::new();
        for p in &ad.params {
            let v = e
                .params
                .get(&p.name)
                .ok_or_else(|| ApiError::Invalid(format!("{}: missing parameter {}", e.action, p.name)))?;
            params.push(parse_value(v).map_err(ApiError::Invalid)?);
        }
        if let Some(extra) = e.params.keys().find(|k| !ad.params.iter().any(|p| &p.name == *k)) {
            return Err(ApiError::Invalid(format!("{}: no parameter {extra}", e.action)));
        }
        if e.default {
            return self.set_default(&e.table, &e.action, &params);
        }
        let def = &self.prog.tables[t];
        let mut matches = Vec::new();
        for k in &def.keys {
            let v = e.matches.get(&k.name).ok_or_else(|| ApiError::Invalid(format!("{}: missing key {}", def.name, k.name)))?;
            matches.push(parse_match(v, k.kind, k.width).map_err(ApiError::Invalid)?);
        }
        if let Some(extra) = e.matches.keys().find(|k| !def.keys.iter().any(|d| &d.name == *k)) {
            return Err(ApiError::Invalid(format!("{}: no key {extra}", def.name)));
        }
        let entry = TableEntry {
            matches,
            action: e.action.clone(),
            params,
            priority: e.priority,
            idle_timeout_ns: e.idle_timeout_ms * 1_000_000,
        };
        self.insert(&e.table, &entry)
    }
}
