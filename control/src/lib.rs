//! Switchyard's control plane.
//!
//! So far: [`p4info`] resolves tables, actions, match fields, parameters and the other P4Info
//! objects by their fully qualified names (never hard-coded ids) and builds spec-conformant
//! P4Runtime values from them; [`bitstring`] is the P4Runtime canonical byte-string encoding.

pub mod bitstring;
pub mod p4info;

pub use p4runtime_proto as proto;
