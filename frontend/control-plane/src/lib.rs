//! The front-end's control plane: the control task, a thread of its own
//! between the worker and the switch, and the command queue by which
//! control-plane threads ask the worker to act on its engine (`command`).
//!
//! Four bounded crossbeam queues, none of which the worker ever waits on:
//! * worker -> control: offload requests (Install / Delete), stamped with
//!   the submit time (install latency is measured from there). A full queue
//!   refuses the install at once: the flow stays on the front-end path.
//! * control -> worker: `OffloadEvent`s (Installed / Refused).
//! * control -> worker: new cookie secrets; the worker rotates its engine
//!   and acknowledges with a counter (see `rotation` for the ordering).
//! * control plane -> worker: `WorkerCommand`s (backend flags, snapshots),
//!   from any holder of a `CommandSender` (`ControlLink::commands`).
//!
//! The worker rings a doorbell (`tokio::sync::Notify`, a few atomics) after
//! queueing, so the control thread's async loop wakes without polling.
//!
//! `SwitchLink::P4Runtime` runs the real thing (`p4rt`); `Disabled` refuses
//! every install (the `--no-switch` mode).
//!
//! The operator's side runs on a thread of its own (`admin`): the admin
//! API and `/metrics` (`metrics`), hot reload (`reload`, `admin::reloader`)
//! and the process's signals. It reaches the worker only through
//! `CommandSender` and the control task only through `ControlRequests`
//! (`requests`). The backends' health checks (`health`) run on that
//! thread too. The `switchyard` CLI (`cli`, src/bin) is its client.

pub mod admin;
pub mod bell;
pub mod cli;
pub mod command;
pub mod entries;
pub mod frontend_set;
pub mod health;
pub mod metrics;
pub mod p4rt;
pub mod reload;
pub mod requests;
pub mod rotation;
pub mod secret_store;
pub mod services;
pub mod stats;
pub mod teardown;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use switchyard_frontend::offload::{OffloadEvent, OffloadRequest, RefusedReason};
use switchyard_wire::cookie::CookieSecret;

pub use command::{CommandSender, WorkerCommand};
pub use p4rt::{P4rtLink, P4rtOptions};
pub use requests::{ControlRequests, SwitchState};
use bell::WorkerBell;
pub use stats::ControlStats;

/// Requests in flight between worker and control task. A burst of new
/// connections larger than this is refused (front-end path) rather than
/// queued without bound.
pub const REQUEST_QUEUE: usize = 16384;
/// Largest batch the disabled link handles at once.
const DISABLED_BATCH: usize = 256;
/// New secrets waiting for the worker: the control task hands over the next
/// one only after the previous was applied, so one slot is enough.
const ROTATION_QUEUE: usize = 1;

/// Sends the control plane's log events (health transitions) to stdout,
/// beside the front-end's other lines, at `info` unless `RUST_LOG` says
/// otherwise. Called once by the front-end's `main`; a second call (or a
/// subscriber already set) changes nothing.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_target(false).try_init();
}

/// Where the control task sends writes.
pub enum SwitchLink {
    /// No switch: every install is refused as unreachable.
    Disabled,
    /// A P4Runtime switch running p4/switchyard.p4.
    P4Runtime(Box<P4rtLink>),
}

/// State shared by the worker and the control thread (lock-free).
pub struct Shared {
    pub(crate) doorbell: tokio::sync::Notify,
    /// The other way: wakes a worker blocked on its packet socket.
    pub(crate) bell: WorkerBell,
    /// Rotations the worker has applied to its engine.
    pub(crate) rotations_applied: AtomicU64,
    /// `SwitchState::code`, written by the control thread.
    pub(crate) switch_state: AtomicU8,
    /// The admin API asked for a rotation now.
    pub(crate) rotate_now: AtomicBool,
    pub stats: ControlStats,
    /// The health checks' states (`health`), written by their tasks, read
    /// by the admin API and `/metrics`.
    pub(crate) health: Arc<std::sync::Mutex<health::HealthBoard>>,
}

