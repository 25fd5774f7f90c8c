//! The control task: drains the worker's offload requests in batches,
//! writes them to the switch, and returns completions. Bounded queues both
//! ways; a full request queue is answered at once with a refusal so the
//! flow stays on the front-end path instead of the worker waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use switchyard_frontend::offload::{OffloadEvent, OffloadRequest, RefusedReason};

/// Requests in flight between worker and control task. A burst of new
/// connections larger than this is refused (front-end path) rather than
/// queued without bound.
pub const REQUEST_QUEUE: usize = 16384;
/// Largest batch in one switch write: P4Runtime servers handle batches of
/// a few hundred updates in one RPC comfortably.
pub const MAX_BATCH: usize = 256;
/// How long the control task waits to fill a batch once it has a request.
pub const BATCH_WAIT: Duration = Duration::from_micros(500);

/// Where the control task sends writes.
pub enum SwitchLink {
    /// No switch: every install is refused as unreachable.
    Disabled,
}

impl SwitchLink {
    fn write(&mut self, batch: &[OffloadRequest], out: &Sender<OffloadEvent>) {
        match self {
            SwitchLink::Disabled => {
                for r in batch {
                    if let OffloadRequest::Install { key, backend, .. } = *r {
                        let _ = out.send(OffloadEvent::Refused { key, backend, reason: RefusedReason::SwitchUnreachable });
                    }
                }
            }
        }
    }
}

/// The worker's end of the two queues.
pub struct ControlLink {
    requests: Sender<OffloadRequest>,
    events: Receiver<OffloadEvent>,
}

impl ControlLink {
    pub fn spawn(mut link: SwitchLink, stop: Arc<AtomicBool>) -> (Self, JoinHandle<()>) {
        let (req_tx, req_rx) = bounded::<OffloadRequest>(REQUEST_QUEUE);
        let (ev_tx, ev_rx) = bounded::<OffloadEvent>(REQUEST_QUEUE);
        let handle = std::thread::Builder::new()
            .name("sy-control".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                while !stop.load(Ordering::Relaxed) {
                    match req_rx.recv_timeout(Duration::from_millis(100)) {
                        Ok(r) => batch.push(r),
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    while batch.len() < MAX_BATCH {
                        match req_rx.recv_timeout(BATCH_WAIT) {
                            Ok(r) => batch.push(r),
                            Err(_) => break,
                        }
                    }
                    link.write(&batch, &ev_tx);
                    batch.clear();
                }
            })
            .expect("spawn control thread");
        (Self { requests: req_tx, events: ev_rx }, handle)
    }

    /// Hands a request to the control task; if its queue is full, the
    /// refusal comes back at once.
    pub fn submit(&self, r: OffloadRequest) -> Option<OffloadEvent> {
        match self.requests.try_send(r) {
            Ok(()) => None,
            Err(TrySendError::Full(OffloadRequest::Install { key, backend, .. }))
            | Err(TrySendError::Disconnected(OffloadRequest::Install { key, backend, .. })) => {
                Some(OffloadEvent::Refused { key, backend, reason: RefusedReason::Failed })
            }
            // A delete that cannot be queued: the switch's idle timeout
            // removes the entry later.
            Err(_) => None,
        }
    }

    /// Completions ready now (never blocks).
    pub fn poll(&self) -> impl Iterator<Item = OffloadEvent> + '_ {
        self.events.try_iter()
    }
}
