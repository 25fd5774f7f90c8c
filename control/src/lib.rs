//! Switchyard's control plane.
//!
//! [`p4info`] resolves tables, actions, match fields, parameters and the other P4Info
//! objects by their fully qualified names (never hard-coded ids) and builds spec-conformant
//! P4Runtime values from them; [`bitstring`] is the P4Runtime canonical byte-string encoding;
//! [`client`] is the async P4Runtime client (arbitration, pipeline push, batched writes,
//! reads, the stream of digests / idle timeouts / packet-ins); [`switchyard`] the typed
//! operations on the Switchyard program's tables; [`provision`] pushes a pipeline and
//! writes an entries file (what `switchyard-ctl push-pipeline` / `apply-entries` do);
//! [`tls`] generates the CA and certificates of the mutually authenticated channel.

pub mod bitstring;
pub mod cli;
pub mod client;
pub mod counters;
pub mod p4info;
pub mod provision;
pub mod switchyard;
pub mod tls;

pub use p4runtime_proto as proto;
