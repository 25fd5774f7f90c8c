//! Health checks of backends, run by the control plane from the front-end
//! host's own TCP stack (docs/OPERATIONS.md, "Health checks"):
//!
//! * the active HTTP check of every member of a pool with `[pools.health]`
//!   (`GET path`, the expected status within the timeout);
//! * the presence probe of each backend's agent (`agent = "ip:port"`, the
//!   agent's `--status-listen`): a backend whose agent is gone would be
//!   spliced without its sequence translation, so it must take no new
//!   flows.
//!
//! A backend is healthy while all its checks pass; `fall` failures in a
//! row of one check take it out, `rise` passes bring that check back.
//! Changes go to the worker as `WorkerCommand::SetBackend { healthy }`,
//! are logged (tracing), counted and shown in `/backends` and `/metrics`.
//!
//! `state` is the bookkeeping without I/O (unit-tested), `probe` one HTTP
//! exchange, `checker` the tokio tasks that run them on the admin thread.

pub mod checker;
pub mod probe;
pub mod state;

use std::time::Duration;

use switchyard_frontend::config::HealthCheck;

pub use state::{BackendHealth, CheckKind, CheckState, CheckTarget, HealthBoard, Transition};

/// The agent's probe answers `GET /` with 200 and this line while its
/// programs are attached (503 `switchyard-agent detached` otherwise;
/// backend-agent-ebpf/src/probe.rs).
pub const AGENT_OK: &str = "switchyard-agent ok";
pub const AGENT_PROBE_PATH: &str = "/";
/// The agent probe's timing. Once a second; three failures in a row take
/// the backend out. A gone agent refuses the connection at once, so it is
/// out within about 3 s (a backend without its agent answers every new
/// flow's spliced SYN with a 502). The 2 s timeout is for a busy host: a
/// 500 ms timeout with 2 failures took agents out on the 2-core testbed
/// under 256 parallel 10 MB downloads (the agent starved for CPU, not
/// gone) and emptied a pool into 503s.
pub const AGENT_PROBE_INTERVAL: Duration = Duration::from_secs(1);
pub const AGENT_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
pub const AGENT_PROBE_RISE: u32 = 2;
pub const AGENT_PROBE_FALL: u32 = 3;

/// The agent probe as a check.
pub fn agent_probe() -> HealthCheck {
    HealthCheck {
        path: AGENT_PROBE_PATH.into(),
        port: None,
        interval: AGENT_PROBE_INTERVAL,
        timeout: AGENT_PROBE_TIMEOUT,
        rise: AGENT_PROBE_RISE,
        fall: AGENT_PROBE_FALL,
        expect_status: 200,
    }
}
