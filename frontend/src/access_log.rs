//! The access log's engine side, sans IO: one `AccessRecord` per routing
//! decision (1 in `sample`), kept in a bounded buffer the worker drains
//! between bursts. The driver stamps the wall-clock time and writes the
//! JSON lines (frontend/driver/src/access_log.rs).
//!
//! Off (no `[access_log]`), recording is one branch and no allocation. On,
//! a sampled decision allocates its record (host, path and names, each at
//! most `ACCESS_LOG_MAX_FIELD` bytes); when the buffer is full the record
//! is not made and `dropped` counts it.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use serde::Serialize;

use crate::config::OffloadMode;
use crate::http::ErrorReply;
use crate::limits::{ACCESS_LOG_BUFFER, ACCESS_LOG_MAX_FIELD};

/// How a routing decision ended. Written as a string, `"routed"` or the
/// status of the front-end's own reply (`"404"`), so the field has one type
/// for log pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A backend was chosen; the request goes to it.
    Routed,
    /// The front-end answered itself with this status (400, 404, 431, 503).
    Replied(u16),
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Outcome::Routed => s.serialize_str("routed"),
            Outcome::Replied(status) => s.collect_str(status),
        }
    }
}

impl From<ErrorReply> for Outcome {
    fn from(r: ErrorReply) -> Self {
        Outcome::Replied(r.status())
    }
}

/// `connection` or `request` (the route's offload mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OffloadField {
    Connection,
    Request,
}

impl From<OffloadMode> for OffloadField {
    fn from(m: OffloadMode) -> Self {
        match m {
            OffloadMode::Connection => OffloadField::Connection,
            OffloadMode::Request => OffloadField::Request,
        }
    }
}

/// One routing decision. Serialized (by the driver) as the JSON line's
/// fields after `time`; `at_ms` is the engine's clock, not written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRecord {
    #[serde(skip)]
    pub at_ms: u64,
    /// The client's ip:port.
    pub client: SocketAddrV4,
    /// The service (VIP) by its config name.
    pub service: String,
    /// Method and path: null when the request did not parse (400, 431).
    pub method: Option<String>,
    /// The Host header without `:port`, when sent.
    pub host: Option<String>,
    pub path: Option<String>,
    /// Index of the matching route in its service's `routes` (from 0);
    /// null when none matched (404) or the request did not parse.
    pub route: Option<usize>,
    pub pool: Option<String>,
    /// The chosen backend's address:port.
    pub backend: Option<SocketAddrV4>,
    pub offload: Option<OffloadField>,
    /// Milliseconds from the connection's first ACK to this decision
    /// (the request's assembly); null for the later requests of a
    /// `request`-mode connection.
    pub setup_ms: Option<u64>,
    pub outcome: Outcome,
}

/// What a decision was about, borrowed from the request being routed.
#[derive(Debug, Clone, Copy)]
pub struct DecisionView<'a> {
    pub client: SocketAddrV4,
    pub service: &'a str,
    pub method: Option<&'a str>,
    pub host: Option<&'a str>,
    pub path: Option<&'a str>,
    pub route: Option<usize>,
    pub pool: Option<&'a str>,
    pub backend: Option<SocketAddrV4>,
    pub offload: Option<OffloadMode>,
    pub setup_ms: Option<u64>,
    pub outcome: Outcome,
}

/// The worker's access-log buffer: sampling, bounded, counted.
#[derive(Debug, Default)]
pub struct AccessLog {
    /// 1 in `sample` decisions is recorded; None: the log is off.
    sample: Option<u32>,
    /// Decisions seen since the start (sampling counts them).
    decisions: u64,
    records: VecDeque<AccessRecord>,
    /// Sampled records not kept because the buffer was full.
    dropped: u64,
}

fn bounded(s: &str) -> String {
    let mut end = s.len().min(ACCESS_LOG_MAX_FIELD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl AccessLog {
    /// `sample`: None for off, Some(n) for 1 in n (n ≥ 1).
    pub fn new(sample: Option<u32>) -> Self {
        Self { sample: sample.map(|n| n.max(1)), ..Self::default() }
    }

    pub fn enabled(&self) -> bool {
        self.sample.is_some()
    }

    /// Whether the next decision is sampled; counts it. Call once per
    /// decision, before building its view.
    pub fn sampled(&mut self) -> bool {
        let Some(n) = self.sample else { return false };
        let take = self.decisions % u64::from(n) == 0;
        self.decisions += 1;
        take
    }

    /// Keeps a sampled decision, or counts it as dropped when full.
    pub fn record(&mut self, at_ms: u64, d: &DecisionView<'_>) {
        if self.records.len() >= ACCESS_LOG_BUFFER {
            self.dropped += 1;
            return;
        }
        self.records.push_back(AccessRecord {
            at_ms,
            client: d.client,
            service: bounded(d.service),
            method: d.method.map(bounded),
            host: d.host.map(bounded),
            path: d.path.map(bounded),
            route: d.route,
            pool: d.pool.map(bounded),
            backend: d.backend,
            offload: d.offload.map(OffloadField::from),
            setup_ms: d.setup_ms,
            outcome: d.outcome,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records in decision order, emptying the buffer.
    pub fn drain(&mut self) -> impl Iterator<Item = AccessRecord> + '_ {
        self.records.drain(..)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(path: &str) -> DecisionView<'_> {
        DecisionView {
            client: "10.0.0.1:40000".parse().unwrap(),
            service: "web",
            method: Some("GET"),
            host: Some("example.com"),
            path: Some(path),
            route: Some(0),
            pool: Some("pool"),
            backend: Some("10.0.1.1:80".parse().unwrap()),
            offload: Some(OffloadMode::Connection),
            setup_ms: Some(1),
            outcome: Outcome::Routed,
        }
    }

    #[test]
    fn off_samples_nothing() {
        let mut log = AccessLog::new(None);
        assert!(!log.enabled());
        assert!((0..10).all(|_| !log.sampled()));
    }

    #[test]
    fn one_in_n() {
        let mut log = AccessLog::new(Some(3));
        let taken: Vec<bool> = (0..7).map(|_| log.sampled()).collect();
        assert_eq!(taken, [true, false, false, true, false, false, true]);
    }

    #[test]
    fn a_full_buffer_drops_and_counts() {
        let mut log = AccessLog::new(Some(1));
        for i in 0..ACCESS_LOG_BUFFER as u64 + 5 {
            log.record(i, &view("/"));
        }
        assert_eq!(log.dropped(), 5);
        assert_eq!(log.drain().count(), ACCESS_LOG_BUFFER);
        assert!(log.is_empty());
    }

    #[test]
    fn long_fields_are_cut_at_a_char_boundary() {
        let mut log = AccessLog::new(Some(1));
        let long = format!("/{}", "é".repeat(ACCESS_LOG_MAX_FIELD));
        log.record(0, &view(&long));
        let r = log.drain().next().unwrap();
        let path = r.path.unwrap();
        assert!(path.len() <= ACCESS_LOG_MAX_FIELD && long.starts_with(&path));
    }
}
