//! Switchyard's front-end core, sans IO: the spliced-flow engine, HTTP L7
//! routing, backend pools, the config model and the flow table. Drivers
//! (DPDK, AF_PACKET, the P4Runtime control task) wrap it; nothing here
//! reads a clock or touches a socket. See docs/FRONTEND.md.

#![forbid(unsafe_code)]

pub mod access_log;
pub mod ack_coalesce;
pub mod config;
pub mod limits;
pub mod http;
pub mod response;
pub mod maglev;
pub mod pool;
pub mod route;
pub mod engine;
pub mod flow_table;
pub mod offload;
