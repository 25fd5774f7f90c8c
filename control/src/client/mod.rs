//! The async P4Runtime client (tokio + tonic). Sans-IO cores: `backoff`
//! (reconnect delays), `mastership` (arbitration view), `batcher` (write
//! batching); `session` and `writer` are the thin async drivers.

pub mod backoff;
pub mod batcher;
pub mod error;
pub mod mastership;
pub mod session;
pub mod writer;

pub use backoff::BackoffPolicy;
pub use error::{ClientError, UpdateStatus};
pub use mastership::Mastership;
pub use session::{ClientOptions, ClientTls, Event, P4rtClient};
pub use writer::{entity_key, spawn_writer, spawn_writer_window, Completion, WriteJob, WriterHandle, WriterOptions, DEFAULT_IN_FLIGHT};
/// The status codes of `UpdateStatus`, so callers need not depend on tonic.
pub use tonic::Code;
