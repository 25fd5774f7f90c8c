//! The control thread with a switch: a tokio current-thread runtime holding
//! one `P4rtClient` and its batched writer. It programs the config's
//! services at start, turns the worker's offload requests into connection
//! table writes and their completions into `OffloadEvent`s, deletes entries
//! after teardown digests (grace period) and idle timeouts, and rotates the
//! cookie secret. The decisions live in the plain-state modules `entries`,
//! `teardown` and `rotation`; this file only moves messages.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use switchyard_control::client::{
    spawn_writer, BackoffPolicy, ClientError, ClientOptions, Code, Completion, Event, Mastership, P4rtClient, WriteJob, WriterHandle,
    WriterOptions,
};
use switchyard_control::counters::{read_switch_counters, SwitchCounters};
use switchyard_control::p4info::{P4InfoError, P4InfoIndex};
use switchyard_control::proto::p4::v1::{self as p4, get_forwarding_pipeline_config_request::ResponseType, update, write_request::Atomicity};
use switchyard_control::switchyard::{self as sy, ConnMode, SwitchyardTables};
use switchyard_control::client::ClientTls;
use switchyard_control::proto::tls::TlsFiles;
use switchyard_frontend::config::{Config, OffloadMode, SwitchTransport};
use switchyard_frontend::offload::{OffloadEvent, OffloadRequest, RefusedReason};
use switchyard_wire::cookie::CookieSecret;
use tokio::sync::{broadcast, mpsc};

use super::entries::{self, ConnEntries, Op, OpKind, Outcome};
use super::requests::{ConnectionEntry, ConnectionTable, SwitchState, TaskRequest, MAX_LISTED_ENTRIES};
use super::rotation::{Rotation, Step};
use super::services::{initial_secrets, service_entries, switch_secret};
use super::teardown::{Due, PendingDeletions, MAX_PENDING_DELETIONS, TEARDOWN_GRACE};
use super::Shared;

/// Most updates per Write. The switch-sim server applies a batch under one
/// lock; docs/P4RUNTIME.md measured 128 per Write as the best rate.
pub const MAX_BATCH: usize = 128;
/// Entries tracked when the P4Info gives no table size.
pub const DEFAULT_TRACKED: usize = 1 << 20;
/// Fewest entries tracked whatever the table size.
pub const MIN_TRACKED: usize = 65536;
/// Idle timeouts below this are raised to it (bmv2 and switch-sim sweep at
/// that granularity; shorter would only be rounded up by the switch).
pub const MIN_IDLE_TIMEOUT: Duration = Duration::from_millis(500);
/// Digest batching on the switch: a teardown waits at most this long for
/// companions. The grace period is seconds, so milliseconds are free.
const DIGEST_MAX_TIMEOUT: Duration = Duration::from_millis(10);
const DIGEST_MAX_LIST: i32 = 128;
/// Unacknowledged digest lists are re-sent after this.
const DIGEST_ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// The tag of cookie-secret writes (connection writes count up from 1).
const ROTATION_TAG: u64 = u64::MAX;
/// The loop wakes at least this often to see the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How long a scrape's read of the switch's counters may take (the
/// admin API gives up on it sooner: `SWITCH_COUNTERS_TIMEOUT`).
const COUNTERS_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// How to reach and use the switch.
#[derive(Debug, Clone)]
pub struct P4rtOptions {
    /// `http://ip:port`.
    pub endpoint: String,
    pub device_id: u64,
    pub election_id: u128,
    /// How long the start keeps trying to reach the switch (and to find a
    /// pipeline on it) before failing.
    pub start_timeout: Duration,
    /// Between a teardown digest and the deletion of the entry.
    pub teardown_grace: Duration,
    pub max_pending_deletions: usize,
    /// Cookie secret rotation period; None: never rotate.
    pub rotation: Option<Duration>,
    /// The connection entries' idle timeout.
    pub idle_timeout: Duration,
    /// Completed rotations are persisted here (`secret_store`).
    pub rotated_secrets_file: Option<std::path::PathBuf>,
    /// `[switch]` mutual TLS or insecure; None: neither chosen, and the
    /// start refuses to connect.
    pub transport: Option<SwitchTransport>,
}

