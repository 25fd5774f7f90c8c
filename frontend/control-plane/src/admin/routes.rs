//! The admin API's endpoints, from a request's method, path and query
//! (plain parsing; `server` does the I/O and `views` the answers).

use std::net::Ipv4Addr;

/// One admin request, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// GET /healthz: the front-end's liveness, for whoever keeps the
    /// switch's set of live front-ends (`switchyard-frontends`).
    Health,
    Status,
    Backends,
    /// POST /backends/{name}/drain (true) or /undrain (false).
    SetDraining { backend: String, draining: bool },
    Flows { client: Option<Ipv4Addr>, backend: Option<String> },
    Table,
    RotateSecret,
    /// POST /reload: hot reload of the config file.
    Reload,
    Metrics,
}

/// Why a request was not understood: an HTTP status and what to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal { status, message: message.into() }
}

/// The endpoints, for a 404's hint.
pub const ENDPOINTS: &str = "GET /healthz, GET /status, GET /backends, POST /backends/NAME/drain, POST /backends/NAME/undrain, \
GET /flows?client=IP&backend=NAME, GET /table, POST /rotate-secret, POST /reload, GET /metrics";

/// Percent-decoding of a path segment or query value (`%3A` in a
/// backend's `ADDR:PORT`, `+` is not a space in paths).
fn decode(s: &str) -> Result<String, Refusal> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| refuse(400, format!("bad percent escape in `{s}`")))?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| refuse(400, format!("`{s}` is not UTF-8")))
}

fn flows_query(query: Option<&str>) -> Result<Endpoint, Refusal> {
    let (mut client, mut backend) = (None, None);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode(v)?;
        match k {
            "client" => client = Some(v.parse().map_err(|_| refuse(400, format!("client `{v}` is not an IPv4 address")))?),
            "backend" => backend = Some(v),
            _ => return Err(refuse(400, format!("unknown parameter `{k}` (want client=IP, backend=NAME)"))),
        }
    }
    Ok(Endpoint::Flows { client, backend })
}

/// Understands a request.
pub fn route(method: &str, path: &str, query: Option<&str>) -> Result<Endpoint, Refusal> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let get = |e: Endpoint| if method == "GET" || method == "HEAD" { Ok(e) } else { Err(refuse(405, format!("{path} takes GET"))) };
    let post = |e: Endpoint| if method == "POST" { Ok(e) } else { Err(refuse(405, format!("{path} takes POST"))) };
    match segs.as_slice() {
        ["healthz"] => get(Endpoint::Health),
        ["status"] => get(Endpoint::Status),
        ["backends"] => get(Endpoint::Backends),
        ["backends", name, "drain"] => post(Endpoint::SetDraining { backend: decode(name)?, draining: true }),
        ["backends", name, "undrain"] => post(Endpoint::SetDraining { backend: decode(name)?, draining: false }),
        ["flows"] => get(flows_query(query)?),
        ["table"] => get(Endpoint::Table),
        ["rotate-secret"] => post(Endpoint::RotateSecret),
        ["reload"] => post(Endpoint::Reload),
        ["metrics"] => get(Endpoint::Metrics),
        _ => Err(refuse(404, format!("no endpoint {path}; there are: {ENDPOINTS}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_methods_and_queries() {
        assert_eq!(route("GET", "/status", None), Ok(Endpoint::Status));
        assert_eq!(route("GET", "/healthz", None), Ok(Endpoint::Health));
        assert_eq!(route("GET", "/backends/", None), Ok(Endpoint::Backends));
        assert_eq!(
            route("POST", "/backends/198.18.10.2%3A80/drain", None),
            Ok(Endpoint::SetDraining { backend: "198.18.10.2:80".into(), draining: true })
        );
        assert_eq!(route("POST", "/backends/b1/undrain", None), Ok(Endpoint::SetDraining { backend: "b1".into(), draining: false }));
        assert_eq!(
            route("GET", "/flows", Some("client=198.18.0.2&backend=198.18.10.2:80")),
            Ok(Endpoint::Flows { client: Some([198, 18, 0, 2].into()), backend: Some("198.18.10.2:80".into()) })
        );
        assert_eq!(route("GET", "/flows", None), Ok(Endpoint::Flows { client: None, backend: None }));
        assert_eq!(route("POST", "/rotate-secret", None), Ok(Endpoint::RotateSecret));
        assert_eq!(route("GET", "/metrics", None), Ok(Endpoint::Metrics));
        assert_eq!(route("POST", "/reload", None), Ok(Endpoint::Reload));
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(route("GET", "/backends/x/drain", None).unwrap_err().status, 405);
        assert_eq!(route("POST", "/status", None).unwrap_err().status, 405);
        let e = route("GET", "/nope", None).unwrap_err();
        assert_eq!(e.status, 404);
        assert!(e.message.contains("GET /status"));
        let e = route("GET", "/flows", Some("client=nobody")).unwrap_err();
        assert_eq!((e.status, e.message.contains("not an IPv4")), (400, true));
        assert_eq!(route("GET", "/flows", Some("port=80")).unwrap_err().status, 400);
        assert_eq!(route("POST", "/backends/%zz/drain", None).unwrap_err().status, 400);
    }
}
