//! What other control-plane parts (the admin API) may ask of the control
//! task, which alone holds the switch's P4Runtime session: whether the
//! switch is reached, its connection table, a cookie rotation now, and a
//! reloaded config's services programmed.
//!
//! Table reads go over a small tokio queue into the control task's loop
//! (it spawns the Read, so its writes never wait); the rotation is a flag
//! the loop looks at on its next wake-up (the doorbell rings it).

use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};
use std::sync::Arc;
use std::time::Duration;

use switchyard_control::counters::SwitchCounters;
use switchyard_control::switchyard::ConnMode;
use switchyard_frontend::config::Config;
use switchyard_wire::flow::{BackendIndex, ConnKey, VipId};
use tokio::sync::{mpsc, oneshot};

use crate::Shared;

/// Table reads and reloads waiting for the control task: an operator runs
/// one at a time; a few more are refused rather than queued.
pub const TABLE_QUERIES: usize = 4;
/// Most connection entries one table answer lists (the switch may hold a
/// million): what a person reads; `total` says how many there are.
pub const MAX_LISTED_ENTRIES: usize = 1000;
/// How often a waiting rotation request looks at the completed count.
const ROTATION_POLL: Duration = Duration::from_millis(20);

/// The control task's link to the switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchState {
    /// `--no-switch`: every install refused, nothing to read.
    Disabled,
    /// This front-end is the switch's primary controller.
    Primary,
    /// The stream broke or another controller is primary: installs are
    /// refused until primacy returns.
    NotPrimary,
}

impl SwitchState {
    pub fn name(self) -> &'static str {
        match self {
            SwitchState::Disabled => "disabled",
            SwitchState::Primary => "primary",
            SwitchState::NotPrimary => "not_primary",
        }
    }

    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_code(c: u8) -> Self {
        match c {
            1 => SwitchState::Primary,
            2 => SwitchState::NotPrimary,
            _ => SwitchState::Disabled,
        }
    }
}

/// One entry of the switch's connection table, as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionEntry {
    pub key: ConnKey,
    pub backend: Option<BackendIndex>,
    pub mode: Option<ConnMode>,
}

/// The switch's connection table, read from the switch.
#[derive(Debug, Clone, Default)]
pub struct ConnectionTable {
    /// At most [`MAX_LISTED_ENTRIES`].
    pub entries: Vec<ConnectionEntry>,
    /// Entries the switch returned.
    pub total: usize,
    /// Keys the control task believes installed (its own bookkeeping).
    pub tracked: usize,
    /// The table's size from the P4Info (0: not given).
    pub capacity: u64,
}

/// What the control task is asked through its queue.
pub(crate) enum TaskRequest {
    /// Read the switch's connection table.
    Table { reply: oneshot::Sender<Result<ConnectionTable, String>> },
    /// Read the P4 program's path and drop counters.
    Counters { reply: oneshot::Sender<Result<SwitchCounters, String>> },
    /// Connection entries per backend, as the task tracks them.
    EntriesPerBackend { backends: usize, reply: oneshot::Sender<Vec<u64>> },
    /// Connection entries of one service, as the task tracks them.
    EntriesOfVip { vip: VipId, reply: oneshot::Sender<u64> },
    /// Delete a retired backend's `backend_address` entry.
    DeleteBackendAddress { address: std::net::Ipv4Addr, port: u16, reply: oneshot::Sender<Result<(), String>> },
    /// Delete a removed service's `vip` entry.
    DeleteVip { address: std::net::Ipv4Addr, port: u16, reply: oneshot::Sender<Result<(), String>> },
    /// Program the services of a reloaded config (INSERT, or MODIFY what
    /// exists) and keep it as the task's config; answers the warnings.
    Reprogram { config: Arc<Config>, reply: oneshot::Sender<Result<Vec<String>, String>> },
}

fn queue_error<T>(e: mpsc::error::TrySendError<T>) -> String {
    match e {
        mpsc::error::TrySendError::Full(_) => "the control task is busy with earlier requests; try again".to_string(),
        mpsc::error::TrySendError::Closed(_) => "the control task has stopped".to_string(),
    }
}

/// The admin side's handle on the control task (cloneable).
#[derive(Clone)]
pub struct ControlRequests {
    pub(crate) shared: Arc<Shared>,
    pub(crate) task: Option<mpsc::Sender<TaskRequest>>,
}

impl ControlRequests {
    /// The control task's counters and install latency.
    pub fn stats(&self) -> &crate::ControlStats {
        &self.shared.stats
    }

    /// The health checks' board (the checker's tasks write it).
    pub(crate) fn health_board(&self) -> Arc<std::sync::Mutex<crate::health::HealthBoard>> {
        self.shared.health.clone()
    }

