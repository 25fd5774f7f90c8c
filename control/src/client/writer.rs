//! The batched writer: callers submit single updates into a bounded queue
//! (non-blocking `try_submit` from a data-plane thread, or `submit().await`);
//! one task packs them into WriteRequests (CONTINUE_ON_ERROR, so one bad
//! entry does not fail its neighbours) with `Batcher`, keeps up to a window
//! of Writes in flight (`DEFAULT_IN_FLIGHT`, or `spawn_writer_window`), and
//! reports each update's outcome as a `Completion` on a bounded channel.
//! While the window is full new requests accumulate, so batches grow with
//! load by themselves.
//!
//! Order: updates of one entity (table, match, priority; or digest id)
//! reach the server in submission order. An update waits while an earlier
//! update of the same entity is in flight, and two updates of one entity
//! never share a batch (the specification lets a server reorder the
//! updates of one WriteRequest), so a Delete never overtakes the Install of
//! the same key. Updates of other entities go past a waiting one, and
//! completions of different Writes arrive in the order the server answers.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use p4runtime_proto::p4::v1 as p4;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tonic::Code;

use super::batcher::Batcher;
use super::error::{ClientError, UpdateStatus};
use super::session::P4rtClient;

/// Writes in flight at once for `spawn_writer`.
pub const DEFAULT_IN_FLIGHT: usize = 4;

#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Most updates per WriteRequest.
    pub max_batch: usize,
    /// Longest an update waits for companions before a partial batch goes.
    pub linger: Duration,
    /// Bound of the submission queue (and of the completion queue).
    pub capacity: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { max_batch: 128, linger: Duration::from_micros(200), capacity: 65536 }
    }
}

/// One update to write, with the caller's tag for its completion.
#[derive(Debug, Clone)]
pub struct WriteJob {
    pub tag: u64,
    pub update: p4::Update,
}

/// The outcome of one submitted update.
#[derive(Debug, Clone)]
pub struct Completion {
    pub tag: u64,
    pub status: UpdateStatus,
    /// From submission to the server's answer.
    pub latency: Duration,
}

#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<(WriteJob, Instant)>,
}

impl WriterHandle {
    /// Never blocks: `QueueFull` when the bound is reached (the caller keeps
    /// the flow on its slow path), `WriterStopped` when the task has ended.
    pub fn try_submit(&self, job: WriteJob) -> Result<(), ClientError> {
        self.tx.try_send((job, Instant::now())).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ClientError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => ClientError::WriterStopped,
        })
    }

    pub async fn submit(&self, job: WriteJob) -> Result<(), ClientError> {
        self.tx.send((job, Instant::now())).await.map_err(|_| ClientError::WriterStopped)
    }
}

/// The identity of the entity an update writes, hashed: updates with equal
/// keys are kept in order. A collision only orders two unrelated updates.
pub fn entity_key(u: &p4::Update) -> u64 {
    use p4::entity::Entity as E;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match u.entity.as_ref().and_then(|e| e.entity.as_ref()) {
        Some(E::TableEntry(t)) => {
            (1u8, t.table_id, t.is_default_action, t.priority).hash(&mut h);
            if !t.is_default_action {
                t.r#match.hash(&mut h);
            }
        }
        Some(E::DigestEntry(d)) => (2u8, d.digest_id).hash(&mut h),
        // Anything else is ordered with everything else of its kind.
        _ => 0u8.hash(&mut h),
    }
    h.finish()
}

/// Starts the writer task on the current runtime, with up to
/// `DEFAULT_IN_FLIGHT` Writes in flight.
pub fn spawn_writer(client: P4rtClient, opts: WriterOptions) -> (WriterHandle, mpsc::Receiver<Completion>) {
    spawn_writer_window(client, opts, DEFAULT_IN_FLIGHT)
}

type Item = (WriteJob, Instant, u64);

