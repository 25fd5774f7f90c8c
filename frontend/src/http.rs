//! HTTP/1.1 request heads (httparse) and the replies the engine writes
//! itself. The engine never parses bodies: it only needs where the body
//! ends (request mode) and whether the head is complete.

use crate::limits::{MAX_HEADERS, MAX_HEADER_BYTES};

/// How the request's body is delimited (RFC 9112, 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// Content-Length, 0 when absent.
    Fixed(u64),
    /// Transfer-Encoding: chunked; the end is not tracked (see
    /// docs/FRONTEND.md: request mode pins such connections).
    Chunked,
}

/// A complete, parsed request head borrowing the assembly buffer.
#[derive(Debug)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Host header, lower-case is not guaranteed; without `:port`.
    pub host: Option<&'a str>,
    pub headers: &'a [httparse::Header<'a>],
    /// Bytes of the head including the blank line.
    pub head_len: usize,
    pub body: BodyLength,
    /// HTTP/1.x minor version (0 or 1).
    pub version: u8,
}

impl<'a> RequestHead<'a> {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
    }

    /// The client sends no further request on this connection (RFC 9112
    /// 9.3): HTTP/1.1 with `Connection: close`, or HTTP/1.0 without
    /// `Connection: keep-alive`.
    pub fn last_on_connection(&self) -> bool {
        let has = |token: &[u8]| {
            self.headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("connection"))
                .any(|h| h.value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token)))
        };
        if self.version == 0 { !has(b"keep-alive") } else { has(b"close") }
    }

    /// A cookie's value from the Cookie header(s).
    pub fn cookie(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("cookie")).find_map(|h| {
            h.value.split(|&b| b == b';').find_map(|pair| {
                let pair = pair.trim_ascii();
                let eq = pair.iter().position(|&b| b == b'=')?;
                (pair[..eq].trim_ascii() == name.as_bytes()).then(|| pair[eq + 1..].trim_ascii())
            })
        })
    }
}

/// Why a request is refused, and the status that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// 400: not HTTP/1.x, bad syntax, conflicting framing headers.
    Malformed(&'static str),
    /// 431: more header bytes than `MAX_HEADER_BYTES`, or more headers
    /// than `MAX_HEADERS`.
    HeadersTooLarge,
}

#[derive(Debug)]
pub enum HeadStatus<'a> {
    Complete(RequestHead<'a>),
    /// Need more bytes.
    Partial,
}

/// Empty header storage for `parse_head`.
pub fn header_storage() -> [httparse::Header<'static>; MAX_HEADERS] {
    [httparse::EMPTY_HEADER; MAX_HEADERS]
}

/// Parses the start of `buf` (in-order request bytes).
pub fn parse_head<'a>(buf: &'a [u8], storage: &'a mut [httparse::Header<'a>]) -> Result<HeadStatus<'a>, HttpError> {
    let mut req = httparse::Request::new(storage);
    let status = match req.parse(buf) {
        Ok(s) => s,
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadersTooLarge),
        Err(e) => {
            return Err(HttpError::Malformed(match e {
                httparse::Error::Version => "not HTTP/1.x",
                httparse::Error::Token => "bad method or token",
                httparse::Error::HeaderName => "bad header name",
                httparse::Error::HeaderValue => "bad header value",
                httparse::Error::NewLine => "bad line ending",
                _ => "bad request line",
            }))
        }
    };
    let head_len = match status {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => {
            return if buf.len() >= MAX_HEADER_BYTES { Err(HttpError::HeadersTooLarge) } else { Ok(HeadStatus::Partial) };
        }
    };
    if head_len > MAX_HEADER_BYTES {
        return Err(HttpError::HeadersTooLarge);
    }
    let (method, path, headers) = (req.method.unwrap_or(""), req.path.unwrap_or(""), req.headers);
    let mut host = None;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    // RFC 9112 6.3: a framing the next hop may read differently is refused
    // here, not forwarded: one Content-Length of digits only, one
    // Transfer-Encoding ending in a single chunked, never both, and no
    // Transfer-Encoding from HTTP/1.0 (6.1: its framing is faulty).
    for h in headers.iter() {
        if h.name.eq_ignore_ascii_case("host") {
            if host.is_some() {
                return Err(HttpError::Malformed("more than one Host header"));
            }
            let v = core::str::from_utf8(h.value).map_err(|_| HttpError::Malformed("Host not ASCII"))?;
            // Strip a port (not for IPv6 literals, which start with '[').
            let v = match v.rfind(':') {
                Some(i) if !v.starts_with('[') => &v[..i],
                _ => v,
            };
            host = Some(v);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            // Even an identical second one: a hop that joins them as a
            // list reads "5, 5".
            if content_length.is_some() {
                return Err(HttpError::Malformed("more than one Content-Length"));
            }
            content_length = Some(content_length_value(h.value)?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if chunked {
                return Err(HttpError::Malformed("more than one Transfer-Encoding"));
            }
            // RFC 9112 6.1: chunked is the final coding, applied once.
            let mut codings = h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii).rev();
            let last_chunked = codings.next().is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
            if !last_chunked {
                return Err(HttpError::Malformed("transfer coding other than chunked"));
            }
            if codings.any(|c| c.eq_ignore_ascii_case(b"chunked")) {
                return Err(HttpError::Malformed("chunked applied more than once"));
            }
            chunked = true;
        }
    }
    if chunked && req.version == Some(0) {
        return Err(HttpError::Malformed("Transfer-Encoding in an HTTP/1.0 request"));
    }
    // RFC 9112 6.3: both framings at once is how requests are smuggled.
    if chunked && content_length.is_some() {
        return Err(HttpError::Malformed("both Transfer-Encoding and Content-Length"));
    }
    if req.version == Some(1) && host.is_none() {
        return Err(HttpError::Malformed("HTTP/1.1 request without Host"));
    }
    let body = if chunked { BodyLength::Chunked } else { BodyLength::Fixed(content_length.unwrap_or(0)) };
    Ok(HeadStatus::Complete(RequestHead { method, path, host, headers, head_len, body, version: req.version.unwrap_or(1) }))
}

