//! The compiled TC programs (built by build.rs) and loading them with the
//! loader's settings. Loading does not attach: tests run the loaded programs
//! through BPF_PROG_TEST_RUN, the daemon attaches them (attach.rs).

use aya::maps::{Array, MapData};
use aya::programs::SchedClassifier;
use aya::{Ebpf, EbpfLoader};

use crate::abi::{self, Config, MAP_CONFIG, MAP_FLOWS, MAP_PORTS, PROG_EGRESS, PROG_INGRESS};
use crate::error::{AgentError, AgentResult};

/// The BPF object, aligned as aya wants it.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/agent.bpf.o"));

/// An empty TC program (bpf/baseline.c): the benchmark's zero point.
pub static BASELINE_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/baseline.bpf.o"));
pub const PROG_BASELINE: &str = "sy_baseline";

/// Limits of the settings, each with its reason.
pub mod limits {
    /// RFC 7323: window scale shifts above 14 are invalid. wire's, which
    /// bpf/agent.c's `MAX_WSCALE` and the P4 program's `COOKIE_MAX_WSCALE`
    /// are checked against (tests/abi.rs, switch-sim/tests/p4_codes.rs).
    pub const MAX_WSCALE: u8 = switchyard_wire::tcp_option::MAX_WSCALE;
    /// The flow map is an LRU: at least a few entries, and at most what a
    /// backend could plausibly hold (28+12 bytes + overhead per entry,
    /// 16 M entries is about 2 GB of kernel memory).
    pub const MIN_MAP_SIZE: u32 = 16;
    pub const MAX_MAP_SIZE: u32 = 16 << 20;
    /// The default: 256 Ki flows, about 30 MB.
    pub const DEFAULT_MAP_SIZE: u32 = 256 << 10;
}

/// What the operator configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSettings {
    pub service_ports: Vec<u16>,
    /// The window scale the switch's SYN-ACK advertises to clients.
    pub switch_wscale: u8,
    pub map_size: u32,
}

impl AgentSettings {
    pub fn validate(&self) -> AgentResult<()> {
        if self.service_ports.is_empty() {
            return Err(AgentError::Config("give at least one --service-port".into()));
        }
        if self.service_ports.contains(&0) {
            return Err(AgentError::Config("port 0 is not a service port".into()));
        }
        if self.switch_wscale > limits::MAX_WSCALE {
            return Err(AgentError::Config(format!(
                "--switch-wscale {} is above the TCP maximum {}",
                self.switch_wscale,
                limits::MAX_WSCALE
            )));
        }
        if !(limits::MIN_MAP_SIZE..=limits::MAX_MAP_SIZE).contains(&self.map_size) {
            return Err(AgentError::Config(format!(
                "--map-size {} outside {}..={}",
                self.map_size,
                limits::MIN_MAP_SIZE,
                limits::MAX_MAP_SIZE
            )));
        }
        Ok(())
    }
}

/// Loads both programs into the kernel (verifier included) and writes the
/// configuration maps. Needs root.
pub fn load(settings: &AgentSettings) -> AgentResult<Ebpf> {
    settings.validate()?;
    let mut bpf = EbpfLoader::new().map_max_entries(MAP_FLOWS, settings.map_size).load(OBJECT)?;
    for name in [PROG_INGRESS, PROG_EGRESS] {
        program_mut(&mut bpf, name)?.load()?;
    }
    configure(&mut bpf, settings)?;
    Ok(bpf)
}

fn configure(bpf: &mut Ebpf, settings: &AgentSettings) -> AgentResult<()> {
    let mut cfg: Array<&mut MapData, Config> = Array::try_from(map_mut(bpf, MAP_CONFIG)?)?;
    cfg.set(0, Config { switch_ws: settings.switch_wscale, pad: [0; 3] }, 0)?;
    let mut ports: Array<&mut MapData, u64> = Array::try_from(map_mut(bpf, MAP_PORTS)?)?;
    for (idx, word) in abi::port_bitmap(&settings.service_ports) {
        ports.set(idx, word, 0)?;
    }
    Ok(())
}

pub fn program_mut<'a>(bpf: &'a mut Ebpf, name: &str) -> AgentResult<&'a mut SchedClassifier> {
    let p = bpf
        .program_mut(name)
        .ok_or_else(|| AgentError::Config(format!("program {name} missing from the object")))?;
    Ok(p.try_into()?)
}

pub fn program<'a>(bpf: &'a Ebpf, name: &str) -> AgentResult<&'a SchedClassifier> {
    let p = bpf.program(name).ok_or_else(|| AgentError::Config(format!("program {name} missing from the object")))?;
    Ok(p.try_into()?)
}

pub fn map_mut<'a>(bpf: &'a mut Ebpf, name: &str) -> AgentResult<&'a mut aya::maps::Map> {
    bpf.map_mut(name).ok_or_else(|| AgentError::Config(format!("map {name} missing from the object")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> AgentSettings {
        AgentSettings { service_ports: vec![80], switch_wscale: 7, map_size: 1024 }
    }

    #[test]
    fn settings_are_checked() {
        assert!(ok().validate().is_ok());
        assert!(AgentSettings { service_ports: vec![], ..ok() }.validate().is_err());
        assert!(AgentSettings { service_ports: vec![0], ..ok() }.validate().is_err());
        assert!(AgentSettings { switch_wscale: 15, ..ok() }.validate().is_err());
        assert!(AgentSettings { map_size: 1, ..ok() }.validate().is_err());
    }

    #[test]
    fn object_is_an_ebpf_elf() {
        assert_eq!(&OBJECT[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([OBJECT[18], OBJECT[19]]), 247, "e_machine EM_BPF");
    }
}
