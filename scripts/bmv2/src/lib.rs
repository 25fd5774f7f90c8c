//! The namespace testbed: every Switchyard end-to-end test and the demo run
//! on it. One namespace per host (client, switch, front-end, backends),
//! joined by veth pairs to the switch namespace, addressed in 198.18.0.0/15
//! (RFC 2544's benchmarking range) and never connected to the host's own
//! network, so nothing a test sends can leave the machine.
//!
//! Everything created is named `sy-<tag>-...` and removed when the
//! `Testbed` is dropped; `down` removes leftovers of crashed runs by prefix.

pub mod addr;
pub mod bodies;
pub mod clients;
pub mod cmd;
pub mod netns;
pub mod nginx;
pub mod topology;

pub use netns::Netns;
pub use topology::{SwitchMode, Testbed, TestbedSpec};

/// Prefix of every namespace this project creates.
pub const NS_PREFIX: &str = "sy-";

/// Fails with a clear message unless we run as root (namespaces need it).
pub fn require_root() -> anyhow::Result<()> {
    // SAFETY-free: geteuid via /proc avoids a libc dependency.
    let status = std::fs::read_to_string("/proc/self/status")?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("1");
    if euid != "0" {
        anyhow::bail!("the testbed creates network namespaces and needs root (run with sudo)");
    }
    Ok(())
}