impl Shared {
    fn new() -> Result<Self> {
        let bell = WorkerBell::new().map_err(|e| anyhow!("the worker's eventfd: {e}"))?;
        Ok(Shared {
            doorbell: Default::default(),
            bell,
            rotations_applied: AtomicU64::new(0),
            switch_state: AtomicU8::new(SwitchState::Disabled.code()),
            rotate_now: AtomicBool::new(false),
            stats: ControlStats::default(),
            health: Default::default(),
        })
    }
}

/// The worker's end of the queues.
pub struct ControlLink {
    requests: Sender<(OffloadRequest, Instant)>,
    events: Receiver<OffloadEvent>,
    rotations: Receiver<CookieSecret>,
    commands: Receiver<WorkerCommand>,
    command_tx: CommandSender,
    control_requests: ControlRequests,
    shared: Arc<Shared>,
}

impl ControlLink {
    /// Starts the control thread. With a switch, returns only once the
    /// switch is reached and the services are programmed (or with the
    /// reason it could not be, naming the address).
    pub fn spawn(link: SwitchLink, stop: Arc<AtomicBool>) -> Result<(Self, JoinHandle<()>)> {
        let (req_tx, req_rx) = bounded(REQUEST_QUEUE);
        let (ev_tx, ev_rx) = bounded(REQUEST_QUEUE);
        let (rot_tx, rot_rx) = bounded(ROTATION_QUEUE);
        let shared = Arc::new(Shared::new()?);
        let (command_tx, commands) = command::queue(shared.clone());
        let (table_tx, table_rx) = tokio::sync::mpsc::channel(requests::TABLE_QUERIES);
        let switch = matches!(link, SwitchLink::P4Runtime(_));
        let control_requests = ControlRequests { shared: shared.clone(), task: switch.then_some(table_tx) };
        let me = ControlLink { requests: req_tx, events: ev_rx, rotations: rot_rx, commands, command_tx, control_requests, shared: shared.clone() };
        let builder = std::thread::Builder::new().name("sy-control".into());
        let handle = match link {
            SwitchLink::Disabled => builder.spawn(move || disabled(req_rx, ev_tx, &shared, &stop))?,
            SwitchLink::P4Runtime(link) => {
                let (ready_tx, ready_rx) = std::sync::mpsc::channel();
                let q = p4rt::Queues { requests: req_rx, events: ev_tx, rotations: rot_tx, task_requests: table_rx, shared, stop };
                let handle = builder.spawn(move || p4rt::run(*link, q, ready_tx))?;
                match ready_rx.recv() {
                    Ok(Ok(banner)) => println!("control: {banner}"),
                    Ok(Err(e)) => {
                        let _ = handle.join();
                        return Err(anyhow!(e));
                    }
                    Err(_) => {
                        let _ = handle.join();
                        return Err(anyhow!("the control thread ended before reaching the switch"));
                    }
                }
                handle
            }
        };
        Ok((me, handle))
    }

    /// Hands a request to the control task; if its queue is full, the
    /// refusal comes back at once.
    pub fn submit(&self, r: OffloadRequest) -> Option<OffloadEvent> {
        let out = match self.requests.try_send((r, Instant::now())) {
            Ok(()) => None,
            Err(TrySendError::Full((OffloadRequest::Install { key, backend, .. }, _)))
            | Err(TrySendError::Disconnected((OffloadRequest::Install { key, backend, .. }, _))) => {
                self.shared.stats.refused_queue_full.fetch_add(1, Ordering::Relaxed);
                Some(OffloadEvent::Refused { key, backend, reason: RefusedReason::Failed })
            }
            // The engine waits for this answer: give it at once (the entry
            // stays; the hand-over goes on, as after any failed delete).
            Err(TrySendError::Full((OffloadRequest::Detach { key }, _))) | Err(TrySendError::Disconnected((OffloadRequest::Detach { key }, _))) => {
                Some(OffloadEvent::Detached { key, removed: false })
            }
            // A delete that cannot be queued: the switch's idle timeout
            // removes the entry later.
            Err(_) => None,
        };
        self.shared.doorbell.notify_one();
        out
    }

