//! The front-end's drivers around the sans-IO engine: the worker loop over
//! a `FrameIo` (DPDK or AF_PACKET). The control task that turns offload
//! requests into switch writes is the `switchyard-control-plane` crate.

pub mod access_log;
pub mod afpacket;
pub mod dpdk_io;
pub mod io;
pub mod worker;
