//! Deterministic response bodies. Each byte is a function of the path and
//! the offset, so a client can verify every byte of a download without a
//! copy of the file, and a byte landing at the wrong offset (a sequence
//! number off by anything) shows up as a mismatch at a known place.

/// The bodies every backend serves: (path, size in bytes).
pub const SIZES: &[(&str, usize)] = &[
    ("/1k", 1024),
    ("/10k", 10 * 1024),
    ("/1m", 1024 * 1024),
    ("/10m", 10 * 1024 * 1024),
    // Last, so the indices above stay what tests use (SIZES[2] is /1m).
    ("/100k", 100 * 1024),
    // The example config's static pool routes `^/static/.*\.(css|js|png)$`:
    // `/static/app.css` serves `/app.css` (the last segment names the body,
    // as for `/v1/1m`); both names fit the record's 8-byte path field.
    ("/app.css", 4 * 1024),
    ("/app.js", 8 * 1024),
];

/// Each 32-byte record reads `<path padded to 8><offset, 23 digits>\n`.
const RECORD: usize = 32;

/// The body for `path` of `len` bytes.
pub fn body(path: &str, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + RECORD);
    let mut off = 0;
    while v.len() < len {
        v.extend_from_slice(format!("{path:<8}{off:>23}\n").as_bytes());
        off += RECORD;
    }
    v.truncate(len);
    v
}

/// The body a path serves: its last segment names it (`/v1/10m` serves
/// `/10m`, as the testbed's nginx does); the query string is ignored.
pub fn body_name(path: &str) -> &str {
    let path = path.split('?').next().unwrap_or(path);
    path.rfind('/').map(|i| &path[i..]).unwrap_or(path)
}

/// Checks a downloaded body; on mismatch says where.
pub fn verify(path: &str, got: &[u8]) -> Result<(), String> {
    let path = body_name(path);
    let (_, len) = SIZES
        .iter()
        .find(|(p, _)| *p == path)
        .ok_or_else(|| format!("{path} is not a testbed body"))?;
    if got.len() != *len {
        return Err(format!("{path}: got {} bytes, want {len}", got.len()));
    }
    let want = body(path, *len);
    match got.iter().zip(&want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!("{path}: first wrong byte at offset {i}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        for (p, n) in SIZES.iter().take(3) {
            let b = body(p, *n);
            assert_eq!(b.len(), *n);
            assert_eq!(b, body(p, *n));
            assert!(verify(p, &b).is_ok());
        }
        assert_eq!(&body("/1k", 64)[..32], b"/1k                           0\n");
        // Every name fits the 8-byte path field, so every record is 32 bytes.
        for (p, n) in SIZES {
            assert!(p.len() <= 8, "{p}");
            assert!(body(p, *n).chunks(RECORD).all(|r| r.len() < RECORD || r[RECORD - 1] == b'\n'), "{p}");
        }
        assert!(verify("/static/app.css", &body("/app.css", 4 * 1024)).is_ok());
    }

    #[test]
    fn verify_locates_damage() {
        let mut b = body("/10k", 10 * 1024);
        b[5000] ^= 1;
        assert_eq!(verify("/10k", &b), Err("/10k: first wrong byte at offset 5000".into()));
        assert!(verify("/10k", &b[..100]).is_err());
        assert!(verify("/nope", &b).is_err());
        assert!(verify("/v1/10k", &body("/10k", 10 * 1024)).is_ok());
        assert_eq!(body_name("/static/a/1m?x=/10k"), "/1m");
        // A body of another path at the same size is wrong.
        let other = body("/1k", 10 * 1024);
        assert!(verify("/10k", &other).is_err());
    }
}
