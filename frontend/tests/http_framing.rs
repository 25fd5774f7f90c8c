//! Property tests of the request-head parser's framing (issue 10, point 8;
//! RFC 9112 6.3): whatever mix of Content-Length and Transfer-Encoding
//! lines a head carries, a head the parser accepts has exactly one reading
//! of where its body ends, the one a strict next hop would also take, and
//! no input makes it panic.

use proptest::prelude::*;
use switchyard_frontend::http::{header_storage, parse_head, BodyLength, HeadStatus};

/// Values the framing headers take in the wild and in smuggling attempts.
const CL_VALUES: &[&str] = &["5", "007", " 5 ", "+5", "-5", "0x5", "5, 5", "5 5", "", "99999999999999999999", "٥"];
const TE_VALUES: &[&str] = &["chunked", "CHUNKED", "gzip, chunked", "chunked, gzip", "chunked, chunked", "identity", "", " chunked"];

#[derive(Debug, Clone)]
enum Line {
    Cl(usize, bool),
    Te(usize, bool),
    Other,
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        (0..CL_VALUES.len(), any::<bool>()).prop_map(|(v, upper)| Line::Cl(v, upper)),
        (0..TE_VALUES.len(), any::<bool>()).prop_map(|(v, upper)| Line::Te(v, upper)),
        Just(Line::Other),
    ]
}

fn head(http10: bool, lines: &[Line]) -> Vec<u8> {
    let mut h = format!("POST /x HTTP/1.{}\r\nHost: a\r\n", if http10 { 0 } else { 1 });
    for l in lines {
        match l {
            Line::Cl(v, upper) => h += &format!("{}: {}\r\n", if *upper { "CONTENT-LENGTH" } else { "Content-Length" }, CL_VALUES[*v]),
            Line::Te(v, upper) => h += &format!("{}: {}\r\n", if *upper { "transfer-encoding" } else { "Transfer-Encoding" }, TE_VALUES[*v]),
            Line::Other => h += "X-Other: 1\r\n",
        }
    }
    h += "\r\n";
    h.into_bytes()
}

/// The only readings a strict hop accepts: no framing header (length 0),
/// one Content-Length of digits, or (HTTP/1.1 only) one Transfer-Encoding
/// whose single `chunked` is last.
fn strict_reading(http10: bool, lines: &[Line]) -> Option<BodyLength> {
    let cls: Vec<&str> = lines.iter().filter_map(|l| if let Line::Cl(v, _) = l { Some(CL_VALUES[*v]) } else { None }).collect();
    let tes: Vec<&str> = lines.iter().filter_map(|l| if let Line::Te(v, _) = l { Some(TE_VALUES[*v]) } else { None }).collect();
    match (cls.as_slice(), tes.as_slice()) {
        ([], []) => Some(BodyLength::Fixed(0)),
        ([cl], []) => {
            let cl = cl.trim();
            (!cl.is_empty() && cl.bytes().all(|b| b.is_ascii_digit())).then(|| cl.parse().ok().map(BodyLength::Fixed)).flatten()
        }
        ([], [te]) if !http10 => {
            let codings: Vec<String> = te.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
            let chunked = codings.iter().filter(|c| *c == "chunked").count();
            (codings.last().is_some_and(|c| c == "chunked") && chunked == 1).then_some(BodyLength::Chunked)
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn accepted_heads_have_one_strict_framing(http10 in any::<bool>(), lines in prop::collection::vec(line(), 0..4)) {
        let req = head(http10, &lines);
        let mut st = header_storage();
        let got = match parse_head(&req, &mut st) {
            Ok(HeadStatus::Complete(h)) => Some(h.body),
            Ok(HeadStatus::Partial) => panic!("a whole head is never partial: {:?}", String::from_utf8_lossy(&req)),
            Err(_) => None,
        };
        prop_assert_eq!(got, strict_reading(http10, &lines), "{}", String::from_utf8_lossy(&req));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut st = header_storage();
        let _ = parse_head(&bytes, &mut st);
    }
}
