//! TCP options: parse (a bounded iterator, never panics) and emit.
//!
//! Unknown kinds are kept with their bytes so a rewriter can pass them on.

use crate::error::{Header, WireError, WireResult};

pub const KIND_EOL: u8 = 0;
pub const KIND_NOP: u8 = 1;
pub const KIND_MSS: u8 = 2;
pub const KIND_WSCALE: u8 = 3;
pub const KIND_SACK_PERMITTED: u8 = 4;
pub const KIND_SACK: u8 = 5;
pub const KIND_TIMESTAMPS: u8 = 8;

/// RFC 7323: a shift above 14 is treated as 14.
pub const MAX_WSCALE: u8 = 14;
/// 40 bytes of options leave room for at most 4 SACK blocks (2 + 4*8 = 34).
pub const MAX_SACK_BLOCKS: usize = 4;
/// Largest TCP options area (data offset 15 -> 60-byte header).
pub const MAX_OPTIONS_LEN: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SackBlocks {
    blocks: [(u32, u32); MAX_SACK_BLOCKS],
    len: u8,
}

impl SackBlocks {
    pub fn new(blocks: &[(u32, u32)]) -> WireResult<Self> {
        if blocks.is_empty() || blocks.len() > MAX_SACK_BLOCKS {
            return Err(WireError::Malformed { header: Header::TcpOptions, what: "sack option", why: "needs 1 to 4 blocks" });
        }
        let mut b = [(0, 0); MAX_SACK_BLOCKS];
        b[..blocks.len()].copy_from_slice(blocks);
        Ok(Self { blocks: b, len: blocks.len() as u8 })
    }

