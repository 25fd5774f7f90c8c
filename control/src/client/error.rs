//! Client errors, with the server's per-update Write errors decoded from
//! the `google.rpc.Status` details (one `p4.v1.Error` per update, as the
//! specification defines them).

use p4runtime_proto::google::rpc;
use p4runtime_proto::p4::v1 as p4;
use p4runtime_proto::prost::Message;
use tonic::Code;

/// One update's outcome in a failed Write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateStatus {
    pub code: Code,
    pub message: String,
}

impl UpdateStatus {
    pub fn is_ok(&self) -> bool {
        self.code == Code::Ok
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    /// This controller is not the primary (known locally, or the server
    /// answered PERMISSION_DENIED): writes and pipeline pushes are refused.
    #[error("not the primary controller (primary election id {primary_election_id:?})")]
    NotPrimary { primary_election_id: Option<u128> },
    /// Some updates of a Write failed; one status per update, in order.
    #[error("write failed: {}", summary(.0))]
    Updates(Vec<UpdateStatus>),
    #[error("{0}")]
    Rpc(#[from] tonic::Status),
    #[error("the stream to the switch is down")]
    StreamDown,
    #[error("{0}")]
    P4Info(#[from] crate::p4info::P4InfoError),
    #[error("the writer queue is full")]
    QueueFull,
    #[error("the writer has stopped")]
    WriterStopped,
}

fn summary(v: &[UpdateStatus]) -> String {
    let bad: Vec<String> = v.iter().enumerate().filter(|(_, s)| !s.is_ok()).take(3).map(|(i, s)| format!("#{i} {:?}: {}", s.code, s.message)).collect();
    format!("{} of {} updates: {}", v.iter().filter(|s| !s.is_ok()).count(), v.len(), bad.join("; "))
}

impl ClientError {
    /// The gRPC code a server answered with, if any (for the whole call).
    pub fn code(&self) -> Option<Code> {
        match self {
            ClientError::Rpc(s) => Some(s.code()),
            ClientError::NotPrimary { .. } => Some(Code::PermissionDenied),
            _ => None,
        }
    }
}

/// Decodes the per-update errors of a failed Write, if the status has them.
pub fn update_statuses(status: &tonic::Status) -> Option<Vec<UpdateStatus>> {
    let st = rpc::Status::decode(status.details()).ok()?;
    if st.details.is_empty() {
        return None;
    }
    st.details
        .iter()
        .map(|any| {
            let e = p4::Error::decode(any.value.as_slice()).ok()?;
            Some(UpdateStatus { code: Code::from_i32(e.canonical_code), message: e.message })
        })
        .collect()
}

/// Maps a failed Write's status to the client's error.
pub fn write_error(status: tonic::Status) -> ClientError {
    if status.code() == Code::PermissionDenied {
        return ClientError::NotPrimary { primary_election_id: None };
    }
    match update_statuses(&status) {
        Some(v) => ClientError::Updates(v),
        None => ClientError::Rpc(status),
    }
}
