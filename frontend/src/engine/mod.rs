//! The sans-IO spliced-flow engine: frames and time in, frames and offload
//! requests out. No clock reads, no I/O, no blocking; a driver (DPDK,
//! AF_PACKET, a test) owns the loop:
//!
//! ```text
//! for frame in rx { match engine.handle_frame(&mut frame, now_ms, &mut actions) {
//!     Verdict::Forward => tx(frame),      // rewritten in place
//!     Verdict::Consumed | Verdict::Drop(_) => {} } }
//! for a in actions.drain(..) { Transmit(f) => tx(f), Offload(r) => control_queue.push(r) }
//! engine.on_timer(now_ms, &mut actions) when now >= engine.next_deadline()
//! ```
//!
//! Phases and transitions are documented in docs/FRONTEND.md.

pub mod assembly;
pub mod buffers;
pub mod conn;
pub mod counters;
pub mod packet;
pub mod reuse;
pub mod stateless;
pub mod timers;

use core::net::Ipv4Addr;

use switchyard_wire::cookie::{CookieInput, CookieKeyring, CookieSecret};
use switchyard_wire::flow::{BackendIndex, ConnKey, VipId};
use switchyard_wire::reason::DropReason;
use switchyard_wire::tcp::{ACK, FIN, PSH, RST, SYN};
use switchyard_wire::tcp_option::{SynOptions, TcpOption};

use assembly::seq_diff;
use buffers::Buffers;
pub use conn::{ConnEntry, Hold, OffloadStatus, PrevBackend, SpliceState};
pub use counters::Counters;
use packet::{Out, Seg};
use reuse::{Admit, PendingSyn, Reopening};
use timers::TimerWheel;