    /// The health checks' states now.
    pub fn health(&self) -> crate::health::HealthBoard {
        crate::health::checker::lock(&self.shared.health).clone()
    }

    pub fn switch_state(&self) -> SwitchState {
        SwitchState::from_code(self.shared.switch_state.load(Relaxed))
    }

    /// Reads the switch's connection table (through the control task's
    /// session).
    pub async fn connection_table(&self) -> Result<ConnectionTable, String> {
        let Some(tx) = &self.task else { return Err("no switch (--no-switch): there is no connection table".into()) };
        let (reply, answer) = oneshot::channel();
        tx.try_send(TaskRequest::Table { reply }).map_err(queue_error)?;
        answer.await.map_err(|_| "the control task dropped the read".to_string())?
    }

    /// Reads the switch's `path_counter` and `drop_counter` (through the
    /// control task's session; the same reader as `switchyard-ctl
    /// counters`). None without a switch.
    pub async fn switch_counters(&self) -> Result<Option<SwitchCounters>, String> {
        let Some(tx) = &self.task else { return Ok(None) };
        let (reply, answer) = oneshot::channel();
        tx.try_send(TaskRequest::Counters { reply }).map_err(queue_error)?;
        answer.await.map_err(|_| "the control task dropped the read".to_string())?.map(Some)
    }

    /// Connection entries the control task believes installed, per
    /// backend (index = `BackendIndex`): the offloaded flows a drained
    /// backend still carries. None without a switch.
    pub async fn entries_per_backend(&self, backends: usize) -> Result<Option<Vec<u64>>, String> {
        let Some(tx) = &self.task else { return Ok(None) };
        let (reply, answer) = oneshot::channel();
        tx.try_send(TaskRequest::EntriesPerBackend { backends, reply }).map_err(queue_error)?;
        answer.await.map(Some).map_err(|_| "the control task dropped the request".to_string())
    }

    /// Connection entries naming service `vip` (None without a switch).
    pub async fn entries_of_vip(&self, vip: VipId) -> Result<Option<u64>, String> {
        let Some(tx) = &self.task else { return Ok(None) };
        let (reply, answer) = oneshot::channel();
        tx.try_send(TaskRequest::EntriesOfVip { vip, reply }).map_err(queue_error)?;
        answer.await.map(Some).map_err(|_| "the control task dropped the request".to_string())
    }

    /// Deletes the `vip` entry of a removed service (after a reload, once
    /// its flows are gone).
    pub async fn delete_vip(&self, address: std::net::Ipv4Addr, port: u16) -> Result<(), String> {
        let Some(tx) = &self.task else { return Ok(()) };
        let (reply, answer) = oneshot::channel();
        tx.try_send(TaskRequest::DeleteVip { address, port, reply }).map_err(queue_error)?;
        answer.await.map_err(|_| "the control task dropped the request".to_string())?
    }

    /// Deletes the `backend_address` entry of a backend no service reaches
    /// any more (after a reload, once its flows are gone).
    pub async fn delete_backend_address(&self, address: std::net::Ipv4Addr, port: u16) -> Result<(), String> {
        let Some(tx) = &self.task else { return Ok(()) };
        let (reply, answer) = oneshot::channel();
        tx.try_send(TaskRequest::DeleteBackendAddress { address, port, reply }).map_err(queue_error)?;
        answer.await.map_err(|_| "the control task dropped the request".to_string())?
    }

    /// Programs a reloaded config's services on the switch (nothing to do
    /// without one); answers the warnings once written.
    pub async fn reprogram(&self, config: Arc<Config>) -> Result<Vec<String>, String> {
        let Some(tx) = &self.task else { return Ok(Vec::new()) };
        let (reply, answer) = oneshot::channel();
        tx.try_send(TaskRequest::Reprogram { config, reply }).map_err(queue_error)?;
        answer.await.map_err(|_| "the control task dropped the reload".to_string())?
    }

    /// Rotates the cookie secret now and waits (up to `timeout`) until the
    /// switch signs with the new one. Returns the completed rotations.
    pub async fn rotate_secret(&self, timeout: Duration) -> Result<u64, String> {
        if self.switch_state() == SwitchState::Disabled {
            return Err("no switch (--no-switch): no cookie secret is in use to rotate".into());
        }
        let before = self.shared.stats.rotations.load(Acquire);
        self.shared.rotate_now.store(true, SeqCst);
        self.shared.doorbell.notify_one();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let done = self.shared.stats.rotations.load(Acquire);
            if done > before {
                return Ok(done);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("the rotation did not complete within {timeout:?} (is the switch reachable? see /status)"));
            }
            tokio::time::sleep(ROTATION_POLL).await;
        }
    }
}