impl P4rtOptions {
    /// From the config: `[switch] p4runtime` and `device_id`, rotation
    /// every `cookie.rotation_secs`, and entries idle out after
    /// `timeouts.idle_ms` — the same time the engine keeps a flow it carries
    /// itself without a packet.
    pub fn from_config(cfg: &Config, election_id: u128) -> Self {
        P4rtOptions {
            endpoint: format!("http://{}", cfg.switch.p4runtime),
            device_id: cfg.switch.device_id,
            election_id,
            start_timeout: Duration::from_secs(30),
            teardown_grace: TEARDOWN_GRACE,
            max_pending_deletions: MAX_PENDING_DELETIONS,
            rotation: Some(cfg.cookie.rotation),
            idle_timeout: Duration::from_millis(cfg.timeouts.idle_ms).max(MIN_IDLE_TIMEOUT),
            rotated_secrets_file: cfg.cookie.rotated_secrets_file.clone(),
            transport: cfg.switch.transport.clone(),
        }
    }
}

/// A P4Runtime switch link: the config whose services are programmed, and
/// the options.
#[derive(Debug, Clone)]
pub struct P4rtLink {
    pub config: Config,
    pub options: P4rtOptions,
}

/// The worker's queues, as the control thread sees them.
pub(super) struct Queues {
    pub requests: Receiver<(OffloadRequest, Instant)>,
    pub events: Sender<OffloadEvent>,
    pub rotations: Sender<CookieSecret>,
    pub task_requests: mpsc::Receiver<TaskRequest>,
    pub shared: Arc<Shared>,
    pub stop: Arc<AtomicBool>,
}

