//! Raw bindings to DPDK 22.11 as Debian packages it. Use `switchyard-dpdk`
//! for the safe layer; this crate is only the FFI surface.
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case, dead_code, clippy::all)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
