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
pub mod demo;
pub mod figures;
pub mod cmd;
pub mod netns;
pub mod lb;
pub mod nginx;
pub mod proxies;
pub mod switch_entries;
pub mod tcpstat;
pub mod topology;
pub mod up;

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

/// The repository root (this crate lives at scripts/bmv2).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Finds one of the workspace's binaries: `$SWITCHYARD_BIN_DIR`, then the
/// directory of the running executable and its parent (cargo puts test
/// binaries in target/<profile>/deps), then PATH.
pub fn find_bin(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("SWITCHYARD_BIN_DIR") {
        dirs.push(d.into());
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(d) = exe.parent() {
            dirs.push(d.to_path_buf());
            if let Some(p) = d.parent() {
                dirs.push(p.to_path_buf());
            }
        }
    }
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow::anyhow!("cannot find `{name}`: build the workspace first (cargo build --workspace) or set SWITCHYARD_BIN_DIR"))
}
