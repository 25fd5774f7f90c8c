//! A closed-loop HTTP/1.1 load generator over plain `TcpStream`s: N
//! connections (one thread each) send GETs for a workload's paths, read
//! each response (status line, headers, Content-Length body), compare every
//! body byte with the testbed's deterministic body as it arrives, and
//! record the request's latency (request written to last body byte).
//! Errors and timeouts are counted by kind, never retried or hidden.
//!
//! Modes: `close` opens a connection per request (`Connection: close`; the
//! server closes first, the client waits for its FIN, so the client keeps
//! no TIME_WAIT), `keepalive` keeps one connection per thread and opens a
//! new one only after an error or a server close.
//!
//! Bounds: at most `requests` requests and no new request after `seconds`;
//! a request in flight ends at its last byte, after `timeout` without a
//! byte (counted as a timeout), or after `max_request` in total.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::workload::{Rng, Workload};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnMode {
    Close,
    KeepAlive,
}

impl ConnMode {
    pub fn name(self) -> &'static str {
        match self {
            ConnMode::Close => "close",
            ConnMode::KeepAlive => "keepalive",
        }
    }
}

impl std::str::FromStr for ConnMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "close" | "new" => Ok(ConnMode::Close),
            "keepalive" | "keep-alive" | "ka" => Ok(ConnMode::KeepAlive),
            _ => Err(format!("unknown connection mode `{s}` (close, keepalive)")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub target: SocketAddr,
    pub host: String,
    pub workload: &'static Workload,
    pub mode: ConnMode,
    pub concurrency: usize,
    pub requests: u64,
    pub seconds: f64,
    /// Without a byte for this long, a connect or a read is a timeout.
    pub timeout: Duration,
    /// A request (connect included) taking longer is a timeout.
    pub max_request: Duration,
    /// Requests per second over all connections, paced: request k starts
    /// no earlier than k / rate seconds after the start (None: each
    /// connection sends its next request as soon as the last one is done).
    /// A rate the system cannot keep up with shows as a lower `req_per_s`.
    pub rate: Option<f64>,
}

/// What went wrong with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    /// No byte for `timeout`, or longer than `max_request` (connect or read).
    Timeout,
    /// Connect refused / unreachable / reset during connect.
    Connect,
    /// The connection was reset or closed before the response was complete.
    Reset,
    /// A status other than 200.
    Status,
    /// A body byte differs from the testbed body, or the length is wrong.
    Verify,
    /// Not a parseable HTTP/1.1 response (or chunked: the testbed never is).
    Parse,
    /// Close mode: the response was complete and verified but the server
    /// did not close the connection within `timeout`.
    CloseStall,
}

impl Failure {
    pub fn name(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Connect => "connect",
            Failure::Reset => "reset",
            Failure::Status => "status",
            Failure::Verify => "verify",
            Failure::Parse => "parse",
            Failure::CloseStall => "close_stall",
        }
    }
}

fn io_failure(e: &std::io::Error) -> Failure {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Failure::Timeout,
        _ => Failure::Reset,
    }
}

/// One connection thread's record.
#[derive(Default)]
struct Tally {
    /// Per path: latencies (µs) of verified requests.
    lat: BTreeMap<&'static str, Vec<u32>>,
    bytes: u64,
    failures: BTreeMap<Failure, u64>,
    /// A few failure messages, for the report.
    samples: Vec<String>,
    connects: u64,
}

impl Tally {
    fn fail(&mut self, f: Failure, msg: String) {
        *self.failures.entry(f).or_default() += 1;
        if self.samples.len() < 3 {
            self.samples.push(format!("{}: {msg}", f.name()));
        }
    }
}

