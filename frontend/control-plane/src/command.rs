//! Commands from the control plane to the worker, which alone owns its
//! `Engine` (single-threaded, never shared): health checks and the admin
//! API ask, the worker applies them between bursts.
//!
//! * [`CommandSender`] (cloneable, `Send`): from `ControlLink::commands()`;
//!   any control-plane thread or task keeps one. `send` never blocks: a
//!   full queue ([`COMMAND_QUEUE`]) or a stopped worker is an error the
//!   caller reports (a health check retries at its next interval).
//! * The worker polls `ControlLink::take_command()` once per loop turn and
//!   calls [`WorkerCommand::apply`]. A parked worker (blocked on its packet
//!   socket) is woken by the bell when a command is queued.
//!
//! The queue is FIFO: a `Snapshot` sent after a `SetBackend` is answered
//! after the flags are applied, which is how a caller learns "applied"
//! (`CommandSender::set_backend_and_wait`).
//!
//! A snapshot scans the flow table on the worker (hashbrown's control
//! bytes, ~0.1 ms per 65,536 slots): fine for an operator's request or a
//! scrape every few seconds, not for a loop.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use switchyard_frontend::config::Config;
use switchyard_frontend::engine::{Counters, Engine, OffloadStatus, SpliceState};
use switchyard_wire::flow::{BackendIndex, VipId};

use crate::Shared;

/// Commands waiting for the worker. Operators and health checks send a
/// handful per second; 256 absorbs a burst of checks over many backends
/// without letting a runaway sender queue work the worker must do.
pub const COMMAND_QUEUE: usize = 256;
/// Most flows a snapshot lists (the table may hold millions): enough for
/// an operator looking for one client, small enough to answer in one
/// HTTP response.
pub const MAX_LISTED_FLOWS: usize = 1000;

/// What the control plane asks of the worker.
#[derive(Debug)]
pub enum WorkerCommand {
    /// Change a backend's flags (`None`: keep). New flows only: flows on
    /// it stay (docs/FRONTEND.md). An unknown index is ignored.
    SetBackend { backend: BackendIndex, healthy: Option<bool>, draining: Option<bool> },
    /// Counters, flows by phase and backends, with the first
    /// [`MAX_LISTED_FLOWS`] flows.
    Snapshot(Sender<EngineSnapshot>),
    /// The same with the listed flows filtered (the admin API's `/flows`).
    Flows { filter: FlowFilter, reply: Sender<EngineSnapshot> },
    /// Answered as soon as the worker runs its commands: proves its loop
    /// turns (`/healthz`, the front-end's liveness probe), without the
    /// flow-table scan of a snapshot.
    Ping(Sender<()>),
    /// A hot reload's services, routes, pools and backends
    /// (`reload::plan` keeps the numbering; `Engine::reconfigure_routes`).
    Reconfigure(Arc<Config>),
}

/// Which flows a snapshot lists (all fields must match).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowFilter {
    pub client: Option<Ipv4Addr>,
    pub backend: Option<BackendIndex>,
    /// A service's flows (its VIP id).
    pub vip: Option<VipId>,
}

/// Where a flow is, as operators count it: the engine's `SpliceState`,
/// with a spliced flow whose switch entry is in told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowPhase {
    Assembling,
    Connecting,
    /// On the front-end path (entry pending, refused, or carried).
    Spliced,
    /// The switch carries it alone.
    Offloaded,
    Replied,
    Closing,
}

impl FlowPhase {
    pub const ALL: [FlowPhase; 6] =
        [FlowPhase::Assembling, FlowPhase::Connecting, FlowPhase::Spliced, FlowPhase::Offloaded, FlowPhase::Replied, FlowPhase::Closing];

