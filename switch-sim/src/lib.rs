//! switch-sim: a software switch that executes Switchyard's P4_16 source
//! (v1model) so CI and laptops test the program users deploy.
//!
//! Pipeline: `front` (preprocessor, lexer, parser) -> `compile` (types,
//! widths, name resolution into slots) -> `ir` -> `fast` (the IR compiled
//! to native code at load) or `exec` (the reference interpreter, v1model
//! semantics) behind the `switch::Switch` API; `ports` are the
//! AF_PACKET sockets and `forward` the loop between them and a switch.

pub mod compile;
pub mod entries;
pub mod error;
pub mod exec;
pub mod fast;
pub mod forward;
pub mod guard;
pub mod hashes;
pub mod ir;
pub mod meter;
pub mod ports;
pub mod switch;
pub mod table;
pub mod vectors;

pub mod front {
    pub mod ast;
    pub mod lex;
    pub mod parse;
}

pub use error::LoadError;
pub use exec::Digest;
pub use fast::Engine;
pub use meter::MeterConfig;
pub use switch::{ApiError, Switch, TableEntry};
pub use table::FieldMatch;
