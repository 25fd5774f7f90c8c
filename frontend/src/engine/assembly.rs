//! Request assembly: client bytes in sequence order from segments that may
//! arrive split, out of order or duplicated. Bounded in bytes and in the
//! number of held out-of-order pieces.

use crate::limits::{MAX_BUFFERED_BYTES, MAX_OOO_SEGMENTS};

/// `a - b` in sequence space (RFC 9293 modular arithmetic).
pub fn seq_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

#[derive(Debug, Clone, Default)]
pub struct Assembly {
    /// Sequence number of `buf[0]`.
    pub base: u32,
    /// In-order bytes.
    pub buf: Vec<u8>,
    /// Pieces past a hole: (seq, bytes).
    ooo: Vec<(u32, Vec<u8>)>,
    /// Engine clock (ms) of the connection's first ACK, for a connection's
    /// first request (the access log's `setup_ms`); 0 otherwise.
    pub started_ms: u64,
}

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// The in-order end moved forward.
    Advanced,
    /// Nothing new in order (duplicate, or held past a hole, or dropped).
    NoProgress,
}

impl Assembly {
    pub fn new(base: u32) -> Self {
        Self { base, buf: Vec::new(), ooo: Vec::new(), started_ms: 0 }
    }

    /// Empty again, starting at `base`; keeps the buffer's capacity (a
    /// recycled assembly, see `buffers.rs`).
    pub fn reset(&mut self, base: u32) {
        self.base = base;
        self.buf.clear();
        self.ooo.clear();
        self.started_ms = 0;
    }

    /// Next expected sequence number.
    pub fn end(&self) -> u32 {
        self.base.wrapping_add(self.buf.len() as u32)
    }

    pub fn insert(&mut self, seq: u32, data: &[u8]) -> Insert {
        if data.is_empty() {
            return Insert::NoProgress;
        }
        let adv = self.append(seq, data);
        if !adv {
            if seq_diff(seq, self.end()) > 0
                && seq_diff(seq, self.base) < MAX_BUFFERED_BYTES as i32
                && self.ooo.len() < MAX_OOO_SEGMENTS
                && !self.ooo.iter().any(|(s, d)| *s == seq && d.len() >= data.len())
            {
                self.ooo.push((seq, data.to_vec()));
            }
            return Insert::NoProgress;
        }
        // Pull in held pieces that now touch the in-order end.
        loop {
            let end = self.end();
            let Some(i) = self.ooo.iter().position(|(s, _)| seq_diff(*s, end) <= 0) else { break };
            let (s, d) = self.ooo.swap_remove(i);
            self.append(s, &d);
        }
        Insert::Advanced
    }

    /// Appends the part of `data` past the in-order end if `seq` is not
    /// beyond it; returns whether bytes were added.
    fn append(&mut self, seq: u32, data: &[u8]) -> bool {
        let off = seq_diff(self.end(), seq);
        if off < 0 || off as usize >= data.len() {
            return false;
        }
        let room = MAX_BUFFERED_BYTES.saturating_sub(self.buf.len());
        let new = &data[off as usize..];
        let take = new.len().min(room);
        self.buf.extend_from_slice(&new[..take]);
        take > 0
    }

    /// Forgets bytes before `seq` (a request handed on).
    pub fn consume_to(&mut self, seq: u32) {
        let n = seq_diff(seq, self.base).clamp(0, self.buf.len() as i32) as usize;
        self.buf.drain(..n);
        self.base = self.base.wrapping_add(n as u32);
        self.ooo.retain(|(s, d)| seq_diff(s.wrapping_add(d.len() as u32), seq) > 0);
    }

    /// Bytes held, for memory accounting.
    pub fn held(&self) -> usize {
        self.buf.len() + self.ooo.iter().map(|(_, d)| d.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_and_duplicates() {
        let mut a = Assembly::new(u32::MAX - 2); // wraps inside the data
        assert_eq!(a.insert((u32::MAX - 2).wrapping_add(4), b"efgh"), Insert::NoProgress);
        assert_eq!(a.insert((u32::MAX - 2).wrapping_add(4), b"efgh"), Insert::NoProgress);
        assert_eq!(a.insert(u32::MAX - 2, b"ab"), Insert::Advanced);
        assert_eq!(a.insert(u32::MAX - 2, b"ab"), Insert::NoProgress);
        assert_eq!(a.insert((u32::MAX - 2).wrapping_add(1), b"bcd"), Insert::Advanced);
        assert_eq!(a.buf, b"abcdefgh");
        assert_eq!(a.end(), (u32::MAX - 2).wrapping_add(8));
        a.consume_to((u32::MAX - 2).wrapping_add(3));
        assert_eq!(a.buf, b"defgh");
    }

    #[test]
    fn bounded() {
        let mut a = Assembly::new(0);
        let big = vec![b'x'; MAX_BUFFERED_BYTES + 100];
        a.insert(0, &big);
        assert_eq!(a.buf.len(), MAX_BUFFERED_BYTES);
        for i in 0..100u32 {
            a.insert(MAX_BUFFERED_BYTES as u32 + 10 + i * 10, b"y");
        }
        assert!(a.held() <= MAX_BUFFERED_BYTES + MAX_OOO_SEGMENTS);
    }
}
