//! The front-end's drivers around the sans-IO engine: the worker loop over
//! a `FrameIo` (DPDK or AF_PACKET) and the control task that turns offload
//! requests into switch writes.

pub mod afpacket;
pub mod control;
pub mod dpdk_io;
pub mod io;
pub mod worker;
