//! Attaching the loaded programs to an interface (tcx where the kernel has
//! it, else a clsact qdisc), the checks before, and detaching after.
//!
//! tcx links are file descriptors owned by this process: if the daemon dies
//! (even by SIGKILL) the kernel detaches them, so a dead agent never leaves
//! a half-working splice behind. Only the pins can outlive it; the next run
//! replaces them.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use aya::programs::tc::{self, NlOptions, TcAttachOptions};
use aya::programs::{SchedClassifier, TcAttachType};
use aya::Ebpf;
use tracing::{info, warn};

use crate::abi::{PROG_EGRESS, PROG_INGRESS};
use crate::error::{AgentError, AgentResult};
use crate::object::{self, AgentSettings};
use crate::pins;

const BTF_VMLINUX: &str = "/sys/kernel/btf/vmlinux";

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn ifindex(iface: &str) -> Option<u32> {
    let name = CString::new(iface).ok()?;
    // SAFETY: valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// Names of our programs attached (by tcx) to `iface`, if any.
pub fn attached_programs(iface: &str) -> Vec<String> {
    let mut found = Vec::new();
    for t in [TcAttachType::Ingress, TcAttachType::Egress] {
        if let Ok((_, progs)) = SchedClassifier::query_tcx(iface, t) {
            for p in progs {
                if let Some(n) = p.name_as_str() {
                    if n == PROG_INGRESS || n == PROG_EGRESS {
                        found.push(format!("{n} on {t:?}"));
                    }
                }
            }
        }
    }
    found
}

/// Everything that must hold before we touch the interface.
pub fn preflight(iface: &str) -> AgentResult<()> {
    if !is_root() {
        return Err(AgentError::NotRoot);
    }
    if ifindex(iface).is_none() {
        return Err(AgentError::NoInterface(iface.into()));
    }
    if !Path::new(BTF_VMLINUX).exists() {
        return Err(AgentError::NoBtf);
    }
    let found = attached_programs(iface);
    if !found.is_empty() {
        return Err(AgentError::AlreadyAttached { iface: iface.into(), what: found.join(", ") });
    }
    Ok(())
}

/// How the programs were attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    /// tcx links (kernel 6.6+): visible to `query_tcx`, gone with our fds.
    Tcx,
    /// cls_bpf filters on a clsact qdisc (older kernels).
    Clsact,
}

/// The agent attached to one interface. Dropping it detaches both programs
/// and removes the pins.
pub struct Attached {
    bpf: Option<Ebpf>,
    iface: String,
    pin_dir: PathBuf,
    mode: AttachMode,
}

impl Attached {
    pub fn start(iface: &str, settings: &AgentSettings) -> AgentResult<Self> {
        settings.validate()?;
        preflight(iface)?;
        let mut bpf = object::load(settings)?;
        let mut mode = AttachMode::Tcx;
        for (name, t) in [(PROG_INGRESS, TcAttachType::Ingress), (PROG_EGRESS, TcAttachType::Egress)] {
            if attach_one(object::program_mut(&mut bpf, name)?, iface, t)? == AttachMode::Clsact {
                mode = AttachMode::Clsact;
            }
        }
        let pin_dir = match pins::pin_maps(&bpf, iface) {
            Ok(d) => d,
            Err(e) => {
                pins::unpin(iface);
                return Err(e);
            }
        };
        info!(iface, ?mode, dir = %pin_dir.display(), "agent attached (ingress + egress), maps pinned");
        Ok(Self { bpf: Some(bpf), iface: iface.into(), pin_dir, mode })
    }

    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }

    pub fn mode(&self) -> AttachMode {
        self.mode
    }
}

/// Whether both programs are still attached to `iface`. Only tcx links can
/// be queried; with clsact filters this trusts that they are.
pub fn still_attached(iface: &str, mode: AttachMode) -> bool {
    match mode {
        AttachMode::Tcx => attached_programs(iface).len() == 2,
        AttachMode::Clsact => true,
    }
}

fn attach_one(prog: &mut SchedClassifier, iface: &str, t: TcAttachType) -> AgentResult<AttachMode> {
    match prog.attach(iface, t) {
        Ok(_) => Ok(AttachMode::Tcx),
        Err(tcx_err) => {
            // Kernels without tcx (before 6.6) need a clsact qdisc.
            warn!(iface, error = %tcx_err, "attach failed, retrying through a clsact qdisc");
            let _ = tc::qdisc_add_clsact(iface);
            prog.attach_with_options(iface, t, TcAttachOptions::Netlink(NlOptions::default()))
                .map(|_| AttachMode::Clsact)
                .map_err(|e| AgentError::NoClsact { iface: iface.into(), detail: format!("tcx: {tcx_err}; clsact: {e}") })
        }
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        // Dropping the object closes the program and link fds: the kernel
        // detaches tcx links; aya detaches netlink filters it created.
        if let Some(mut bpf) = self.bpf.take() {
            for name in [PROG_INGRESS, PROG_EGRESS] {
                if let Ok(p) = object::program_mut(&mut bpf, name) {
                    let _ = p.unload();
                }
            }
        }
        pins::unpin(&self.iface);
        info!(iface = %self.iface, "agent detached, pins removed");
    }
}
