//! The offload interface between a worker's engine and the control task
//! (which batches P4Runtime writes). Plain types: the driver moves them
//! over bounded queues; the engine never blocks on them.

use switchyard_wire::flow::{BackendIndex, ConnKey};

use crate::config::OffloadMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffloadRequest {
    /// Install (or move, in request mode) the switch's connection entry.
    Install { key: ConnKey, backend: BackendIndex, mode: OffloadMode },
    /// The flow is over (or was handed back): remove the entry.
    Delete { key: ConnKey },
    /// Request mode hand-over: remove the entry and answer `Detached`
    /// once the switch no longer holds it. Until then the entry still names
    /// the old backend, so the switch would carry that backend's close (its
    /// FIN and ACKs) straight to the client and the client's ACKs of the
    /// new backend's bytes to the old one: the engine closes the old backend
    /// and replays the SYN only after this answer.
    Detach { key: ConnKey },
}

/// Why an install did not happen. The flow stays on the front-end path,
/// still correct, only slower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedReason {
    TableFull,
    SwitchUnreachable,
    /// The control task's queue was full, or the write failed otherwise.
    Failed,
    /// The backend is moving to another service (a hot reload) and the
    /// switch still maps its packets back to the old one's VIP: the new
    /// service's flows on it are carried until the move completes.
    BackendMoving,
}

/// Completion events the control task feeds back to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffloadEvent {
    Installed { key: ConnKey, backend: BackendIndex },
    Refused { key: ConnKey, backend: BackendIndex, reason: RefusedReason },
    /// The answer to every `Detach`: the entry is gone, or the delete
    /// failed (`removed: false`; the hand-over goes on regardless, as it
    /// would have to after a lost answer).
    Detached { key: ConnKey, removed: bool },
    /// The control task deleted the flow's entry on its own: the switch
    /// saw the connection end (teardown digests, then the grace) or the
    /// entry idled out. A flow whose packets the switch carries both ways
    /// (request mode: the backend's FIN never reaches the front-end) ends
    /// here rather than by the front-end's idle timeout.
    Ended { key: ConnKey },
}
