//! Real clients run inside the client namespace: curl for single requests
//! whose bodies we verify, ab for bounded load.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::bodies;
use crate::netns::Netns;
use crate::nginx::BACKEND_HEADER;

#[derive(Debug, Clone)]
pub struct Fetch {
    pub url: String,
    pub status: u16,
    pub bytes: usize,
    pub backend: Option<String>,
    pub seconds: f64,
    /// `Ok` when the body is exactly the testbed body of the URL's path.
    pub verified: Result<(), String>,
}

/// GETs `url` with curl from `ns` (bounded by `max_secs`), saves the body to
/// `out`, and verifies it against the deterministic body of its path.
pub fn fetch(ns: &Netns, url: &str, out: &Path, max_secs: u32, extra: &[&str]) -> Result<Fetch> {
    let headers = out.with_extension("headers");
    let (o, h, t) = (out.to_string_lossy(), headers.to_string_lossy(), max_secs.to_string());
    let mut argv = vec!["curl", "-sS", "--max-time", &t, "-o", &o, "-D", &h, "-w", "%{http_code} %{time_total}"];
    argv.extend_from_slice(extra);
    argv.push(url);
    let res = ns.output(&argv)?;
    if !res.status.success() {
        bail!("curl {url} failed: {}", String::from_utf8_lossy(&res.stderr).trim());
    }
    let w = String::from_utf8_lossy(&res.stdout);
    let mut it = w.split_whitespace();
    let status: u16 = it.next().and_then(|s| s.parse().ok()).context("curl gave no status")?;
    let seconds: f64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let body = std::fs::read(out).unwrap_or_default();
    let head = std::fs::read_to_string(&headers).unwrap_or_default();
    let backend = backend_header(&head);
    let path = url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
    let verified = bodies::verify(&path, &body);
    Ok(Fetch { url: url.to_string(), status, bytes: body.len(), backend, seconds, verified })
}

#[derive(Debug, Clone, PartialEq)]
pub struct AbRun {
    pub complete: u64,
    pub failed: u64,
    pub non_2xx: u64,
    pub requests_per_sec: f64,
}

/// Runs ab with `n` requests at concurrency `c`, keep-alive on, bounded by
/// ab's own time limit `max_secs`.
pub fn ab(ns: &Netns, url: &str, n: u32, c: u32, max_secs: u32) -> Result<AbRun> {
    let (n, c, t) = (n.to_string(), c.to_string(), max_secs.to_string());
    // -n after -t: ab's -t alone implies 50,000 requests.
    let out = ns.output(&["ab", "-q", "-k", "-t", &t, "-n", &n, "-c", &c, "-s", "10", url])?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("ab failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    parse_ab(&text)
}

pub fn parse_ab(text: &str) -> Result<AbRun> {
    let field = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l[name.len()..].split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Ok(AbRun {
        complete: field("Complete requests:").context("ab printed no 'Complete requests'")? as u64,
        failed: field("Failed requests:").unwrap_or(0.0) as u64,
        non_2xx: field("Non-2xx responses:").unwrap_or(0.0) as u64,
        requests_per_sec: field("Requests per second:").unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ab_summary() {
        let t = "Concurrency Level:      8\nComplete requests:      2000\nFailed requests:        3\nNon-2xx responses:      1\nRequests per second:    12345.67 [#/sec] (mean)\n";
        let r = parse_ab(t).unwrap();
        assert_eq!(r, AbRun { complete: 2000, failed: 3, non_2xx: 1, requests_per_sec: 12345.67 });
        assert!(parse_ab("nothing").is_err());
    }
}

/// One request of `fetch_many`.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub headers: Vec<String>,
    /// More curl options for this transfer (e.g. `--limit-rate 200k`).
    pub args: Vec<String>,
}

impl Request {
    pub fn get(url: impl Into<String>) -> Self {
        Self { url: url.into(), headers: Vec::new(), args: Vec::new() }
    }

    pub fn header(mut self, h: impl Into<String>) -> Self {
        self.headers.push(h.into());
        self
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
}

/// Many requests from one curl process: `parallel` opens a connection per
/// request, all at once (`--parallel`); otherwise they go one after the
/// other and curl keeps one keep-alive connection per host. Each body is
/// saved and verified like `fetch`; results come back in request order.
pub fn fetch_many(ns: &Netns, reqs: &[Request], dir: &Path, max_secs: u32, parallel: bool) -> Result<Vec<Fetch>> {
    std::fs::create_dir_all(dir)?;
    let t = max_secs.to_string();
    let mut argv: Vec<String> = vec!["curl".into(), "-sS".into(), "--max-time".into(), t];
    if parallel {
        argv.extend(["--parallel".into(), "--parallel-immediate".into(), "--parallel-max".into(), reqs.len().max(1).to_string()]);
    }
    for (i, r) in reqs.iter().enumerate() {
        if i > 0 {
            argv.push("--next".into());
            // Options do not carry over --next.
            argv.extend(["-sS".into(), "--max-time".into(), max_secs.to_string()]);
        }
        for h in &r.headers {
            argv.extend(["-H".into(), h.clone()]);
        }
        argv.extend(r.args.iter().cloned());
        let body = dir.join(format!("body-{i}"));
        argv.extend([
            "-o".into(),
            body.to_string_lossy().into_owned(),
            "-D".into(),
            body.with_extension("headers").to_string_lossy().into_owned(),
            "-w".into(),
            format!("{i} %{{http_code}} %{{time_total}}\\n"),
            r.url.clone(),
        ]);
    }
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = ns.output(&args)?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut status = vec![(0u16, 0f64); reqs.len()];
    for line in text.lines() {
        let mut it = line.split_whitespace();
        if let (Some(i), Some(code), Some(secs)) = (it.next(), it.next(), it.next()) {
            if let (Ok(i), Ok(code)) = (i.parse::<usize>(), code.parse()) {
                if i < status.len() {
                    status[i] = (code, secs.parse().unwrap_or(0.0));
                }
            }
        }
    }
    Ok(reqs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let body_path = dir.join(format!("body-{i}"));
            let body = std::fs::read(&body_path).unwrap_or_default();
            let head = std::fs::read_to_string(body_path.with_extension("headers")).unwrap_or_default();
            let path = r.url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
            let _ = std::fs::remove_file(&body_path);
            Fetch {
                url: r.url.clone(),
                status: status[i].0,
                bytes: body.len(),
                backend: backend_header(&head),
                seconds: status[i].1,
                verified: bodies::verify(&path, &body),
            }
        })
        .collect())
}

fn backend_header(head: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(BACKEND_HEADER).then(|| v.trim().to_string())
    })
}