use crate::config::{Config, OffloadMode, SynAckParams, Timeouts};
use crate::flow_table::FlowTable;
use crate::http::{header_storage, parse_head, BodyLength, ErrorReply, HeadStatus};
use crate::limits::{HOLD_TIMEOUT_MS, MAX_BUFFERED_BYTES, OFFLOADED_GRACE_MS, PEEK_WINDOW_BYTES, REOPENING_CAPACITY, REOPENING_STALE_MS};
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
    Drop(DropReason),
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
        };
        Self::with_parts(p, config.cookie.keyring(), Router::new(config))
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
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
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

    pub fn keyring(&self) -> &CookieKeyring {
        &self.keyring
    }

    /// The control plane rotated the switch's secret.
    pub fn rotate_cookie_secret(&mut self, next: CookieSecret) {
        self.keyring.rotate(next);
    }

    /// Health checks or the operator changed a backend: new flows only.
    pub fn set_backend_flags(&mut self, b: BackendIndex, healthy: bool, draining: bool) {
        self.router.set_backend_flags(b, healthy, draining);
    }

    /// When `on_timer` may next have work: never later than the earliest
    /// flow deadline, possibly earlier (a stale or re-armed entry), which
    /// costs one cheap `on_timer` call.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.next_deadline()
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
        let seg = match packet::parse(frame) {
            Ok(s) => s,
            Err(r) => return self.dropped(r),
        };
        if let Some(s) = self.router.service_by_vip(seg.dst, seg.dport) {
            let (id, vip, vport, mode) = (s.id, s.vip, s.port, s.offload);
            return self.from_client(frame, &seg, id, vip, vport, mode, now, out);
        }
        if let Some(b) = self.router.backend_by_addr(seg.src, seg.sport) {
            return self.from_backend(frame, &seg, b, now, out);
        }
        self.dropped(DropReason::NoRoute)
    }

    fn dropped(&mut self, r: DropReason) -> Verdict {
        self.counters.drop(r);
        Verdict::Drop(r)
    }

    #[allow(clippy::too_many_arguments)]
    fn from_client(&mut self, frame: &mut [u8], seg: &Seg, vip_id: VipId, vip: Ipv4Addr, vport: u16, mode: OffloadMode, now: u64, out: &mut Vec<Action>) -> Verdict {
        let key = ConnKey { client_ip: seg.src, client_port: seg.sport, vip_id };
        if seg.has(SYN) && !seg.has(ACK) {
            return self.reused_port_syn(frame, seg, key, vip, vport, now, out);
        }
        // Port reuse the switch did not see (its entry was gone, ours was
        // not): a finished or offloaded flow's key, and a segment with a
        // fresh valid cookie: the old state goes, the new connection starts.
        let reuse = matches!(self.flows.get(&key), Some(f) if (matches!(f.state, SpliceState::Closing { .. } | SpliceState::Replied { .. }) || f.offload == OffloadStatus::Installed)
            && seg.has(ACK) && seg.ack.wrapping_sub(1) != f.cookie && self.cookie_ok(seg, vip, vport).is_some());
        if reuse {
            self.finish(key, out);
        }
        if self.flows.get(&key).is_none() {
            if let Err(r) = self.new_flow(seg, key, vip, vport, mode, now) {
                if r == DropReason::BadCookie && self.resets.take(now) {
                    self.stateless_reset(seg, vip, vport, out);
                }
                return self.dropped(r);
            }
        }
        let Engine { p, router, flows, counters, timers, bufs, .. } = self;
        let Some(flow) = flows.get_mut(&key) else { return self.dropped(DropReason::NoFlow) };
        flow.last_seen = now;
        let mut ctx = Ctx { p, router, counters, bufs, out, now };
        let (verdict, after) = ctx.client_segment(flow, frame, seg);
        match after {
            After::Keep => arm(timers, flow),
            _ => self.finish(key, out),
        }
        self.bound_timers();
        verdict
    }

    /// RFC 9293's answer to an ACK for no connection: RST, seq = its ack
    /// (`stateless`).
    fn stateless_reset(&mut self, seg: &Seg, vip: Ipv4Addr, vport: u16, out: &mut Vec<Action>) {
        let o = Out { src: vip, sport: vport, dst: seg.src, dport: seg.sport, seq: seg.ack, ack: 0, flags: RST, window: 0, options: &[], payload: &[] };
        let mut f = self.bufs.frame();
        packet::emit_into(&o, self.p.mac, self.p.switch_mac, &mut f);
        out.push(Action::Transmit(f));
        self.counters.stateless_resets += 1;
    }

    fn cookie_ok(&self, seg: &Seg, vip: Ipv4Addr, vport: u16) -> Option<switchyard_wire::cookie::CookieOptions> {
        let input = CookieInput { client_ip: seg.src, client_port: seg.sport, vip, vport, client_isn: seg.seq.wrapping_sub(1) };
        self.keyring.validate(seg.ack.wrapping_sub(1), &input).ok()
    }

    /// A client SYN reaches the front-end only when the switch holds an
    /// entry for its key: a reused port (`reuse`). The old flow goes, the
    /// entry is detached, and the SYN-ACK waits for `Detached`.
    #[allow(clippy::too_many_arguments)]
    fn reused_port_syn(&mut self, frame: &[u8], seg: &Seg, key: ConnKey, vip: Ipv4Addr, vport: u16, now: u64, out: &mut Vec<Action>) -> Verdict {
        if seg.has(FIN) || seg.has(RST) {
            return self.dropped(DropReason::BadTcpFlags);
        }
        let Ok(opts) = SynOptions::from_options(&frame[seg.options.clone()]) else {
            return self.dropped(DropReason::BadTcpOptions);
        };
        match self.reopening.admit(key, PendingSyn { vip, vport, client_isn: seg.seq, opts, since: now }) {
            Admit::Full => return self.dropped(DropReason::FlowTableFull),
            Admit::Waiting => return Verdict::Consumed,
            Admit::New => {}
        }
        if self.forget(key).is_some() {
            self.counters.flows_closed += 1;
        }
        out.push(Action::Offload(OffloadRequest::Detach { key }));
        self.counters.reused_ports += 1;
        Verdict::Consumed
    }

    /// The cookie SYN-ACK exactly as the switch builds it (p4/switchyard.p4
    /// `answer_syn`: the same cookie, the same fixed option block).
    fn send_syn_ack(&mut self, key: ConnKey, p: PendingSyn, out: &mut Vec<Action>) {
        let input = CookieInput { client_ip: key.client_ip, client_port: key.client_port, vip: p.vip, vport: p.vport, client_isn: p.client_isn };
        let cookie = self.keyring.generate(&input, &p.opts);
        let sa = self.p.syn_ack;
        let (opts, n) = switchyard_wire::synack::option_block(&p.opts, sa.mss, sa.wscale);
        let o = Out { src: p.vip, sport: p.vport, dst: key.client_ip, dport: key.client_port, seq: cookie, ack: p.client_isn.wrapping_add(1), flags: SYN | ACK, window: sa.window, options: &opts[..n], payload: &[] };
        let mut f = self.bufs.frame();
        packet::emit_into(&o, self.p.mac, self.p.switch_mac, &mut f);
        out.push(Action::Transmit(f));
        self.counters.syn_acks_sent += 1;
    }

    /// Step 2: a client segment with no state must carry a valid cookie.
    fn new_flow(&mut self, seg: &Seg, key: ConnKey, vip: Ipv4Addr, vport: u16, mode: OffloadMode, now: u64) -> Result<(), DropReason> {
        if seg.has(SYN) || seg.has(RST) {
            // The switch answers SYNs; a stray RST has nothing to reset.
            return Err(DropReason::NoFlow);
        }
        if !seg.has(ACK) {
            return Err(DropReason::BadTcpFlags);
        }
        let opts = self.cookie_ok(seg, vip, vport).ok_or(DropReason::BadCookie)?;
        let cookie = seg.ack.wrapping_sub(1);
        let entry = ConnEntry {
            key,
            vip,
            vport,
            cookie,
            opts,
            mode,
            state: SpliceState::Assembling,
            prev_backend: None,
            syn_seq: seg.seq.wrapping_sub(1),
            server_isn: cookie,
            client_ack: seg.ack,
            client_window: seg.window,
            client_next: seg.seq,
            hold: Hold::Off,
            next_request: None,
            req_end: seg.seq,
            backend_mss: 0,
            client_fin: None,
            backend_fin: false,
            offload: OffloadStatus::NotRequested,
            deadline: now + self.p.timeouts.request_ms,
            armed: NOT_ARMED,
            last_seen: now,
            retries: 0,
            asm: Some(self.bufs.assembly(seg.seq)),
        };
        // Armed after the first segment is handled: usually it completes
        // the head and the deadline becomes the replayed SYN's RTO.
        self.flows.insert_new(key, entry).map_err(|_| DropReason::FlowTableFull)?;
        self.counters.new_flows += 1;
        Ok(())
    }

    fn from_backend(&mut self, frame: &mut [u8], seg: &Seg, b: BackendIndex, now: u64, out: &mut Vec<Action>) -> Verdict {
        // The backend talks to CIP:cport; find the service whose flow of
        // that client is on this backend (a backend can serve many VIPs).
        let found = self.router.services().iter().map(|s| s.id).find_map(|vip_id| {
            let key = ConnKey { client_ip: seg.dst, client_port: seg.dport, vip_id };
            let f = self.flows.get(&key)?;
            (f.backend() == Some(b) || f.prev_backend.map(|p| p.backend) == Some(b)).then_some(key)
        });
        let Some(key) = found else { return self.former_backend(seg, b, now, out) };
        let Engine { p, router, flows, counters, timers, bufs, .. } = self;
        let Some(flow) = flows.get_mut(&key) else { return self.dropped(DropReason::NoFlow) };
        flow.last_seen = now;
        let mut ctx = Ctx { p, router, counters, bufs, out, now };
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

    /// A backend segment of no flow the engine knows on that backend. In
    /// request mode it may come from a backend the client's flow left
    /// before its latest hand-over: `prev_backend` holds only the last one,
    /// and an old backend slow to close (its FIN after the next hand-over)
    /// would otherwise never get its FIN ACKed and sit in LAST_ACK,
    /// answering a later replayed SYN on the same 4-tuple with challenge
    /// ACKs until the engine gives up (504). Its FIN already acknowledges
    /// ours (its ack field is our FIN + 1), so the ACK needs no state:
    /// seq = its ack, ack = its FIN + 1, as any TIME_WAIT socket answers.
    fn former_backend(&mut self, seg: &Seg, b: BackendIndex, now: u64, out: &mut Vec<Action>) -> Verdict {
        if !(seg.has(FIN) && seg.has(ACK)) || seg.has(SYN) || seg.has(RST) {
            return self.dropped(DropReason::NoFlow);
        }
        let found = self.router.services().iter().map(|s| s.id).find_map(|vip_id| {
            let key = ConnKey { client_ip: seg.dst, client_port: seg.dport, vip_id };
            self.flows.get(&key).is_some_and(|f| f.mode == OffloadMode::Request).then_some(key)
        });
        let Some(key) = found else { return self.dropped(DropReason::NoFlow) };
        let Engine { p, router, flows, counters, bufs, .. } = self;
        let Some(flow) = flows.get_mut(&key) else { return self.dropped(DropReason::NoFlow) };
        let mut ctx = Ctx { p, router, counters, bufs, out, now };
        let their_fin = seg.seq.wrapping_add(seg.payload.len() as u32);
        ctx.to_backend(flow, b, seg.ack, their_fin.wrapping_add(1), ACK, &[], &[]);
        ctx.counters.acks_sent += 1;
        ctx.counters.former_backend_fins += 1;
        Verdict::Consumed
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
        self.counters.flows_closed += 1;
    }

    /// A completion from the control task.
    pub fn on_offload(&mut self, ev: OffloadEvent, now: u64, out: &mut Vec<Action>) {
        let (key, backend, installed) = match ev {
            OffloadEvent::Installed { key, backend } => (key, backend, true),
            OffloadEvent::Refused { key, backend, .. } => (key, backend, false),
            OffloadEvent::Detached { key, .. } => {
                if let Some(syn) = self.reopening.detached(&key) {
                    self.send_syn_ack(key, syn, out);
                }
                let Engine { p, router, flows, counters, timers, bufs, .. } = self;
                // A flow gone meanwhile needs nothing: its entry is gone too.
                if let Some(f) = flows.get_mut(&key).filter(|f| f.offload == OffloadStatus::Detaching) {
                    let mut ctx = Ctx { p, router, counters, bufs, out, now };
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
            let Engine { p, router, counters, bufs, .. } = self;
            let mut ctx = Ctx { p, router, counters, bufs, out, now };
            ctx.release_hold(f);
            arm(&mut self.timers, f);
        }
        if installed {
            f.offload = OffloadStatus::Installed;
            self.counters.offload_installed += 1;
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
            self.counters.offload_refused += 1;
        }
    }

    /// Runs due timers: retransmissions, timeouts, forgetting closed flows.
    pub fn on_timer(&mut self, now: u64, out: &mut Vec<Action>) {
        let mut due = core::mem::take(&mut self.due);
        self.timers.expire(now, &mut due);
        for &(t, key) in &due {
            let Engine { p, router, flows, counters, timers, bufs, .. } = self;
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
            let mut ctx = Ctx { p, router, counters, bufs, out, now };
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

/// The window the engine advertises to a backend in the client's name while
/// the flow's hold is on (raw, in the client's window scale, which the
/// backend applies since the replayed SYN carried it); `None`: the
/// client's own window.
fn held_window(flow: &ConnEntry) -> Option<u16> {
    match flow.hold {
        Hold::Off => None,
        Hold::Held | Hold::Until => Some(0), // response held until the switch's entry is in
        Hold::Peek => {
            let shift = flow.opts.wscale.unwrap_or(0).min(14);
            Some(flow.client_window.min((PEEK_WINDOW_BYTES >> shift).clamp(1, u32::from(u16::MAX)) as u16))
        }
    }
}

/// The window the engine advertises in the switch's sequence space.
fn our_window(p: &EngineParams, flow: &ConnEntry) -> u16 {
    let free = MAX_BUFFERED_BYTES.saturating_sub(flow.asm.as_ref().map_or(0, |a| a.buf.len()));
    let shift = if flow.opts.wscale.is_some() { p.syn_ack.wscale } else { 0 };
    (free >> shift).min(usize::from(u16::MAX)) as u16
}

impl Ctx<'_> {
    /// The engine arms the wheel once the event is handled (`arm`). A held
    /// response's timeout is never postponed (`timer` releases it first).
    fn set_deadline(&mut self, flow: &mut ConnEntry, t: u64) {
        flow.deadline = if flow.hold == Hold::Until { t.min(flow.deadline) } else { t };
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

    /// A segment from the engine to the client (switch's sequence space).
    fn to_client(&mut self, flow: &ConnEntry, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        let window = our_window(self.p, flow);
        self.tx(Out { src: flow.vip, sport: flow.vport, dst: flow.key.client_ip, dport: flow.key.client_port, seq, ack, flags, window, options: &[], payload });
    }

    /// A segment from the engine to a backend, in the client's name.
    fn to_backend(&mut self, flow: &ConnEntry, b: BackendIndex, seq: u32, ack: u32, flags: u8, options: &[TcpOption<'_>], payload: &[u8]) {
        let spec = self.router.backend(b).spec;
        let window = match held_window(flow) {
            _ if flags & SYN != 0 => u16::MAX,
            Some(w) if Some(b) == flow.backend() => w,
            _ => flow.client_window,
        };
        self.tx(Out { src: flow.key.client_ip, sport: flow.key.client_port, dst: spec.address, dport: spec.port, seq, ack, flags, window, options, payload });
    }

    /// The next client sequence number the engine has (in order).
    fn rcv_nxt(flow: &ConnEntry) -> u32 {
        let end = flow.asm.as_ref().map_or(flow.req_end, |a| a.end());
        match flow.client_fin {
            Some(f) if f == end => end.wrapping_add(1),
            _ => end,
        }
    }

    fn note_client(flow: &mut ConnEntry, seg: &Seg) {
        if seg.has(ACK) && seq_diff(seg.ack, flow.client_ack) > 0 {
            flow.client_ack = seg.ack;
        }
        flow.client_window = seg.window;
        let end = seg.seq.wrapping_add(seg.payload.len() as u32).wrapping_add(u32::from(seg.has(FIN)));
        if seq_diff(end, flow.client_next) > 0 {
            flow.client_next = end;
        }
    }

    /// Ends the hold: one window update to the backend, exactly the pure
    /// ACK the client would have sent (its next seq, its latest ack, in its
    /// space — the agent translates the ack — and its latest window), so
    /// the backend resumes through the switch (installed) or through us.
    fn release_hold(&mut self, flow: &mut ConnEntry) {
        if flow.hold == Hold::Until {
            // The state's own deadline, which the hold's stood in for.
            let to = self.p.timeouts;
            flow.deadline = match flow.state {
                SpliceState::Closing { .. } => flow.last_seen + to.closing_ms,
                _ => flow.last_seen + to.idle_ms,
            };
        }
        flow.hold = Hold::Off;
        self.counters.hold_releases += 1;
        if let Some(b) = flow.state.spliced_backend() {
            self.to_backend(flow, b, flow.client_next, flow.client_ack, ACK, &[], &[]);
            self.counters.window_updates += 1;
        }
    }

    fn client_segment(&mut self, flow: &mut ConnEntry, frame: &mut [u8], seg: &Seg) -> (Verdict, After) {
        let plen = seg.payload.len() as u32;
        match flow.state {
            SpliceState::Assembling | SpliceState::Connecting { .. } => {
                if seg.has(RST) {
                    if let SpliceState::Connecting { backend: b } = flow.state {
                        self.to_backend(flow, b, flow.syn_seq.wrapping_add(1), 0, RST, &[], &[]);
                    }
                    self.counters.flows_aborted += 1;
                    return (Verdict::Consumed, After::Remove);
                }
                Self::note_client(flow, seg);
                if let Some(a) = flow.asm.as_mut() {
                    a.insert(seg.seq, &frame[seg.payload.clone()]);
                }
                if seg.has(FIN) {
                    flow.client_fin = Some(seg.seq.wrapping_add(plen));
                }
                if flow.state == SpliceState::Assembling {
                    return (Verdict::Consumed, self.try_route(flow, plen > 0 || seg.has(FIN)));
                }
                (Verdict::Consumed, After::Keep)
            }
            SpliceState::Spliced { backend } | SpliceState::Closing { backend } => self.spliced_client(flow, frame, seg, backend),
            SpliceState::Replied { reply, seq, acked } => {
                if seg.has(RST) {
                    return (Verdict::Consumed, After::Remove);
                }
                Self::note_client(flow, seg);
                let len = reply.map_or(0, |r| r.bytes().len()) as u32;
                let fin_end = seq.wrapping_add(len).wrapping_add(1);
                let was_closed = acked && flow.client_fin.is_some();
                let acked = acked || (seg.has(ACK) && seq_diff(seg.ack, fin_end) >= 0);
                flow.state = SpliceState::Replied { reply, seq, acked };
                if seg.has(FIN) {
                    let f = seg.seq.wrapping_add(plen);
                    flow.client_fin = Some(f);
                    self.to_client(flow, fin_end, f.wrapping_add(1), ACK, &[]);
                    self.counters.acks_sent += 1;
                }
                if acked && flow.client_fin.is_some() && (!was_closed || seg.has(FIN)) {
                    // Both closes done: stay to ACK retransmitted FINs
                    // (each one restarts the wait, as TIME-WAIT does).
                    let t = self.now + self.p.timeouts.closing_ms;
                    self.set_deadline(flow, t);
                }
                (Verdict::Consumed, After::Keep)
            }
        }
    }

    /// Assembling: parse what is in order; route when the head is complete.
    fn try_route(&mut self, flow: &mut ConnEntry, had_data: bool) -> After {
        let Some(asm) = flow.asm.as_ref() else { return After::Keep };
        let mut storage = header_storage();
        let fin_in_order = flow.client_fin == Some(asm.end());
        let decision = match parse_head(&asm.buf, &mut storage) {
            Err(e) => Err(ErrorReply::from(e)),
            Ok(HeadStatus::Partial) => {
                if fin_in_order {
                    // Closed before a full head: nothing to route.
                    if asm.buf.is_empty() { Ok(None) } else { Err(ErrorReply::BadRequest) }
                } else {
                    if had_data {
                        // Keep the client sending: ACK what is in order, in
                        // the switch's sequence space (also a dup-ACK for a
                        // hole, which triggers its fast retransmit).
                        let ack = Self::rcv_nxt(flow);
                        self.to_client(flow, flow.client_ack, ack, ACK, &[]);
                        self.counters.acks_sent += 1;
                    }
                    return After::Keep;
                }
            }
            Ok(HeadStatus::Complete(head)) => {
                let next = match head.body {
                    BodyLength::Fixed(n) => {
                        let end = asm.base.wrapping_add(head.head_len as u32).wrapping_add(n as u32);
                        // Bytes past this request already here = pipelining:
                        // the connection stays on one backend.
                        (n <= u64::from(u32::MAX / 2) && seq_diff(asm.end(), end) <= 0).then_some(end)
                    }
                    BodyLength::Chunked => None,
                };
                let d = self.router.decide(flow.key.vip_id, flow.key.client_ip, &head);
                match d {
                    Decision::NoRoute => Err(ErrorReply::NotFound),
                    Decision::NoHealthyBackend { .. } => Err(ErrorReply::ServiceUnavailable),
                    Decision::Backend { backend, offload, .. } => Ok(Some((backend, offload, next, head.last_on_connection()))),
                }
            }
        };
        match decision {
            Err(reply) => self.reply(flow, Some(reply)),
            Ok(None) => self.reply(flow, None),
            Ok(Some((backend, offload, next, last))) => {
                self.start_backend(flow, backend, offload, next);
                if last && self.p.carry_responses_up_to > 0 && flow.offload == OffloadStatus::NotRequested {
                    // Carrying a small response is cheaper than offloading
                    // it: the response head decides (`peeked`).
                    flow.hold = Hold::Peek;
                }
                After::Keep
            }
        }
    }

    /// Step 3: replay the client's SYN to `backend` with the ISN fused in.
    fn start_backend(&mut self, flow: &mut ConnEntry, backend: BackendIndex, offload: OffloadMode, next: Option<u32>) {
        if flow.backend().is_none() {
            flow.mode = offload;
        }
        flow.next_request = next;
        self.router.flow_started(backend);
        flow.state = SpliceState::Connecting { backend };
        flow.retries = 0;
        if flow.offload != OffloadStatus::Detaching {
            self.send_syn(flow);
        }
        // While detaching: the bound on the switch's answer.
        let t = self.now + self.p.timeouts.backend_syn_rto_ms;
        self.set_deadline(flow, t);
    }

    /// Request mode: the engine leaves backend `old` at the request boundary
    /// `nr` (a hand-over or an error reply). If the switch may hold an entry
    /// naming `old` (installed, or an install in flight), it is detached
    /// first and the FIN (and the new backend's SYN, the reply) wait for
    /// `Detached`: with the entry in place the switch would carry `old`'s
    /// answer to our FIN — its FIN, at the very seq where the next response
    /// starts — straight to the client, which then sees the connection end
    /// (or, racing the new backend's data, a cut response), and it would
    /// carry the client's ACKs of the new backend's bytes to `old`, whose
    /// RST (its agent translates it back into the client's space) resets
    /// the client. Without an entry everything already comes to the engine.
    fn leave_backend(&mut self, flow: &mut ConnEntry, old: BackendIndex, nr: u32) {
        if flow.hold != Hold::Off {
            // (A next request before the first response.) No update of its
            // own: the FIN `old` gets (now, or at `Detached`) carries the
            // client's window, as it no longer goes to the current backend.
            flow.hold = Hold::Off;
            self.counters.hold_releases += 1;
        }
        self.router.flow_ended(old);
        let detach = matches!(flow.offload, OffloadStatus::Pending | OffloadStatus::Installed);
        flow.prev_backend = Some(PrevBackend { backend: old, fin_seq: nr, fin_ack: flow.client_ack, fin_sent: !detach });
        if detach {
            self.out.push(Action::Offload(OffloadRequest::Detach { key: flow.key }));
            flow.offload = OffloadStatus::Detaching;
            self.counters.handover_detaches += 1;
        } else {
            self.to_backend(flow, old, nr, flow.client_ack, ACK | FIN, &[], &[]);
        }
    }

    /// The switch's entry is gone (or the answer is overdue): what
    /// `leave_backend` held back goes out now.
    fn detached(&mut self, flow: &mut ConnEntry) {
        flow.offload = OffloadStatus::NotRequested;
        if let Some(p) = flow.prev_backend.as_mut().filter(|p| !p.fin_sent) {
            p.fin_sent = true;
            let p = *p;
            self.to_backend(flow, p.backend, p.fin_seq, p.fin_ack, ACK | FIN, &[], &[]);
        }
        match flow.state {
            SpliceState::Connecting { .. } => {
                flow.retries = 0;
                self.send_syn(flow);
                let t = self.now + self.p.timeouts.backend_syn_rto_ms;
                self.set_deadline(flow, t);
            }
            SpliceState::Replied { acked: false, .. } => {
                self.send_reply(flow);
                let t = self.now + self.p.timeouts.request_rto_ms;
                self.set_deadline(flow, t);
            }
            _ => {}
        }
    }

    fn send_syn(&mut self, flow: &ConnEntry) {
        let o = flow.opts;
        let mut opts = [TcpOption::Mss(o.mss), TcpOption::NoOp, TcpOption::NoOp, TcpOption::NoOp];
        let mut n = 1;
        if o.sack_permitted {
            opts[n] = TcpOption::SackPermitted;
            n += 1;
        }
        if let Some(ws) = o.wscale {
            opts[n] = TcpOption::NoOp;
            opts[n + 1] = TcpOption::WindowScale(ws);
            n += 2;
        }
        let SpliceState::Connecting { backend: b } = flow.state else { return };
        // ACK flag clear: the ack field carries S for the agent.
        self.to_backend(flow, b, flow.syn_seq, flow.server_isn, SYN, &opts[..n], &[]);
        self.counters.replayed_syns += 1;
    }

    /// Answers the client itself (error reply or bare FIN) and closes.
    fn reply(&mut self, flow: &mut ConnEntry, reply: Option<ErrorReply>) -> After {
        let seq = flow.client_ack;
        let ack = Self::rcv_nxt(flow);
        flow.req_end = ack;
        self.drop_request(flow);
        flow.state = SpliceState::Replied { reply, seq, acked: false };
        flow.retries = 0;
        if flow.offload != OffloadStatus::Detaching {
            self.send_reply(flow);
        }
        if let Some(r) = reply {
            self.counters.reply(r);
        }
        let t = self.now + self.p.timeouts.request_rto_ms;
        self.set_deadline(flow, t);
        After::Keep
    }

    fn send_reply(&mut self, flow: &ConnEntry) {
        let SpliceState::Replied { reply, seq, .. } = flow.state else { return };
        let body = reply.map_or(&b""[..], |r| r.bytes());
        let flags = if body.is_empty() { ACK | FIN } else { ACK | PSH | FIN };
        self.to_client(flow, seq, flow.req_end, flags, body);
    }

    /// Step 4: the backend's SYN-ACK (already in the client's space).
    fn backend_segment(&mut self, flow: &mut ConnEntry, frame: &mut [u8], seg: &Seg, b: BackendIndex) -> (Verdict, After) {
        match flow.state {
            SpliceState::Connecting { .. } => {
                if seg.has(RST) {
                    // Refused by the backend.
                    self.router.flow_ended(b);
                    return (Verdict::Consumed, self.reply(flow, Some(ErrorReply::BadGateway)));
                }
                if seg.has(FIN) && seg.has(ACK) && !seg.has(SYN) && !seg.has(RST) {
                    // Request mode, handed back to a backend whose earlier
                    // connection of this 4-tuple is still closing: its FIN
                    // (a late or retransmitted one) gets the stateless ACK
                    // of `former_backend`, or it would stay in LAST_ACK and
                    // answer our SYN with challenge ACKs only.
                    let their_fin = seg.seq.wrapping_add(seg.payload.len() as u32);
                    self.to_backend(flow, b, seg.ack, their_fin.wrapping_add(1), ACK, &[], &[]);
                    self.counters.acks_sent += 1;
                    self.counters.former_backend_fins += 1;
                    return (Verdict::Consumed, After::Keep);
                }
                if !(seg.has(SYN) && seg.has(ACK)) || seg.ack != flow.syn_seq.wrapping_add(1) {
                    return (Verdict::Drop(DropReason::NoFlow), After::Keep);
                }
                if seg.seq != flow.server_isn {
                    // No agent rewrote it: splicing would corrupt the flow.
                    self.to_backend(flow, b, seg.ack, 0, RST, &[], &[]);
                    self.router.flow_ended(b);
                    return (Verdict::Consumed, self.reply(flow, Some(ErrorReply::BadGateway)));
                }
                let so = SynOptions::from_options(&frame[seg.options.clone()]).unwrap_or_default();
                flow.backend_mss = so.mss.unwrap_or(switchyard_wire::cookie::DEFAULT_MSS);
                self.counters.backend_syn_acks += 1;
                flow.state = SpliceState::Spliced { backend: b };
                flow.retries = 0;
                if flow.hold == Hold::Off && self.p.hold_until_offloaded && Self::will_install(flow) {
                    flow.hold = Hold::Held;
                    self.counters.holds += 1;
                }
                self.send_request(flow);
                let t = self.now + self.p.timeouts.request_rto_ms;
                self.set_deadline(flow, t);
                (Verdict::Consumed, After::Keep)
            }
            SpliceState::Spliced { .. } | SpliceState::Closing { .. } => {
                if seg.has(SYN) {
                    // A retransmitted SYN-ACK: our request or ACK was lost.
                    if flow.asm.is_some() {
                        self.send_request(flow);
                        self.counters.request_retransmits += 1;
                    }
                    return (Verdict::Consumed, After::Keep);
                }
                if seg.has(ACK) && flow.asm.is_some() && seq_diff(seg.ack, flow.req_end) >= 0 {
                    self.request_delivered(flow);
                }
                if flow.hold == Hold::Peek && (!seg.payload.is_empty() || seg.has(FIN)) {
                    self.peeked(flow, frame, seg);
                }
                if seg.has(FIN) {
                    flow.backend_fin = true;
                }
                self.forward_to_client(flow, frame, seg);
                if seg.has(RST) {
                    return (Verdict::Forward, After::Remove);
                }
                self.maybe_closing(flow);
                (Verdict::Forward, After::Keep)
            }
            // Assembling has no backend; Replied flows closed theirs.
            _ => (Verdict::Drop(DropReason::NoFlow), After::Keep),
        }
    }

    /// The buffered request (and FIN) to the backend, client's seq space.
    fn send_request(&mut self, flow: &mut ConnEntry) {
        let Some(b) = flow.state.spliced_backend() else { return };
        let Some(asm) = flow.asm.take() else { return };
        let mss = usize::from(flow.opts.mss.min(flow.backend_mss).max(64));
        let fin = flow.client_fin == Some(asm.end());
        let n = asm.buf.len().div_ceil(mss);
        let mut seq = asm.base;
        for (i, c) in asm.buf.chunks(mss).enumerate() {
            let last = i + 1 == n;
            let flags = ACK | if last { PSH | if fin { FIN } else { 0 } } else { 0 };
            self.to_backend(flow, b, seq, flow.client_ack, flags, &[], c);
            seq = seq.wrapping_add(c.len() as u32);
        }
        if n == 0 && fin {
            self.to_backend(flow, b, seq, flow.client_ack, ACK | FIN, &[], &[]);
        }
        flow.req_end = asm.end().wrapping_add(u32::from(fin));
        flow.asm = Some(asm);
        self.counters.requests_sent += 1;
    }

    /// A last-request connection's first response bytes: carry a small
    /// response (the flow is never offloaded), offload anything else.
    fn peeked(&mut self, flow: &mut ConnEntry, frame: &[u8], seg: &Seg) {
        let Some(backend) = flow.state.spliced_backend() else { return };
        // Only the response's own start, once the request is delivered,
        // says how long it is.
        let first = seg.seq == flow.server_isn.wrapping_add(1) && flow.asm.is_none();
        let size = match (seg.payload.is_empty(), first) {
            (true, true) => ResponseSize::Known(0),
            (false, true) => response_size(&frame[seg.payload.clone()]),
            (_, false) => ResponseSize::Unknown,
        };
        flow.hold = Hold::Off;
        match size {
            ResponseSize::Known(n) if n <= u64::from(self.p.carry_responses_up_to) => {
                flow.offload = OffloadStatus::Declined;
                self.counters.responses_carried += 1;
                if n > u64::from(PEEK_WINDOW_BYTES) {
                    // Open the window for the rest of it.
                    self.to_backend(flow, backend, flow.client_next, flow.client_ack, ACK, &[], &[]);
                    self.counters.window_updates += 1;
                }
            }
            _ => {
                self.out.push(Action::Offload(OffloadRequest::Install { key: flow.key, backend, mode: flow.mode }));
                flow.offload = OffloadStatus::Pending;
                self.counters.offload_requested += 1;
                if self.p.hold_until_offloaded {
                    self.counters.holds += 1;
                    flow.hold = Hold::Until;
                    flow.deadline = self.now + HOLD_TIMEOUT_MS;
                } else {
                    self.to_backend(flow, backend, flow.client_next, flow.client_ack, ACK, &[], &[]);
                    self.counters.window_updates += 1;
                }
            }
        }
    }

    /// Whether `request_delivered` will ask the switch for an entry.
    fn will_install(flow: &ConnEntry) -> bool {
        flow.offload == OffloadStatus::NotRequested || (flow.mode == OffloadMode::Request && !matches!(flow.offload, OffloadStatus::Refused | OffloadStatus::Declined))
    }

    /// The backend has all the bytes the engine answered for.
    fn request_delivered(&mut self, flow: &mut ConnEntry) {
        self.drop_request(flow);
        flow.retries = 0;
        if flow.hold == Hold::Peek {
            // The response's head decides (`peeked`).
            let t = self.now + self.p.timeouts.idle_ms;
            self.set_deadline(flow, t);
            return;
        }
        if let (true, Some(backend)) = (Self::will_install(flow), flow.state.spliced_backend()) {
            self.out.push(Action::Offload(OffloadRequest::Install { key: flow.key, backend, mode: flow.mode }));
            flow.offload = OffloadStatus::Pending;
            self.counters.offload_requested += 1;
            if flow.hold == Hold::Held {
                flow.hold = Hold::Until;
                flow.deadline = self.now + HOLD_TIMEOUT_MS;
                return;
            }
        } else if flow.hold != Hold::Off {
            self.release_hold(flow);
        }
        let t = self.now + self.p.timeouts.idle_ms;
        self.set_deadline(flow, t);
    }

    fn forward_to_client(&mut self, flow: &ConnEntry, frame: &mut [u8], seg: &Seg) {
        packet::rewrite_from_backend(frame, seg, flow.vip, flow.vport, self.p.mac, self.p.switch_mac);
        self.counters.forwarded_to_client += 1;
        if flow.offload == OffloadStatus::Installed {
            self.counters.forwarded_after_offload += 1;
        }
    }

    fn forward_to_backend(&mut self, flow: &ConnEntry, b: BackendIndex, frame: &mut [u8], seg: &Seg) {
        let spec = self.router.backend(b).spec;
        packet::rewrite_to_backend(frame, seg, spec.address, spec.port, self.p.mac, self.p.switch_mac);
        if let (Some(w), false) = (held_window(flow), seg.has(RST)) {
            packet::set_window(frame, seg, w);
        }
        self.counters.forwarded_to_backend += 1;
        if flow.offload == OffloadStatus::Installed {
            self.counters.forwarded_after_offload += 1;
        }
    }

    fn maybe_closing(&mut self, flow: &mut ConnEntry) {
        if let (SpliceState::Spliced { backend }, Some(_), true) = (flow.state, flow.client_fin, flow.backend_fin) {
            flow.state = SpliceState::Closing { backend };
            let t = self.now + self.p.timeouts.closing_ms;
            self.set_deadline(flow, t);
        }
    }

    /// Step 5: client packets while the engine carries the flow; in request
    /// mode, every new request is routed.
    fn spliced_client(&mut self, flow: &mut ConnEntry, frame: &mut [u8], seg: &Seg, b: BackendIndex) -> (Verdict, After) {
        let plen = seg.payload.len() as u32;
        if flow.mode == OffloadMode::Request && plen > 0 && matches!(flow.state, SpliceState::Spliced { .. }) && flow.asm.is_none() {
            if let Some(nr) = flow.next_request {
                let end = seg.seq.wrapping_add(plen);
                if seq_diff(seg.seq, nr) >= 0 {
                    return self.next_request(flow, frame, seg, nr, b);
                }
                if seq_diff(end, nr) > 0 {
                    // Straddles two requests: keep it simple and correct,
                    // the rest of the connection stays on this backend.
                    flow.next_request = None;
                }
            }
        }
        Self::note_client(flow, seg);
        if seg.has(FIN) {
            flow.client_fin = Some(seg.seq.wrapping_add(plen));
        }
        self.forward_to_backend(flow, b, frame, seg);
        if seg.has(RST) {
            return (Verdict::Forward, After::Remove);
        }
        self.maybe_closing(flow);
        (Verdict::Forward, After::Keep)
    }

    /// Request mode: bytes of the next request on a keep-alive connection.
    fn next_request(&mut self, flow: &mut ConnEntry, frame: &mut [u8], seg: &Seg, nr: u32, old: BackendIndex) -> (Verdict, After) {
        Self::note_client(flow, seg);
        let mut asm = self.bufs.assembly(nr);
        asm.insert(seg.seq, &frame[seg.payload.clone()]);
        if seg.has(FIN) {
            flow.client_fin = Some(seg.seq.wrapping_add(seg.payload.len() as u32));
        }
        let mut storage = header_storage();
        let parsed = parse_head(&asm.buf, &mut storage);
        let outcome = match parsed {
            Err(e) => Err(ErrorReply::from(e)),
            // Heads of later requests must arrive in one segment in this
            // version (see docs): a partial one pins the connection.
            Ok(HeadStatus::Partial) => Ok(None),
            Ok(HeadStatus::Complete(head)) => {
                let next = match head.body {
                    BodyLength::Fixed(n) => {
                        let end = nr.wrapping_add(head.head_len as u32).wrapping_add(n as u32);
                        (seq_diff(asm.end(), end) <= 0).then_some(end)
                    }
                    BodyLength::Chunked => None,
                };
                match self.router.decide(flow.key.vip_id, flow.key.client_ip, &head) {
                    Decision::NoRoute => Err(ErrorReply::NotFound),
                    Decision::NoHealthyBackend { .. } => Err(ErrorReply::ServiceUnavailable),
                    Decision::Backend { backend, .. } => Ok(Some((backend, next))),
                }
            }
        };
        match outcome {
            Ok(None) => {
                self.bufs.recycle_assembly(asm);
                flow.next_request = None;
                self.forward_to_backend(flow, old, frame, seg);
                (Verdict::Forward, After::Keep)
            }
            Ok(Some((b, next))) if b == old => {
                self.bufs.recycle_assembly(asm);
                flow.next_request = next;
                self.forward_to_backend(flow, old, frame, seg);
                (Verdict::Forward, After::Keep)
            }
            Ok(Some((b, next))) => {
                // Hand-over: close the old backend in the client's name at
                // the request boundary, replay a SYN to the new one with
                // the client's current sequence numbers (once the switch's
                // entry no longer names the old backend, see `leave_backend`).
                self.leave_backend(flow, old, nr);
                flow.syn_seq = nr.wrapping_sub(1);
                flow.server_isn = flow.client_ack.wrapping_sub(1);
                flow.asm = Some(asm);
                self.counters.handovers += 1;
                self.start_backend(flow, b, flow.mode, next);
                (Verdict::Consumed, After::Keep)
            }
            Err(reply) => {
                self.leave_backend(flow, old, nr);
                flow.asm = Some(asm);
                (Verdict::Consumed, self.reply(flow, Some(reply)))
            }
        }
    }

    /// Request mode: the backend the engine closed answers; its bytes must
    /// not reach the client (they sit in a sequence space now used by the
    /// new backend), so the engine ACKs its FIN itself.
    fn old_backend_segment(&mut self, flow: &mut ConnEntry, seg: &Seg) -> (Verdict, After) {
        let Some(prev) = flow.prev_backend else { return (Verdict::Drop(DropReason::NoFlow), After::Keep) };
        if seg.has(RST) {
            flow.prev_backend = None;
        } else if seg.has(FIN) {
            // (It closes on its own before our FIN went out: ours still
            // follows at `Detached`.)
            let their_fin = seg.seq.wrapping_add(seg.payload.len() as u32);
            let seq = prev.fin_seq.wrapping_add(u32::from(prev.fin_sent));
            self.to_backend(flow, prev.backend, seq, their_fin.wrapping_add(1), ACK, &[], &[]);
            self.counters.acks_sent += 1;
            if prev.fin_sent {
                flow.prev_backend = None;
            }
        }
        (Verdict::Consumed, After::Keep)
    }

    fn timer(&mut self, flow: &mut ConnEntry) -> After {
        let to = self.p.timeouts;
        if flow.offload == OffloadStatus::Detaching {
            // The control task answers every Detach; should that answer
            // be lost, go on rather than hang the client.
            self.counters.detach_overdue += 1;
            self.detached(flow);
            return After::Keep;
        }
        match flow.state {
            SpliceState::Assembling => self.reply(flow, Some(ErrorReply::RequestTimeout)),
            SpliceState::Connecting { backend: b } => {
                if flow.retries < to.backend_syn_retries {
                    flow.retries += 1;
                    self.send_syn(flow);
                    self.counters.syn_retransmits += 1;
                    let t = self.now + (to.backend_syn_rto_ms << flow.retries.min(6));
                    self.set_deadline(flow, t);
                    After::Keep
                } else {
                    self.to_backend(flow, b, flow.syn_seq.wrapping_add(1), 0, RST, &[], &[]);
                    self.router.flow_ended(b);
                    self.reply(flow, Some(ErrorReply::GatewayTimeout))
                }
            }
            SpliceState::Spliced { backend: b } if flow.asm.is_some() => {
                if flow.retries < to.request_retries {
                    flow.retries += 1;
                    self.send_request(flow);
                    self.counters.request_retransmits += 1;
                    let t = self.now + (to.request_rto_ms << flow.retries.min(6));
                    self.set_deadline(flow, t);
                    After::Keep
                } else {
                    // The backend takes nothing: reset both ends, never hang.
                    self.to_backend(flow, b, flow.req_end, flow.client_ack, RST | ACK, &[], &[]);
                    self.to_client(flow, flow.client_ack, flow.req_end, RST | ACK, &[]);
                    self.counters.flows_aborted += 1;
                    After::Remove
                }
            }
            SpliceState::Spliced { .. } | SpliceState::Closing { .. } if flow.hold == Hold::Until => {
                // No completion in time: let the response come through us.
                self.counters.hold_timeouts += 1;
                self.release_hold(flow);
                if flow.deadline <= self.now {
                    return After::Remove; // (closing or idle over too)
                }
                After::Keep
            }
            SpliceState::Spliced { .. } => {
                if flow.offload == OffloadStatus::Installed && flow.mode == OffloadMode::Connection {
                    return After::Forget; // grace over; the switch owns it
                }
                let idle_until = flow.last_seen + to.idle_ms;
                if idle_until > self.now {
                    self.set_deadline(flow, idle_until);
                    After::Keep
                } else {
                    After::Remove
                }
            }
            SpliceState::Replied { acked: false, .. } if flow.retries < to.request_retries => {
                flow.retries += 1;
                self.send_reply(flow);
                let t = self.now + (to.request_rto_ms << flow.retries.min(6));
                self.set_deadline(flow, t);
                After::Keep
            }
            SpliceState::Replied { acked: true, .. } if flow.client_fin.is_none() && flow.retries < to.request_retries => {
                // Waiting for the client's FIN (half-closed by us).
                flow.retries = to.request_retries;
                let t = self.now + to.closing_ms;
                self.set_deadline(flow, t);
                After::Keep
            }
            SpliceState::Replied { .. } | SpliceState::Closing { .. } => After::Remove,
        }
    }
}
