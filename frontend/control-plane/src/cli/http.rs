//! One admin API request per CLI run (hyper's HTTP/1.1 client on a
//! current-thread runtime).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Longer than the admin API's own longest wait (a rotation, 10 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// `method path` against `admin`: (status, body).
pub fn request(admin: SocketAddr, method: &str, path_and_query: &str) -> Result<(u16, String)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        tokio::time::timeout(REQUEST_TIMEOUT, exchange(admin, method, path_and_query))
            .await
            .map_err(|_| anyhow!("the admin API at {admin} did not answer within {REQUEST_TIMEOUT:?}"))?
    })
}

async fn exchange(admin: SocketAddr, method: &str, path_and_query: &str) -> Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(admin)
        .await
        .with_context(|| format!("cannot reach the admin API at {admin} (is the front-end running with [admin] listen = \"{admin}\"?)"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(hyper::header::HOST, admin.to_string())
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Percent-encodes a path segment or query value (a backend name holds
/// `:`; everything but unreserved characters is escaped).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_what_a_path_cannot_hold() {
        assert_eq!(super::encode("198.18.10.2:80"), "198.18.10.2%3A80");
        assert_eq!(super::encode("a b/c"), "a%20b%2Fc");
    }
}
