//! The admin API: HTTP/1.1 with JSON answers on `[admin] listen`, for the
//! `switchyard` CLI and for people with curl; `/metrics` for Prometheus.
//! Endpoints and their answers: docs/OPERATIONS.md ("Admin API").
//!
//! It runs on a thread of its own with a current-thread tokio runtime and
//! never touches the engine: what it reads of the worker comes from a
//! `WorkerCommand` snapshot, what it changes goes as a `WorkerCommand`,
//! and the switch is reached through the control task (`ControlRequests`).
//! Clients not on a loopback address get 403 unless `allow_remote`
//! (`access`). The same thread handles the process's signals, also when
//! no `[admin]` listener is configured: SIGHUP is a hot reload
//! (`reloader`), SIGINT and SIGTERM stop the front-end; and it runs the
//! backends' health checks (`crate::health`).

pub mod access;
pub mod reloader;
pub mod routes;
pub mod server;
pub mod views;

pub use reloader::Reloader;
pub use server::{AdminContext, AdminServer};
