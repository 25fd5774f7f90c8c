//! The compiled route table: per service, routes in config order, first
//! match wins. A route matches when every field it sets matches:
//!
//! - `host`: exact (case-insensitive, port ignored) or `*.domain`, which
//!   matches any name ending in `.domain` but not `domain` itself;
//! - path (the request-target up to `?`): exact, prefix (plain string
//!   prefix), or regex (unanchored unless the regex anchors itself, run on
//!   the path without the query);
//! - `method`: exact token;
//! - `headers`: every listed header present with exactly that value.
//!
//! No route matching gives 404; a route whose pool has no eligible backend
//! gives 503 (there is no fall-through to later routes: an operator who
//! wants a fallback pool lists it in the pool, not in another route).

use core::net::Ipv4Addr;
// hashbrown's default hasher (foldhash): these maps are built from the
// config, so lookups of attacker-chosen addresses cannot degrade them, and
// std's SipHash was a visible share of every packet's cost.
use hashbrown::HashMap;

use switchyard_wire::flow::{BackendIndex, VipId};

use crate::config::{Config, HostMatch, OffloadMode, PathMatch, RouteSpec, Service, ServiceState};
use crate::http::RequestHead;
use crate::limits::{PASSIVE_EJECT_COOLDOWN_MS, PASSIVE_EJECT_FAILURES};
use crate::pool::{BackendState, Pool};

/// The outcome of routing one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Backend { backend: BackendIndex, pool: usize, route: usize, offload: OffloadMode },
    NoRoute,
    NoHealthyBackend { pool: usize },
}

#[derive(Debug, Clone)]
pub struct Router {
    services: Vec<Service>,
    by_vip: HashMap<(Ipv4Addr, u16), VipId>,
    pub pools: Vec<Pool>,
    pub backends: Vec<BackendState>,
    by_backend_addr: HashMap<(Ipv4Addr, u16), BackendIndex>,
    /// The earliest `ejected_until` of any backend.
    next_readmit: Option<u64>,
}

