//! TCP segments: a typed view with in-place rewrites that keep the checksum
//! valid incrementally, and `TcpRepr` to emit whole segments.

use core::net::Ipv4Addr;

use crate::checksum;
use crate::error::{need, Header, WireError, WireResult};
use crate::tcp_option::{self, TcpOptions, KIND_EOL, KIND_NOP, KIND_SACK};

pub const MIN_HEADER_LEN: usize = 20;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;
pub const ECE: u8 = 0x40;
pub const CWR: u8 = 0x80;

/// A view over a TCP segment (the IP payload: header, options, data).
#[derive(Debug, Clone)]
pub struct TcpSegment<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> TcpSegment<T> {
    #[inline]
    pub fn new_checked(buf: T) -> WireResult<Self> {
        let b = buf.as_ref();
        need(Header::Tcp, "tcp header", MIN_HEADER_LEN, b.len())?;
        let hl = usize::from(b[12] >> 4) * 4;
        if hl < MIN_HEADER_LEN {
            return Err(WireError::Malformed { header: Header::Tcp, what: "tcp header", why: "data offset below 5" });
        }
        need(Header::Tcp, "tcp header with options", hl, b.len())?;
        Ok(Self { buf })
    }

    /// Wraps a segment a caller in this crate has checked already
    /// (`frame::TcpFrame`), so a rewrite does not validate it again.
    #[inline]
    pub(crate) fn new_unchecked(buf: T) -> Self {
        Self { buf }
    }

    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    #[inline]
    fn u32_at(&self, i: usize) -> u32 {
        let b = self.b();
        u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
    }

    #[inline]
    fn u16_at(&self, i: usize) -> u16 {
        u16::from_be_bytes([self.b()[i], self.b()[i + 1]])
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        self.u16_at(0)
    }
    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.u16_at(2)
    }
    #[inline]
    pub fn seq(&self) -> u32 {
        self.u32_at(4)
    }
    #[inline]
    pub fn ack(&self) -> u32 {
        self.u32_at(8)
    }
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[12] >> 4) * 4
    }
    #[inline]
    pub fn flags(&self) -> u8 {
        self.b()[13]
    }
    /// Every flag of `flags` is set (`has_all(SYN | ACK)`: a SYN-ACK).
    #[inline]
    pub fn has_all(&self, flags: u8) -> bool {
        self.flags() & flags == flags
    }
    /// At least one flag of `flags` is set (`has_any(FIN | RST)`: an end).
    #[inline]
    pub fn has_any(&self, flags: u8) -> bool {
        self.flags() & flags != 0
    }
    #[inline]
    pub fn window(&self) -> u16 {
        self.u16_at(14)
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.u16_at(16)
    }
    #[inline]
    pub fn urgent(&self) -> u16 {
        self.u16_at(18)
    }
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.b()[MIN_HEADER_LEN..self.header_len()]
    }
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }

    /// Sequence space the segment occupies: data plus one for SYN and FIN.
    #[inline]
    pub fn seq_len(&self) -> u32 {
        self.payload().len() as u32 + u32::from(self.has_any(SYN)) + u32::from(self.has_any(FIN))
    }

    /// Checks the checksum given the pseudo-header partial sum
    /// (`Ipv4Packet::pseudo_header_sum`).
    #[inline]
    pub fn verify_checksum(&self, pseudo: u32) -> bool {
        checksum::fold(checksum::add(pseudo, checksum::sum(self.b()))) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpSegment<T> {
    #[inline]
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    #[inline]
    fn set_checksum(&mut self, c: u16) {
        self.bm()[16..18].copy_from_slice(&c.to_be_bytes());
    }

    #[inline]
    fn put_u16(&mut self, i: usize, v: u16) {
        let old = self.u16_at(i);
        self.bm()[i..i + 2].copy_from_slice(&v.to_be_bytes());
        let c = checksum::update16(self.checksum(), old, v);
        self.set_checksum(c);
    }

    #[inline]
    fn put_u32(&mut self, i: usize, v: u32) {
        let old = self.u32_at(i);
        self.bm()[i..i + 4].copy_from_slice(&v.to_be_bytes());
        let c = checksum::update32(self.checksum(), old, v);
        self.set_checksum(c);
    }

    #[inline]
    pub fn set_src_port(&mut self, p: u16) {
        self.put_u16(0, p)
    }
    #[inline]
    pub fn set_dst_port(&mut self, p: u16) {
        self.put_u16(2, p)
    }
    #[inline]
    pub fn set_seq(&mut self, s: u32) {
        self.put_u32(4, s)
    }
    #[inline]
    pub fn set_ack(&mut self, a: u32) {
        self.put_u32(8, a)
    }
    #[inline]
    pub fn set_window(&mut self, w: u16) {
        self.put_u16(14, w)
    }
    /// Sets the flags byte (the data-offset byte is unchanged).
    #[inline]
    pub fn set_flags(&mut self, f: u8) {
        let b12 = self.b()[12];
        self.put_u16(12, u16::from_be_bytes([b12, f]))
    }

    /// The IP layer changed an address of the pseudo header: fold the
    /// change into this segment's checksum.
    #[inline]
    pub fn update_for_address_change(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        let c = checksum::update32(self.checksum(), u32::from(old), u32::from(new));
        self.set_checksum(c);
    }

    /// Recomputes the checksum from scratch.
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let c = checksum::finish(checksum::add(pseudo, checksum::sum(self.b())));
        self.set_checksum(c);
    }

    /// Applies `f` to every edge of every SACK block (the agent and the
    /// front-end move them between sequence spaces), with incremental
    /// checksum updates. Returns how many blocks were rewritten.
    #[inline]
    pub fn map_sack_edges(&mut self, mut f: impl FnMut(u32) -> u32) -> WireResult<usize> {
        // Validate first so a malformed area is never half rewritten.
        for o in tcp_option::parse(self.options()) {
            o?;
        }
        let hl = self.header_len();
        let mut i = MIN_HEADER_LEN;
        let mut blocks = 0;
        while i < hl {
            let kind = self.b()[i];
            match kind {
                KIND_EOL => break,
                KIND_NOP => i += 1,
                _ => {
                    let len = usize::from(self.b()[i + 1]);
                    if kind == KIND_SACK {
                        let mut e = i + 2;
                        while e + 8 <= i + len {
                            let l = self.u32_at(e);
                            self.put_u32(e, f(l));
                            let r = self.u32_at(e + 4);
                            self.put_u32(e + 4, f(r));
                            e += 8;
                            blocks += 1;
                        }
                    }
                    i += len;
                }
            }
        }
        Ok(blocks)
    }

    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.bm()[hl..]
    }
}

