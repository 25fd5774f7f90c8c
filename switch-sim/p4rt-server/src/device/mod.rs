//! The device behind the P4Runtime service: the switch, its pipeline, the
//! arbitration state, digest queues, idle-timeout bookkeeping and the open
//! streams. Every RPC takes the device lock for a short, non-async
//! critical section, so a Write batch is atomic with respect to packets
//! (DATAPLANE_ATOMIC holds) and Reads see a consistent table.
//!
//! This module holds the state, its construction and the checks every RPC
//! makes (device id, primary); the RPCs are in `pipeline_config`
//! (Set/GetForwardingPipelineConfig), `writes`, `reads`, `streams`
//! (StreamChannel, arbitration notices, PacketOut) and `datapath` (packets,
//! digest batching, the idle-timeout sweep).

use std::collections::HashMap;
use std::net::SocketAddr;
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

mod datapath;
mod pipeline_config;
mod reads;
mod streams;
mod writes;

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
    /// The connection each served stream came on (remote address).
    stream_peers: HashMap<StreamId, SocketAddr>,
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
            stream_peers: HashMap::new(),
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

    /// A Write or SetForwardingPipelineConfig must come from the primary:
    /// its election id is the primary's of the role, and (stricter than the
    /// specification, which trusts the id and leaves authentication to the
    /// transport) it arrives on the connection whose StreamChannel won the
    /// arbitration, so a client that never arbitrated cannot write by
    /// quoting the primary's id. `peer` None: a caller in this process.
    fn check_primary(&self, peer: Option<SocketAddr>, role: &str, election_id: &Option<p4::Uint128>) -> Result<(), Status> {
        let Some(e) = u128_of(election_id) else {
            return Err(Status::permission_denied("no election id: only the primary controller may write"));
        };
        let Some((stream, primary)) = self.arbiter.primary(self.opts.device_id, role) else {
            return Err(Status::permission_denied(format!("role `{role}` has no primary controller: arbitrate on the StreamChannel first")));
        };
        if primary != e {
            return Err(Status::permission_denied(format!("election id {e} is not the primary of role `{role}`")));
        }
        if let Some(p) = peer {
            if self.stream_peers.get(&stream) != Some(&p) {
                return Err(Status::permission_denied(format!(
                    "election id {e} is the primary's, but this connection ({p}) did not win the arbitration: \
                     write on the connection of the arbitrated StreamChannel"
                )));
            }
        }
        Ok(())
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
        let id = d.open_stream(tx, None);
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

    /// A Write with the primary's election id counts only on the connection
    /// whose stream won the arbitration (issue 10: an impostor quoting the
    /// id from another connection was accepted).
    #[test]
    fn writes_count_only_on_the_primarys_connection() {
        let (mut d, _rx) = device_with_entries(0);
        let write = |d: &mut Device, peer: Option<SocketAddr>, e: u128| {
            d.write(peer, &p4::WriteRequest { device_id: 1, election_id: Some(uint128(e)), ..Default::default() }).map(|_| ()).map_err(|s| s.code())
        };
        // device_with_entries arbitrated id 1 on an in-process stream (no peer).
        let (a, b): (SocketAddr, SocketAddr) = ("127.0.0.1:4000".parse().unwrap(), "127.0.0.1:4001".parse().unwrap());
        assert_eq!(write(&mut d, Some(a), 1), Err(Code::PermissionDenied), "a served request, the primary's stream has no connection");
        assert_eq!(write(&mut d, None, 1), Ok(()));
        let (tx, _rx2) = mpsc::channel(16);
        let id = d.open_stream(tx, Some(a));
        let arb = p4::MasterArbitrationUpdate { device_id: 1, election_id: Some(uint128(10)), ..Default::default() };
        d.stream_message(id, p4::StreamMessageRequest { update: Some(p4::stream_message_request::Update::Arbitration(arb)) }).unwrap();
        assert_eq!(write(&mut d, Some(b), 10), Err(Code::PermissionDenied), "another connection quoting the primary's id");
        assert_eq!(write(&mut d, Some(a), 1), Err(Code::PermissionDenied), "the old id");
        assert_eq!(write(&mut d, Some(a), 10), Ok(()), "the primary's connection");
        d.close_stream(id);
        assert_eq!(write(&mut d, Some(a), 10), Err(Code::PermissionDenied), "the stream is gone");
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
