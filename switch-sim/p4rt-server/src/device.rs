//! The device behind the P4Runtime service: the switch, its pipeline, the
//! arbitration state, digest queues, idle-timeout bookkeeping and the open
//! streams. Every RPC takes the device lock for a short, non-async
//! critical section, so a Write batch is atomic with respect to packets
//! (DATAPLANE_ATOMIC holds) and Reads see a consistent table.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use p4runtime_proto::p4::v1::{self as p4, entity::Entity as E, stream_message_response::Update as Out};
use switchyard_switch_sim::entries::EntryText;
use switchyard_switch_sim::ir::Program;
use switchyard_switch_sim::table::{FieldMatch, TableError};
use switchyard_switch_sim::{ApiError, Engine, Switch, TableEntry};
use tokio::sync::mpsc;
use tonic::{Code, Status};

use crate::arbitration::{Arbiter, Notice, StreamId};
use crate::digest_queue::{DigestConfig, DigestQueue};
use crate::pipeline::Pipeline;
use crate::translate::{self, fail, invalid, Fail};

pub type StreamTx = mpsc::Sender<Result<p4::StreamMessageResponse, Status>>;

/// Where frames leave the switch (front-panel ports); the port driver sets it.
pub type EgressSink = Box<dyn FnMut(u16, &[u8]) + Send>;

/// The idle-timeout sweep visits at least this many entry slots of a table
/// per tick...
const SWEEP_MIN_SLOTS: usize = 16384;
/// ...and every slot at least once in this many ticks (1 s at 50 ms).
const SWEEP_TICKS: usize = 20;

#[derive(Debug, Clone)]
pub struct DeviceOptions {
    pub device_id: u64,
    /// Port whose egress becomes PacketIn and where PacketOut enters.
    pub cpu_port: Option<u16>,
    /// Include directory for device configs that carry P4 source.
    pub include_dir: Option<PathBuf>,
    /// The engine running each installed pipeline: the program compiled to
    /// native code (default) or switch-sim's reference interpreter.
    pub engine: Engine,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        DeviceOptions { device_id: 1, cpu_port: None, include_dir: None, engine: Engine::Fast }
    }
}

/// Counters an operator (and the tests) can read.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub stream_messages_dropped: u64,
    pub digests_dropped: u64,
    pub packet_ins: u64,
}

struct Running {
    p: Pipeline,
    switch: Switch,
}

enum Undo {
    Delete(String, Vec<FieldMatch>, i32),
    Insert(String, TableEntry),
    Modify(String, TableEntry),
    Default(usize, (usize, Vec<u64>)),
    Digest(u32, Option<DigestConfig>),
}

pub struct Device {
    opts: DeviceOptions,
    epoch: Instant,
    arbiter: Arbiter,
    running: Option<Running>,
    saved: Option<Pipeline>,
    digests: HashMap<u32, DigestQueue>,
    /// Entries already reported idle, by (table index, slot), with the hit
    /// time and key they had then.
    idle_notified: HashMap<(usize, usize), (u64, Vec<FieldMatch>)>,
    /// Where the idle sweep continues, per table index.
    sweep_cursor: HashMap<usize, usize>,
    streams: HashMap<StreamId, StreamTx>,
    next_stream: StreamId,
    egress: Option<EgressSink>,
    pub stats: Stats,
}

pub fn u128_of(e: &Option<p4::Uint128>) -> Option<u128> {
    e.as_ref().map(|e| (u128::from(e.high) << 64) | u128::from(e.low))
}

fn uint128(v: u128) -> p4::Uint128 {
    p4::Uint128 { high: (v >> 64) as u64, low: v as u64 }
}

fn wall_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

fn api_fail(e: ApiError) -> Fail {
    let code = match &e {
        ApiError::Table(TableError::Exists(_)) => Code::AlreadyExists,
        ApiError::Table(TableError::Full(..)) => Code::ResourceExhausted,
        ApiError::Table(TableError::NotFound(_)) => Code::NotFound,
        _ => Code::InvalidArgument,
    };
    Fail { code, message: e.to_string() }
}

impl Device {
    pub fn new(opts: DeviceOptions) -> Device {
        Device {
            opts,
            epoch: Instant::now(),
            arbiter: Arbiter::default(),
            running: None,
            saved: None,
            digests: HashMap::new(),
            idle_notified: HashMap::new(),
            sweep_cursor: HashMap::new(),
            streams: HashMap::new(),
            next_stream: 1,
            egress: None,
            stats: Stats::default(),
        }
    }

    pub fn set_egress(&mut self, sink: EgressSink) {
        self.egress = Some(sink);
    }

    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    pub fn program(&self) -> Option<&Program> {
        self.running.as_ref().map(|r| r.switch.program())
    }