    pub fn of(state: SpliceState, offload: OffloadStatus) -> Self {
        match state {
            SpliceState::Assembling => FlowPhase::Assembling,
            SpliceState::Connecting { .. } => FlowPhase::Connecting,
            SpliceState::Spliced { .. } if offload == OffloadStatus::Installed => FlowPhase::Offloaded,
            SpliceState::Spliced { .. } => FlowPhase::Spliced,
            SpliceState::Replied { .. } => FlowPhase::Replied,
            SpliceState::Closing { .. } => FlowPhase::Closing,
        }
    }

    /// The name in JSON, metrics labels and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            FlowPhase::Assembling => "assembling",
            FlowPhase::Connecting => "connecting",
            FlowPhase::Spliced => "spliced",
            FlowPhase::Offloaded => "offloaded",
            FlowPhase::Replied => "replied",
            FlowPhase::Closing => "closing",
        }
    }
}

/// A backend as the worker's router holds it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendFlags {
    pub healthy: bool,
    pub draining: bool,
    /// Passively ejected (failed handshakes in a row) for its cool-down.
    pub ejected: bool,
    pub ejections: u64,
    pub active_flows: u32,
}

/// One listed flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowView {
    pub client: SocketAddrV4,
    pub vip_id: VipId,
    pub backend: Option<BackendIndex>,
    pub phase: FlowPhase,
}

/// The worker's engine at one instant.
#[derive(Debug, Clone, Default)]
pub struct EngineSnapshot {
    pub counters: Counters,
    pub flow_count: usize,
    /// Index = position in `FlowPhase::ALL`.
    pub flows_by_phase: [u64; 6],
    /// Index = `BackendIndex`.
    pub backends: Vec<BackendFlags>,
    /// At most [`MAX_LISTED_FLOWS`], matching the request's filter.
    pub flows: Vec<FlowView>,
    /// Flows matching the filter (more than `flows.len()` when cut).
    pub matched: usize,
}

impl EngineSnapshot {
    pub fn phase_count(&self, p: FlowPhase) -> u64 {
        FlowPhase::ALL.iter().position(|&x| x == p).map_or(0, |i| self.flows_by_phase[i])
    }

    /// Reads `engine` (one scan of its flow table).
    pub fn of(engine: &Engine, filter: FlowFilter) -> Self {
        let mut s = EngineSnapshot {
            counters: engine.counters().clone(),
            flow_count: engine.flow_count(),
            backends: engine
                .router()
                .backends
                .iter()
                .map(|b| BackendFlags {
                    healthy: b.healthy,
                    draining: b.draining,
                    ejected: b.ejected_until.is_some(),
                    ejections: b.ejections,
                    active_flows: b.active_flows,
                })
                .collect(),
            ..Default::default()
        };
        for f in engine.flows() {
            let phase = FlowPhase::of(f.state, f.offload);
            s.flows_by_phase[FlowPhase::ALL.iter().position(|&x| x == phase).unwrap_or(0)] += 1;
            let backend = f.backend();
            if filter.client.is_some_and(|c| c != f.key.client_ip)
                || filter.backend.is_some_and(|b| Some(b) != backend)
                || filter.vip.is_some_and(|v| v != f.key.vip_id)
            {
                continue;
            }
            s.matched += 1;
            if s.flows.len() < MAX_LISTED_FLOWS {
                s.flows.push(FlowView { client: SocketAddrV4::new(f.key.client_ip, f.key.client_port), vip_id: f.key.vip_id, backend, phase });
            }
        }
        s
    }
}

impl WorkerCommand {
    /// Runs the command on the worker's engine. A reply nobody waits for
    /// any more (the asker timed out) is dropped.
    pub fn apply(self, engine: &mut Engine) {
        match self {
            WorkerCommand::SetBackend { backend, healthy, draining } => {
                let Some(b) = engine.router().backends.get(usize::from(backend)) else { return };
                let (h, d) = (healthy.unwrap_or(b.healthy), draining.unwrap_or(b.draining));
                engine.set_backend_flags(backend, h, d);
            }
            WorkerCommand::Snapshot(reply) => {
                let _ = reply.send(EngineSnapshot::of(engine, FlowFilter::default()));
            }
            WorkerCommand::Flows { filter, reply } => {
                let _ = reply.send(EngineSnapshot::of(engine, filter));
            }
            WorkerCommand::Ping(reply) => {
                let _ = reply.send(());
            }
            WorkerCommand::Reconfigure(config) => engine.reconfigure_routes(&config),
        }
    }
}

