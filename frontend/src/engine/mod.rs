//! The sans-IO spliced-flow engine: frames and time in, frames and offload
//! requests out. No clock reads, no I/O, no blocking; a driver (DPDK,
//! AF_PACKET, a test) owns the loop:
//!
//! ```text
//! for frame in rx { match engine.handle_frame(&mut frame, now_ms, &mut actions) {
//!     Verdict::Forward => tx(frame),      // rewritten in place
//!     Verdict::Consumed | Verdict::Drop(_) => {} } } // a drop is counted already
//! for a in actions.drain(..) { Transmit(f) => tx(f), Offload(r) => control_queue.push(r) }
//! engine.on_timer(now_ms, &mut actions) when now >= engine.next_deadline()
//! ```
//!
//! Phases and transitions are documented in docs/FRONTEND.md.

mod accept;
use hold::{held_window, our_window};
pub mod assembly;
mod expiry;
mod handover;
mod handshake;
mod hold;
mod request;
mod splice;
pub mod buffers;
pub mod conn;
pub mod counters;
pub mod packet;
pub mod pressure;
pub mod reuse;
pub mod stateless;
pub mod timers;

use core::net::Ipv4Addr;

use switchyard_wire::cookie::{CookieInput, CookieKeyring, CookieSecret};
use switchyard_wire::flow::{BackendIndex, ConnKey, VipId};
use switchyard_wire::reason::{DropReason, FrontendCounter as Fc};
use switchyard_wire::tcp::{ACK, FIN, PSH, RST, SYN};
use switchyard_wire::tcp_option::{SynOptions, TcpOption};

use assembly::seq_diff;
use buffers::Buffers;
pub use conn::{ConnEntry, Hold, OffloadStatus, PrevBackend, SpliceState};
pub use counters::{CountedDrop, Counters};
use packet::{Frame, Out, Seg};
use reuse::{Admit, PendingSyn, Reopening};
use timers::TimerWheel;

use crate::access_log::{AccessLog, AccessRecord};
use crate::config::{Config, OffloadMode, SynAckParams, Timeouts};
use crate::flow_table::FlowTable;
use crate::http::{header_storage, parse_head, BodyLength, ErrorReply, HeadStatus};
use crate::limits::{HOLD_TIMEOUT_MS, MAX_BUFFERED_BYTES, OFFLOADED_GRACE_MS, PEEK_WINDOW_BYTES, PRESSURE_PERCENT, PRESSURE_REQUEST_MS, REOPENING_CAPACITY, REOPENING_STALE_MS};
use crate::response::{response_size, ResponseSize};
use crate::offload::{OffloadEvent, OffloadRequest};
use crate::route::{Decision, Router};

/// What the driver does with the frame it passed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Rewritten in place (the switch's rewrite): transmit it.
    Forward,
    /// Taken by the engine (buffered, swallowed, answered).
    Consumed,
    /// Dropped, and counted under its reason: only `Counters::drop` makes
    /// a `CountedDrop`, so no path can return a drop it did not count.
    Drop(CountedDrop),
}

impl Verdict {
    /// The reason of a drop verdict.
    pub fn drop_reason(self) -> Option<DropReason> {
        match self {
            Verdict::Drop(d) => Some(d.reason()),
            _ => None,
        }
    }
}

/// Something the driver must do besides the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A frame the engine built, towards the switch.
    Transmit(Vec<u8>),
    /// For the control task's queue.
    Offload(OffloadRequest),
}

/// The engine's fixed parameters (from the config).
#[derive(Debug, Clone, Copy)]
pub struct EngineParams {
    pub mac: [u8; 6],
    pub switch_mac: [u8; 6],
    pub syn_ack: SynAckParams,
    pub timeouts: Timeouts,
    pub flow_capacity: usize,
    /// `[frontend] hold_until_offloaded`.
    pub hold_until_offloaded: bool,
    /// `[frontend] carry_responses_up_to` (0: never carry).
    pub carry_responses_up_to: u32,
    /// `[frontend] host_address`: frames from or to it are the host
    /// kernel's (which sees them too), not the engine's.
    pub host_address: Option<Ipv4Addr>,
}

