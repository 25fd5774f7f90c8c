//! Backend pools at run time: health and draining flags, per-backend flow
//! counts, and the three policies. Unhealthy or draining backends get no
//! new flows; flows already on them are left alone.

use core::net::Ipv4Addr;

use switchyard_wire::flow::BackendIndex;

use crate::config::{BackendSpec, HashKey, Policy, PoolSpec};
use crate::limits::MAGLEV_TABLE_SIZE;
use crate::http::RequestHead;
use crate::maglev::MaglevTable;

/// Run-time state of one backend (index = `BackendIndex`).
#[derive(Debug, Clone, Copy)]
pub struct BackendState {
    pub spec: BackendSpec,
    /// Eligible as far as health goes. Starts healthy; the control plane's
    /// health checks change it through `Engine::set_backend_flags`
    /// (`WorkerCommand::SetBackend`).
    pub healthy: bool,
    /// Operator asked to drain: keep existing flows, take no new ones.
    pub draining: bool,
    /// Flows this worker has on the backend (for `least_flows`).
    pub active_flows: u32,
    /// Failed handshakes with it in a row (passive ejection).
    pub failures_in_a_row: u32,
    /// Passively ejected until this time (engine ms): no new flows.
    pub ejected_until: Option<u64>,
    /// Passive ejections so far.
    pub ejections: u64,
}

impl BackendState {
    pub fn new(spec: BackendSpec) -> Self {
        BackendState { spec, healthy: true, draining: false, active_flows: 0, failures_in_a_row: 0, ejected_until: None, ejections: 0 }
    }

    pub fn eligible(&self) -> bool {
        self.healthy && !self.draining && self.ejected_until.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub spec: PoolSpec,
    /// Smooth weighted round robin (nginx's): current weight per member.
    rr_current: Vec<i64>,
    /// Maglev over the eligible members; rebuilt when health changes.
    maglev: Option<MaglevTable>,
    /// Member positions the Maglev table indexes into.
    maglev_members: Vec<usize>,
}

impl Pool {
    pub fn new(spec: PoolSpec, backends: &[BackendState]) -> Self {
        let n = spec.members.len();
        let mut p = Self { spec, rr_current: vec![0; n], maglev: None, maglev_members: Vec::new() };
        p.rebuild(backends);
        p
    }

    /// Recomputes what depends on eligibility (call after a health or
    /// draining change).
    pub fn rebuild(&mut self, backends: &[BackendState]) {
        if !matches!(self.spec.policy, Policy::Maglev(_)) {
            return;
        }
        self.maglev_members = (0..self.spec.members.len())
            .filter(|&i| backends[usize::from(self.spec.members[i].0)].eligible())
            .collect();
        // A backend's permutation is seeded by its address:port, so it
        // keeps its slots when others come and go.
        let names: Vec<[u8; 6]> = self
            .maglev_members
            .iter()
            .map(|&i| {
                let s = backends[usize::from(self.spec.members[i].0)].spec;
                let o = s.address.octets();
                let p = s.port.to_be_bytes();
                [o[0], o[1], o[2], o[3], p[0], p[1]]
            })
            .collect();
        let list: Vec<(&[u8], u32)> =
            names.iter().zip(&self.maglev_members).map(|(n, &i)| (&n[..], self.spec.members[i].1)).collect();
        self.maglev = MaglevTable::build(&list, MAGLEV_TABLE_SIZE);
    }

    /// Picks a backend for a new flow, or `None` when no member is eligible.
    pub fn pick(&mut self, backends: &[BackendState], client_ip: Ipv4Addr, head: &RequestHead<'_>) -> Option<BackendIndex> {
        let members = &self.spec.members;
        match &self.spec.policy {
            Policy::RoundRobin => {
                let mut total = 0i64;
                let mut best: Option<usize> = None;
                for (i, &(b, w)) in members.iter().enumerate() {
                    if !backends[usize::from(b)].eligible() {
                        continue;
                    }
                    self.rr_current[i] += i64::from(w);
                    total += i64::from(w);
                    if best.is_none_or(|j| self.rr_current[i] > self.rr_current[j]) {
                        best = Some(i);
                    }
                }
                let i = best?;
                self.rr_current[i] -= total;
                Some(members[i].0)
            }
            Policy::LeastFlows => members
                .iter()
                .filter(|(b, _)| backends[usize::from(*b)].eligible())
                // Fewest flows per unit of weight: a/wa < b/wb <=> a*wb < b*wa.
                .min_by(|(a, wa), (b, wb)| {
                    let fa = u64::from(backends[usize::from(*a)].active_flows) * u64::from(*wb);
                    let fb = u64::from(backends[usize::from(*b)].active_flows) * u64::from(*wa);
                    fa.cmp(&fb)
                })
                .map(|(b, _)| *b),
            Policy::Maglev(key) => {
                let table = self.maglev.as_ref()?;
                let ip = client_ip.octets();
                let k: &[u8] = match key {
                    HashKey::ClientIp => &ip,
                    // No header/cookie: fall back to the client address,
                    // so such clients still get a stable choice.
                    HashKey::Header(n) => head.header(n).unwrap_or(&ip),
                    HashKey::Cookie(n) => head.cookie(n).unwrap_or(&ip),
                };
                let pos = table.lookup(k);
                Some(members[self.maglev_members[pos]].0)
            }
        }
    }
}