/// The expected bodies, built once and shared.
pub struct Bodies(BTreeMap<&'static str, Vec<u8>>);

impl Bodies {
    pub fn for_workload(w: &Workload) -> Self {
        Self(w.mix.iter().map(|(p, _)| (*p, switchyard_testbed::bodies::body(p, crate::workload::size_of(p)))).collect())
    }
}

struct Conn {
    s: TcpStream,
}

/// Reads into `buf`, mapping a read timeout or the request's deadline to
/// `Failure::Timeout`.
fn read_some(s: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<usize, (Failure, String)> {
    if Instant::now() > deadline {
        return Err((Failure::Timeout, "request took longer than max_request".into()));
    }
    loop {
        match s.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err((io_failure(&e), format!("read: {e}"))),
        }
    }
}

fn find_header_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses a response head: status, Content-Length, whether the server
/// closes after it.
fn parse_head(head: &[u8]) -> Result<(u16, usize, bool), String> {
    let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let (ver, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !ver.starts_with("HTTP/1.") {
        return Err(format!("bad status line `{status_line}`"));
    }
    let code: u16 = code.parse().map_err(|_| format!("bad status line `{status_line}`"))?;
    let (mut len, mut close) = (None, ver == "HTTP/1.0");
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-length") {
            len = Some(v.parse::<usize>().map_err(|_| format!("bad Content-Length `{v}`"))?);
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!("Transfer-Encoding `{v}` (the testbed's bodies have a Content-Length)"));
        } else if k.eq_ignore_ascii_case("connection") {
            close = v.eq_ignore_ascii_case("close");
        }
    }
    Ok((code, len.ok_or("no Content-Length")?, close))
}

/// One request on `conn` (opened first when `None`). Ok: the body was
/// verified; returns its length. The connection is left in `conn` only
/// when it can carry the next request.
fn request(spec: &LoadSpec, bodies: &Bodies, path: &'static str, conn: &mut Option<Conn>, t: &mut Tally, buf: &mut [u8]) -> Result<usize, (Failure, String)> {
    let start = Instant::now();
    let deadline = start + spec.max_request;
    let reused = conn.is_some();
    if conn.is_none() {
        let s = TcpStream::connect_timeout(&spec.target, spec.timeout).map_err(|e| {
            let f = if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) { Failure::Timeout } else { Failure::Connect };
            (f, format!("connect: {e}"))
        })?;
        t.connects += 1;
        let _ = s.set_nodelay(true);
        s.set_read_timeout(Some(spec.timeout)).map_err(|e| (Failure::Connect, e.to_string()))?;
        s.set_write_timeout(Some(spec.timeout)).map_err(|e| (Failure::Connect, e.to_string()))?;
        *conn = Some(Conn { s });
    }
    let mut c = conn.take().expect("connected above");
    let req = match spec.mode {
        ConnMode::Close => format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", spec.host),
        ConnMode::KeepAlive => format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", spec.host),
    };
    c.s.write_all(req.as_bytes()).map_err(|e| (io_failure(&e), format!("write{}: {e}", if reused { " (reused connection)" } else { "" })))?;
    // Head.
    let mut have = 0;
    let head_end = loop {
        if have == buf.len() {
            return Err((Failure::Parse, "response head longer than the buffer".into()));
        }
        let n = read_some(&mut c.s, &mut buf[have..], deadline)?;
        if n == 0 {
            let what = if have == 0 && reused { "closed before any byte (reused connection)" } else { "closed in the response head" };
            return Err((Failure::Reset, what.into()));
        }
        have += n;
        if let Some(e) = find_header_end(&buf[..have]) {
            break e;
        }
    };
    let (status, len, server_closes) = parse_head(&buf[..head_end]).map_err(|e| (Failure::Parse, e))?;
    let want = bodies.0.get(path).expect("workload path has a body");
    if status != 200 {
        return Err((Failure::Status, format!("{path}: status {status}")));
    }
    if len != want.len() {
        return Err((Failure::Verify, format!("{path}: Content-Length {len}, want {}", want.len())));
    }
    // Body, compared as it arrives.
    let mut off = 0usize;
    let check = |chunk: &[u8], off: &mut usize| -> Result<(), (Failure, String)> {
        if *off + chunk.len() > len {
            return Err((Failure::Verify, format!("{path}: more than Content-Length {len} bytes")));
        }
        if chunk != &want[*off..*off + chunk.len()] {
            let i = chunk.iter().zip(&want[*off..]).position(|(a, b)| a != b).unwrap_or(0);
            return Err((Failure::Verify, format!("{path}: first wrong byte at offset {}", *off + i)));
        }
        *off += chunk.len();
        Ok(())
    };
    let first = buf[head_end..have].to_vec();
    check(&first, &mut off)?;
    while off < len {
        let n = read_some(&mut c.s, buf, deadline)?;
        if n == 0 {
            return Err((Failure::Reset, format!("{path}: closed after {off} of {len} body bytes")));
        }
        check(&buf[..n], &mut off)?;
    }
    let lat = start.elapsed();
    t.lat.entry(path).or_default().push(lat.as_micros().min(u128::from(u32::MAX)) as u32);
    t.bytes += len as u64;
    match spec.mode {
        ConnMode::Close => {
            // Wait for the server's FIN (it closes first).
            match read_some(&mut c.s, buf, deadline) {
                Ok(0) => {}
                Ok(_) => t.fail(Failure::CloseStall, format!("{path}: bytes after the response on a `Connection: close`")),
                Err((_, e)) => t.fail(Failure::CloseStall, format!("{path}: no FIN from the server after the response: {e}")),
            }
        }
        ConnMode::KeepAlive if !server_closes => *conn = Some(c),
        ConnMode::KeepAlive => {}
    }
    Ok(len)
}

