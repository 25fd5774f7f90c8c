//! A thin safe layer over DPDK: just what a run-to-completion packet loop
//! needs. Everything that can fail returns `DpdkError` with DPDK's own
//! `rte_strerror` text.

pub mod eal;
pub mod error;
pub mod mbuf;
pub mod mempool;
pub mod port;

pub use eal::Eal;
pub use error::DpdkError;
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use port::{Port, PortConfig, PortStats};