/// RFC 9110 8.6: `1*DIGIT`. Rust's integer parsing also takes a sign
/// (`+5`), which another parser may not: only digits pass.
fn content_length_value(v: &[u8]) -> Result<u64, HttpError> {
    let v = v.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::Malformed("bad Content-Length"));
    }
    core::str::from_utf8(v).ok().and_then(|s| s.parse().ok()).ok_or(HttpError::Malformed("Content-Length too large"))
}

/// Replies the engine sends itself, then closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorReply {
    BadRequest,
    NotFound,
    RequestTimeout,
    HeadersTooLarge,
    /// The backend refused the connection, or answered without its agent
    /// (its SYN-ACK not in the client's sequence space).
    BadGateway,
    ServiceUnavailable,
    GatewayTimeout,
}

/// `$len` is the body length plus the trailing newline (a test checks it:
/// `concat!` cannot compute it).
macro_rules! reply {
    ($status:literal, $len:literal, $body:literal) => {
        concat!(
            "HTTP/1.1 ", $status, "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ",
            $len, "\r\n\r\n", $body, "\n"
        )
        .as_bytes()
    };
}

impl ErrorReply {
    pub const ALL: [ErrorReply; 7] =
        [Self::BadRequest, Self::NotFound, Self::RequestTimeout, Self::HeadersTooLarge, Self::BadGateway, Self::ServiceUnavailable, Self::GatewayTimeout];

    pub fn status(self) -> u16 {
        match self {
            ErrorReply::BadRequest => 400,
            ErrorReply::NotFound => 404,
            ErrorReply::RequestTimeout => 408,
            ErrorReply::HeadersTooLarge => 431,
            ErrorReply::BadGateway => 502,
            ErrorReply::ServiceUnavailable => 503,
            ErrorReply::GatewayTimeout => 504,
        }
    }

    pub fn bytes(self) -> &'static [u8] {
        match self {
            ErrorReply::BadRequest => reply!("400 Bad Request", "12", "bad request"),
            ErrorReply::NotFound => reply!("404 Not Found", "26", "no route for this request"),
            ErrorReply::RequestTimeout => reply!("408 Request Timeout", "16", "request timeout"),
            ErrorReply::HeadersTooLarge => reply!("431 Request Header Fields Too Large", "32", "request header fields too large"),
            ErrorReply::BadGateway => reply!("502 Bad Gateway", "12", "bad gateway"),
            ErrorReply::ServiceUnavailable => reply!("503 Service Unavailable", "19", "no healthy backend"),
            ErrorReply::GatewayTimeout => reply!("504 Gateway Timeout", "23", "backend did not answer"),
        }
    }
}