/// Starts the writer task with up to `in_flight` Writes in flight (1: each
/// Write waits for the previous answer).
pub fn spawn_writer_window(client: P4rtClient, opts: WriterOptions, in_flight: usize) -> (WriterHandle, mpsc::Receiver<Completion>) {
    let window = in_flight.max(1);
    let (tx, mut rx) = mpsc::channel::<(WriteJob, Instant)>(opts.capacity.max(1));
    let (done_tx, done_rx) = mpsc::channel(opts.capacity.max(1));
    tokio::spawn(async move {
        let epoch = Instant::now();
        let ns = |t: Instant| t.duration_since(epoch).as_nanos() as u64;
        // Room for a full batch per Write in flight plus the next one.
        let mut batcher: Batcher<Item> = Batcher::new(opts.max_batch, opts.linger.as_nanos() as u64, opts.max_batch * (window + 1));
        // Entity keys with a Write in flight (count of updates).
        let mut busy: HashMap<u64, u32> = HashMap::new();
        let mut writes: JoinSet<Result<(), ClientError>> = JoinSet::new();
        // The updates of each Write in flight: (tag, submitted, key).
        let mut sent: HashMap<tokio::task::Id, Vec<(u64, Instant, u64)>> = HashMap::new();
        let mut open = true;
        // Set when the queued updates all wait for keys in flight: only an
        // answer can unblock them, so no timer is armed.
        let mut blocked = false;
        loop {
            // Fill from the queue without waiting.
            while open && batcher.has_room() {
                match rx.try_recv() {
                    Ok((job, at)) => {
                        let k = entity_key(&job.update);
                        let _ = batcher.push((job, at, k), ns(at));
                        blocked = false;
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => open = false,
                }
            }
            // Send while the window has room and a batch is due.
            while writes.len() < window && !blocked && (batcher.ready(ns(Instant::now())) || (!open && !batcher.is_empty())) {
                let batch = batcher.take_free(|it| it.2, |k| busy.contains_key(k));
                if batch.is_empty() {
                    blocked = true;
                    break;
                }
                let mut jobs = Vec::with_capacity(batch.len());
                let mut updates = Vec::with_capacity(batch.len());
                for ((job, at, k), _) in batch {
                    *busy.entry(k).or_default() += 1;
                    jobs.push((job.tag, at, k));
                    updates.push(job.update);
                }
                let c = client.clone();
                let h = writes.spawn(async move { c.write(updates, p4::write_request::Atomicity::ContinueOnError).await });
                sent.insert(h.id(), jobs);
            }
            if !open && batcher.is_empty() && writes.is_empty() {
                break;
            }
            let wait = if blocked || writes.len() >= window {
                None
            } else {
                batcher.deadline().map(|d| Duration::from_nanos(d.saturating_sub(ns(Instant::now()))))
            };
            tokio::select! {
                biased;
                Some(r) = writes.join_next_with_id(), if !writes.is_empty() => {
                    let (id, result) = match r {
                        Ok((id, r)) => (id, r),
                        // The Write task panicked: its outcome is unknown.
                        Err(e) => (e.id(), Err(ClientError::Rpc(tonic::Status::internal(format!("the Write task failed: {e}"))))),
                    };
                    let jobs = sent.remove(&id).unwrap_or_default();
                    blocked = false;
                    let answered = Instant::now();
                    let n = jobs.len();
                    let statuses: Vec<UpdateStatus> = match result {
                        Ok(()) => vec![UpdateStatus { code: Code::Ok, message: String::new() }; n],
                        Err(ClientError::Updates(v)) if v.len() == n => v,
                        Err(e) => {
                            let code = e.code().unwrap_or(Code::Unavailable);
                            vec![UpdateStatus { code, message: e.to_string() }; n]
                        }
                    };
                    for ((tag, at, k), status) in jobs.into_iter().zip(statuses) {
                        if let Some(c) = busy.get_mut(&k) {
                            *c -= 1;
                            if *c == 0 {
                                busy.remove(&k);
                            }
                        }
                        // Nobody listening for completions: keep writing anyway.
                        let _ = done_tx.send(Completion { tag, status, latency: answered - at }).await;
                    }
                }
                item = rx.recv(), if open && batcher.has_room() => match item {
                    Some((job, at)) => {
                        let k = entity_key(&job.update);
                        let _ = batcher.push((job, at, k), ns(at));
                        blocked = false;
                    }
                    None => open = false,
                },
                _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
            }
        }
    });
    (WriterHandle { tx }, done_rx)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::Ipv4Addr;

    use super::*;
    use crate::client::ClientOptions;
    use crate::p4info::P4InfoIndex;
    use crate::switchyard::{self as sy, SwitchyardTables};
    use p4runtime_proto::p4::v1::set_forwarding_pipeline_config_request::Action;
    use switchyard_wire::flow::ConnKey;

    #[test]
    fn entity_key_is_the_entry_identity() {
        let te = |table_id: u32, v: u8, action: u32| p4::Update {
            r#type: p4::update::Type::Insert as i32,
            entity: Some(p4::Entity {
                entity: Some(p4::entity::Entity::TableEntry(p4::TableEntry {
                    table_id,
                    r#match: vec![p4::FieldMatch {
                        field_id: 1,
                        field_match_type: Some(p4::field_match::FieldMatchType::Exact(p4::field_match::Exact { value: vec![v] })),
                    }],
                    action: Some(p4::TableAction { r#type: Some(p4::table_action::Type::Action(p4::Action { action_id: action, params: vec![] })) }),
                    ..Default::default()
                })),
            }),
        };
        let mut del = te(5, 1, 0);
        del.r#type = p4::update::Type::Delete as i32;
        del.entity = te(5, 1, 0).entity.map(|mut e| {
            if let Some(p4::entity::Entity::TableEntry(t)) = e.entity.as_mut() {
                t.action = None;
            }
            e
        });
        assert_eq!(entity_key(&te(5, 1, 9)), entity_key(&del), "a Delete is ordered after the Install of its key");
        assert_ne!(entity_key(&te(5, 1, 9)), entity_key(&te(5, 2, 9)));
        assert_ne!(entity_key(&te(5, 1, 9)), entity_key(&te(6, 1, 9)));
    }

    /// Install, Delete and Install again the same keys back to back through
    /// a writer with many small Writes in flight: every update succeeds
    /// (a Delete overtaking its Install would be NOT_FOUND, an Install
    /// overtaking the Delete ALREADY_EXISTS), per key the completions come
    /// in submission order, and the table ends with every key installed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn updates_of_one_key_stay_in_order_with_writes_in_flight() {
        let p4 = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../p4/switchyard.p4")).unwrap();
        let sw = switchyard_switch_sim::Switch::load(&p4, &[]).unwrap();
        let info = switchyard_p4rt_server::p4info_gen::generate(sw.program());
        let cfg = format!("{{\"p4_path\": {:?}}}", p4);
        let server = switchyard_p4rt_server::Server::new(switchyard_p4rt_server::Device::new(Default::default()));
        let (addr, _task) = switchyard_p4rt_server::serve(server, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let client = P4rtClient::connect(&format!("http://{addr}"), ClientOptions::default()).await.unwrap();
        client.set_pipeline(info.clone(), cfg.into_bytes(), 1, Action::VerifyAndCommit).await.unwrap();
        let tables = SwitchyardTables::new(P4InfoIndex::new(info).unwrap()).unwrap();
        let (w, mut done) = spawn_writer_window(client.clone(), WriterOptions { max_batch: 8, linger: Duration::ZERO, capacity: 4096 }, 8);
        let keys = 300u32;
        let mut tag = 0u64;
        let mut expect: HashMap<u64, u32> = HashMap::new();
        for k in 0..keys {
            let key = ConnKey { client_ip: Ipv4Addr::new(198, 18, 0, 1), client_port: 1000 + k as u16, vip_id: 1 };
            let e = tables.connection(&key, 1, None).unwrap();
            for u in [sy::insert(e.clone()), sy::delete(e.clone()), sy::insert(e)] {
                w.submit(WriteJob { tag, update: u }).await.unwrap();
                expect.insert(tag, k);
                tag += 1;
            }
        }
        let mut last: HashMap<u32, u64> = HashMap::new();
        for _ in 0..tag {
            let c = tokio::time::timeout(Duration::from_secs(20), done.recv()).await.unwrap().unwrap();
            assert!(c.status.is_ok(), "update {} ({:?}): {}", c.tag, c.status.code, c.status.message);
            let k = expect[&c.tag];
            if let Some(prev) = last.insert(k, c.tag) {
                assert!(prev < c.tag, "key {k}: completion {} after {prev}", c.tag);
            }
        }
        assert_eq!(client.read_table(tables.connection_table_id()).await.unwrap().len(), keys as usize);
    }
}
