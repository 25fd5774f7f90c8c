//! The presence probe: a tiny TCP listener the control plane's health check
//! uses so that a backend without a working agent is never chosen. It
//! answers an HTTP GET with `200` and `switchyard-agent ok <iface> <flows>`,
//! or `503` and `switchyard-agent detached <iface>` when our programs are no
//! longer attached (someone removed them); a bare connection gets just the
//! line. No listener at all means no agent. `GET /metrics` gets the
//! agent's counters in Prometheus text (`metrics.rs`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use crate::counters::Counters;
use crate::error::{AgentError, AgentResult};
use crate::metrics;

/// How long a prober may take to send its request before we answer anyway.
const READ_WAIT: Duration = Duration::from_millis(300);
/// Walking a large flow map costs a syscall per key, the attachment query a
/// few more: sample at most this often.
const COUNT_EVERY: Duration = Duration::from_secs(1);

/// What the probe reports, sampled by the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub attached: bool,
    pub flows: usize,
    /// The counters map's totals (None: it could not be read), for
    /// `/metrics`.
    pub counters: Option<Counters>,
}

pub fn line(iface: &str, h: &Health) -> String {
    if h.attached {
        format!("switchyard-agent ok {iface} {}\n", h.flows)
    } else {
        format!("switchyard-agent detached {iface}\n")
    }
}

/// Whether a request asks for `/metrics` (a query string allowed).
pub fn wants_metrics(req: &[u8]) -> bool {
    let path = req.strip_prefix(b"GET ").or_else(|| req.strip_prefix(b"HEAD ")).unwrap_or_default();
    let path = path.split(|&b| b == b' ' || b == b'?' || b == b'\r').next().unwrap_or_default();
    path == b"/metrics"
}

/// Builds the reply to one probe request (`req` = what the peer sent).
pub fn reply(req: &[u8], ok: bool, body: &str) -> Vec<u8> {
    reply_as(req, ok, "text/plain", body)
}

fn reply_as(req: &[u8], ok: bool, content_type: &str, body: &str) -> Vec<u8> {
    if req.starts_with(b"GET ") || req.starts_with(b"HEAD ") {
        let status = if ok { "200 OK" } else { "503 Service Unavailable" };
        let mut r = format!(
            "HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        if req.starts_with(b"GET ") {
            r.extend_from_slice(body.as_bytes());
        }
        r
    } else {
        body.as_bytes().to_vec()
    }
}

/// Binds the listener and serves it on a thread for the life of the process.
/// `map_size` (the flow map's capacity) is reported on `/metrics`.
pub fn spawn(
    addr: SocketAddr,
    iface: String,
    map_size: u32,
    sample: impl Fn() -> Health + Send + 'static,
) -> AgentResult<SocketAddr> {
    let listener = TcpListener::bind(addr).map_err(AgentError::io(format!("bind status listener {addr}")))?;
    let local = listener.local_addr().map_err(AgentError::io("status listener address"))?;
    let cache: Arc<Mutex<Option<(Instant, Health)>>> = Arc::default();
    std::thread::Builder::new()
        .name("status".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(s) => {
                        let health = {
                            let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
                            match &*c {
                                Some((at, h)) if at.elapsed() < COUNT_EVERY => h.clone(),
                                _ => {
                                    let h = sample();
                                    *c = Some((Instant::now(), h.clone()));
                                    h
                                }
                            }
                        };
                        if let Err(e) = answer(s, &iface, map_size, &health) {
                            debug!(error = %e, "probe connection");
                        }
                    }
                    Err(e) => warn!(error = %e, "status listener accept"),
                }
            }
        })
        .map_err(AgentError::io("spawn status thread"))?;
    Ok(local)
}

fn answer(mut s: TcpStream, iface: &str, map_size: u32, health: &Health) -> std::io::Result<()> {
    s.set_read_timeout(Some(READ_WAIT))?;
    s.set_write_timeout(Some(READ_WAIT))?;
    let mut buf = [0u8; 512];
    let n = match s.read(&mut buf) {
        Ok(n) => n,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => 0,
        Err(e) => return Err(e),
    };
    let req = &buf[..n];
    let out = if wants_metrics(req) {
        reply_as(req, true, metrics::CONTENT_TYPE, &metrics::render(iface, map_size, health))
    } else {
        reply(req, health.attached, &line(iface, health))
    };
    s.write_all(&out)?;
    s.shutdown(std::net::Shutdown::Both)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_bare_replies() {
        let body = line("eth0", &Health { attached: true, flows: 3, counters: None });
        assert_eq!(body, "switchyard-agent ok eth0 3\n");
        let http = String::from_utf8(reply(b"GET /health HTTP/1.1\r\n\r\n", true, &body)).unwrap();
        assert!(http.starts_with("HTTP/1.0 200 OK\r\n"));
        assert!(http.ends_with("\r\n\r\nswitchyard-agent ok eth0 3\n"));
        assert!(http.contains(&format!("Content-Length: {}", body.len())));
        assert_eq!(reply(b"", true, &body), body.as_bytes());
        assert!(!String::from_utf8(reply(b"HEAD / HTTP/1.0\r\n\r\n", true, &body)).unwrap().contains("switchyard-agent ok"));
    }

    #[test]
    fn detached_agent_answers_503() {
        let body = line("eth0", &Health { attached: false, flows: 3, counters: None });
        assert_eq!(body, "switchyard-agent detached eth0\n");
        let http = String::from_utf8(reply(b"GET / HTTP/1.1\r\n\r\n", false, &body)).unwrap();
        assert!(http.starts_with("HTTP/1.0 503 Service Unavailable\r\n"), "{http}");
    }

    #[test]
    fn listener_answers_over_tcp() {
        let addr = spawn("127.0.0.1:0".parse().unwrap(), "lo".into(), 64, || Health { attached: true, flows: 7, counters: None }).unwrap();
        let get = |req: &[u8]| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(req).unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let out = get(b"GET / HTTP/1.0\r\n\r\n");
        assert!(out.ends_with("switchyard-agent ok lo 7\n"), "{out}");
        let out = get(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out}");
        assert!(out.contains(metrics::CONTENT_TYPE), "{out}");
        assert!(out.contains("switchyard_agent_flows{iface=\"lo\"} 7\n"), "{out}");
        assert!(out.ends_with("# EOF\n"), "{out}");
    }

    #[test]
    fn metrics_path_recognised() {
        assert!(wants_metrics(b"GET /metrics HTTP/1.1\r\n"));
        assert!(wants_metrics(b"GET /metrics?x=1 HTTP/1.1\r\n"));
        assert!(wants_metrics(b"HEAD /metrics HTTP/1.0\r\n"));
        assert!(!wants_metrics(b"GET / HTTP/1.1\r\n"));
        assert!(!wants_metrics(b"GET /metricsx HTTP/1.1\r\n"));
        assert!(!wants_metrics(b""));
    }
}
