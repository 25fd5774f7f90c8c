//! Pinned maps under /sys/fs/bpf/switchyard/<iface>/: written by `run`,
//! read by `status` and the presence probe while the daemon lives, removed
//! when it stops.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use aya::maps::{Array, HashMap, Map, MapData, PerCpuArray};

use crate::abi::{Config, Flow, FlowKey, ALL_MAPS, COUNTERS, MAP_CONFIG, MAP_COUNTERS, MAP_FLOWS, MAP_PORTS, PORT_WORDS};
use crate::counters::Counters;
use crate::error::{AgentError, AgentResult};

pub const BPFFS: &str = "/sys/fs/bpf";
/// statfs magic of bpffs (linux/magic.h BPF_FS_MAGIC).
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

pub fn pin_dir(iface: &str) -> PathBuf {
    Path::new(BPFFS).join("switchyard").join(iface)
}

/// Mounts bpffs on /sys/fs/bpf when it is not there (`ip netns exec` gives
/// a fresh /sys without it). The mount lives in our mount namespace only.
pub fn ensure_bpffs() -> AgentResult<()> {
    let path = CString::new(BPFFS).expect("no NUL");
    // SAFETY: statfs writes into the zeroed struct we own.
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    if unsafe { libc::statfs(path.as_ptr(), &mut st) } == 0 && st.f_type as i64 == BPF_FS_MAGIC {
        return Ok(());
    }
    std::fs::create_dir_all(BPFFS).map_err(AgentError::io("create /sys/fs/bpf"))?;
    let fstype = CString::new("bpf").expect("no NUL");
    // SAFETY: valid NUL-terminated strings, no data argument.
    let rc = unsafe { libc::mount(fstype.as_ptr(), path.as_ptr(), fstype.as_ptr(), 0, core::ptr::null()) };
    if rc != 0 {
        return Err(AgentError::Io { what: "mount bpffs on /sys/fs/bpf".into(), source: std::io::Error::last_os_error() });
    }
    Ok(())
}

/// Pins every map of a loaded object, replacing leftovers of a crashed run.
pub fn pin_maps(bpf: &aya::Ebpf, iface: &str) -> AgentResult<PathBuf> {
    ensure_bpffs()?;
    let dir = pin_dir(iface);
    std::fs::create_dir_all(&dir).map_err(AgentError::io(format!("create {}", dir.display())))?;
    for name in ALL_MAPS {
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        let map = bpf.map(name).ok_or_else(|| AgentError::Config(format!("map {name} missing")))?;
        map.pin(&path).map_err(|e| AgentError::Config(format!("pin {}: {e}", path.display())))?;
    }
    Ok(dir)
}

/// Removes the pins (the maps live on only while a program holds them).
pub fn unpin(iface: &str) {
    let dir = pin_dir(iface);
    for name in ALL_MAPS {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let _ = std::fs::remove_dir(&dir);
    // The shared parent goes too once the last agent on this host stopped.
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
}

fn open(iface: &str, name: &str) -> AgentResult<Map> {
    let dir = pin_dir(iface);
    let path = dir.join(name);
    if !path.exists() {
        return Err(AgentError::NotRunning { iface: iface.into(), dir });
    }
    Ok(Map::from_map_data(MapData::from_pin(&path)?)?)
}

/// Read access to a running agent's maps.
pub struct PinnedAgent {
    flows: HashMap<MapData, FlowKey, Flow>,
    counters: PerCpuArray<MapData, u64>,
    config: Array<MapData, Config>,
    ports: Array<MapData, u64>,
}

impl PinnedAgent {
    pub fn open(iface: &str) -> AgentResult<Self> {
        ensure_bpffs()?;
        Ok(Self {
            flows: HashMap::try_from(open(iface, MAP_FLOWS)?)?,
            counters: PerCpuArray::try_from(open(iface, MAP_COUNTERS)?)?,
            config: Array::try_from(open(iface, MAP_CONFIG)?)?,
            ports: Array::try_from(open(iface, MAP_PORTS)?)?,
        })
    }

    pub fn counters(&self) -> AgentResult<Counters> {
        let mut rows = Vec::with_capacity(COUNTERS as usize);
        for i in 0..COUNTERS {
            rows.push(self.counters.get(&i, 0)?.iter().copied().collect::<Vec<u64>>());
        }
        Ok(Counters::from_per_cpu(rows))
    }

    /// Up to `limit` live flows (the map may change while we walk it).
    pub fn flows(&self, limit: usize) -> Vec<(FlowKey, Flow)> {
        self.flows.iter().filter_map(Result::ok).take(limit).collect()
    }

    pub fn flow_count(&self) -> usize {
        self.flows.keys().filter(Result::is_ok).count()
    }

    pub fn switch_wscale(&self) -> AgentResult<u8> {
        Ok(self.config.get(&0, 0)?.switch_ws)
    }

    pub fn service_ports(&self) -> AgentResult<Vec<u16>> {
        let mut ports = Vec::new();
        for i in 0..PORT_WORDS {
            let w = self.ports.get(&i, 0)?;
            for bit in 0..64 {
                if w >> bit & 1 == 1 {
                    ports.push((i * 64 + bit) as u16);
                }
            }
        }
        Ok(ports)
    }
}