pub struct Engine {
    p: EngineParams,
    keyring: CookieKeyring,
    router: Router,
    flows: FlowTable<ConnEntry>,
    timers: TimerWheel,
    /// `on_timer`'s scratch list of expired entries (kept for its capacity).
    due: Vec<timers::Entry>,
    bufs: Buffers,
    counters: Counters,
    reopening: Reopening,
    resets: stateless::ResetBudget,
    assembling: pressure::AssemblingQueue,
    /// `[access_log]`: records of routing decisions, drained by the worker.
    access: AccessLog,
}

/// What a handler wants done with its flow afterwards.
enum After {
    Keep,
    /// Flow over: state goes, a switch entry it may have is deleted.
    Remove,
    /// Offloaded flow's grace over: state goes, the entry stays (the
    /// switch's teardown digests and idle timeouts own it).
    Forget,
}

/// The engine's parts a flow handler may use while the flow is borrowed
/// out of the table.
struct Ctx<'a> {
    p: &'a EngineParams,
    router: &'a mut Router,
    counters: &'a mut Counters,
    bufs: &'a mut Buffers,
    access: &'a mut AccessLog,
    out: &'a mut Vec<Action>,
    now: u64,
}

impl Engine {
    /// An engine for one worker.
    pub fn new(config: &Config) -> Self {
        let p = EngineParams {
            mac: config.frontend.mac,
            switch_mac: config.frontend.switch_mac,
            syn_ack: config.switch.syn_ack,
            timeouts: config.timeouts,
            flow_capacity: config.frontend.flow_table_capacity as usize,
            hold_until_offloaded: config.frontend.hold_until_offloaded,
            carry_responses_up_to: config.frontend.carry_responses_up_to,
            host_address: config.frontend.host_address,
        };
        let mut engine = Self::with_parts(p, config.cookie.keyring(), Router::new(config));
        engine.access = AccessLog::new(config.access_log.as_ref().map(|a| a.sample));
        engine
    }