fn host_matches(m: &HostMatch, host: Option<&str>) -> bool {
    let Some(h) = host else { return false };
    match m {
        HostMatch::Exact(e) => h.eq_ignore_ascii_case(e),
        HostMatch::Wildcard(suffix) => {
            h.len() > suffix.len() && h.as_bytes()[h.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
        }
    }
}

fn route_matches(r: &RouteSpec, head: &RequestHead<'_>) -> bool {
    if let Some(m) = &r.method {
        if head.method != m {
            return false;
        }
    }
    if let Some(h) = &r.host {
        if !host_matches(h, head.host) {
            return false;
        }
    }
    if let Some(p) = &r.path {
        let path = head.path.split('?').next().unwrap_or("");
        let ok = match p {
            PathMatch::Exact(e) => path == e,
            PathMatch::Prefix(pre) => path.starts_with(pre.as_str()),
            PathMatch::Regex(re) => re.is_match(path),
        };
        if !ok {
            return false;
        }
    }
    r.headers.iter().all(|(n, v)| head.header(n) == Some(v.as_bytes()))
}

impl Router {
    pub fn new(config: &Config) -> Self {
        let backends: Vec<BackendState> = config
            .backends
            .iter()
            .map(|&spec| BackendState::new(spec))
            .collect();
        let pools = config.pools.iter().map(|p| Pool::new(p.clone(), &backends)).collect();
        // A removed service's VIP is no longer the switch's: it names no
        // service (a draining one still does: its flows' packets arrive).
        let by_vip = config.services.iter().filter(|s| s.state != ServiceState::Removed).map(|s| ((s.vip, s.port), s.id)).collect();
        let by_backend_addr =
            config.backends.iter().enumerate().map(|(i, b)| ((b.address, b.port), i as BackendIndex)).collect();
        Self { services: config.services.clone(), by_vip, pools, backends, by_backend_addr, next_readmit: None }
    }

    /// The router for a reloaded `config` whose backend numbering extends
    /// this one's (the same address:port at every index that exists here;
    /// the control plane's reload ensures it): routes, pools, weights and
    /// services are the new ones, each kept backend keeps its run-time
    /// state (health, draining, flow count).
    pub fn reconfigured(&self, config: &Config) -> Self {
        let mut next = Router::new(config);
        for (i, b) in next.backends.iter_mut().enumerate() {
            if let Some(old) = self.backends.get(i) {
                *b = BackendState { spec: b.spec, ..*old };
            }
        }
        for p in &mut next.pools {
            p.rebuild(&next.backends);
        }
        next.next_readmit = next.earliest_readmit();
        next
    }

    pub fn service_by_vip(&self, vip: Ipv4Addr, port: u16) -> Option<&Service> {
        self.by_vip.get(&(vip, port)).map(|&id| &self.services[usize::from(id)])
    }

    pub fn service(&self, id: VipId) -> &Service {
        &self.services[usize::from(id)]
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn backend_by_addr(&self, addr: Ipv4Addr, port: u16) -> Option<BackendIndex> {
        self.by_backend_addr.get(&(addr, port)).copied()
    }

    pub fn backend(&self, b: BackendIndex) -> &BackendState {
        &self.backends[usize::from(b)]
    }

    /// Routes a request of `service`; the chosen backend is not counted as
    /// having a flow until `flow_started` is called.
    pub fn decide(&mut self, service: VipId, client_ip: Ipv4Addr, head: &RequestHead<'_>) -> Decision {
        let svc = &self.services[usize::from(service)];
        let Some((i, r)) = svc.routes.iter().enumerate().find(|(_, r)| route_matches(r, head)) else {
            return Decision::NoRoute;
        };
        let (pool, offload) = (r.pool, r.offload);
        match self.pools[pool].pick(&self.backends, client_ip, head) {
            Some(backend) => Decision::Backend { backend, pool, route: i, offload },
            None => Decision::NoHealthyBackend { pool },
        }
    }

    pub fn flow_started(&mut self, b: BackendIndex) {
        let s = &mut self.backends[usize::from(b)];
        s.active_flows = s.active_flows.saturating_add(1);
    }

    pub fn flow_ended(&mut self, b: BackendIndex) {
        let s = &mut self.backends[usize::from(b)];
        s.active_flows = s.active_flows.saturating_sub(1);
    }

    /// Health or draining change (from the control task): affects new
    /// flows only. A backend coming back healthy (its active checks just
    /// passed `rise` times) is also taken back from a passive ejection, as
    /// Envoy's outlier detection does by default: the checks' verdict is
    /// newer than the failures that ejected it.
    pub fn set_backend_flags(&mut self, b: BackendIndex, healthy: bool, draining: bool) {
        let Some(s) = self.backends.get_mut(usize::from(b)) else { return };
        if (s.healthy, s.draining) == (healthy, draining) {
            return;
        }
        if healthy && !s.healthy {
            s.ejected_until = None;
            s.failures_in_a_row = 0;
            self.next_readmit = self.earliest_readmit();
        }
        let s = &mut self.backends[usize::from(b)];
        s.healthy = healthy;
        s.draining = draining;
        self.eligibility_changed(b);
    }

    /// Pools that hold `b` recompute what depends on eligibility.
    fn eligibility_changed(&mut self, b: BackendIndex) {
        for p in &mut self.pools {
            if p.spec.members.iter().any(|&(m, _)| m == b) {
                p.rebuild(&self.backends);
            }
        }
    }

    /// A handshake with `b` failed (it reset the replayed SYN, never
    /// answered it, or answered without its agent). The
    /// `PASSIVE_EJECT_FAILURES`th in a row ejects it for
    /// `PASSIVE_EJECT_COOLDOWN_MS`; true when this one did.
    pub fn backend_failed(&mut self, b: BackendIndex, now: u64) -> bool {
        let Some(s) = self.backends.get_mut(usize::from(b)) else { return false };
        s.failures_in_a_row = s.failures_in_a_row.saturating_add(1);
        if s.failures_in_a_row < PASSIVE_EJECT_FAILURES || s.ejected_until.is_some() {
            return false;
        }
        let until = now + PASSIVE_EJECT_COOLDOWN_MS;
        s.ejected_until = Some(until);
        s.ejections += 1;
        s.failures_in_a_row = 0;
        self.next_readmit = Some(self.next_readmit.map_or(until, |t| t.min(until)));
        self.eligibility_changed(b);
        true
    }

    /// A handshake with `b` succeeded: its failures no longer run in a row.
    pub fn backend_answered(&mut self, b: BackendIndex) {
        if let Some(s) = self.backends.get_mut(usize::from(b)) {
            s.failures_in_a_row = 0;
        }
    }

    /// When the next ejected backend is due back (for the engine's timer).
    pub fn next_readmit(&self) -> Option<u64> {
        self.next_readmit
    }

    /// Takes back every backend whose cool-down is over at `now`.
    pub fn readmit_due(&mut self, now: u64) {
        if !self.next_readmit.is_some_and(|t| t <= now) {
            return;
        }
        let due: Vec<BackendIndex> = (0..self.backends.len())
            .filter(|&i| self.backends[i].ejected_until.is_some_and(|t| t <= now))
            .map(|i| i as BackendIndex)
            .collect();
        for &b in &due {
            self.backends[usize::from(b)].ejected_until = None;
            self.eligibility_changed(b);
        }
        self.next_readmit = self.earliest_readmit();
    }

    fn earliest_readmit(&self) -> Option<u64> {
        self.backends.iter().filter_map(|b| b.ejected_until).min()
    }
}