impl From<HttpError> for ErrorReply {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Malformed(_) => ErrorReply::BadRequest,
            HttpError::HeadersTooLarge => ErrorReply::HeadersTooLarge,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_valid_http_with_exact_length() {
        for r in ErrorReply::ALL {
            let b = r.bytes();
            let mut h = [httparse::EMPTY_HEADER; 8];
            let mut resp = httparse::Response::new(&mut h);
            let n = match resp.parse(b).unwrap() {
                httparse::Status::Complete(n) => n,
                httparse::Status::Partial => panic!("partial"),
            };
            assert_eq!(resp.code, Some(r.status()));
            let cl: usize = resp.headers.iter().find(|h| h.name == "Content-Length").map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap()).unwrap();
            assert_eq!(cl, b.len() - n, "{r:?}");
        }
    }

    fn parse_ok(req: &[u8]) -> (String, String, Option<String>, usize, BodyLength) {
        let mut st = header_storage();
        match parse_head(req, &mut st).unwrap() {
            HeadStatus::Complete(h) => (h.method.into(), h.path.into(), h.host.map(Into::into), h.head_len, h.body),
            HeadStatus::Partial => panic!("partial"),
        }
    }

    #[test]
    fn heads_table() {
        let r = parse_ok(b"GET /a HTTP/1.1\r\nHost: Example.test:8080\r\n\r\n");
        assert_eq!(r, ("GET".into(), "/a".into(), Some("Example.test".into()), 44, BodyLength::Fixed(0)));
        let r = parse_ok(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(r.4, BodyLength::Fixed(5));
        let r = parse_ok(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(r.4, BodyLength::Chunked);
        let r = parse_ok(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(r.2, None);
        // Strict framing still takes what RFC 9112 allows.
        let r = parse_ok(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  007 \r\n\r\n");
        assert_eq!(r.4, BodyLength::Fixed(7), "leading zeros and surrounding whitespace");
        let r = parse_ok(b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(r.4, BodyLength::Fixed(5), "HTTP/1.0 with Content-Length");
        let r = parse_ok(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n");
        assert_eq!(r.4, BodyLength::Chunked, "codings are case-insensitive");
    }

    #[test]
    fn refusals_table() {
        let cases: &[(&str, &[u8], ErrorReply)] = &[
            ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n", ErrorReply::BadRequest),
            ("no host in 1.1", b"GET / HTTP/1.1\r\n\r\n", ErrorReply::BadRequest),
            ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ErrorReply::BadRequest),
            ("CL and TE", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", ErrorReply::BadRequest),
            ("two CLs", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", ErrorReply::BadRequest),
            ("bad CL", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", ErrorReply::BadRequest),
            ("TE not chunked last", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", ErrorReply::BadRequest),
            // Issue 10, point 8: what nginx refuses and we forwarded.
            ("CL with a plus sign", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", ErrorReply::BadRequest),
            ("CL hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", ErrorReply::BadRequest),
            ("CL as a list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", ErrorReply::BadRequest),
            ("CL digits with a space inside", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\nhello", ErrorReply::BadRequest),
            ("CL empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", ErrorReply::BadRequest),
            ("CL beyond u64", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", ErrorReply::BadRequest),
            ("two identical CLs", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", ErrorReply::BadRequest),
            ("TE twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrorReply::BadRequest),
            ("TE twice, gzip first", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", ErrorReply::BadRequest),
            ("chunked twice in one TE", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", ErrorReply::BadRequest),
            ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ErrorReply::BadRequest),
            ("TE and CL in HTTP/1.0", b"POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", ErrorReply::BadRequest),
            ("TE then CL", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", ErrorReply::BadRequest),
        ];
        for (what, req, want) in cases {
            let mut st = header_storage();
            let got = parse_head(req, &mut st).map(|_| ()).map_err(ErrorReply::from);
            assert_eq!(got, Err(*want), "{what}");
        }
        // Too many headers and too many bytes: 431.
        let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let mut st = header_storage();
        assert_eq!(parse_head(&many, &mut st).err(), Some(HttpError::HeadersTooLarge));
        let mut big = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
        big.resize(MAX_HEADER_BYTES + 10, b'a');
        let mut st = header_storage();
        assert_eq!(parse_head(&big, &mut st).err(), Some(HttpError::HeadersTooLarge));
        let mut st = header_storage();
        assert!(matches!(parse_head(&big[..1000], &mut st), Ok(HeadStatus::Partial)));
    }

    #[test]
    fn cookie_lookup() {
        let req = b"GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1; sid=xyz ; b=2\r\n\r\n";
        let mut st = header_storage();
        let HeadStatus::Complete(h) = parse_head(req, &mut st).unwrap() else { panic!() };
        assert_eq!(h.cookie("sid"), Some(&b"xyz"[..]));
        assert_eq!(h.cookie("zz"), None);
        assert_eq!(h.header("COOKIE").is_some(), true);
    }
}
