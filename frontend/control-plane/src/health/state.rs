//! The health checks' bookkeeping, sans I/O: each check's rise/fall
//! counting, and per backend whether all its checks pass and whether the
//! worker has been told. The driver (`checker`) feeds it probe outcomes and
//! sends what it says; the admin API and `/metrics` read it.

use std::collections::BTreeMap;

use switchyard_frontend::config::{Config, HealthCheck};
use switchyard_wire::flow::BackendIndex;

use super::agent_probe;

/// What is checked of a backend.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckKind {
    /// The `[pools.health]` HTTP check of this pool (by name: pool indices
    /// shift across reloads, names do not).
    Http { pool: String },
    /// The backend agent's presence probe (`agent = "ip:port"`).
    Agent,
}

impl CheckKind {
    /// `http:POOL` or `agent`: the metrics label, JSON and the log.
    pub fn label(&self) -> String {
        match self {
            CheckKind::Http { pool } => format!("http:{pool}"),
            CheckKind::Agent => "agent".into(),
        }
    }
}

/// One check to run: where, what, how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckTarget {
    pub backend: BackendIndex,
    pub kind: CheckKind,
    pub addr: std::net::SocketAddrV4,
    pub check: HealthCheck,
}

/// Every check `cfg` asks for: each member of a pool with
/// `[pools.health]`, and the agent of each backend that names one.
pub fn targets(cfg: &Config) -> Vec<CheckTarget> {
    let mut out = Vec::new();
    for p in &cfg.pools {
        let Some(h) = &p.health else { continue };
        for &(b, _) in &p.members {
            let spec = cfg.backends[usize::from(b)];
            let addr = std::net::SocketAddrV4::new(spec.address, h.port.unwrap_or(spec.port));
            out.push(CheckTarget { backend: b, kind: CheckKind::Http { pool: p.name.clone() }, addr, check: h.clone() });
        }
    }
    for (i, spec) in cfg.backends.iter().enumerate() {
        if let Some(agent) = spec.agent {
            out.push(CheckTarget { backend: i as BackendIndex, kind: CheckKind::Agent, addr: agent, check: agent_probe() });
        }
    }
    out
}

/// A check's rise/fall state. Starts up (a backend is taken out by `fall`
/// failures, not kept out until it has passed `rise` times: a restart of
/// the front-end does not refuse traffic for `rise` intervals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckState {
    pub up: bool,
    /// Outcomes in a row against the current state (failures while up,
    /// passes while down).
    pub streak: u32,
    /// The last failure's reason, cleared by a pass.
    pub last_error: Option<String>,
    pub probes: u64,
    pub failures: u64,
}

impl Default for CheckState {
    fn default() -> Self {
        CheckState { up: true, streak: 0, last_error: None, probes: 0, failures: 0 }
    }
}

impl CheckState {
    /// One probe's outcome (`Err`: why it failed). Returns the new state
    /// when this outcome changes it.
    pub fn observe(&mut self, outcome: Result<(), String>, rise: u32, fall: u32) -> Option<bool> {
        self.probes += 1;
        let passed = outcome.is_ok();
        if let Err(e) = outcome {
            self.failures += 1;
            self.last_error = Some(e);
        } else {
            self.last_error = None;
        }
        if passed == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        if self.streak >= if self.up { fall } else { rise } {
            self.up = passed;
            self.streak = 0;
            return Some(self.up);
        }
        None
    }
}

/// One backend's checks.
#[derive(Debug, Clone, Default)]
pub struct BackendHealth {
    pub checks: BTreeMap<CheckKind, CheckState>,
    /// What the worker was last told (None: nothing sent yet; it starts
    /// healthy).
    pub reported: Option<bool>,
    pub went_down: u64,
    pub went_up: u64,
}

impl BackendHealth {
    /// Every check passes (no check: healthy).
    pub fn healthy(&self) -> bool {
        self.checks.values().all(|c| c.up)
    }

    /// The checks that do not pass, as `label: reason`.
    pub fn failing(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|(_, c)| !c.up)
            .map(|(k, c)| format!("{}: {}", k.label(), c.last_error.as_deref().unwrap_or("failing")))
            .collect()
    }
}

