//! The loader's errors: each says what is wrong and what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the agent needs root (CAP_BPF and CAP_NET_ADMIN) to load and attach eBPF programs; run it as root")]
    NotRoot,
    #[error("interface `{0}` does not exist in this network namespace")]
    NoInterface(String),
    #[error("the kernel has no BTF (/sys/kernel/btf/vmlinux missing); build it with CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf,
    #[error("cannot attach to `{iface}`: neither tcx nor a clsact qdisc works ({detail})")]
    NoClsact { iface: String, detail: String },
    #[error("a switchyard agent is already attached to `{iface}` ({what}); stop it first")]
    AlreadyAttached { iface: String, what: String },
    #[error("no agent pinned for `{iface}` under {dir}: is `switchyard-agent run --iface {iface}` running?")]
    NotRunning { iface: String, dir: PathBuf },
    #[error("bad configuration: {0}")]
    Config(String),
    #[error("eBPF object: {0}")]
    Object(#[from] aya::EbpfError),
    #[error("eBPF program: {0}")]
    Program(#[from] aya::programs::ProgramError),
    #[error("eBPF map: {0}")]
    Map(#[from] aya::maps::MapError),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

impl AgentError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| AgentError::Io { what, source }
    }
}

pub type AgentResult<T> = Result<T, AgentError>;
