//! Pure ACKs made redundant inside one transmit batch.
//!
//! While the front-end carries a flow it forwards every segment, so a
//! peer's pure ACK and the segment right behind it (the response that
//! follows a backend's quick ACK of the request, the FIN that follows a
//! client's last ACK) usually leave in the same burst. The later segment
//! acknowledges at least as much and carries a newer window, so the
//! earlier ACK tells the receiver nothing: dropping it saves a frame on
//! each side of the front-end (in the testbed, 2 of the 15 frames of a
//! 1 KB `Connection: close` request).
//!
//! What is never dropped: anything with data, SYN, FIN, RST or URG, and a
//! pure ACK followed only by pure ACKs with the same acknowledgment number:
//! those may be duplicate ACKs, the receiver's fast retransmit signal
//! (RFC 5681 §3.2), or window updates. A later segment carrying data or a
//! FIN with the same acknowledgment covers the ACK (with SACK, which every
//! stack here uses, it carries the same SACK blocks). Only frames of the
//! same 4-tuple and direction are compared, in batch order, which is the
//! order the engine produced them.

use switchyard_wire::frame::TcpFrame;
use switchyard_wire::tcp::{ACK, FIN, RST, SYN, URG};

use crate::engine::assembly::seq_diff;

#[derive(Clone, Copy, PartialEq, Eq)]
struct Segment {
    tuple: ([u8; 4], [u8; 4], u16, u16),
    ack: Option<u32>,
    /// An ACK with no data and no SYN/FIN/RST/URG.
    pure_ack: bool,
}

fn segment(frame: &[u8]) -> Option<Segment> {
    let f = TcpFrame::new_checked(frame).ok()?;
    let (ip, tcp) = (f.ipv4(), f.tcp());
    let flags = tcp.flags();
    let ack = (flags & ACK != 0).then(|| tcp.ack());
    let pure_ack = ack.is_some() && !tcp.has_any(SYN | FIN | RST | URG) && f.payload().is_empty();
    Some(Segment { tuple: (ip.src().octets(), ip.dst().octets(), tcp.src_port(), tcp.dst_port()), ack, pure_ack })
}

/// The scratch space of the check, kept by the worker so that a batch
/// allocates nothing.
#[derive(Default)]
pub struct AckCoalescer {
    parsed: Vec<Option<Segment>>,
    drop: Vec<bool>,
}

impl AckCoalescer {
    /// Looks at one transmit batch, in order; returns how many of its
    /// frames are pure ACKs a later frame of the batch makes redundant
    /// (then `redundant(i)` says which). Frames that are not TCP over
    /// IPv4, or too short to read, are never redundant.
    pub fn mark<'a>(&mut self, frames: impl IntoIterator<Item = &'a [u8]>) -> usize {
        self.parsed.clear();
        self.parsed.extend(frames.into_iter().map(segment));
        self.drop.clear();
        self.drop.resize(self.parsed.len(), false);
        let mut n = 0;
        for (i, a) in self.parsed.iter().enumerate() {
            let Some(Segment { tuple, ack: Some(a_ack), pure_ack: true }) = *a else { continue };
            let covered = self.parsed[i + 1..].iter().flatten().filter(|b| b.tuple == tuple).any(|b| {
                b.ack.is_some_and(|b_ack| {
                    let d = seq_diff(b_ack, a_ack);
                    d > 0 || (d == 0 && !b.pure_ack)
                })
            });
            if covered {
                self.drop[i] = true;
                n += 1;
            }
        }
        n
    }

    /// Whether frame `i` of the batch last marked is redundant.
    pub fn redundant(&self, i: usize) -> bool {
        self.drop.get(i).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests;