/// A change of a backend's health, for the log and the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub backend: BackendIndex,
    pub healthy: bool,
    /// The check whose outcome made it, and its last error.
    pub check: CheckKind,
    pub reason: Option<String>,
}

/// Every backend's checks (index = `BackendIndex`).
#[derive(Debug, Clone, Default)]
pub struct HealthBoard {
    pub backends: Vec<BackendHealth>,
}

impl HealthBoard {
    /// Keeps the state of checks `targets` still names (a reload), adds
    /// new ones (up), drops the others.
    pub fn retarget(&mut self, backends: usize, targets: &[CheckTarget]) {
        self.backends.resize_with(backends.max(self.backends.len()), Default::default);
        for (i, b) in self.backends.iter_mut().enumerate() {
            b.checks.retain(|k, _| targets.iter().any(|t| usize::from(t.backend) == i && t.kind == *k));
        }
        for t in targets {
            self.backends[usize::from(t.backend)].checks.entry(t.kind.clone()).or_default();
        }
    }

    /// A probe's outcome. Returns the backend's transition when its
    /// health (all checks) changed with it.
    pub fn observe(&mut self, t: &CheckTarget, outcome: Result<(), String>) -> Option<Transition> {
        let b = self.backends.get_mut(usize::from(t.backend))?;
        let before = b.healthy();
        let state = b.checks.get_mut(&t.kind)?;
        state.observe(outcome, t.check.rise, t.check.fall)?;
        let reason = state.last_error.clone();
        let after = b.healthy();
        if after == before {
            return None;
        }
        if after {
            b.went_up += 1;
        } else {
            b.went_down += 1;
        }
        Some(Transition { backend: t.backend, healthy: after, check: t.kind.clone(), reason })
    }

    /// Backends whose health differs from what the worker was told (or
    /// was never told while a check has it down), to send as `SetBackend`;
    /// the caller marks each sent one with `reported`.
    pub fn unreported(&self) -> Vec<(BackendIndex, bool)> {
        self.backends
            .iter()
            .enumerate()
            .filter(|(_, b)| b.reported.unwrap_or(true) != b.healthy())
            .map(|(i, b)| (i as BackendIndex, b.healthy()))
            .collect()
    }

