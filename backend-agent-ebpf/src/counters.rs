//! The agent's per-CPU counters, summed and named by wire's reason registry
//! (the C header uses the same codes; tests/abi.rs keeps them in step).

use switchyard_wire::reason::{DropReason, PathCounter, DROP_REASONS, PATH_COUNTERS};

use crate::abi::{COUNTERS, REASON_BASE};

/// Paths the agent counts, in display order.
pub const AGENT_PATHS: &[PathCounter] = &[
    PathCounter::AgentFusedSyn,
    PathCounter::AgentSynAck,
    PathCounter::AgentEgress,
    PathCounter::AgentIngress,
    PathCounter::AgentSack,
    PathCounter::AgentWindowClamped,
    PathCounter::AgentFlowReplaced,
    PathCounter::AgentFlowClosed,
];

/// Reasons for which the agent passes a packet unchanged.
pub const AGENT_REASONS: &[DropReason] = &[
    DropReason::Truncated,
    DropReason::BadIpHeader,
    DropReason::IpFragment,
    DropReason::BadTcpHeader,
    DropReason::BadTcpOptions,
    DropReason::BadTcpFlags,
    DropReason::NotIpv4,
    DropReason::NoFlow,
    DropReason::AgentNotTcp,
    DropReason::AgentNotServicePort,
    DropReason::AgentMapFull,
    DropReason::AgentNotFused,
    DropReason::AgentSynAckMismatch,
    DropReason::AgentNotSpliced,
];

pub fn path_index(p: PathCounter) -> u32 {
    u32::from(p as u8)
}

pub fn reason_index(r: DropReason) -> u32 {
    REASON_BASE + u32::from(r as u8)
}

/// Counter totals (summed over CPUs), indexed like the BPF array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    pub values: Vec<u64>,
}

impl Counters {
    /// From per-CPU rows: `per_index[i]` holds one value per CPU.
    pub fn from_per_cpu<I, R>(per_index: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: IntoIterator<Item = u64>,
    {
        let mut values: Vec<u64> = per_index.into_iter().map(|r| r.into_iter().sum()).collect();
        values.resize(COUNTERS as usize, 0);
        Self { values }
    }

    pub fn path(&self, p: PathCounter) -> u64 {
        self.values[path_index(p) as usize]
    }

    pub fn reason(&self, r: DropReason) -> u64 {
        self.values[reason_index(r) as usize]
    }

    /// Differences since an earlier snapshot (tests compare before/after).
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters { values: self.values.iter().zip(&earlier.values).map(|(a, b)| a.wrapping_sub(*b)).collect() }
    }

    /// (kind, name, value) rows for every counter the agent has.
    pub fn rows(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut rows = Vec::new();
        for p in AGENT_PATHS {
            rows.push(("path", p.reason().name, self.path(*p)));
        }
        for r in AGENT_REASONS {
            rows.push(("passed", r.reason().name, self.reason(*r)));
        }
        rows
    }
}

/// Every registry code the counter layout can hold.
pub fn layout_fits() -> bool {
    PATH_COUNTERS.iter().chain(DROP_REASONS).all(|r| u32::from(r.code) < REASON_BASE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_code_fits_the_array() {
        assert!(layout_fits());
        const { assert!(REASON_BASE * 2 <= COUNTERS) };
    }

    #[test]
    fn sums_cpus_and_names_rows() {
        let mut rows = vec![vec![0u64; 2]; COUNTERS as usize];
        rows[path_index(PathCounter::AgentEgress) as usize] = vec![3, 4];
        rows[reason_index(DropReason::NoFlow) as usize] = vec![1, 0];
        let c = Counters::from_per_cpu(rows);
        assert_eq!(c.path(PathCounter::AgentEgress), 7);
        assert_eq!(c.reason(DropReason::NoFlow), 1);
        assert!(c.rows().contains(&("path", "agent_egress", 7)));
        assert!(c.rows().contains(&("passed", "no_flow", 1)));
        let zero = Counters::from_per_cpu(Vec::<Vec<u64>>::new());
        assert_eq!(c.since(&zero).path(PathCounter::AgentEgress), 7);
    }
}