    fn check_device(&self, id: u64) -> Result<(), Status> {
        if id != self.opts.device_id {
            return Err(Status::not_found(format!("no device {id} (this is device {})", self.opts.device_id)));
        }
        Ok(())
    }

    fn check_primary(&self, role: &str, election_id: &Option<p4::Uint128>) -> Result<(), Status> {
        let Some(e) = u128_of(election_id) else {
            return Err(Status::permission_denied("no election id: only the primary controller may write"));
        };
        if !self.arbiter.is_primary(self.opts.device_id, role, e) {
            return Err(Status::permission_denied(format!("election id {e} is not the primary of role `{role}`")));
        }
        Ok(())
    }

    // ---- pipeline ---------------------------------------------------------

    /// Installs a program with the P4Info of this server's generator (the
    /// binary's `--p4` start-up option, like bmv2 started with a JSON).
    pub fn install_program(&mut self, program: Arc<Program>, device_config: Vec<u8>) -> Result<(), String> {
        let info = crate::p4info_gen::generate(&program);
        let p = Pipeline::new(program, info, device_config, 0)?;
        self.commit(p);
        Ok(())
    }

    /// Applies entries in switch-sim's JSON text form (the binary's
    /// `--entries`) to the running pipeline, where P4Runtime Reads see them.
    pub fn apply_entries(&mut self, entries: &[EntryText]) -> Result<(), String> {
        let r = self.running.as_mut().ok_or("no pipeline to apply entries to")?;
        for (i, e) in entries.iter().enumerate() {
            r.switch.apply_text(e).map_err(|err| format!("entry {i} ({}): {err}", e.table))?;
        }
        Ok(())
    }

    /// The switch for a pipeline, on the configured engine (the
    /// interpreter, with a warning, when the fast engine refuses it).
    fn new_switch(&self, p: &Pipeline) -> Switch {
        let mut sw = Switch::new(p.program.clone());
        if let Err(e) = sw.set_engine(self.opts.engine) {
            tracing::warn!("pipeline runs on the interpreter: the fast engine refused it: {e}");
        }
        sw
    }

    fn commit(&mut self, p: Pipeline) {
        let switch = self.new_switch(&p);
        self.digests.clear();
        self.idle_notified.clear();
        self.sweep_cursor.clear();
        self.running = Some(Running { p, switch });
    }

    fn verify(&self, cfg: &p4::ForwardingPipelineConfig) -> Result<Pipeline, Status> {
        let info = cfg.p4info.clone().ok_or_else(|| Status::invalid_argument("the config has no P4Info"))?;
        if info.tables.is_empty() && info.actions.is_empty() {
            return Err(Status::invalid_argument("the P4Info is empty"));
        }
        let prog = crate::device_config::load(&cfg.p4_device_config, self.opts.include_dir.as_deref()).map_err(Status::invalid_argument)?;
        Pipeline::new(prog, info, cfg.p4_device_config.clone(), cfg.cookie.as_ref().map(|c| c.cookie).unwrap_or(0)).map_err(Status::invalid_argument)
    }

    pub fn set_pipeline(&mut self, req: &p4::SetForwardingPipelineConfigRequest) -> Result<(), Status> {
        use p4::set_forwarding_pipeline_config_request::Action as A;
        self.check_device(req.device_id)?;
        self.check_primary(&req.role, &req.election_id)?;
        let action = A::try_from(req.action).map_err(|_| Status::invalid_argument(format!("unknown action {}", req.action)))?;
        let given = || req.config.as_ref().ok_or_else(|| Status::invalid_argument("no config"));
        match action {
            A::Unspecified => Err(Status::invalid_argument("action UNSPECIFIED")),
            A::Verify => self.verify(given()?).map(|_| ()),
            A::VerifyAndSave => {
                self.saved = Some(self.verify(given()?)?);
                Ok(())
            }
            A::VerifyAndCommit => {
                let p = self.verify(given()?)?;
                self.commit(p);
                Ok(())
            }
            A::Commit => {
                let p = match (&req.config, self.saved.take()) {
                    (Some(c), _) if c.p4info.is_some() => self.verify(c)?,
                    (_, Some(p)) => p,
                    _ => return Err(Status::failed_precondition("COMMIT without a config and nothing saved")),
                };
                self.commit(p);
                Ok(())
            }
            A::ReconcileAndCommit => {
                let p = self.verify(given()?)?;
                self.reconcile(p)
            }
        }
    }

