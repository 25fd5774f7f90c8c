//! Switchyard's wire formats, shared by every part (front-end, agent loader,
//! switch simulator, control plane, tests).
//!
//! Each header has one typed view over a byte buffer (the model is smoltcp's
//! `wire` module): `new_checked` validates lengths once, accessors then read
//! and write fields in place without copying. Nothing here allocates or reads
//! a clock, so every function can sit on the hot path and run in a fuzzer.

#![forbid(unsafe_code)]

pub mod checksum;
pub mod cookie;
pub mod error;
pub mod ethernet;
pub mod flow;
pub mod frame;
pub mod halfsiphash;
pub mod ipv4;
pub mod reason;
pub mod synack;
pub mod tcp;
pub mod tcp_option;

pub use error::{WireError, WireResult};
