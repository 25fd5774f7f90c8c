//! A P4Runtime v1 server over switch-sim: the same gRPC service bmv2's
//! `simple_switch_grpc` offers, so Switchyard's control plane (and
//! p4runtime-shell) drive the simulator exactly as they drive a switch.
//!
//! `device` holds the state and rules (plain, synchronous); `service` is the
//! thin tonic driver; `arbitration` and `digest_queue` are sans-IO state
//! machines; `translate` converts P4Runtime entries; `p4info_gen` writes the
//! P4Info with p4c's ids and names; `device_config` loads the program a
//! SetForwardingPipelineConfig names or carries; `dataplane` runs
//! switch-sim's forwarding loop with the device as its datapath.

pub mod arbitration;
pub mod dataplane;
pub mod device;
pub mod device_config;
pub mod digest_queue;
pub mod p4info_gen;
pub mod pipeline;
pub mod service;
pub mod translate;

pub use device::{Device, DeviceOptions};
pub use service::{serve, serve_with, Server};

/// Idle timeouts shorter than this are raised to it (bmv2's sweep granularity).
pub const MIN_IDLE_TIMEOUT_NS: u64 = 500_000_000;
