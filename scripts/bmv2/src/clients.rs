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
    let backend = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(BACKEND_HEADER).then(|| v.trim().to_string())
    });
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
