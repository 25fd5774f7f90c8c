//! Running the loaded programs on crafted frames with BPF_PROG_TEST_RUN
//! (the fixture tests and the benchmark). Needs root; attaches nothing.

use std::time::Duration;

use aya::maps::{HashMap, MapData, PerCpuArray};
use aya::programs::TestRun;
use aya::programs::TestRunOptions;
use aya::Ebpf;

use crate::abi::{Flow, FlowKey, COUNTERS, MAP_COUNTERS, MAP_FLOWS, PROG_EGRESS, PROG_INGRESS};
use crate::counters::Counters;
use crate::error::{AgentError, AgentResult};
use crate::object::{self, AgentSettings};

/// Which program a frame goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client to backend: TC ingress on the backend's interface.
    In,
    /// Backend to client: TC egress.
    Out,
}

impl Dir {
    fn prog(self) -> &'static str {
        match self {
            Dir::In => PROG_INGRESS,
            Dir::Out => PROG_EGRESS,
        }
    }
}

/// The agent loaded into the kernel but not attached.
pub struct Harness {
    bpf: Ebpf,
}

impl Harness {
    pub fn load(settings: &AgentSettings) -> AgentResult<Self> {
        Ok(Self { bpf: object::load(settings)? })
    }

    /// One run: the verdict (the program's return value as i32) and the
    /// frame as the program left it.
    pub fn run(&self, dir: Dir, frame: &[u8]) -> AgentResult<(i32, Vec<u8>)> {
        let prog = object::program(&self.bpf, dir.prog())?;
        // Room for growth, though the agent never changes a frame's length.
        let mut out = vec![0u8; frame.len() + 256];
        let r = prog.test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat: 1,
            ..Default::default()
        })?;
        out.truncate(r.data_size_out as usize);
        Ok((r.return_value as i32, out))
    }

    /// Mean time per run over `repeat` runs inside the kernel. The kernel
    /// runs the same skb again and again, so a rewrite applies on top of
    /// the previous one: each run still takes the same path and does the
    /// same work.
    pub fn time(&self, dir: Dir, frame: &[u8], repeat: u32) -> AgentResult<Duration> {
        let prog = object::program(&self.bpf, dir.prog())?;
        let r = prog.test_run(TestRunOptions { data_in: Some(frame), repeat, ..Default::default() })?;
        Ok(r.duration)
    }

    pub fn counters(&self) -> AgentResult<Counters> {
        let map = self.bpf.map(MAP_COUNTERS).ok_or_else(|| AgentError::Config("no counters map".into()))?;
        let arr: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(map)?;
        let mut rows = Vec::with_capacity(COUNTERS as usize);
        for i in 0..COUNTERS {
            rows.push(arr.get(&i, 0)?.iter().copied().collect::<Vec<_>>());
        }
        Ok(Counters::from_per_cpu(rows))
    }

    pub fn flow(&self, key: &FlowKey) -> AgentResult<Option<Flow>> {
        let map = self.bpf.map(MAP_FLOWS).ok_or_else(|| AgentError::Config("no flows map".into()))?;
        let flows: HashMap<&MapData, FlowKey, Flow> = HashMap::try_from(map)?;
        match flows.get(key, 0) {
            Ok(f) => Ok(Some(f)),
            Err(aya::maps::MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn flow_count(&self) -> AgentResult<usize> {
        let map = self.bpf.map(MAP_FLOWS).ok_or_else(|| AgentError::Config("no flows map".into()))?;
        let flows: HashMap<&MapData, FlowKey, Flow> = HashMap::try_from(map)?;
        Ok(flows.keys().filter(Result::is_ok).count())
    }
}

/// The empty program of bpf/baseline.c, timed the same way: what the
/// test_run harness itself costs per packet.
pub fn baseline_ns(frame: &[u8], repeat: u32) -> AgentResult<Duration> {
    let mut bpf = Ebpf::load(object::BASELINE_OBJECT)?;
    let prog = object::program_mut(&mut bpf, object::PROG_BASELINE)?;
    prog.load()?;
    let r = prog.test_run(TestRunOptions { data_in: Some(frame), repeat, ..Default::default() })?;
    Ok(r.duration)
}
