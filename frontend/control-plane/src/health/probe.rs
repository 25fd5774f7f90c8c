//! One probe: an HTTP/1.1 GET from the front-end host's own TCP stack
//! (hyper's client over a tokio socket), bounded by the check's timeout
//! from the connect to the last body byte.

use std::net::SocketAddrV4;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Body bytes a probe reads at most: a health page is small; a backend
/// answering its check with a large page is not failed for it, the rest is
/// not read.
const MAX_BODY: usize = 16 * 1024;

/// What the answer must be.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub status: u16,
    /// The body must start so (the agent's `switchyard-agent ok`).
    pub body_prefix: Option<&'a str>,
}

/// `GET path` to `addr` within `timeout`: Ok, or why not (for the log and
/// `/backends`).
pub async fn probe(addr: SocketAddrV4, path: &str, expect: Expect<'_>, timeout: Duration) -> Result<(), String> {
    probe_typed(addr, path, expect, timeout).await.map_err(|e| e.reason)
}

/// A failed probe: why, and whether the host said nobody is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    /// The connect failed at once (refused, unreachable): the process or
    /// its host is gone, not slow. A timeout or a wrong answer is not.
    pub refused: bool,
    pub reason: String,
}

/// `probe`, telling a refusal apart (the front-end watcher takes a
/// front-end out at its first refusal, a busy one only after `fall`).
pub async fn probe_typed(addr: SocketAddrV4, path: &str, expect: Expect<'_>, timeout: Duration) -> Result<(), ProbeFailure> {
    match tokio::time::timeout(timeout, exchange(addr, path, expect)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(reason)) => Err(ProbeFailure { refused: reason.starts_with(CONNECT_FAILED), reason }),
        Err(_) => Err(ProbeFailure { refused: false, reason: format!("no answer within {} ms", timeout.as_millis()) }),
    }
}

const CONNECT_FAILED: &str = "connect: ";

async fn exchange(addr: SocketAddrV4, path: &str, expect: Expect<'_>) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("{CONNECT_FAILED}{e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("http: {e}"))?;
    // Ends with the exchange (the connection is closed either way).
    let conn = tokio::spawn(conn);
    let req = hyper::Request::builder()
        .uri(path)
        .header(hyper::header::HOST, addr.ip().to_string())
        .header(hyper::header::USER_AGENT, concat!("switchyard-health-check/", env!("CARGO_PKG_VERSION")))
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request: {e}"))?;
    let result = async {
        let resp = sender.send_request(req).await.map_err(|e| format!("http: {e}"))?;
        let status = resp.status().as_u16();
        if status != expect.status {
            return Err(format!("status {status}, expected {}", expect.status));
        }
        let body = match Limited::new(resp.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            // Too long: the status passed, the rest is not needed.
            Err(_) if expect.body_prefix.is_none() => Bytes::new(),
            Err(e) => return Err(format!("body: {e}")),
        };
        match expect.body_prefix {
            Some(p) if !body.starts_with(p.as_bytes()) => {
                Err(format!("answer `{}`, expected `{p}`", String::from_utf8_lossy(&body[..body.len().min(80)]).trim_end()))
            }
            _ => Ok(()),
        }
    }
    .await;
    conn.abort();
    result
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// A one-shot HTTP server on 127.0.0.1 answering `reply` (None: accept
    /// and say nothing).
    fn server(reply: Option<&'static str>) -> SocketAddrV4 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let std::net::SocketAddr::V4(addr) = l.local_addr().unwrap() else { unreachable!() };
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            assert!(req.starts_with("GET /healthz HTTP/1.1\r\n"), "{req}");
            match reply {
                Some(r) => s.write_all(r.as_bytes()).unwrap(),
                None => std::thread::sleep(Duration::from_secs(2)),
            }
        });
        addr
    }

    fn run(addr: SocketAddrV4, expect: Expect<'_>) -> Result<(), String> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(probe(addr, "/healthz", expect, Duration::from_millis(300)))
    }

    const OK: Expect<'static> = Expect { status: 200, body_prefix: None };

    #[test]
    fn outcomes_and_their_reasons() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(run(server(Some(ok)), OK), Ok(()));
        let e = run(server(Some("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")), OK).unwrap_err();
        assert_eq!(e, "status 503, expected 200");
        assert!(run(server(None), OK).unwrap_err().contains("no answer within 300 ms"));
        let agent = Expect { status: 200, body_prefix: Some("switchyard-agent ok") };
        let http10 = "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nswitchyard-agent ok eth0 3\n";
        assert_eq!(run(server(Some(http10)), agent), Ok(()), "the agent answers HTTP/1.0 and closes");
        let e = run(server(Some("HTTP/1.0 200 OK\r\n\r\nnginx\n")), agent).unwrap_err();
        assert!(e.contains("answer `nginx`"), "{e}");
        // Nothing listens on a port just released.
        let free = { TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port() };
        let e = run(SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, free), OK).unwrap_err();
        assert!(e.starts_with("connect:"), "{e}");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let typed = |a| rt.block_on(probe_typed(a, "/healthz", OK, Duration::from_millis(300)));
        assert!(typed(SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, free)).unwrap_err().refused, "nothing listens: refused");
        assert!(!typed(server(None)).unwrap_err().refused, "a silent server is slow, not gone");
        assert!(!typed(server(Some("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"))).unwrap_err().refused);
    }
}
