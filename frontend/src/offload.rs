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
}

/// Why an install did not happen. The flow stays on the front-end path,
/// still correct, only slower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedReason {
    TableFull,
    SwitchUnreachable,
    /// The control task's queue was full, or the write failed otherwise.
    Failed,
}

/// Completion events the control task feeds back to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffloadEvent {
    Installed { key: ConnKey, backend: BackendIndex },
    Refused { key: ConnKey, backend: BackendIndex, reason: RefusedReason },
}
