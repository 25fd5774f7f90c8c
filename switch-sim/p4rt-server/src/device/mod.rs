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
    /// Seed of the generator behind v1model's `random` in each installed
    /// pipeline (`Switch::set_seed`).
    pub seed: u64,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        DeviceOptions { device_id: 1, cpu_port: None, include_dir: None, engine: Engine::Fast, seed: 0 }
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
    /// An indexed meter's cells as they were: (meter name, [(index, config)]).
    Meter(String, Vec<(usize, Option<switchyard_switch_sim::MeterConfig>)>),
    /// A table entry's direct meter as it was.
    DirectMeter(String, Vec<FieldMatch>, i32, Option<switchyard_switch_sim::MeterConfig>),
    /// Several changes of one update, undone last first.
    Seq(Vec<Undo>),
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

    /// An entry naming a @defaultonly action is refused at Write with
    /// INVALID_ARGUMENT, as PI does (p4lang/PI frontend: "action ... can
    /// only be used as the default action"); the action is accepted as the
    /// default. A @tableonly action is refused as the default and accepted
    /// in an entry.
    #[test]
    fn defaultonly_and_tableonly_actions_at_write() {
        const P4: &str = r#"#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; }
struct headers { h_t h; }
struct meta_t { bit<8> m; }
parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action both(bit<8> v) { hdr.h.a = v; }
    action dflt() { hdr.h.a = 0xdd; }
    action entry_only() { hdr.h.a = 0xee; }
    table t {
        key = { hdr.h.a : exact; }
        actions = { both; @defaultonly dflt; @tableonly entry_only; }
        default_action = dflt();
    }
    apply { t.apply(); sm.egress_spec = 1; }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"#;
        let sw = Switch::load_str("t.p4", P4).expect("loads");
        let info = crate::p4info_gen::generate(sw.program());
        let mut d = Device::new(DeviceOptions::default());
        d.install_program(Arc::new(sw.program().clone()), vec![]).unwrap();
        let (tx, _rx) = mpsc::channel(16);
        let id = d.open_stream(tx, None);
        let arb = p4::MasterArbitrationUpdate { device_id: 1, election_id: Some(uint128(1)), ..Default::default() };
        d.stream_message(id, p4::StreamMessageRequest { update: Some(p4::stream_message_request::Update::Arbitration(arb)) }).unwrap();
        let table = info.tables.iter().find(|t| t.preamble.as_ref().unwrap().name == "I.t").unwrap().preamble.as_ref().unwrap().id;
        let action = |n: &str| info.actions.iter().find(|a| a.preamble.as_ref().unwrap().name == n).unwrap().preamble.as_ref().unwrap().id;
        let entry = |a: &str, default: bool| p4::TableEntry {
            table_id: table,
            r#match: if default {
                vec![]
            } else {
                vec![p4::FieldMatch { field_id: 1, field_match_type: Some(p4::field_match::FieldMatchType::Exact(p4::field_match::Exact { value: vec![7] })) }]
            },
            action: Some(p4::TableAction {
                r#type: Some(p4::table_action::Type::Action(p4::Action { action_id: action(a), params: vec![] })),
            }),
            is_default_action: default,
            ..Default::default()
        };
        let write = |d: &mut Device, ty: p4::update::Type, e: p4::TableEntry| {
            let u = p4::Update { r#type: ty as i32, entity: Some(p4::Entity { entity: Some(E::TableEntry(e)) }) };
            let req = p4::WriteRequest { device_id: 1, election_id: Some(uint128(1)), updates: vec![u], ..Default::default() };
            d.write(None, &req).unwrap().remove(0).map_err(|f| (f.code, f.message))
        };
        use p4::update::Type as T;
        let (code, msg) = write(&mut d, T::Insert, entry("I.dflt", false)).unwrap_err();
        assert_eq!(code, Code::InvalidArgument, "{msg}");
        assert!(msg.contains("@defaultonly"), "{msg}");
        assert_eq!(write(&mut d, T::Modify, entry("I.dflt", true)), Ok(()), "a @defaultonly action as the default");
        let (code, msg) = write(&mut d, T::Modify, entry("I.entry_only", true)).unwrap_err();
        assert_eq!(code, Code::InvalidArgument, "{msg}");
        assert!(msg.contains("@tableonly"), "{msg}");
        assert_eq!(write(&mut d, T::Insert, entry("I.entry_only", false)), Ok(()), "a @tableonly action in an entry");
        // Nothing of the refused writes reached the switch.
        let r = d.running.as_mut().unwrap();
        assert_eq!(r.switch.entry_count("t").unwrap(), 1);
        assert_eq!(r.switch.process(0, &[7]), Some((1, vec![0xee])));
        assert_eq!(r.switch.process(0, &[8]), Some((1, vec![0xdd])));
    }

    /// MeterEntry and DirectMeterEntry: MODIFY sets or (config unset)
    /// clears a cell's rates, INSERT/DELETE are refused, Reads return the
    /// rates, a TableEntry carries its direct meter's meter_config, and a
    /// rolled-back batch restores the rates; the packets' colours follow
    /// (tests/programs/meters.p4: colour and dcolour after the header).
    #[test]
    fn meter_entries_write_read_and_roll_back() {
        let p4 = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/programs/meters.p4"));
        let sw = Switch::load(p4, &[]).expect("meters.p4 loads");
        let info = crate::p4info_gen::generate(sw.program());
        assert_eq!(info.meters.len(), 2);
        assert_eq!(info.direct_meters.len(), 1);
        let pm = info.meters.iter().find(|m| m.preamble.as_ref().unwrap().name == "I.pm").unwrap();
        assert_eq!(pm.preamble.as_ref().unwrap().id >> 24, crate::p4info_gen::PREFIX_METER);
        assert_eq!(pm.size, 4);
        let pm = pm.preamble.as_ref().unwrap().id;
        let t = info.tables.iter().find(|t| t.preamble.as_ref().unwrap().name == "I.t").unwrap();
        let dm = info.direct_meters[0].preamble.as_ref().unwrap().id;
        assert_eq!(t.direct_resource_ids, vec![dm]);
        assert_eq!(info.direct_meters[0].direct_table_id, t.preamble.as_ref().unwrap().id);
        let table = t.preamble.as_ref().unwrap().id;
        let mark = info.actions.iter().find(|a| a.preamble.as_ref().unwrap().name == "I.mark").unwrap().preamble.as_ref().unwrap().id;

        let mut d = Device::new(DeviceOptions::default());
        d.install_program(Arc::new(sw.program().clone()), vec![]).unwrap();
        let (tx, _rx) = mpsc::channel(16);
        let id = d.open_stream(tx, None);
        let arb = p4::MasterArbitrationUpdate { device_id: 1, election_id: Some(uint128(1)), ..Default::default() };
        d.stream_message(id, p4::StreamMessageRequest { update: Some(p4::stream_message_request::Update::Arbitration(arb)) }).unwrap();
        use p4::update::Type as T;
        let up = |ty: T, e: E| p4::Update { r#type: ty as i32, entity: Some(p4::Entity { entity: Some(e) }) };
        let write = |d: &mut Device, ups: Vec<p4::Update>| {
            let req = p4::WriteRequest { device_id: 1, election_id: Some(uint128(1)), updates: ups, ..Default::default() };
            d.write(None, &req).unwrap().into_iter().map(|r| r.map_err(|f| f.code)).collect::<Vec<_>>()
        };
        let read = |d: &Device, e: E| d.read(&p4::ReadRequest { device_id: 1, entities: vec![p4::Entity { entity: Some(e) }], ..Default::default() }).unwrap();
        let cfg = |cir, cburst, pir, pburst| Some(p4::MeterConfig { cir, cburst, pir, pburst, eburst: 0 });
        let meter = |index: i64, config| E::MeterEntry(p4::MeterEntry { meter_id: pm, index: Some(p4::Index { index }), config, counter_data: None });
        let colours = |d: &mut Device, f: &[u8]| {
            let r = d.running.as_mut().unwrap();
            r.switch.set_time(0);
            (0..3).map(|_| r.switch.process(0, f).unwrap().1[2..4].to_vec()).collect::<Vec<_>>()
        };

        // pm[0]: PIR 1,000/s PBS 2, CIR 1,000/s CBS 1: green, yellow, red.
        assert_eq!(write(&mut d, vec![up(T::Modify, meter(0, cfg(1000, 1, 1000, 2)))]), [Ok(())]);
        assert_eq!(colours(&mut d, &[0, 9]), [vec![0, 0xff], vec![1, 0xff], vec![2, 0xff]]);
        let got = read(&d, meter(0, None));
        assert_eq!(got.len(), 1);
        assert!(matches!(&got[0].entity, Some(E::MeterEntry(m)) if m.config == cfg(1000, 1, 1000, 2)));
        assert_eq!(read(&d, E::MeterEntry(p4::MeterEntry { meter_id: 0, ..Default::default() })).len(), 4 + 2, "every cell of both meters");
        assert_eq!(write(&mut d, vec![up(T::Insert, meter(0, cfg(1, 1, 1, 1)))]), [Err(Code::InvalidArgument)]);
        assert_eq!(write(&mut d, vec![up(T::Modify, meter(4, cfg(1, 1, 1, 1)))]), [Err(Code::InvalidArgument)], "out of range");
        assert_eq!(write(&mut d, vec![up(T::Modify, meter(1, cfg(10, 1, 5, 1)))]), [Err(Code::InvalidArgument)], "CIR above PIR");
        // A batch whose second update fails is rolled back: pm[0] keeps its
        // rates, pm[1] stays unconfigured.
        let bad = up(T::Modify, meter(9, None));
        let req = p4::WriteRequest {
            device_id: 1,
            election_id: Some(uint128(1)),
            updates: vec![up(T::Modify, meter(0, None)), up(T::Modify, meter(1, cfg(5, 5, 5, 5))), bad],
            atomicity: p4::write_request::Atomicity::RollbackOnError as i32,
            ..Default::default()
        };
        let r = d.write(None, &req).unwrap();
        assert_eq!(r[2].as_ref().unwrap_err().code, Code::InvalidArgument);
        assert_eq!(r[0].as_ref().unwrap_err().code, Code::Aborted);
        assert!(matches!(&read(&d, meter(0, None))[0].entity, Some(E::MeterEntry(m)) if m.config == cfg(1000, 1, 1000, 2)));
        assert!(matches!(&read(&d, meter(1, None))[0].entity, Some(E::MeterEntry(m)) if m.config.is_none()));
        // Config unset: unconfigured, green.
        assert_eq!(write(&mut d, vec![up(T::Modify, meter(0, None))]), [Ok(())]);
        assert_eq!(colours(&mut d, &[0, 9]), vec![vec![0, 0xff]; 3]);

        // A table entry inserted with its direct meter's rates.
        let key = vec![p4::FieldMatch { field_id: 1, field_match_type: Some(p4::field_match::FieldMatchType::Exact(p4::field_match::Exact { value: vec![1] })) }];
        let entry = |m: Option<p4::MeterConfig>| p4::TableEntry {
            table_id: table,
            r#match: key.clone(),
            action: Some(p4::TableAction { r#type: Some(p4::table_action::Type::Action(p4::Action { action_id: mark, params: vec![] })) }),
            meter_config: m,
            ..Default::default()
        };
        assert_eq!(write(&mut d, vec![up(T::Insert, E::TableEntry(entry(cfg(1000, 1, 1000, 2))))]), [Ok(())]);
        assert_eq!(colours(&mut d, &[1, 1]), [vec![0, 0], vec![0, 1], vec![0, 2]]);
        let got = read(&d, E::TableEntry(p4::TableEntry { table_id: table, ..Default::default() }));
        assert!(matches!(&got[0].entity, Some(E::TableEntry(e)) if e.meter_config == cfg(1000, 1, 1000, 2)));
        // DirectMeterEntry: MODIFY clears it, a read shows it cleared.
        let dme = |config| E::DirectMeterEntry(p4::DirectMeterEntry { table_entry: Some(p4::TableEntry { table_id: table, r#match: key.clone(), ..Default::default() }), config, counter_data: None });
        assert_eq!(write(&mut d, vec![up(T::Modify, dme(None))]), [Ok(())]);
        assert_eq!(colours(&mut d, &[1, 1]), vec![vec![0, 0]; 3]);
        assert_eq!(write(&mut d, vec![up(T::Modify, dme(cfg(1000, 1, 2000, 1)))]), [Ok(())]);
        let got = read(&d, dme(None));
        assert_eq!(got.len(), 1);
        assert!(matches!(&got[0].entity, Some(E::DirectMeterEntry(m)) if m.config == cfg(1000, 1, 2000, 1)));
        assert_eq!(write(&mut d, vec![up(T::Insert, dme(None))]), [Err(Code::InvalidArgument)]);
        // MODIFY of the entry without meter_config keeps the rates.
        assert_eq!(write(&mut d, vec![up(T::Modify, E::TableEntry(entry(None)))]), [Ok(())]);
        assert!(matches!(&read(&d, dme(None))[0].entity, Some(E::DirectMeterEntry(m)) if m.config == cfg(1000, 1, 2000, 1)));
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