    /// Moves every entry and default action into the new pipeline, by name;
    /// if anything cannot move, nothing changes.
    fn reconcile(&mut self, p: Pipeline) -> Result<(), Status> {
        let Some(old) = self.running.as_ref() else {
            self.commit(p);
            return Ok(());
        };
        let mut sw = self.new_switch(&p);
        let oprog = old.switch.program();
        for (ti, t) in oprog.tables.iter().enumerate() {
            let Some(nti) = p.program.tables.iter().position(|x| x.name == t.name) else { continue };
            let entries = old.switch.entries(&t.name).map_err(|e| Status::internal(e.to_string()))?;
            for e in entries {
                let te = TableEntry {
                    matches: e.spec.matches.clone(),
                    action: oprog.actions[e.spec.action].name.clone(),
                    params: e.spec.args.clone(),
                    priority: e.spec.priority,
                    idle_timeout_ns: e.spec.idle_timeout_ns,
                };
                if let Err(err) = sw.insert(&t.name, &te) {
                    if !p.program.tables[nti].const_entries {
                        return Err(Status::failed_precondition(format!("cannot reconcile {}: {err}", t.name)));
                    }
                }
            }
            // A default the new program cannot take keeps the program's own.
            let (a, args) = old.switch.default_action(ti);
            let _ = sw.set_default(&t.name, &oprog.actions[a].name, args);
        }
        let keep: HashMap<u32, DigestQueue> = std::mem::take(&mut self.digests)
            .into_iter()
            .filter_map(|(id, q)| {
                let name = &old.p.digests.get(&id)?.name;
                let nid = *p.digest_by_name.get(name)?;
                Some((nid, DigestQueue::new(q.config)))
            })
            .collect();
        self.digests = keep;
        self.idle_notified.clear();
        self.sweep_cursor.clear();
        self.running = Some(Running { p, switch: sw });
        Ok(())
    }

    pub fn get_pipeline(&self, req: &p4::GetForwardingPipelineConfigRequest) -> Result<p4::GetForwardingPipelineConfigResponse, Status> {
        use p4::get_forwarding_pipeline_config_request::ResponseType as R;
        self.check_device(req.device_id)?;
        let Some(r) = &self.running else {
            return Err(Status::failed_precondition("no forwarding pipeline config has been set"));
        };
        let rt = R::try_from(req.response_type).map_err(|_| Status::invalid_argument("unknown response type"))?;
        let cookie = Some(p4::forwarding_pipeline_config::Cookie { cookie: r.p.cookie });
        let config = match rt {
            R::All => p4::ForwardingPipelineConfig { p4info: Some(r.p.p4info.clone()), p4_device_config: r.p.device_config.clone(), cookie },
            R::CookieOnly => p4::ForwardingPipelineConfig { cookie, ..Default::default() },
            R::P4infoAndCookie => p4::ForwardingPipelineConfig { p4info: Some(r.p.p4info.clone()), cookie, ..Default::default() },
            R::DeviceConfigAndCookie => p4::ForwardingPipelineConfig { p4_device_config: r.p.device_config.clone(), cookie, ..Default::default() },
        };
        Ok(p4::GetForwardingPipelineConfigResponse { config: Some(config) })
    }

    // ---- write --------------------------------------------------------------

    /// Applies a WriteRequest. `Ok(statuses)`: one per update (all OK means
    /// success); `Err`: the whole request was refused.
    pub fn write(&mut self, req: &p4::WriteRequest) -> Result<Vec<Result<(), Fail>>, Status> {
        use p4::write_request::Atomicity;
        self.check_device(req.device_id)?;
        self.check_primary(&req.role, &req.election_id)?;
        if self.running.is_none() {
            return Err(Status::failed_precondition("no forwarding pipeline config has been set"));
        }
        let atomicity = Atomicity::try_from(req.atomicity).map_err(|_| Status::invalid_argument("unknown atomicity"))?;
        let mut results = Vec::with_capacity(req.updates.len());
        match atomicity {
            Atomicity::ContinueOnError => {
                for u in &req.updates {
                    results.push(self.apply(u).map(|_| ()));
                }
            }
            // The device lock is held for the whole batch, so rollback also
            // gives data-plane atomicity: no packet sees half of it.
            Atomicity::RollbackOnError | Atomicity::DataplaneAtomic => {
                let mut undo = Vec::new();
                let mut failed = None;
                for (i, u) in req.updates.iter().enumerate() {
                    match self.apply(u) {
                        Ok(x) => undo.push(x),
                        Err(f) => {
                            failed = Some((i, f));
                            break;
                        }
                    }
                }
                match failed {
                    None => results = vec![Ok(()); req.updates.len()],
                    Some((i, f)) => {
                        for x in undo.into_iter().rev() {
                            self.undo(x);
                        }
                        for j in 0..req.updates.len() {
                            results.push(if j == i {
                                Err(f.clone())
                            } else {
                                Err(Fail { code: Code::Aborted, message: format!("not applied: update {i} failed and the batch was rolled back") })
                            });
                        }
                    }
                }
            }
        }
        Ok(results)
    }