/// The control thread's body: start (reported through `ready`), then serve
/// until `stop`.
pub(super) fn run(link: P4rtLink, q: Queues, ready: std::sync::mpsc::Sender<Result<String, String>>) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!("control thread: tokio runtime: {e}")));
            return;
        }
    };
    rt.block_on(async move {
        let task = match Task::start(link, q).await {
            Ok((task, banner)) => {
                let _ = ready.send(Ok(banner));
                task
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        task.serve().await;
    });
}

/// Due deletions and the switch's answer about their entries' last hits.
type HitReport = (Vec<Due>, Result<Vec<p4::TableEntry>, ClientError>);

struct Task {
    client: P4rtClient,
    tables: Arc<SwitchyardTables>,
    config: Arc<Config>,
    opts: P4rtOptions,
    writer: WriterHandle,
    completions: mpsc::Receiver<Completion>,
    events: broadcast::Receiver<Event>,
    events_open: bool,
    primary: bool,
    entries: ConnEntries,
    pending: PendingDeletions,
    rotation: Option<Rotation>,
    in_flight: HashMap<u64, (Op, Instant)>,
    /// Events the worker's queue had no room for yet.
    backlog: VecDeque<OffloadEvent>,
    hits_tx: mpsc::Sender<HitReport>,
    hits_rx: mpsc::Receiver<HitReport>,
    epoch: Instant,
    q: Queues,
}

/// Entries written for the services, cookie secrets and the digest config.
async fn program(client: &P4rtClient, t: &SwitchyardTables, cfg: &Config, secrets: (CookieSecret, u8, CookieSecret)) -> Result<Vec<String>, String> {
    let mut se = service_entries(cfg, t).map_err(|e| format!("building the service entries: {e}"))?;
    let (cur, generation, prev) = secrets;
    se.cookie_secrets = t.cookie_secrets(switch_secret(cur, generation), switch_secret(prev, generation ^ 1)).map_err(|e| e.to_string())?;
    let mut ups: Vec<p4::Update> = se.entries.into_iter().map(sy::insert).collect();
    ups.extend(t.teardown_digest_config(DIGEST_MAX_TIMEOUT, DIGEST_MAX_LIST, DIGEST_ACK_TIMEOUT));
    insert_or_modify(client, ups).await?;
    client.write(vec![sy::modify(se.cookie_secrets)], Atomicity::ContinueOnError).await.map_err(|e| format!("cookie secrets: {e}"))?;
    Ok(se.warnings)
}

/// INSERTs; those the switch already has (a restarted front-end) become MODIFYs.
async fn insert_or_modify(client: &P4rtClient, ups: Vec<p4::Update>) -> Result<(), String> {
    let statuses = match client.write(ups.clone(), Atomicity::ContinueOnError).await {
        Ok(()) => return Ok(()),
        Err(ClientError::Updates(v)) if v.len() == ups.len() => v,
        Err(e) => return Err(e.to_string()),
    };
    let mut again = Vec::new();
    for (mut u, s) in ups.into_iter().zip(statuses) {
        match s.code {
            Code::Ok => {}
            Code::AlreadyExists => {
                u.r#type = update::Type::Modify as i32;
                again.push(u);
            }
            c => return Err(format!("{c:?}: {}", s.message)),
        }
    }
    if !again.is_empty() {
        client.write(again, Atomicity::ContinueOnError).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A fresh 64-bit secret from the kernel's CSPRNG.
fn fresh_secret() -> CookieSecret {
    let mut b = [0u8; 8];
    let mut got = 0;
    while got < b.len() {
        // SAFETY: writes at most the remaining bytes of `b`.
        let n = unsafe { libc::getrandom(b[got..].as_mut_ptr().cast(), b.len() - got, 0) };
        if n > 0 {
            got += n as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            panic!("getrandom failed: {}", std::io::Error::last_os_error());
        }
    }
    CookieSecret { k0: u32::from_le_bytes([b[0], b[1], b[2], b[3]]), k1: u32::from_le_bytes([b[4], b[5], b[6], b[7]]) }
}

fn conn_mode(m: OffloadMode) -> ConnMode {
    match m {
        OffloadMode::Connection => ConnMode::Connection,
        OffloadMode::Request => ConnMode::Request,
    }
}

/// Connects within the start timeout, checks primacy and the pipeline.
async fn reach(opts: &P4rtOptions) -> Result<(P4rtClient, SwitchyardTables), String> {
    let deadline = tokio::time::Instant::now() + opts.start_timeout;
    let secs = opts.start_timeout.as_secs_f64();
    let tls = match &opts.transport {
        Some(SwitchTransport::MutualTls { ca, cert, key, server_name }) => {
            Some(ClientTls { files: TlsFiles { ca: ca.clone(), cert: cert.clone(), key: key.clone() }, server_name: server_name.clone() })
        }
        Some(SwitchTransport::Insecure) => None,
        None => {
            return Err(format!(
                "the [switch] section chooses no transport for P4Runtime at {}: set tls_ca, tls_cert and tls_key (mutual TLS) \
                 or insecure = true (plain gRPC, nothing authenticated)",
                opts.endpoint
            ))
        }
    };
    let copts = ClientOptions {
        tls,
        device_id: opts.device_id,
        election_id: opts.election_id,
        backoff: BackoffPolicy { initial: Duration::from_millis(100), max: Duration::from_secs(2), max_attempts: Some(4) },
        connect_timeout: Duration::from_secs(2),
        arbitration_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let mut last = String::from("no attempt finished");
    let client = loop {
        match tokio::time::timeout_at(deadline, P4rtClient::connect(&opts.endpoint, copts.clone())).await {
            Ok(Ok(c)) => break c,
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("cannot reach the switch's P4Runtime server at {} within {secs:.0} s: {last}", opts.endpoint));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    if client.wait_mastership(remaining, |m| *m == Mastership::Primary).await.is_none() {
        return Err(format!(
            "the switch at {} (device {}) has another primary controller ({:?}); this front-end (election id {}) needs to be primary: \
             start it with a higher --election-id",
            opts.endpoint,
            opts.device_id,
            client.mastership(),
            opts.election_id
        ));
    }
    let info = loop {
        match client.get_pipeline(ResponseType::P4infoAndCookie).await {
            Ok(cfg) if cfg.p4info.as_ref().is_some_and(|i| !i.tables.is_empty()) => break cfg.p4info.unwrap_or_default(),
            Ok(_) => last = "no P4Info in the answer".into(),
            Err(e) => last = e.to_string(),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "the switch at {} has no pipeline ({last}): load p4/switchyard.p4 on it first (switchyard-p4rt --p4, or the testbed); \
                 the front-end programs only its services and connections",
                opts.endpoint
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let index = P4InfoIndex::new(info).map_err(|e| format!("the switch's P4Info: {e}"))?;
    let tables = SwitchyardTables::new(index).map_err(|e| format!("the switch at {} does not run the Switchyard program: {e}", opts.endpoint))?;
    Ok((client, tables))
}

impl Task {
    async fn start(link: P4rtLink, q: Queues) -> Result<(Task, String), String> {
        let P4rtLink { config, options: opts } = link;
        let (client, tables) = reach(&opts).await?;
        let events = client.subscribe();
        let secrets = initial_secrets(&config);
        let warnings = program(&client, &tables, &config, secrets).await.map_err(|e| format!("programming the services on {}: {e}", opts.endpoint))?;
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        let size = tables.index().table(sy::TABLE_CONNECTION).map(|t| t.size).unwrap_or(0);
        // A memory bound only: the switch's RESOURCE_EXHAUSTED decides
        // fullness (its size may count differently, e.g. a Tofino's cuckoo
        // table fills below it), and forgotten-but-present entries linger.
        let tracked = if size > 0 { (2 * size as usize).max(MIN_TRACKED) } else { DEFAULT_TRACKED };
        let (writer, completions) = spawn_writer(client.clone(), WriterOptions { max_batch: MAX_BATCH, linger: Duration::ZERO, capacity: super::REQUEST_QUEUE });
        let epoch = Instant::now();
        let rotation = opts.rotation.map(|p| Rotation::new(p.as_millis() as u64, secrets.0, secrets.1, secrets.2, 0));
        let (hits_tx, hits_rx) = mpsc::channel(16);
        let banner = format!(
            "switch {} over {} (device {}, election id {}): {} services, {} backends programmed; connection table {} entries, idle timeout {:?}, teardown grace {:?}, rotation {:?}",
            opts.endpoint,
            if matches!(opts.transport, Some(SwitchTransport::MutualTls { .. })) { "mutual TLS" } else { "plain gRPC" },
            opts.device_id,
            opts.election_id,
            config.services.len(),
            config.backends.len(),
            size,
            opts.idle_timeout,
            opts.teardown_grace,
            opts.rotation
        );
        let pending = PendingDeletions::new(opts.teardown_grace, opts.max_pending_deletions);
        q.shared.stats.conn_table_size.store(size as u64, Relaxed);
        q.shared.switch_state.store(SwitchState::Primary.code(), Relaxed);
        let task = Task {
            client,
            tables: Arc::new(tables),
            config: Arc::new(config),
            opts,
            writer,
            completions,
            events,
            events_open: true,
            primary: true,
            entries: ConnEntries::new(tracked),
            pending,
            rotation,
            in_flight: HashMap::new(),
            backlog: VecDeque::new(),
            hits_tx,
            hits_rx,
            epoch,
            q,
        };
        Ok((task, banner))
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    async fn serve(mut self) {
        while !self.q.stop.load(Relaxed) {
            let now = self.now_ms();
            let mut wake = now + STOP_POLL.as_millis() as u64;
            wake = wake.min(self.pending.next_due().unwrap_or(u64::MAX));
            wake = wake.min(self.rotation.as_ref().and_then(|r| r.next_deadline()).unwrap_or(u64::MAX));
            if !self.backlog.is_empty() {
                wake = wake.min(now + 1);
            }
            let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(self.epoch + Duration::from_millis(wake)));
            let events_open = self.events_open;
            tokio::select! {
                _ = self.q.shared.doorbell.notified() => {}
                c = self.completions.recv() => match c {
                    Some(c) => self.on_completion(c),
                    None => { eprintln!("control: the P4Runtime writer stopped"); break; }
                },
                ev = self.events.recv(), if events_open => self.on_event(ev),
                Some((due, r)) = self.hits_rx.recv() => self.on_hits(due, r),
                Some(request) = self.q.task_requests.recv() => match request {
                    TaskRequest::Table { reply } => self.on_table_query(reply),
                    TaskRequest::Counters { reply } => self.on_counters_query(reply),
                    TaskRequest::EntriesPerBackend { backends, reply } => {
                        let _ = reply.send(self.entries.per_backend(backends));
                    }
                    TaskRequest::Reprogram { config, reply } => self.reprogram(config, reply),
                    TaskRequest::EntriesOfVip { vip, reply } => {
                        let _ = reply.send(self.entries.of_vip(vip));
                    }
                    TaskRequest::DeleteBackendAddress { address, port, reply } => {
                        let entry = self.tables.backend_address(address, port, 0, 0, std::net::Ipv4Addr::UNSPECIFIED, 0);
                        self.delete_entry(entry, reply);
                    }
                    TaskRequest::DeleteVip { address, port, reply } => {
                        let entry = self.tables.vip_key(address, port);
                        self.delete_entry(entry, reply);
                    }
                },
                _ = sleep => {}
            }
            self.drain_requests();
            while let Ok(c) = self.completions.try_recv() {
                self.on_completion(c);
            }
            self.flush_backlog();
            self.rotate();
            self.teardowns();
            self.q.shared.stats.conn_entries_tracked.store(self.entries.len() as u64, Relaxed);
        }
    }

    /// The admin API's table read: one Read of the whole connection table,
    /// off the loop like the teardown reads.
    /// A reload: the new services on the switch (INSERT, or MODIFY what
    /// exists; entries of what the config no longer names stay), signed
    /// with the secrets the switch uses now. Off the loop like the reads.
    fn reprogram(&mut self, config: Arc<Config>, reply: tokio::sync::oneshot::Sender<Result<Vec<String>, String>>) {
        let secrets = self.rotation.as_ref().map(|r| r.switch_view()).unwrap_or_else(|| initial_secrets(&self.config));
        self.config = config.clone();
        let (client, tables) = (self.client.clone(), self.tables.clone());
        tokio::spawn(async move {
            let _ = reply.send(program(&client, &tables, &config, secrets).await);
        });
    }

    /// One DELETE, off the loop; an entry already gone is not an error. A
    /// DELETE names the key alone: the action's values are placeholders.
    fn delete_entry(&mut self, entry: Result<p4::TableEntry, P4InfoError>, reply: tokio::sync::oneshot::Sender<Result<(), String>>) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let _ = reply.send(Err(e.to_string()));
                return;
            }
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            let r = client.write(vec![sy::delete(entry)], Atomicity::ContinueOnError).await;
            let _ = reply.send(match r {
                Ok(()) => Ok(()),
                Err(ClientError::Updates(v)) if v.iter().all(|s| s.code == Code::NotFound) => Ok(()),
                Err(e) => Err(e.to_string()),
            });
        });
    }

    /// The metrics scrape's counter read: two Reads, off the loop, bounded
    /// so that a stalled switch never piles them up.
    fn on_counters_query(&mut self, reply: tokio::sync::oneshot::Sender<Result<SwitchCounters, String>>) {
        let (client, tables) = (self.client.clone(), self.tables.clone());
        tokio::spawn(async move {
            let read = tokio::time::timeout(COUNTERS_READ_TIMEOUT, read_switch_counters(&client, tables.index())).await;
            let _ = reply.send(read.unwrap_or_else(|_| Err(format!("the switch did not answer the counter read within {COUNTERS_READ_TIMEOUT:?}"))));
        });
    }

    fn on_table_query(&mut self, reply: tokio::sync::oneshot::Sender<Result<ConnectionTable, String>>) {
        let (client, tables) = (self.client.clone(), self.tables.clone());
        let tracked = self.entries.len();
        let capacity = self.q.shared.stats.conn_table_size.load(Relaxed);
        tokio::spawn(async move {
            let answer = client.read_table(tables.connection_table_id()).await.map_err(|e| format!("reading the connection table: {e}")).map(|read| {
                let entries = read
                    .iter()
                    .filter_map(|e| {
                        let (key, backend) = tables.decode_connection(e).ok().flatten()?;
                        Some(ConnectionEntry { key, backend, mode: tables.connection_mode(e) })
                    })
                    .take(MAX_LISTED_ENTRIES)
                    .collect();
                ConnectionTable { entries, total: read.len(), tracked, capacity }
            });
            let _ = reply.send(answer);
        });
    }

    fn drain_requests(&mut self) {
        while let Ok((r, at)) = self.q.requests.try_recv() {
            match r {
                OffloadRequest::Install { key, backend, mode } => {
                    self.q.shared.stats.install_requests.fetch_add(1, Relaxed);
                    self.pending.cancel(&key);
                    if self.config.moving.iter().any(|m| m.backend == backend && m.from != key.vip_id) {
                        self.refused(key, backend, RefusedReason::BackendMoving);
                        continue;
                    }
                    match self.entries.install(key, backend, mode) {
                        Ok(op) => self.submit(op, at),
                        Err(reason) => self.refused(key, backend, reason),
                    }
                }
                OffloadRequest::Delete { key } => {
                    self.q.shared.stats.engine_deletes.fetch_add(1, Relaxed);
                    self.pending.cancel(&key);
                    let op = self.entries.delete(key);
                    self.submit(op, at);
                }
                OffloadRequest::Detach { key } => {
                    self.q.shared.stats.detaches.fetch_add(1, Relaxed);
                    self.pending.cancel(&key);
                    let op = self.entries.detach(key);
                    self.submit(op, at);
                }
            }
        }
    }

    fn update_for(&self, op: &Op) -> Result<p4::Update, String> {
        let t = &self.tables;
        let ttl = Some(self.opts.idle_timeout);
        let r = match op.kind {
            OpKind::Insert => t.connection_in(conn_mode(op.mode), &op.key, op.backend, ttl).map(sy::insert),
            OpKind::Modify => t.connection_in(conn_mode(op.mode), &op.key, op.backend, ttl).map(sy::modify),
            OpKind::Delete | OpKind::Detach => t.connection_key(&op.key).map(sy::delete),
        };
        r.map_err(|e| e.to_string())
    }

    fn submit(&mut self, op: Op, at: Instant) {
        let update = match self.update_for(&op) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("control: entry for {:?}: {e}", op.key);
                return self.finish(op, at, Code::InvalidArgument);
            }
        };
        match self.writer.try_submit(WriteJob { tag: op.tag, update }) {
            Ok(()) => {
                self.in_flight.insert(op.tag, (op, at));
            }
            // The writer's queue is full: this install stays on the
            // front-end path (Aborted maps to Failed).
            Err(ClientError::QueueFull) => self.finish(op, at, Code::Aborted),
            Err(_) => self.finish(op, at, Code::Unavailable),
        }
    }

    fn on_completion(&mut self, c: Completion) {
        if c.tag == ROTATION_TAG {
            let ok = c.status.is_ok();
            if !ok {
                eprintln!("control: cookie secret write failed ({:?}: {}); retrying", c.status.code, c.status.message);
            }
            let now = self.now_ms();
            if let Some(r) = self.rotation.as_mut() {
                r.written(ok, now);
            }
            if ok {
                self.persist_secrets();
                // Release: a waiting admin request reads the file's state after this.
                self.q.shared.stats.rotations.fetch_add(1, std::sync::atomic::Ordering::Release);
            }
            return;
        }
        if let Some((op, at)) = self.in_flight.remove(&c.tag) {
            // bmv2 says UNKNOWN where a full table should say RESOURCE_EXHAUSTED.
            self.finish(op, at, entries::switch_code(c.status.code, &c.status.message));
        }
    }

    /// The switch signs with the new secret: keep the pair for the next
    /// start. A small synchronous write once per rotation period; a
    /// failure is logged and the front-end goes on (a restart would then
    /// fall back to the last pair written, or the config's).
    fn persist_secrets(&self) {
        let (Some(path), Some(r)) = (&self.opts.rotated_secrets_file, &self.rotation) else { return };
        let (current, _, previous) = r.switch_view();
        if let Err(e) = super::secret_store::store(path, current, previous) {
            eprintln!("control: cannot keep the rotated cookie secrets in {}: {e}", path.display());
        }
    }

    fn finish(&mut self, op: Op, at: Instant, code: Code) {
        let s = &self.q.shared.stats;
        match self.entries.complete(&op, code) {
            Outcome::Installed => {
                s.installed.fetch_add(1, Relaxed);
                if op.kind == OpKind::Modify && !op.retried {
                    s.moved.fetch_add(1, Relaxed);
                }
                s.install_latency.record(at.elapsed());
                self.send(OffloadEvent::Installed { key: op.key, backend: op.backend });
            }
            Outcome::Refused(reason) => self.refused(op.key, op.backend, reason),
            Outcome::Retry(next) => self.submit(next, at),
            Outcome::Deleted => {}
            Outcome::DeleteFailed => {
                s.delete_failed.fetch_add(1, Relaxed);
            }
        }
        if op.kind == OpKind::Detach {
            // Every Detach is answered: the engine holds a hand-over for it.
            self.send(OffloadEvent::Detached { key: op.key, removed: matches!(code, Code::Ok | Code::NotFound) });
        }
    }

    fn refused(&mut self, key: switchyard_wire::flow::ConnKey, backend: u16, reason: RefusedReason) {
        let s = &self.q.shared.stats;
        match reason {
            RefusedReason::TableFull => s.refused_table_full.fetch_add(1, Relaxed),
            RefusedReason::SwitchUnreachable => s.refused_unreachable.fetch_add(1, Relaxed),
            RefusedReason::Failed => s.refused_failed.fetch_add(1, Relaxed),
            RefusedReason::BackendMoving => s.refused_moving.fetch_add(1, Relaxed),
        };
        self.send(OffloadEvent::Refused { key, backend, reason });
    }

    fn send(&mut self, ev: OffloadEvent) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(ev);
            return;
        }
        if let Err(TrySendError::Full(ev)) = self.q.events.try_send(ev) {
            self.backlog.push_back(ev);
        }
        // Cheap unless the worker is parked (then one eventfd write).
        self.q.shared.bell.ring();
    }

    fn flush_backlog(&mut self) {
        while let Some(ev) = self.backlog.pop_front() {
            match self.q.events.try_send(ev) {
                Ok(()) => self.q.shared.bell.ring(),
                Err(TrySendError::Full(ev)) => {
                    self.backlog.push_front(ev);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.backlog.clear();
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, ev: Result<Event, broadcast::error::RecvError>) {
        let now = self.now_ms();
        match ev {
            Ok(Event::Digest(d)) => {
                for td in self.tables.decode_teardowns(&d) {
                    self.q.shared.stats.teardown_digests.fetch_add(1, Relaxed);
                    let epoch = self.entries.epoch(&td.key);
                    if self.pending.on_teardown(td.key, epoch, now).is_err() {
                        self.q.shared.stats.teardown_overflow.fetch_add(1, Relaxed);
                    }
                }
            }
            Ok(Event::IdleTimeout(n)) => {
                for e in &n.table_entry {
                    if let Ok(Some((key, _))) = self.tables.decode_connection(e) {
                        self.pending.cancel(&key);
                        self.q.shared.stats.idle_deletes.fetch_add(1, Relaxed);
                        let op = self.entries.delete(key);
                        self.submit(op, Instant::now());
                        self.send(OffloadEvent::Ended { key });
                    }
                }
            }
            Ok(Event::Mastership(m)) => {
                let primary = m == Mastership::Primary;
                let state = if primary { SwitchState::Primary } else { SwitchState::NotPrimary };
                self.q.shared.switch_state.store(state.code(), Relaxed);
                if primary && !self.primary {
                    self.regained();
                } else if !primary && self.primary {
                    eprintln!("control: no longer the primary controller ({m:?}): installs are refused until primacy returns");
                }
                self.primary = primary;
            }
            Ok(Event::Disconnected(why)) => {
                if self.primary {
                    eprintln!("control: the stream to the switch broke ({why}); reconnecting");
                }
                self.primary = false;
                self.q.shared.switch_state.store(SwitchState::NotPrimary.code(), Relaxed);
            }
            Ok(Event::PacketIn(_)) | Ok(Event::StreamError(_)) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                eprintln!("control: missed {n} switch events (digests or idle timeouts); those entries age out by their idle timeout");
            }
            Err(broadcast::error::RecvError::Closed) => self.events_open = false,
        }
    }

    /// Primacy came back (a reconnect, a switch restart): the switch may have
    /// lost our entries, so program the services again (with the secrets
    /// it should sign with now) and forget what we knew of connections.
    fn regained(&mut self) {
        self.entries.forget_all();
        let secrets = self.rotation.as_ref().map(|r| r.switch_view()).unwrap_or_else(|| initial_secrets(&self.config));
        let (client, tables, config) = (self.client.clone(), self.tables.clone(), self.config.clone());
        tokio::spawn(async move {
            match program(&client, &tables, &config, secrets).await {
                Ok(_) => eprintln!("control: primary again; services re-programmed"),
                Err(e) => eprintln!("control: primary again, but re-programming the services failed: {e}"),
            }
        });
    }

    fn rotate(&mut self) {
        let now = self.now_ms();
        let applied = self.q.shared.rotations_applied.load(std::sync::atomic::Ordering::Acquire);
        if self.q.shared.rotate_now.swap(false, std::sync::atomic::Ordering::SeqCst) {
            if let Some(r) = self.rotation.as_mut() {
                r.request_now(now);
            }
        }
        let Some(step) = self.rotation.as_mut().and_then(|r| r.poll(now, applied, fresh_secret)) else { return };
        match step {
            Step::TellWorkers(s) => {
                let sent = self.q.rotations.try_send(s);
                self.q.shared.bell.ring();
                if sent.is_err() {
                    // The worker is gone; the rotation waits (safe: the
                    // switch keeps signing with a secret the engine knows).
                    eprintln!("control: cannot hand the new cookie secret to the worker");
                }
            }
            Step::WriteSwitch { current, generation, previous } => {
                let job = self.tables.cookie_secrets(switch_secret(current, generation), switch_secret(previous, generation ^ 1)).map(sy::modify);
                let ok = match job {
                    Ok(update) => self.writer.try_submit(WriteJob { tag: ROTATION_TAG, update }).is_ok(),
                    Err(_) => false,
                };
                if !ok {
                    if let Some(r) = self.rotation.as_mut() {
                        r.written(false, now);
                    }
                }
            }
        }
    }

    /// Due deletions: ask the switch how long each entry has been quiet
    /// (one Read for all of them, off the loop), then `on_hits` decides.
    fn teardowns(&mut self) {
        let mut due = Vec::new();
        self.pending.take_due(self.now_ms(), &mut due);
        due.retain(|d| self.entries.epoch(&d.key) == d.epoch);
        if due.is_empty() {
            return;
        }
        let queries: Vec<p4::Entity> = due
            .iter()
            .filter_map(|d| self.tables.connection_hit_query(&d.key).ok())
            .map(|e| p4::Entity { entity: Some(p4::entity::Entity::TableEntry(e)) })
            .collect();
        let (client, tx) = (self.client.clone(), self.hits_tx.clone());
        tokio::spawn(async move {
            let r = client.read(queries).await.map(|es| {
                es.into_iter()
                    .filter_map(|e| match e.entity {
                        Some(p4::entity::Entity::TableEntry(t)) => Some(t),
                        _ => None,
                    })
                    .collect()
            });
            let _ = tx.send((due, r)).await;
        });
    }

    fn on_hits(&mut self, due: Vec<Due>, read: Result<Vec<p4::TableEntry>, ClientError>) {
        let now = self.now_ms();
        let grace = self.pending.grace_ms();
        let mut quiet: HashMap<_, u64> = HashMap::new();
        let read_ok = read.is_ok();
        for e in read.unwrap_or_default() {
            if let Ok(Some((key, _))) = self.tables.decode_connection(&e) {
                let ms = e.time_since_last_hit.map(|h| (h.elapsed_ns.max(0) / 1_000_000) as u64).unwrap_or(u64::MAX);
                quiet.insert(key, ms);
            }
        }
        for d in due {
            if self.entries.epoch(&d.key) != d.epoch {
                continue; // reused by a new connection meanwhile
            }
            match quiet.get(&d.key) {
                // Still carrying packets (a half-closed connection): wait.
                Some(&q) if read_ok && q < grace => {
                    if self.pending.rearm(d.key, d.epoch, q, now).is_err() {
                        self.q.shared.stats.teardown_overflow.fetch_add(1, Relaxed);
                    }
                }
                // Quiet for the grace, gone already, or the Read failed.
                _ => {
                    self.q.shared.stats.teardown_deletes.fetch_add(1, Relaxed);
                    let op = self.entries.delete(d.key);
                    self.submit(op, Instant::now());
                    self.send(OffloadEvent::Ended { key: d.key });
                }
            }
        }
    }
}