/// Why a command was not queued or not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// [`COMMAND_QUEUE`] commands wait already.
    QueueFull,
    /// The worker is gone (the front-end is stopping).
    WorkerGone,
    /// Queued, but no answer within the caller's timeout (the worker is
    /// stuck or far behind).
    Timeout,
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CommandError::QueueFull => "the worker's command queue is full",
            CommandError::WorkerGone => "the worker has stopped",
            CommandError::Timeout => "the worker did not answer in time",
        })
    }
}

impl std::error::Error for CommandError {}

/// The control plane's end of the command queue (cloneable).
#[derive(Clone)]
pub struct CommandSender {
    tx: Sender<WorkerCommand>,
    shared: Arc<Shared>,
}

/// Makes the queue: the sender, and the receiver `ControlLink` keeps.
pub(crate) fn queue(shared: Arc<Shared>) -> (CommandSender, Receiver<WorkerCommand>) {
    let (tx, rx) = bounded(COMMAND_QUEUE);
    (CommandSender { tx, shared }, rx)
}

impl CommandSender {
    /// Queues `cmd` (never blocks) and wakes the worker if it is parked.
    pub fn send(&self, cmd: WorkerCommand) -> Result<(), CommandError> {
        let r = self.tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => CommandError::QueueFull,
            TrySendError::Disconnected(_) => CommandError::WorkerGone,
        });
        self.shared.bell.ring();
        r
    }

    /// A snapshot listing the flows `filter` selects, waiting up to
    /// `timeout` (blocks the calling thread: async callers use
    /// `spawn_blocking`).
    pub fn snapshot(&self, filter: FlowFilter, timeout: Duration) -> Result<EngineSnapshot, CommandError> {
        let (reply, answer) = bounded(1);
        self.send(WorkerCommand::Flows { filter, reply })?;
        answer.recv_timeout(timeout).map_err(|_| CommandError::Timeout)
    }

    /// Waits up to `timeout` for the worker to run a `Ping` (blocks the
    /// calling thread).
    pub fn ping(&self, timeout: Duration) -> Result<(), CommandError> {
        let (reply, answer) = bounded(1);
        self.send(WorkerCommand::Ping(reply))?;
        answer.recv_timeout(timeout).map_err(|_| CommandError::Timeout)
    }

    /// `SetBackend`, then a snapshot: it is answered once the flags are
    /// applied (the queue is FIFO).
    pub fn set_backend_and_wait(
        &self,
        backend: BackendIndex,
        healthy: Option<bool>,
        draining: Option<bool>,
        timeout: Duration,
    ) -> Result<EngineSnapshot, CommandError> {
        self.send(WorkerCommand::SetBackend { backend, healthy, draining })?;
        self.snapshot(FlowFilter { backend: Some(backend), ..FlowFilter::default() }, timeout)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use switchyard_frontend::config;

    use super::*;
    use crate::{ControlLink, SwitchLink};

    const CONFIG: &str = r#"
[frontend]
mac = "02:53:59:00:00:10"
switch_mac = "02:53:59:01:00:10"
[switch]
p4runtime = "127.0.0.1:9559"
[cookie]
secrets = [{ k0 = 1, k1 = 2 }]
rotation_secs = 60
[[services]]
name = "web"
vip = "198.18.100.1"
port = 80
[[services.routes]]
pool = "web"
[[pools]]
name = "web"
backends = [{ address = "198.18.10.2", port = 80 }, { address = "198.18.11.2", port = 80 }]
"#;

    fn engine() -> Engine {
        Engine::new(&config::parse(CONFIG, "test.toml").unwrap())
    }

    #[test]
    fn set_backend_changes_only_the_given_flags() {
        let mut e = engine();
        WorkerCommand::SetBackend { backend: 1, healthy: None, draining: Some(true) }.apply(&mut e);
        let s = EngineSnapshot::of(&e, FlowFilter::default());
        assert_eq!(s.backends[1], BackendFlags { healthy: true, draining: true, ..Default::default() });
        assert_eq!(s.backends[0], BackendFlags { healthy: true, ..Default::default() });
        WorkerCommand::SetBackend { backend: 1, healthy: Some(false), draining: None }.apply(&mut e);
        assert_eq!(e.router().backend(1).draining, true, "None keeps draining");
        assert!(!e.router().backend(1).healthy);
        WorkerCommand::SetBackend { backend: 7, healthy: Some(false), draining: None }.apply(&mut e);
        assert_eq!(e.router().backends.len(), 2, "an unknown backend is ignored");
    }

    #[test]
    fn phases_tell_offloaded_from_front_end_path() {
        let s = SpliceState::Spliced { backend: 0 };
        assert_eq!(FlowPhase::of(s, OffloadStatus::Installed), FlowPhase::Offloaded);
        for o in [OffloadStatus::Pending, OffloadStatus::Refused, OffloadStatus::Declined, OffloadStatus::NotRequested] {
            assert_eq!(FlowPhase::of(s, o), FlowPhase::Spliced);
        }
        assert_eq!(FlowPhase::of(SpliceState::Closing { backend: 0 }, OffloadStatus::Installed), FlowPhase::Closing);
        let names: std::collections::HashSet<_> = FlowPhase::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), FlowPhase::ALL.len());
    }

    /// Through the link as the worker loop uses it: a queued command keeps
    /// the worker from parking, a parked worker's bell rings, and a
    /// snapshot sent after a SetBackend sees it applied.
    #[test]
    fn commands_reach_a_polling_worker_in_order() {
        let stop = Arc::new(AtomicBool::new(false));
        let (link, handle) = ControlLink::spawn(SwitchLink::Disabled, stop.clone()).unwrap();
        let sender = link.commands();
        assert!(link.take_command().is_none());
        assert!(link.park(), "nothing queued: may block");
        sender.clone().send(WorkerCommand::SetBackend { backend: 0, healthy: None, draining: Some(true) }).unwrap();
        assert!(switchyard_afpacket::batch::poll_readable(&[link.bell_fd()], 1000).unwrap()[0], "the bell rang");
        link.unpark();
        assert!(!link.park(), "a queued command keeps the worker awake");
        let mut e = engine();
        let worker = std::thread::scope(|s| {
            let t = s.spawn(|| sender.set_backend_and_wait(1, Some(false), None, Duration::from_secs(5)));
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            let mut applied = 0;
            while applied < 3 && std::time::Instant::now() < deadline {
                while let Some(c) = link.take_command() {
                    c.apply(&mut e);
                    applied += 1;
                }
            }
            t.join().unwrap()
        });
        let snap = worker.expect("answered");
        assert!(snap.backends[0].draining);
        assert!(!snap.backends[1].healthy, "the snapshot follows the SetBackend");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        handle.join().unwrap();
        drop(link);
        assert_eq!(sender.send(WorkerCommand::SetBackend { backend: 0, healthy: None, draining: None }), Err(CommandError::WorkerGone));
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let stop = Arc::new(AtomicBool::new(true));
        let (link, handle) = ControlLink::spawn(SwitchLink::Disabled, stop).unwrap();
        let s = link.commands();
        for _ in 0..COMMAND_QUEUE {
            s.send(WorkerCommand::SetBackend { backend: 0, healthy: None, draining: None }).unwrap();
        }
        assert_eq!(s.send(WorkerCommand::SetBackend { backend: 0, healthy: None, draining: None }), Err(CommandError::QueueFull));
        handle.join().unwrap();
    }
}