    fn apply(&mut self, u: &p4::Update) -> Result<Undo, Fail> {
        use p4::update::Type as T;
        let ty = T::try_from(u.r#type).unwrap_or(T::Unspecified);
        if ty == T::Unspecified {
            return invalid("update type UNSPECIFIED");
        }
        match u.entity.as_ref().and_then(|e| e.entity.as_ref()) {
            Some(E::TableEntry(te)) => self.apply_table(ty, te),
            Some(E::DigestEntry(de)) => self.apply_digest(ty, de),
            Some(_) => fail(Code::Unimplemented, "switch-sim writes table and digest entries only"),
            None => invalid("update without an entity"),
        }
    }

    fn apply_table(&mut self, ty: p4::update::Type, te: &p4::TableEntry) -> Result<Undo, Fail> {
        use p4::update::Type as T;
        let r = self.running.as_mut().expect("checked by write");
        let Some(t) = r.p.tables.get(&te.table_id) else {
            return invalid(format!("no table with id {}", te.table_id));
        };
        let name = r.p.program.tables[t.index].name.clone();
        if te.is_default_action {
            if ty != T::Modify {
                return invalid(format!("{name}: the default entry can only be modified"));
            }
            if !te.r#match.is_empty() || te.priority != 0 {
                return invalid(format!("{name}: a default entry has no match and no priority"));
            }
            if t.const_default {
                return invalid(format!("{name}: the default action is const"));
            }
            let new = match &te.action {
                None => r.p.program.tables[t.index].default_action.clone(),
                Some(_) => translate::action(&r.p, t, te, true)?,
            };
            let (a, args) = r.switch.default_action(t.index);
            let old = (a, args.to_vec());
            r.switch.set_default(&name, &r.p.program.actions[new.0].name, &new.1).map_err(api_fail)?;
            return Ok(Undo::Default(t.index, old));
        }
        if t.const_entries {
            return invalid(format!("{name} has const entries"));
        }
        let t = t.clone();
        let old_of = |r: &Running, m: &[FieldMatch], prio: i32| -> Result<TableEntry, Fail> {
            let e = r.switch.entry(&name, m, prio).map_err(api_fail)?;
            Ok(TableEntry {
                matches: e.spec.matches.clone(),
                action: r.p.program.actions[e.spec.action].name.clone(),
                params: e.spec.args.clone(),
                priority: e.spec.priority,
                idle_timeout_ns: e.spec.idle_timeout_ns,
            })
        };
        match ty {
            T::Insert => {
                let e = translate::entry(&r.p, &t, te)?;
                r.switch.insert(&name, &e).map_err(api_fail)?;
                Ok(Undo::Delete(name, e.matches, e.priority))
            }
            T::Modify => {
                let e = translate::entry(&r.p, &t, te)?;
                let old = old_of(r, &e.matches, e.priority)?;
                r.switch.modify(&name, &e).map_err(api_fail)?;
                Ok(Undo::Modify(name, old))
            }
            T::Delete => {
                let (m, prio) = translate::key(&t, te)?;
                let old = old_of(r, &m, prio)?;
                r.switch.delete(&name, &m, prio).map_err(api_fail)?;
                Ok(Undo::Insert(name, old))
            }
            T::Unspecified => invalid("update type UNSPECIFIED"),
        }
    }

    fn apply_digest(&mut self, ty: p4::update::Type, de: &p4::DigestEntry) -> Result<Undo, Fail> {
        use p4::update::Type as T;
        let r = self.running.as_ref().expect("checked by write");
        if !r.p.digests.contains_key(&de.digest_id) {
            return invalid(format!("no digest with id {}", de.digest_id));
        }
        let old = self.digests.get(&de.digest_id).map(|q| q.config);
        let cfg = || -> Result<DigestConfig, Fail> {
            let c = de.config.as_ref().ok_or_else(|| Fail { code: Code::InvalidArgument, message: "digest entry without config".into() })?;
            if c.max_timeout_ns < 0 || c.max_list_size < 0 || c.ack_timeout_ns < 0 {
                return invalid("negative digest config values");
            }
            Ok(DigestConfig { max_timeout_ns: c.max_timeout_ns as u64, max_list_size: c.max_list_size as usize, ack_timeout_ns: c.ack_timeout_ns as u64 })
        };
        match (ty, old) {
            (T::Insert, Some(_)) => fail(Code::AlreadyExists, format!("digest {} is already configured", de.digest_id)),
            (T::Modify | T::Delete, None) => fail(Code::NotFound, format!("digest {} is not configured", de.digest_id)),
            (T::Insert, None) | (T::Modify, Some(_)) => {
                let c = cfg()?;
                match self.digests.get_mut(&de.digest_id) {
                    Some(q) => q.config = c,
                    None => {
                        self.digests.insert(de.digest_id, DigestQueue::new(c));
                    }
                }
                Ok(Undo::Digest(de.digest_id, old))
            }
            (T::Delete, Some(_)) => {
                self.digests.remove(&de.digest_id);
                Ok(Undo::Digest(de.digest_id, old))
            }
            _ => invalid("update type UNSPECIFIED"),
        }
    }