    pub fn with_parts(p: EngineParams, keyring: CookieKeyring, router: Router) -> Self {
        let mut flows = FlowTable::with_capacity(p.flow_capacity);
        // No page faults on the data path (see `FlowTable::prefault`).
        flows.prefault(ConnEntry::placeholder());
        Self {
            p,
            keyring,
            router,
            flows,
            timers: TimerWheel::new(),
            due: Vec::new(),
            bufs: Buffers::default(),
            counters: Counters::default(),
            reopening: Reopening::new(REOPENING_CAPACITY, REOPENING_STALE_MS),
            resets: stateless::ResetBudget::default(),
            assembling: pressure::AssemblingQueue::default(),
            access: AccessLog::default(),
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The access log's buffer (`dropped`, whether it is on).
    pub fn access_log(&self) -> &AccessLog {
        &self.access
    }

    /// The access-log records of the decisions since the last call, in
    /// order (none when the log is off). The worker drains them every round.
    pub fn drain_access_records(&mut self) -> impl Iterator<Item = AccessRecord> + '_ {
        self.access.drain()
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn flow(&self, key: &ConnKey) -> Option<&ConnEntry> {
        self.flows.get(key)
    }

    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Every flow, in no order (the admin API's snapshots: a scan of the
    /// table, so not for the data path).
    pub fn flows(&self) -> impl Iterator<Item = &ConnEntry> {
        self.flows.iter().map(|(_, f)| f)
    }

    pub fn keyring(&self) -> &CookieKeyring {
        &self.keyring
    }

    /// The control plane rotated the switch's secret.
    pub fn rotate_cookie_secret(&mut self, next: CookieSecret) {
        self.keyring.rotate(next);
    }

    /// A backend's health or draining flag changed: affects new flows only.
    /// The worker calls it for the control plane's `WorkerCommand::SetBackend`.
    pub fn set_backend_flags(&mut self, b: BackendIndex, healthy: bool, draining: bool) {
        self.router.set_backend_flags(b, healthy, draining);
    }

    /// A reloaded config's services, routes, pools and backends (the
    /// numbering of backends and services extended, never changed:
    /// `Router::reconfigured`). New flows and new requests use them; flows
    /// keep their backend. Everything else of the config is the engine's
    /// from its start.
    pub fn reconfigure_routes(&mut self, config: &Config) {
        self.router = self.router.reconfigured(config);
    }

    /// When `on_timer` may next have work: never later than the earliest
    /// flow deadline, possibly earlier (a stale or re-armed entry), which
    /// costs one cheap `on_timer` call.
    pub fn next_deadline(&self) -> Option<u64> {
        match (self.timers.next_deadline(), self.router.next_readmit()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Hands back the buffer of an `Action::Transmit` once the driver has
    /// copied or sent it: the engine's next frames reuse it instead of
    /// allocating (bounded free list; not calling this is correct, only
    /// slower).
    pub fn recycle(&mut self, frame: Vec<u8>) {
        self.bufs.recycle_frame(frame);
    }

    /// Free (frame, assembly) buffers held for reuse.
    pub fn free_buffers(&self) -> (usize, usize) {
        self.bufs.free()
    }

    /// Timer entries held (live and stale); bounded by `bound_timers`.
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }

    /// One frame from the switch side.
    pub fn handle_frame(&mut self, frame: &mut [u8], now: u64, out: &mut Vec<Action>) -> Verdict {
        let (mut frame, seg) = match packet::parse(frame) {
            Ok(s) => s,
            Err(r) => return self.dropped(r),
        };
        if self.p.host_address.is_some_and(|h| seg.dst == h || seg.src == h) {
            // The host's own traffic (its health checks and their answers):
            // its kernel has the frame too; nothing for the engine to do or
            // to count as a drop.
            self.counters[Fc::HostFrames] += 1;
            return Verdict::Consumed;
        }
        if let Some(s) = self.router.service_by_vip(seg.dst, seg.dport) {
            let (id, vip, vport, mode) = (s.id, s.vip, s.port, s.offload);
            return self.from_client(&mut frame, &seg, id, vip, vport, mode, now, out);
        }
        if let Some(b) = self.router.backend_by_addr(seg.src, seg.sport) {
            return self.from_backend(&mut frame, &seg, b, now, out);
        }
        self.dropped(DropReason::NoRoute)
    }

    fn dropped(&mut self, r: DropReason) -> Verdict {
        Verdict::Drop(self.counters.drop(r))
    }

    #[allow(clippy::too_many_arguments)]
    fn from_client(&mut self, frame: &mut Frame<'_>, seg: &Seg, vip_id: VipId, vip: Ipv4Addr, vport: u16, mode: OffloadMode, now: u64, out: &mut Vec<Action>) -> Verdict {
        let key = ConnKey { client_ip: seg.src, client_port: seg.sport, vip_id };
        if seg.has_any(SYN) && !seg.has_any(ACK) {
            return self.reused_port_syn(frame, seg, key, vip, vport, now, out);
        }
        // Port reuse the switch did not see (its entry was gone, ours was
        // not): a finished or offloaded flow's key, and a segment with a
        // fresh valid cookie: the old state goes, the new connection starts.
        let reuse = matches!(self.flows.get(&key), Some(f) if (matches!(f.state, SpliceState::Closing { .. } | SpliceState::Replied { .. }) || f.offload == OffloadStatus::Installed)
            && seg.has_any(ACK) && seg.ack.wrapping_sub(1) != f.cookie && self.cookie_ok(seg, vip, vport).is_some());
        if reuse {
            self.finish(key, out);
        }
        if self.flows.get(&key).is_none() {
            if let Err(r) = self.new_flow(seg, key, vip, vport, mode, now, out) {
                if r == DropReason::BadCookie && self.resets.take(now) {
                    self.stateless_reset(seg, vip, vport, out);
                }
                return self.dropped(r);
            }
        }
        let Engine { p, router, access, flows, counters, timers, bufs, .. } = self;
        let Some(flow) = flows.get_mut(&key) else { return self.dropped(DropReason::NoFlow) };
        flow.last_seen = now;
        let mut ctx = Ctx { p, router, counters, bufs, access, out, now };
        let (verdict, after) = ctx.client_segment(flow, frame, seg);
        match after {
            After::Keep => arm(timers, flow),
            _ => self.finish(key, out),
        }
        self.bound_timers();
        verdict
    }

    fn from_backend(&mut self, frame: &mut Frame<'_>, seg: &Seg, b: BackendIndex, now: u64, out: &mut Vec<Action>) -> Verdict {
        // The backend talks to CIP:cport; find the service whose flow of
        // that client is on this backend (a backend can serve many VIPs).
        let found = self.router.services().iter().map(|s| s.id).find_map(|vip_id| {
            let key = ConnKey { client_ip: seg.dst, client_port: seg.dport, vip_id };
            let f = self.flows.get(&key)?;
            (f.backend() == Some(b) || f.prev_backend.map(|p| p.backend) == Some(b)).then_some(key)
        });
        let Some(key) = found else { return self.former_backend(seg, b, now, out) };
        let Engine { p, router, access, flows, counters, timers, bufs, .. } = self;
        let Some(flow) = flows.get_mut(&key) else { return self.dropped(DropReason::NoFlow) };
        flow.last_seen = now;
        let mut ctx = Ctx { p, router, counters, bufs, access, out, now };
        let (verdict, after) = if flow.backend() == Some(b) {
            ctx.backend_segment(flow, frame, seg, b)
        } else {
            ctx.old_backend_segment(flow, seg)
        };
        match after {
            After::Keep => arm(timers, flow),
            _ => self.finish(key, out),
        }
        self.bound_timers();
        verdict
    }

    /// Removes a flow's state (its backend loses a flow); leaves any switch
    /// entry alone.
    fn forget(&mut self, key: ConnKey) -> Option<ConnEntry> {
        let mut f = self.flows.remove(&key)?;
        if let Some(a) = f.asm.take() {
            self.bufs.recycle_assembly(a);
        }
        if let Some(b) = f.backend() {
            self.router.flow_ended(b);
        }
        Some(f)
    }

    /// Removes a flow: its backend loses a flow, and an entry the switch
    /// may hold is deleted.
    fn finish(&mut self, key: ConnKey, out: &mut Vec<Action>) {
        let Some(f) = self.forget(key) else { return };
        if matches!(f.offload, OffloadStatus::Pending | OffloadStatus::Installed) {
            out.push(Action::Offload(OffloadRequest::Delete { key }));
        }
        self.counters[Fc::FlowsClosed] += 1;
    }

    /// A completion from the control task.
    pub fn on_offload(&mut self, ev: OffloadEvent, now: u64, out: &mut Vec<Action>) {
        let (key, backend, installed) = match ev {
            OffloadEvent::Ended { key } => {
                // Only the connection the entry was installed for: a reused
                // port's new flow is not `Installed` before its own answer.
                if self.flows.get(&key).is_some_and(|f| f.offload == OffloadStatus::Installed) {
                    self.forget(key);
                    self.counters[Fc::FlowsClosed] += 1;
                }
                return;
            }
            OffloadEvent::Installed { key, backend } => (key, backend, true),
            OffloadEvent::Refused { key, backend, .. } => (key, backend, false),
            OffloadEvent::Detached { key, .. } => {
                if let Some(syn) = self.reopening.detached(&key) {
                    self.send_syn_ack(key, syn, out);
                }
                let Engine { p, router, access, flows, counters, timers, bufs, .. } = self;
                // A flow gone meanwhile needs nothing: its entry is gone too.
                if let Some(f) = flows.get_mut(&key).filter(|f| f.offload == OffloadStatus::Detaching) {
                    let mut ctx = Ctx { p, router, counters, bufs, access, out, now };
                    ctx.detached(f);
                    arm(timers, f);
                    self.bound_timers();
                }
                return;
            }
        };
        let Some(f) = self.flows.get_mut(&key) else {
            // The flow ended while the write was in flight: undo it.
            if installed {
                out.push(Action::Offload(OffloadRequest::Delete { key }));
            }
            return;
        };
        if f.backend() != Some(backend) || f.offload == OffloadStatus::Detaching {
            return; // stale (request mode moved on); a newer install follows
        }
        if f.hold != Hold::Off {
            let Engine { p, router, access, counters, bufs, .. } = self;
            let mut ctx = Ctx { p, router, counters, bufs, access, out, now };
            ctx.release_hold(f);
            arm(&mut self.timers, f);
        }
        if installed {
            f.offload = OffloadStatus::Installed;
            self.counters[Fc::OffloadInstalled] += 1;
            if f.mode == OffloadMode::Connection && matches!(f.state, SpliceState::Spliced { .. }) {
                // The switch carries the flow now; keep a tombstone for
                // packets already in flight, then forget it.
                f.deadline = now + OFFLOADED_GRACE_MS;
                arm(&mut self.timers, f);
                self.bound_timers();
            }
        } else {
            // Stays on the front-end path, still correct.
            f.offload = OffloadStatus::Refused;
            self.counters[Fc::OffloadRefused] += 1;
        }
    }

    /// Runs due timers: retransmissions, timeouts, forgetting closed flows,
    /// and passively ejected backends' return.
    pub fn on_timer(&mut self, now: u64, out: &mut Vec<Action>) {
        self.router.readmit_due(now);
        let mut due = core::mem::take(&mut self.due);
        self.timers.expire(now, &mut due);
        for &(t, key) in &due {
            let Engine { p, router, access, flows, counters, timers, bufs, .. } = self;
            let Some(flow) = flows.get_mut(&key) else { continue }; // flow gone
            if flow.armed != t {
                continue; // stale: superseded by an earlier deadline
            }
            flow.armed = NOT_ARMED;
            if flow.deadline > now {
                // The deadline moved later since this entry was armed.
                arm(timers, flow);
                continue;
            }
            let mut ctx = Ctx { p, router, counters, bufs, access, out, now };
            match ctx.timer(flow) {
                After::Keep => arm(timers, flow),
                After::Remove => self.finish(key, out),
                After::Forget => {
                    self.forget(key);
                }
            }
        }
        due.clear();
        self.due = due;
        self.bound_timers();
    }

    /// Stale timer entries (a flow's deadline moved earlier, or the flow
    /// left) are dropped when they expire; this bounds them in between:
    /// past twice the flows (plus slack) the wheel keeps only armed
    /// entries, one per flow. Amortized O(1) per insert.
    fn bound_timers(&mut self) {
        if self.timers.len() > 2 * self.flows.len() + TIMER_SLACK {
            let flows = &self.flows;
            self.timers.retain(|t, key| flows.get(key).is_some_and(|f| f.armed == t));
        }
    }
}

/// `ConnEntry::armed` of a flow with no entry in the wheel.
const NOT_ARMED: u64 = u64::MAX;
/// Stale timer entries tolerated beyond one per flow before compaction.
const TIMER_SLACK: usize = 1024;

/// Makes sure the wheel fires no later than the flow's deadline: one
/// insert when the deadline moved earlier than the armed entry. A later
/// deadline inserts nothing now; the armed entry re-arms when it fires.
fn arm(timers: &mut TimerWheel, flow: &mut ConnEntry) {
    if flow.deadline < flow.armed {
        timers.insert(flow.deadline, flow.key);
        flow.armed = flow.deadline;
    }
}

impl Ctx<'_> {
    /// The engine arms the wheel once the event is handled (`arm`). A held
    /// response's timeout is never postponed (`timer` releases it first).
    fn set_deadline(&mut self, flow: &mut ConnEntry, t: u64) {
        flow.deadline = if flow.hold == Hold::Until { t.min(flow.deadline) } else { t };
    }

    /// A drop, counted (`Engine::dropped` for the flow handlers).
    fn dropped(&mut self, r: DropReason) -> Verdict {
        Verdict::Drop(self.counters.drop(r))
    }

    fn tx(&mut self, o: Out<'_>) {
        let mut f = self.bufs.frame();
        packet::emit_into(&o, self.p.mac, self.p.switch_mac, &mut f);
        self.out.push(Action::Transmit(f));
    }

    /// The flow's request bytes are no longer needed: back to the free list.
    fn drop_request(&mut self, flow: &mut ConnEntry) {
        if let Some(a) = flow.asm.take() {
            self.bufs.recycle_assembly(a);
        }
    }

}