/// The fields of a TCP segment, to emit or as parsed. The checksum is not
/// a field: `emit` computes it, a reader verifies it on the view
/// (`TcpSegment::verify_checksum`); the urgent pointer is always 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub options: TcpOptions<'a>,
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// The fields of a checked segment; options and payload borrow the
    /// segment's buffer (not the view, which may be a temporary).
    #[inline]
    pub fn parse(s: &TcpSegment<&'a [u8]>) -> Self {
        let (b, hl): (&'a [u8], usize) = (s.buf, s.header_len());
        Self {
            src_port: s.src_port(),
            dst_port: s.dst_port(),
            seq: s.seq(),
            ack: s.ack(),
            flags: s.flags(),
            window: s.window(),
            options: TcpOptions::Bytes(&b[MIN_HEADER_LEN..hl]),
            payload: &b[hl..],
        }
    }

    /// Header plus padded options.
    #[inline]
    pub fn header_len(&self) -> usize {
        MIN_HEADER_LEN + self.options.wire_len()
    }

    #[inline]
    pub fn wire_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Writes the segment at the start of `out` with its checksum computed
    /// over `pseudo` (the pseudo-header sum for `wire_len()` bytes). Returns
    /// the number of bytes written.
    #[inline]
    pub fn emit(&self, out: &mut [u8], pseudo: u32) -> WireResult<usize> {
        let hl = self.header_len();
        if hl > MIN_HEADER_LEN + tcp_option::MAX_OPTIONS_LEN {
            return Err(WireError::Malformed { header: Header::TcpOptions, what: "tcp repr", why: "options exceed 40 bytes" });
        }
        let total = hl + self.payload.len();
        if out.len() < total {
            return Err(WireError::NoSpace { what: "tcp segment", need: total, have: out.len() });
        }
        let out = &mut out[..total];
        out[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        out[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        out[4..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..12].copy_from_slice(&self.ack.to_be_bytes());
        out[12] = ((hl / 4) as u8) << 4;
        out[13] = self.flags;
        out[14..16].copy_from_slice(&self.window.to_be_bytes());
        out[16..20].fill(0);
        self.options.emit(&mut out[MIN_HEADER_LEN..hl])?;
        out[hl..].copy_from_slice(self.payload);
        let c = checksum::finish(checksum::add(pseudo, checksum::sum(out)));
        out[16..18].copy_from_slice(&c.to_be_bytes());
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp_option::{SackBlocks, TcpOption};

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 10);

    fn pseudo(len: usize) -> u32 {
        checksum::pseudo_header_v4(A, B, 6, len as u16)
    }

    fn segment(opts: &[TcpOption<'_>], payload: &[u8]) -> Vec<u8> {
        let r = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: 0xffff_fff0,
            ack: 77,
            flags: ACK | PSH,
            window: 512,
            options: TcpOptions::List(opts),
            payload,
        };
        let mut v = vec![0u8; r.wire_len()];
        r.emit(&mut v, pseudo(r.wire_len())).unwrap();
        v
    }

    #[test]
    fn emit_parse_round_trip() {
        let v = segment(&[TcpOption::Mss(1460), TcpOption::WindowScale(7)], b"GET / HTTP/1.1\r\n\r\n");
        let s = TcpSegment::new_checked(&v[..]).unwrap();
        assert_eq!((s.src_port(), s.dst_port(), s.seq(), s.ack()), (40000, 80, 0xffff_fff0, 77));
        assert_eq!(s.header_len(), 28);
        assert!(s.has_all(ACK | PSH) && !s.has_any(SYN | FIN));
        assert!(s.has_any(SYN | ACK) && !s.has_all(SYN | ACK));
        assert_eq!(s.window(), 512);
        assert_eq!(s.payload(), b"GET / HTTP/1.1\r\n\r\n");
        assert!(s.verify_checksum(pseudo(v.len())));
        let mut again = vec![0u8; v.len()];
        TcpRepr::parse(&s).emit(&mut again, pseudo(v.len())).unwrap();
        assert_eq!(again, v, "parse then emit gives the same bytes");
    }

    #[test]
    fn sack_edges_mapped_with_valid_checksum() {
        let sack = SackBlocks::new(&[(100, 200), (0xffff_ff00, 0x10)]).unwrap();
        let mut v = segment(&[TcpOption::NoOp, TcpOption::NoOp, TcpOption::Sack(sack)], b"");
        let len = v.len();
        let mut s = TcpSegment::new_checked(&mut v[..]).unwrap();
        let n = s.map_sack_edges(|e| e.wrapping_sub(0x20)).unwrap();
        assert_eq!(n, 2);
        assert!(s.verify_checksum(pseudo(len)));
        let got: Vec<_> = tcp_option::parse(s.options()).map(|o| o.unwrap()).collect();
        let want = SackBlocks::new(&[(68, 168), (0xffff_fee0, 0xffff_fff0)]).unwrap();
        assert_eq!(got[2], TcpOption::Sack(want));
    }

    #[test]
    fn malformed_rejected() {
        let v = segment(&[], b"");
        assert!(TcpSegment::new_checked(&v[..19]).is_err());
        let mut bad = v.clone();
        bad[12] = 0x40; // data offset 4
        assert!(TcpSegment::new_checked(&bad[..]).is_err());
        bad[12] = 0xf0; // 60-byte header in a 20-byte buffer
        assert!(TcpSegment::new_checked(&bad[..]).is_err());
    }

    #[test]
    fn seq_len_counts_syn_and_fin() {
        let r = TcpRepr { src_port: 1, dst_port: 2, seq: 0, ack: 0, flags: SYN | FIN, window: 0, options: TcpOptions::NONE, payload: b"ab" };
        let mut v = vec![0u8; r.wire_len()];
        r.emit(&mut v, 0).unwrap();
        assert_eq!(TcpSegment::new_checked(&v[..]).unwrap().seq_len(), 4);
    }
}