    fn undo(&mut self, u: Undo) {
        // Undo restores a state that existed a moment ago, so it cannot fail
        // for capacity or duplicates; errors are ignored deliberately.
        if let Some(r) = self.running.as_mut() {
            let _ = match u {
                Undo::Delete(t, m, p) => r.switch.delete(&t, &m, p),
                Undo::Insert(t, e) => r.switch.insert(&t, &e),
                Undo::Modify(t, e) => r.switch.modify(&t, &e),
                Undo::Default(ti, (a, args)) => {
                    let name = r.p.program.tables[ti].name.clone();
                    let aname = r.p.program.actions[a].name.clone();
                    r.switch.set_default(&name, &aname, &args)
                }
                Undo::Digest(id, old) => {
                    match old {
                        Some(c) => {
                            self.digests.entry(id).or_insert_with(|| DigestQueue::new(c)).config = c;
                        }
                        None => {
                            self.digests.remove(&id);
                        }
                    }
                    Ok(())
                }
            };
        }
    }

    // ---- read ---------------------------------------------------------------

    pub fn read(&self, req: &p4::ReadRequest) -> Result<Vec<p4::Entity>, Status> {
        self.check_device(req.device_id)?;
        let Some(r) = &self.running else {
            return Err(Status::failed_precondition("no forwarding pipeline config has been set"));
        };
        let now = self.now_ns();
        let mut out = Vec::new();
        for ent in &req.entities {
            match &ent.entity {
                Some(E::TableEntry(te)) => self.read_table(r, te, now, &mut out)?,
                Some(E::DigestEntry(de)) => {
                    let mut ids: Vec<u32> = self.digests.keys().copied().filter(|id| de.digest_id == 0 || *id == de.digest_id).collect();
                    ids.sort();
                    for id in ids {
                        let c = self.digests[&id].config;
                        out.push(p4::Entity {
                            entity: Some(E::DigestEntry(p4::DigestEntry {
                                digest_id: id,
                                config: Some(p4::digest_entry::Config {
                                    max_timeout_ns: c.max_timeout_ns as i64,
                                    max_list_size: c.max_list_size as i32,
                                    ack_timeout_ns: c.ack_timeout_ns as i64,
                                }),
                            })),
                        });
                    }
                }
                Some(E::CounterEntry(ce)) => {
                    if ce.counter_id != 0 && !r.p.counters.contains_key(&ce.counter_id) {
                        return Err(Status::invalid_argument(format!("no counter with id {}", ce.counter_id)));
                    }
                    let mut ids: Vec<u32> = r.p.counters.keys().copied().filter(|id| ce.counter_id == 0 || *id == ce.counter_id).collect();
                    ids.sort();
                    for id in ids {
                        let (name, size) = &r.p.counters[&id];
                        let range: Vec<usize> = match &ce.index {
                            Some(i) if i.index < 0 || i.index as usize >= *size => {
                                return Err(Status::invalid_argument(format!("{name}[{}] is out of range", i.index)))
                            }
                            Some(i) => vec![i.index as usize],
                            None => (0..*size).collect(),
                        };
                        for i in range {
                            let (p, b) = r.switch.counter(name, i).map_err(|e| Status::internal(e.to_string()))?;
                            out.push(p4::Entity {
                                entity: Some(E::CounterEntry(p4::CounterEntry {
                                    counter_id: id,
                                    index: Some(p4::Index { index: i as i64 }),
                                    data: Some(p4::CounterData { byte_count: b as i64, packet_count: p as i64 }),
                                })),
                            });
                        }
                    }
                }
                Some(_) => return Err(Status::unimplemented("switch-sim reads table, digest and counter entries only")),
                None => return Err(Status::invalid_argument("a read entity without a type")),
            }
        }
        Ok(out)
    }