    pub fn as_slice(&self) -> &[(u32, u32)] {
        &self.blocks[..usize::from(self.len)]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    EndOfList,
    NoOp,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Sack(SackBlocks),
    Timestamps { tsval: u32, tsecr: u32 },
    Unknown { kind: u8, data: &'a [u8] },
}

impl<'a> TcpOption<'a> {
    /// Bytes this option takes on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOp => 1,
            TcpOption::Mss(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Sack(s) => 2 + 8 * s.as_slice().len(),
            TcpOption::Timestamps { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option at the start of `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> WireResult<usize> {
        let n = self.wire_len();
        if out.len() < n {
            return Err(WireError::NoSpace { what: "tcp option", need: n, have: out.len() });
        }
        match *self {
            TcpOption::EndOfList => out[0] = KIND_EOL,
            TcpOption::NoOp => out[0] = KIND_NOP,
            TcpOption::Mss(m) => {
                out[..2].copy_from_slice(&[KIND_MSS, 4]);
                out[2..4].copy_from_slice(&m.to_be_bytes());
            }
            TcpOption::WindowScale(s) => out[..3].copy_from_slice(&[KIND_WSCALE, 3, s]),
            TcpOption::SackPermitted => out[..2].copy_from_slice(&[KIND_SACK_PERMITTED, 2]),
            TcpOption::Sack(s) => {
                out[0] = KIND_SACK;
                out[1] = n as u8;
                for (i, (l, r)) in s.as_slice().iter().enumerate() {
                    out[2 + 8 * i..6 + 8 * i].copy_from_slice(&l.to_be_bytes());
                    out[6 + 8 * i..10 + 8 * i].copy_from_slice(&r.to_be_bytes());
                }
            }
            TcpOption::Timestamps { tsval, tsecr } => {
                out[..2].copy_from_slice(&[KIND_TIMESTAMPS, 10]);
                out[2..6].copy_from_slice(&tsval.to_be_bytes());
                out[6..10].copy_from_slice(&tsecr.to_be_bytes());
            }
            TcpOption::Unknown { kind, data } => {
                if n > MAX_OPTIONS_LEN || kind <= KIND_NOP {
                    return Err(WireError::Malformed { header: Header::TcpOptions, what: "tcp option", why: "unknown option kind/length unusable" });
                }
                out[0] = kind;
                out[1] = n as u8;
                out[2..n].copy_from_slice(data);
            }
        }
        Ok(n)
    }
}

/// Iterates over an options area. After the first error it yields nothing
/// more; after End-of-List it stops.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
}

pub fn parse(options: &[u8]) -> TcpOptionIter<'_> {
    TcpOptionIter { rest: options }
}

impl<'a> TcpOptionIter<'a> {
    fn fail(&mut self, why: &'static str) -> Option<WireResult<TcpOption<'a>>> {
        self.rest = &[];
        Some(Err(WireError::Malformed { header: Header::TcpOptions, what: "tcp option", why }))
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = WireResult<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.rest;
        let kind = *b.first()?;
        match kind {
            KIND_EOL => {
                self.rest = &[];
                return Some(Ok(TcpOption::EndOfList));
            }
            KIND_NOP => {
                self.rest = &b[1..];
                return Some(Ok(TcpOption::NoOp));
            }
            _ => {}
        }
        let Some(&len) = b.get(1) else { return self.fail("kind without length byte") };
        let len = usize::from(len);
        if len < 2 {
            return self.fail("length below 2");
        }
        if len > b.len() {
            return self.fail("length runs past the options area");
        }
        let data = &b[2..len];
        let opt = match kind {
            KIND_MSS if len == 4 => TcpOption::Mss(u16::from_be_bytes([data[0], data[1]])),
            KIND_WSCALE if len == 3 => TcpOption::WindowScale(data[0]),
            KIND_SACK_PERMITTED if len == 2 => TcpOption::SackPermitted,
            KIND_SACK if len >= 10 && (len - 2) % 8 == 0 && (len - 2) / 8 <= MAX_SACK_BLOCKS => {
                let mut blocks = [(0u32, 0u32); MAX_SACK_BLOCKS];
                let n = (len - 2) / 8;
                for (i, blk) in blocks.iter_mut().enumerate().take(n) {
                    let e = &data[8 * i..8 * i + 8];
                    *blk = (
                        u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
                        u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
                    );
                }
                TcpOption::Sack(SackBlocks { blocks, len: n as u8 })
            }
            KIND_TIMESTAMPS if len == 10 => TcpOption::Timestamps {
                tsval: u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
                tsecr: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            },
            KIND_MSS | KIND_WSCALE | KIND_SACK_PERMITTED | KIND_SACK | KIND_TIMESTAMPS => {
                return self.fail("wrong length for the option kind");
            }
            _ => TcpOption::Unknown { kind, data },
        };
        self.rest = &b[len..];
        Some(Ok(opt))
    }
}

/// Writes `opts` and pads with End-of-List to a multiple of 4 bytes, as the
/// data offset counts 32-bit words. Returns the padded length.
pub fn emit_all(opts: &[TcpOption<'_>], out: &mut [u8]) -> WireResult<usize> {
    let mut n = 0;
    let cap = out.len();
    for o in opts {
        n += o.emit(&mut out[n.min(cap)..])?;
    }
    let padded = (n + 3) & !3;
    if padded > MAX_OPTIONS_LEN {
        return Err(WireError::Malformed { header: Header::TcpOptions, what: "tcp options", why: "more than 40 bytes" });
    }
    if out.len() < padded {
        return Err(WireError::NoSpace { what: "tcp options padding", need: padded, have: out.len() });
    }
    out[n..padded].fill(KIND_EOL);
    Ok(padded)
}

/// The options area of a `tcp::TcpRepr`: options to encode, or the bytes
/// of a parsed segment as they were on the wire (`TcpRepr::parse` keeps
/// them unparsed: a reader iterates them with `parse` if it cares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOptions<'a> {
    List(&'a [TcpOption<'a>]),
    Bytes(&'a [u8]),
}

impl<'a> TcpOptions<'a> {
    pub const NONE: TcpOptions<'static> = TcpOptions::List(&[]);

    /// Bytes on the wire, padded to a multiple of 4.
    pub fn wire_len(&self) -> usize {
        let n = match self {
            TcpOptions::List(l) => l.iter().map(|o| o.wire_len()).sum(),
            TcpOptions::Bytes(b) => b.len(),
        };
        (n + 3) & !3
    }

    /// Writes the area, padded with End-of-List; returns the padded length.
    pub fn emit(&self, out: &mut [u8]) -> WireResult<usize> {
        match *self {
            TcpOptions::List(l) => emit_all(l, out),
            TcpOptions::Bytes(b) => {
                let padded = self.wire_len();
                if padded > MAX_OPTIONS_LEN {
                    return Err(WireError::Malformed { header: Header::TcpOptions, what: "tcp options", why: "more than 40 bytes" });
                }
                if out.len() < padded {
                    return Err(WireError::NoSpace { what: "tcp options", need: padded, have: out.len() });
                }
                out[..b.len()].copy_from_slice(b);
                out[b.len()..padded].fill(KIND_EOL);
                Ok(padded)
            }
        }
    }
}

impl<'a> From<&'a [TcpOption<'a>]> for TcpOptions<'a> {
    fn from(l: &'a [TcpOption<'a>]) -> Self {
        TcpOptions::List(l)
    }
}

impl<'a, const N: usize> From<&'a [TcpOption<'a>; N]> for TcpOptions<'a> {
    fn from(l: &'a [TcpOption<'a>; N]) -> Self {
        TcpOptions::List(l)
    }
}

/// The handshake options a SYN offers, as Switchyard needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynOptions {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
}

impl SynOptions {
    /// Collects the handshake options of an options area. Malformed options
    /// are an error: a SYN we cannot read is dropped, not guessed at.
    pub fn from_options(options: &[u8]) -> WireResult<Self> {
        let mut s = SynOptions::default();
        for o in parse(options) {
            match o? {
                TcpOption::Mss(m) => s.mss = Some(m),
                TcpOption::WindowScale(w) => s.wscale = Some(w.min(MAX_WSCALE)),
                TcpOption::SackPermitted => s.sack_permitted = true,
                TcpOption::Timestamps { .. } => s.timestamps = true,
                _ => {}
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds() -> Vec<TcpOption<'static>> {
        vec![
            TcpOption::Mss(1460),
            TcpOption::NoOp,
            TcpOption::WindowScale(7),
            TcpOption::SackPermitted,
            TcpOption::Timestamps { tsval: 0xdead_beef, tsecr: 1 },
            TcpOption::Unknown { kind: 30, data: &[1, 2, 3] },
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        let opts = all_kinds();
        let mut buf = [0u8; 40];
        let n = emit_all(&opts, &mut buf).unwrap();
        assert_eq!(n % 4, 0);
        let back: Vec<_> = parse(&buf[..n]).map(|o| o.unwrap()).collect();
        assert_eq!(&back[..opts.len()], &opts[..]);
        assert_eq!(back[opts.len()], TcpOption::EndOfList);
    }

    #[test]
    fn sack_one_to_four_blocks() {
        for n in 1..=4 {
            let blocks: Vec<(u32, u32)> = (0..n).map(|i| (i * 1000, i * 1000 + 500)).collect();
            let o = TcpOption::Sack(SackBlocks::new(&blocks).unwrap());
            let mut buf = [0u8; 40];
            let len = emit_all(&[TcpOption::NoOp, TcpOption::NoOp, o], &mut buf).unwrap();
            let got: Vec<_> = parse(&buf[..len]).map(|o| o.unwrap()).collect();
            assert_eq!(got[2], o);
        }
        assert!(SackBlocks::new(&[]).is_err());
        assert!(SackBlocks::new(&[(0, 0); 5]).is_err());
    }

    #[test]
    fn malformed_options_are_errors() {
        let cases: &[&[u8]] = &[
            &[KIND_MSS],                 // no length
            &[KIND_MSS, 1],              // length < 2
            &[KIND_MSS, 3, 0],           // wrong length for MSS
            &[KIND_MSS, 4, 5],           // runs past the area
            &[KIND_WSCALE, 4, 1, 2],     // wrong length
            &[KIND_SACK, 6, 0, 0, 0, 0], // not a whole block
            &[KIND_TIMESTAMPS, 8, 0, 0, 0, 0, 0, 0],
            &[99, 0],
        ];
        for c in cases {
            let r: Vec<_> = parse(c).collect();
            assert!(r.last().unwrap().is_err(), "{c:?} should fail");
            assert!(SynOptions::from_options(c).is_err());
        }
    }

    #[test]
    fn eol_stops_and_nop_skips() {
        let b = [KIND_NOP, KIND_NOP, KIND_EOL, KIND_MSS, 0];
        let got: Vec<_> = parse(&b).map(|o| o.unwrap()).collect();
        assert_eq!(got, vec![TcpOption::NoOp, TcpOption::NoOp, TcpOption::EndOfList]);
    }

    #[test]
    fn syn_options_collect_and_clamp() {
        let mut buf = [0u8; 40];
        let n = emit_all(
            &[TcpOption::Mss(1400), TcpOption::WindowScale(15), TcpOption::SackPermitted],
            &mut buf,
        )
        .unwrap();
        let s = SynOptions::from_options(&buf[..n]).unwrap();
        assert_eq!(s, SynOptions { mss: Some(1400), wscale: Some(14), sack_permitted: true, timestamps: false });
    }

    #[test]
    fn too_many_options_refused() {
        let opts = [TcpOption::Timestamps { tsval: 0, tsecr: 0 }; 5];
        assert!(emit_all(&opts, &mut [0u8; 64]).is_err());
    }
}