    /// Completions ready now (never blocks).
    pub fn poll(&self) -> impl Iterator<Item = OffloadEvent> + '_ {
        self.events.try_iter()
    }

    /// A new cookie secret, if the control task rotated. The caller must
    /// apply it (`Engine::rotate_cookie_secret`) and then call
    /// `rotation_applied`: the switch signs with it only after that.
    pub fn take_rotation(&self) -> Option<CookieSecret> {
        self.rotations.try_recv().ok()
    }

    pub fn rotation_applied(&self) {
        self.shared.rotations_applied.fetch_add(1, Ordering::Release);
        self.shared.doorbell.notify_one();
    }

    /// The next command for the engine, if any (never blocks). The worker
    /// applies it (`WorkerCommand::apply`) between bursts.
    pub fn take_command(&self) -> Option<WorkerCommand> {
        self.commands.try_recv().ok()
    }

    /// A sender of commands to this worker, for control-plane threads
    /// (health checks, the admin API).
    pub fn commands(&self) -> CommandSender {
        self.command_tx.clone()
    }

    /// The admin side's handle on the control task.
    pub fn control_requests(&self) -> ControlRequests {
        self.control_requests.clone()
    }

    pub fn stats(&self) -> &ControlStats {
        &self.shared.stats
    }

    /// The worker is about to block on its packet socket: a completion,
    /// rotation or command queued from now on rings `bell_fd`. False when something is
    /// queued already (then it must not block; it is unparked again).
    pub fn park(&self) -> bool {
        self.shared.bell.park();
        if self.events.is_empty() && self.rotations.is_empty() && self.commands.is_empty() {
            return true;
        }
        self.shared.bell.unpark();
        false
    }

    /// After the block (or a refused park): running again.
    pub fn unpark(&self) {
        self.shared.bell.unpark();
    }

    /// Readable when the control thread rang a parked worker.
    pub fn bell_fd(&self) -> std::os::fd::RawFd {
        self.shared.bell.fd()
    }

    /// Waits up to `timeout` for the next completion (tests and tools; the
    /// worker polls).
    pub fn wait_event(&self, timeout: Duration) -> Option<OffloadEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Waits up to `timeout` for a rotation (tests and tools).
    pub fn wait_rotation(&self, timeout: Duration) -> Option<CookieSecret> {
        self.rotations.recv_timeout(timeout).ok()
    }
}

/// The control thread without a switch: refuse every install.
fn disabled(requests: Receiver<(OffloadRequest, Instant)>, events: Sender<OffloadEvent>, shared: &Shared, stop: &AtomicBool) {
    let mut batch = Vec::with_capacity(DISABLED_BATCH);
    while !stop.load(Ordering::Relaxed) {
        match requests.recv_timeout(Duration::from_millis(100)) {
            Ok((r, _)) => batch.push(r),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        }
        batch.extend(requests.try_iter().take(DISABLED_BATCH).map(|(r, _)| r));
        for r in batch.drain(..) {
            match r {
                OffloadRequest::Install { key, backend, .. } => {
                    shared.stats.install_requests.fetch_add(1, Ordering::Relaxed);
                    shared.stats.refused_unreachable.fetch_add(1, Ordering::Relaxed);
                    let _ = events.send(OffloadEvent::Refused { key, backend, reason: RefusedReason::SwitchUnreachable });
                }
                // No switch, no entry (installs were refused): nothing to wait for.
                OffloadRequest::Detach { key } => {
                    let _ = events.send(OffloadEvent::Detached { key, removed: true });
                }
                OffloadRequest::Delete { .. } => {}
            }
        }
        shared.bell.ring();
    }
}