    fn read_table(&self, r: &Running, te: &p4::TableEntry, now: u64, out: &mut Vec<p4::Entity>) -> Result<(), Status> {
        let mut tables: Vec<&crate::pipeline::TableMap> = if te.table_id == 0 {
            r.p.tables.values().collect()
        } else {
            vec![r.p.tables.get(&te.table_id).ok_or_else(|| Status::invalid_argument(format!("no table with id {}", te.table_id)))?]
        };
        tables.sort_by_key(|t| t.id);
        let hit_time = te.time_since_last_hit.is_some();
        let push = |out: &mut Vec<p4::Entity>, e: p4::TableEntry| out.push(p4::Entity { entity: Some(E::TableEntry(e)) });
        for t in tables {
            let name = &r.p.program.tables[t.index].name;
            if te.is_default_action {
                let (a, args) = r.switch.default_action(t.index);
                push(out, p4::TableEntry { table_id: t.id, action: translate::action_out(&r.p, a, args), is_default_action: true, ..Default::default() });
                continue;
            }
            if !te.r#match.is_empty() {
                let (m, prio) = translate::key(t, te).map_err(|f| Status::new(f.code, f.message))?;
                if let Ok(e) = r.switch.entry(name, &m, prio) {
                    push(out, translate::entry_out(&r.p, t, e, now, hit_time));
                }
                continue;
            }
            let entries = r.switch.entries(name).map_err(|e| Status::internal(e.to_string()))?;
            for e in entries {
                if te.priority != 0 && e.spec.priority != te.priority {
                    continue;
                }
                push(out, translate::entry_out(&r.p, t, e, now, hit_time));
            }
        }
        Ok(())
    }

    // ---- streams ------------------------------------------------------------

    pub fn open_stream(&mut self, tx: StreamTx) -> StreamId {
        let id = self.next_stream;
        self.next_stream += 1;
        self.streams.insert(id, tx);
        id
    }

    pub fn close_stream(&mut self, id: StreamId) {
        self.streams.remove(&id);
        let notices = self.arbiter.remove(id);
        self.send_notices(notices);
    }

    fn send(&mut self, id: StreamId, msg: Out) {
        if let Some(tx) = self.streams.get(&id) {
            if tx.try_send(Ok(p4::StreamMessageResponse { update: Some(msg) })).is_err() {
                self.stats.stream_messages_dropped += 1;
            }
        }
    }

    fn send_notices(&mut self, notices: Vec<Notice>) {
        for n in notices {
            let status = if n.is_primary {
                p4runtime_proto::google::rpc::Status { code: Code::Ok as i32, message: "primary".into(), details: vec![] }
            } else {
                p4runtime_proto::google::rpc::Status { code: Code::AlreadyExists as i32, message: "backup: a controller with a higher election id is primary".into(), details: vec![] }
            };
            let msg = p4::MasterArbitrationUpdate {
                device_id: n.device_id,
                role: if n.role.is_empty() { None } else { Some(p4::Role { name: n.role.clone(), ..Default::default() }) },
                election_id: Some(uint128(n.primary_election_id)),
                status: Some(status),
            };
            self.send(n.stream, Out::Arbitration(msg));
        }
    }

    fn stream_error(&mut self, id: StreamId, code: Code, message: String, details: Option<p4::stream_error::Details>) {
        self.send(id, Out::Error(p4::StreamError { canonical_code: code as i32, message, details, ..Default::default() }));
    }

    /// One message from a stream. `Err`: the stream must be closed with it.
    pub fn stream_message(&mut self, id: StreamId, msg: p4::StreamMessageRequest) -> Result<(), Status> {
        use p4::stream_message_request::Update as In;
        match msg.update {
            Some(In::Arbitration(a)) => {
                self.check_device(a.device_id)?;
                let role = a.role.as_ref().map(|r| r.name.clone()).unwrap_or_default();
                let election = u128_of(&a.election_id).ok_or_else(|| Status::invalid_argument("arbitration without an election id"))?;
                let notices = self.arbiter.update(id, a.device_id, &role, election).map_err(|e| Status::invalid_argument(e.to_string()))?;
                self.send_notices(notices);
            }
            Some(In::Packet(po)) => {
                if !self.arbiter.stream_is_primary(id) {
                    self.stream_error(id, Code::PermissionDenied, "PacketOut from a non-primary controller".into(), Some(p4::stream_error::Details::PacketOut(p4::PacketOutError { packet_out: Some(po) })));
                    return Ok(());
                }
                self.packet_out(id, po);
            }
            Some(In::DigestAck(ack)) => {
                let ok = self.arbiter.stream_is_primary(id) && self.digests.get_mut(&ack.digest_id).is_some_and(|q| q.ack(ack.list_id));
                if !ok {
                    self.stream_error(id, Code::NotFound, format!("no outstanding digest list {} of digest {}", ack.list_id, ack.digest_id), Some(p4::stream_error::Details::DigestListAck(p4::DigestListAckError { digest_list_ack: Some(ack) })));
                }
            }
            Some(In::Other(_)) | None => self.stream_error(id, Code::Unimplemented, "unsupported stream message".into(), None),
        }
        Ok(())
    }

    fn packet_out(&mut self, id: StreamId, po: p4::PacketOut) {
        let Some(cpu) = self.opts.cpu_port else {
            self.stream_error(id, Code::FailedPrecondition, "no CPU port configured (--cpu-port)".into(), Some(p4::stream_error::Details::PacketOut(p4::PacketOutError { packet_out: Some(po) })));
            return;
        };
        if self.running.is_none() {
            self.stream_error(id, Code::FailedPrecondition, "no forwarding pipeline config has been set".into(), None);
            return;
        }
        if let Some((port, frame)) = self.inject(cpu, &po.payload) {
            if let Some(sink) = self.egress.as_mut() {
                sink(port, &frame);
            }
        }
    }

    fn primary_stream(&self) -> Option<StreamId> {
        self.arbiter.primary(self.opts.device_id, "").map(|p| p.0)
    }

    // ---- the data path --------------------------------------------------------

    /// Runs one frame through the pipeline. Frames to the CPU port become
    /// PacketIn; others are returned for the port driver to send.
    pub fn inject(&mut self, port: u16, frame: &[u8]) -> Option<(u16, Vec<u8>)> {
        let mut out = None;
        self.inject_batch(port, std::iter::once(frame), |p, f| out = Some((p, f.to_vec())));
        out
    }

    /// Runs a batch of frames received on `port` (the forwarding loop calls
    /// this once per recvmmsg batch, under one lock). Frames to the CPU port
    /// become PacketIn; `emit` gets every other output.
    pub fn inject_batch<'a>(&mut self, port: u16, frames: impl Iterator<Item = &'a [u8]>, mut emit: impl FnMut(u16, &[u8])) {
        let now = self.now_ns();
        let Some(r) = self.running.as_mut() else { return };
        r.switch.set_time(now);
        let mut packet_ins = Vec::new();
        for frame in frames {
            match r.switch.process_ref(port, frame) {
                Some(p) if Some(p) == self.opts.cpu_port => packet_ins.push(r.switch.output().to_vec()),
                Some(p) => emit(p, r.switch.output()),
                None => {}
            }
        }
        let digests = r.switch.take_digests();
        if !digests.is_empty() {
            for d in digests {
                let Some(id) = r.p.digest_by_name.get(&d.type_name) else { continue };
                if let Some(q) = self.digests.get_mut(id) {
                    q.push(d.fields.iter().map(|f| f.2).collect(), now);
                }
            }
            self.flush_digests(now);
        }
        self.stats.packet_ins += packet_ins.len() as u64;
        if let Some(s) = self.primary_stream() {
            for payload in packet_ins {
                self.send(s, Out::Packet(p4::PacketIn { payload, metadata: vec![] }));
            }
        }
    }

    fn flush_digests(&mut self, now: u64) {
        let Some(primary) = self.primary_stream() else { return };
        let Some(r) = self.running.as_ref() else { return };
        let mut lists = Vec::new();
        for (id, q) in self.digests.iter_mut() {
            while let Some((list_id, data)) = q.poll(now) {
                let widths = r.p.digests.get(id).map(|d| d.widths.clone()).unwrap_or_default();
                let data = data
                    .into_iter()
                    .map(|vals| p4::P4Data {
                        data: Some(p4::p4_data::Data::Struct(p4::P4StructLike {
                            members: vals.iter().zip(widths.iter().chain(std::iter::repeat(&64))).map(|(v, _)| p4::P4Data { data: Some(p4::p4_data::Data::Bitstring(translate::encode(*v))) }).collect(),
                        })),
                    })
                    .collect();
                lists.push(p4::DigestList { digest_id: *id, list_id, data, timestamp: wall_ns() });
            }
        }
        self.stats.digests_dropped = self.digests.values().map(|q| q.dropped).sum();
        for l in lists {
            self.send(primary, Out::Digest(l));
        }
    }

    /// Periodic work: digest timeouts and idle-timeout notifications.
    ///
    /// The idle sweep is incremental: per tick it visits a bounded slice of
    /// each idle-timeout table's slots (`SWEEP_MIN_SLOTS`, or 1/`SWEEP_TICKS`
    /// of the table if that is more) and continues there next tick, so the
    /// device lock is never held for a scan of a large table; every entry
    /// is still visited at least once a second. An entry is reported once
    /// per idle period: again only after it was hit (or replaced) and
    /// expired anew.
    pub fn tick(&mut self) {
        let now = self.now_ns();
        self.flush_digests(now);
        let Some(primary) = self.primary_stream() else { return };
        let Some(r) = self.running.as_mut() else { return };
        r.switch.set_time(now);
        let mut expired = Vec::new();
        let mut tables: Vec<&crate::pipeline::TableMap> = r.p.tables.values().filter(|t| t.support_timeout).collect();
        tables.sort_by_key(|t| t.index);
        for t in tables {
            let slots = r.switch.table_slots(t.index);
            let n = slots.len();
            if n == 0 {
                continue;
            }
            let budget = SWEEP_MIN_SLOTS.max(n.div_ceil(SWEEP_TICKS)).min(n);
            let mut cur = self.sweep_cursor.get(&t.index).copied().unwrap_or(0);
            for _ in 0..budget {
                if cur >= n {
                    cur = 0;
                }
                let slot = (t.index, cur);
                cur += 1;
                let idle = slots[slot.1].as_ref().filter(|e| e.spec.idle_timeout_ns != 0 && now.saturating_sub(e.last_hit_ns) >= e.spec.idle_timeout_ns);
                let Some(e) = idle else {
                    // Empty, no timeout or not idle: forget an earlier report
                    // (one that was hit again is reported when it next expires).
                    if !self.idle_notified.is_empty() {
                        self.idle_notified.remove(&slot);
                    }
                    continue;
                };
                let reported = self.idle_notified.get(&slot).is_some_and(|(hit, m)| *hit == e.last_hit_ns && *m == e.spec.matches);
                if !reported {
                    expired.push(translate::entry_out(&r.p, t, e, now, false));
                    self.idle_notified.insert(slot, (e.last_hit_ns, e.spec.matches.clone()));
                }
            }
            self.sweep_cursor.insert(t.index, cur);
        }
        if !expired.is_empty() {
            for chunk in expired.chunks(1024) {
                let n = p4::IdleTimeoutNotification { table_entry: chunk.to_vec(), timestamp: wall_ns() };
                self.send(primary, Out::IdleTimeoutNotification(n));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device_with_entries(n: u64) -> (Device, mpsc::Receiver<Result<p4::StreamMessageResponse, Status>>) {
        let p4 = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../p4/switchyard.p4"));
        let defines = vec![("CONNECTION_TABLE_SIZE".to_string(), "131072".to_string())];
        let sw = Switch::load(p4, &defines).expect("switchyard.p4 loads");
        let mut d = Device::new(DeviceOptions::default());
        d.install_program(Arc::new(sw.program().clone()), vec![]).unwrap();
        let (tx, rx) = mpsc::channel(1 << 16);
        let id = d.open_stream(tx);
        let arb = p4::MasterArbitrationUpdate { device_id: 1, election_id: Some(uint128(1)), ..Default::default() };
        d.stream_message(id, p4::StreamMessageRequest { update: Some(p4::stream_message_request::Update::Arbitration(arb)) }).unwrap();
        let r = d.running.as_mut().unwrap();
        for i in 0..n {
            let e = TableEntry {
                matches: vec![FieldMatch::Exact(0xC612_0000 | (i >> 16)), FieldMatch::Exact(i & 0xffff), FieldMatch::Exact(1)],
                action: "SwitchyardIngress.set_conn_backend".into(),
                params: vec![1],
                priority: 0,
                idle_timeout_ns: 1,
            };
            r.switch.insert("connection", &e).unwrap();
        }
        (d, rx)
    }

    fn notified(rx: &mut mpsc::Receiver<Result<p4::StreamMessageResponse, Status>>) -> usize {
        let mut n = 0;
        while let Ok(Ok(m)) = rx.try_recv() {
            if let Some(Out::IdleTimeoutNotification(x)) = m.update {
                n += x.table_entry.len();
            }
        }
        n
    }

    /// A large table is swept a bounded slice per tick, yet every idle
    /// entry is reported exactly once within `SWEEP_TICKS` ticks.
    #[test]
    fn idle_sweep_is_incremental_and_reports_each_entry_once() {
        let n = 100_000u64;
        let (mut d, mut rx) = device_with_entries(n);
        std::thread::sleep(std::time::Duration::from_millis(2));
        d.tick();
        let first = notified(&mut rx);
        assert!(first > 0 && first < n as usize, "one tick visits a slice, not the whole table: {first}");
        let mut total = first;
        for _ in 1..SWEEP_TICKS {
            d.tick();
            total += notified(&mut rx);
        }
        assert_eq!(total, n as usize, "every idle entry reported within {SWEEP_TICKS} ticks");
        for _ in 0..2 * SWEEP_TICKS {
            d.tick();
        }
        assert_eq!(notified(&mut rx), 0, "reported once per idle period");
    }
}
