//! How many bytes a backend's response takes, read from its first segment.
//! The engine asks this once per last-request connection to decide whether
//! to carry the response itself or to offload the flow (docs/FRONTEND.md,
//! "Small responses"). Only the head is parsed; a head that does not fit
//! the segment, or a response without a length, counts as unknown (the
//! engine then offloads, the safe choice for a possibly large body).

use crate::limits::MAX_HEADERS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseSize {
    /// Head plus body, in bytes.
    Known(u64),
    /// Chunked, delimited by the close, split head, not HTTP/1.x.
    Unknown,
}

/// The size of the response that starts with `first` (the first bytes the
/// backend sent on the connection).
pub fn response_size(first: &[u8]) -> ResponseSize {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut storage);
    let head_len = match resp.parse(first) {
        Ok(httparse::Status::Complete(n)) => n as u64,
        _ => return ResponseSize::Unknown,
    };
    let code = resp.code.unwrap_or(0);
    // RFC 9112 6.3 (1): these never have a body, whatever the headers say.
    // (A 1xx is followed by another response: its size is not the total.)
    if code == 204 || code == 304 {
        return ResponseSize::Known(head_len);
    }
    if (100..200).contains(&code) {
        return ResponseSize::Unknown;
    }
    let mut length = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return ResponseSize::Unknown;
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = core::str::from_utf8(h.value).ok().filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).and_then(|s| s.parse::<u64>().ok());
            match (n, length) {
                (Some(n), None) => length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => return ResponseSize::Unknown,
            }
        }
    }
    match length {
        Some(n) => ResponseSize::Known(head_len.saturating_add(n)),
        None => ResponseSize::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cases: &[(&str, &[u8], ResponseSize)] = &[
            ("length and body", b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\nabc", ResponseSize::Known(41 + 1024)),
            ("head only in the segment", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", ResponseSize::Known(38 + 5)),
            ("no body by status", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", ResponseSize::Known(49)),
            ("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n", ResponseSize::Unknown),
            ("until close", b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody", ResponseSize::Unknown),
            ("head split over segments", b"HTTP/1.1 200 OK\r\nContent-Len", ResponseSize::Unknown),
            ("conflicting lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", ResponseSize::Unknown),
            ("signed length", b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", ResponseSize::Unknown),
            ("interim response", b"HTTP/1.1 100 Continue\r\n\r\n", ResponseSize::Unknown),
            ("not http", b"\x16\x03\x01\x02\x00", ResponseSize::Unknown),
        ];
        for (what, bytes, want) in cases {
            assert_eq!(response_size(bytes), *want, "{what}");
        }
    }
}
