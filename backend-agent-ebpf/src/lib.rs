//! Switchyard's backend agent (docs/AGENT.md): the TC programs in bpf/ that
//! translate between the switch's sequence space and the backend's, and the
//! loader that attaches them, pins their maps, answers presence probes and
//! serves its counters as Prometheus metrics.

pub mod abi;
pub mod attach;
pub mod counters;
pub mod error;
pub mod frames;
pub mod metrics;
pub mod object;
pub mod pins;
pub mod probe;
pub mod testrun;

pub use error::{AgentError, AgentResult};
pub use object::AgentSettings;