    pub fn reported(&mut self, b: BackendIndex, healthy: bool) {
        if let Some(s) = self.backends.get_mut(usize::from(b)) {
            s.reported = Some(healthy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail() -> Result<(), String> {
        Err("connection refused".into())
    }

    /// (outcomes, rise, fall, the up state after each outcome).
    #[test]
    fn rise_and_fall_count_outcomes_in_a_row() {
        let cases: &[(&str, &[bool], u32, u32, &[bool])] = &[
            ("fall 3: down at the third failure", &[false, false, false], 2, 3, &[true, true, false]),
            ("a pass resets the failures", &[false, false, true, false, false], 2, 3, &[true, true, true, true, true]),
            ("rise 2 after going down", &[false, true, false, true, true], 2, 1, &[false, false, false, false, true]),
            ("fall 1, rise 1: every outcome counts", &[false, true, false], 1, 1, &[false, true, false]),
            ("passes while up change nothing", &[true, true, true], 2, 3, &[true, true, true]),
        ];
        for (what, outcomes, rise, fall, want) in cases {
            let mut s = CheckState::default();
            let got: Vec<bool> = outcomes
                .iter()
                .map(|&ok| {
                    s.observe(if ok { Ok(()) } else { fail() }, *rise, *fall);
                    s.up
                })
                .collect();
            assert_eq!(&got, want, "{what}");
            assert_eq!(s.probes, outcomes.len() as u64, "{what}");
        }
    }

    #[test]
    fn a_transition_is_reported_once_with_its_reason() {
        let mut s = CheckState::default();
        assert_eq!(s.observe(fail(), 2, 2), None);
        assert_eq!(s.observe(fail(), 2, 2), Some(false));
        assert_eq!(s.last_error.as_deref(), Some("connection refused"));
        assert_eq!(s.observe(fail(), 2, 2), None, "already down");
        assert_eq!(s.observe(Ok(()), 2, 2), None);
        assert_eq!(s.observe(Ok(()), 2, 2), Some(true));
        assert_eq!((s.last_error, s.failures), (None, 3));
    }

    fn target(backend: BackendIndex, kind: CheckKind, rise: u32, fall: u32) -> CheckTarget {
        let check = HealthCheck { rise, fall, ..agent_probe() };
        CheckTarget { backend, kind, addr: "127.0.0.1:80".parse().unwrap(), check }
    }

    /// A backend is healthy only while every one of its checks passes,
    /// and the worker is told each change once.
    #[test]
    fn a_backend_needs_all_its_checks() {
        let http = target(0, CheckKind::Http { pool: "web".into() }, 1, 1);
        let agent = target(0, CheckKind::Agent, 1, 1);
        let other = target(1, CheckKind::Agent, 1, 1);
        let mut board = HealthBoard::default();
        board.retarget(2, &[http.clone(), agent.clone(), other.clone()]);
        assert!(board.unreported().is_empty(), "everything starts up, as the worker does");
        let t = board.observe(&agent, Err("no agent".into())).expect("down");
        assert_eq!((t.backend, t.healthy, t.check.label(), t.reason.as_deref()), (0, false, "agent".into(), Some("no agent")));
        assert_eq!(board.observe(&http, fail()), None, "already down through its agent");
        assert_eq!(board.observe(&agent, Ok(())), None, "the HTTP check still fails");
        assert_eq!(board.backends[0].failing(), vec!["http:web: connection refused".to_string()]);
        assert_eq!(board.unreported(), vec![(0, false)]);
        board.reported(0, false);
        assert!(board.unreported().is_empty());
        assert!(board.observe(&http, Ok(())).expect("up again").healthy);
        assert_eq!(board.unreported(), vec![(0, true)]);
        assert_eq!((board.backends[0].went_down, board.backends[0].went_up), (1, 1));
        assert!(board.backends[1].healthy());
    }

    #[test]
    fn retarget_keeps_known_checks_and_forgets_removed_ones() {
        let http = target(0, CheckKind::Http { pool: "web".into() }, 1, 1);
        let agent = target(0, CheckKind::Agent, 1, 1);
        let mut board = HealthBoard::default();
        board.retarget(1, &[http.clone(), agent.clone()]);
        board.observe(&http, fail());
        board.reported(0, false);
        board.retarget(2, std::slice::from_ref(&http));
        assert!(!board.backends[0].checks[&http.kind].up, "kept across the reload");
        assert_eq!(board.backends.len(), 2);
        board.retarget(2, &[agent]);
        assert!(board.backends[0].healthy(), "its failing check was removed");
        assert_eq!(board.unreported(), vec![(0, true)], "so the worker is told");
    }

    #[test]
    fn targets_cover_checked_pools_and_agents() {
        let cfg = switchyard_frontend::config::parse(include_str!("../../../examples/switchyard.toml"), "x.toml").unwrap();
        let t = targets(&cfg);
        let http: Vec<_> = t.iter().filter(|t| matches!(t.kind, CheckKind::Http { .. })).map(|t| t.addr.to_string()).collect();
        assert_eq!(http, ["198.18.10.2:80", "198.18.11.2:80"], "pool `web` only");
        let agents = t.iter().filter(|t| t.kind == CheckKind::Agent).count();
        assert_eq!(agents, cfg.backends.len(), "every backend of the example names its agent");
        assert!(t.iter().filter(|t| t.kind == CheckKind::Agent).all(|t| t.addr.port() == 9100 && t.check.path == "/"));
        let status_port = include_str!("../../../examples/switchyard.toml").replacen("interval_ms = 2000", "port = 8081\ninterval_ms = 2000", 1);
        let t = targets(&switchyard_frontend::config::parse(&status_port, "x.toml").unwrap());
        assert_eq!(t[0].addr.to_string(), "198.18.10.2:8081", "a check port instead of the backend's");
    }
}