/// Latency summary (µs) of a set of samples.
pub fn summarize(v: &mut [u32]) -> Value {
    if v.is_empty() {
        return json!({ "n": 0 });
    }
    v.sort_unstable();
    let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    json!({ "n": v.len(), "mean": mean.round(), "p50": q(0.50), "p99": q(0.99), "p999": q(0.999), "max": v[v.len() - 1] })
}

/// Runs the load and returns its report (JSON, see docs/BENCHMARKS.md).
pub fn run(spec: &LoadSpec) -> Value {
    let bodies = Arc::new(Bodies::for_workload(spec.workload));
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop_at = start + Duration::from_secs_f64(spec.seconds);
    let spec = Arc::new(spec.clone());
    let threads: Vec<_> = (0..spec.concurrency)
        .map(|i| {
            let (spec, bodies, issued) = (spec.clone(), bodies.clone(), issued.clone());
            std::thread::Builder::new()
                .name(format!("conn{i}"))
                .stack_size(256 * 1024)
                .spawn(move || {
                    let mut t = Tally::default();
                    let mut rng = Rng::new(i as u64 + 1);
                    let mut conn = None;
                    let mut buf = vec![0u8; 64 * 1024];
                    while Instant::now() < stop_at {
                        let k = issued.fetch_add(1, Ordering::Relaxed);
                        if k >= spec.requests {
                            break;
                        }
                        if let Some(rate) = spec.rate {
                            let due = start + Duration::from_secs_f64(k as f64 / rate);
                            if due >= stop_at {
                                break;
                            }
                            std::thread::sleep(due.saturating_duration_since(Instant::now()));
                        }
                        let path = spec.workload.pick(rng.percent());
                        if let Err((f, msg)) = request(&spec, &bodies, path, &mut conn, &mut t, &mut buf) {
                            t.fail(f, msg);
                            conn = None;
                        }
                    }
                    t
                })
                .expect("spawn a connection thread")
        })
        .collect();
    let mut all = Tally::default();
    for th in threads {
        let t = th.join().expect("connection thread");
        for (p, mut v) in t.lat {
            all.lat.entry(p).or_default().append(&mut v);
        }
        all.bytes += t.bytes;
        all.connects += t.connects;
        for (f, n) in t.failures {
            *all.failures.entry(f).or_default() += n;
        }
        for s in t.samples {
            if all.samples.len() < 5 {
                all.samples.push(s);
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let ok: u64 = all.lat.values().map(|v| v.len() as u64).sum();
    let mut every: Vec<u32> = all.lat.values().flatten().copied().collect();
    let by_path: serde_json::Map<String, Value> = all.lat.iter_mut().map(|(p, v)| (p.to_string(), summarize(v))).collect();
    let failures: serde_json::Map<String, Value> = all.failures.iter().map(|(f, n)| (f.name().to_string(), json!(n))).collect();
    let timeouts = all.failures.get(&Failure::Timeout).copied().unwrap_or(0);
    let errors: u64 = all.failures.iter().filter(|(f, _)| **f != Failure::Timeout).map(|(_, n)| n).sum();
    json!({
        "target": spec.target.to_string(),
        "workload": spec.workload.name,
        "mode": spec.mode.name(),
        "concurrency": spec.concurrency,
        "seconds_limit": spec.seconds,
        "requests_limit": spec.requests,
        "rate_limit": spec.rate,
        "timeout_ms": spec.timeout.as_millis() as u64,
        "elapsed_s": elapsed,
        "ok": ok,
        "errors": errors,
        "timeouts": timeouts,
        "failures": failures,
        "failure_samples": all.samples,
        "connects": all.connects,
        "body_bytes": all.bytes,
        "req_per_s": ok as f64 / elapsed,
        "goodput_mbit_s": all.bytes as f64 * 8.0 / elapsed / 1e6,
        "latency_us": summarize(&mut every),
        "by_path": by_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_heads() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"), Ok((200, 12, false)));
        assert_eq!(parse_head(b"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\nConnection: close\r\n\r\n"), Ok((404, 3, true)));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"SSH-2.0\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }

    #[test]
    fn percentiles() {
        let mut v: Vec<u32> = (1..=1000).collect();
        let s = summarize(&mut v);
        assert_eq!((s["p50"].as_u64(), s["p99"].as_u64(), s["p999"].as_u64(), s["max"].as_u64()), (Some(500), Some(990), Some(999), Some(1000)));
    }

    /// A tiny server on loopback: serves the testbed body of the path,
    /// except that every 5th response has one wrong byte; keep-alive unless
    /// asked to close.
    fn serve(l: TcpListener) {
        std::thread::spawn(move || {
            let mut n = 0u64;
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                let mut buf = vec![0u8; 4096];
                let mut have = 0;
                loop {
                    let Ok(k) = s.read(&mut buf[have..]) else { break };
                    if k == 0 {
                        break;
                    }
                    have += k;
                    let Some(e) = find_header_end(&buf[..have]) else { continue };
                    let head = String::from_utf8_lossy(&buf[..e]).into_owned();
                    buf.copy_within(e..have, 0);
                    have -= e;
                    let path = head.split(' ').nth(1).unwrap().to_string();
                    let mut body = switchyard_testbed::bodies::body(&path, crate::workload::size_of(&path));
                    n += 1;
                    if n % 5 == 0 {
                        body[7] ^= 1;
                    }
                    let close = head.contains("Connection: close");
                    let _ = s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
                    let _ = s.write_all(&body);
                    if close {
                        break;
                    }
                }
            }
        });
    }

    /// A paced run starts request k at k / rate: 100 per second for 0.5 s
    /// is 50 requests whatever the connections could do, spread over the
    /// window (not sent at once).
    /// One connection, 50 requests, 20 s, 2 s inactivity timeout, no pacing.
    fn test_spec(target: SocketAddr, workload: &str, mode: ConnMode) -> LoadSpec {
        LoadSpec {
            target,
            host: "t".into(),
            workload: crate::workload::by_name(workload).unwrap(),
            mode,
            concurrency: 1,
            requests: 50,
            seconds: 20.0,
            timeout: Duration::from_secs(2),
            max_request: Duration::from_secs(20),
            rate: None,
        }
    }

    #[test]
    fn a_paced_run_keeps_to_its_rate() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = l.local_addr().unwrap();
        serve(l);
        // The test server serves one connection at a time, and writes head
        // and body apart (Nagle waits for a delayed ACK on a kept
        // connection; a close sends at once).
        let spec = LoadSpec { requests: 1_000_000, seconds: 0.5, rate: Some(100.0), ..test_spec(target, "1k", ConnMode::Close) };
        let t0 = Instant::now();
        let r = run(&spec);
        let ok = r["ok"].as_u64().unwrap() + r["failures"]["verify"].as_u64().unwrap_or(0);
        assert_eq!(ok, 50, "{r}");
        assert!(t0.elapsed() >= Duration::from_millis(480), "{:?}", t0.elapsed());
        assert_eq!(r["rate_limit"].as_f64(), Some(100.0));
    }

    #[test]
    fn counts_verified_and_corrupted_bodies_in_both_modes() {
        for mode in [ConnMode::Close, ConnMode::KeepAlive] {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let target = l.local_addr().unwrap();
            serve(l);
            let spec = test_spec(target, "t2", mode);
            let r = run(&spec);
            assert_eq!((r["ok"].as_u64(), r["failures"]["verify"].as_u64()), (Some(40), Some(10)), "{r}");
            assert_eq!(r["timeouts"].as_u64(), Some(0), "{r}");
            if mode == ConnMode::Close {
                assert_eq!(r["connects"].as_u64(), Some(50), "{r}");
            } else {
                // A corrupted body ends its connection (the rest of it is unread).
                assert_eq!(r["connects"].as_u64(), Some(10), "{r}");
            }
        }
    }

    #[test]
    fn a_silent_server_is_a_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = l.local_addr().unwrap();
        let spec = LoadSpec {
            concurrency: 2,
            requests: 2,
            seconds: 5.0,
            timeout: Duration::from_millis(200),
            max_request: Duration::from_secs(5),
            ..test_spec(target, "1k", ConnMode::KeepAlive)
        };
        let r = run(&spec);
        drop(l);
        assert_eq!((r["ok"].as_u64(), r["timeouts"].as_u64()), (Some(0), Some(2)), "{r}");
    }
}
