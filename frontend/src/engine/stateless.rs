//! Segments for no connection: what a TCP stack answers (RFC 9293, 3.10.7.1,
//! the CLOSED state). A client segment that matches no flow and carries no
//! valid cookie is one of ours the engine has forgotten (a FIN retransmitted
//! after `closing_ms`, a client still in LAST-ACK after a 408) or a forgery;
//! either way the answer is a RST with seq = the segment's ack, so a real
//! client's socket closes at once instead of retransmitting until it gives
//! up. A forgery gets one RST to its claimed source, never more than it
//! sent, and `ResetBudget` bounds the rate.

use crate::limits::{STATELESS_RESETS_BURST, STATELESS_RESETS_PER_S};

/// A token bucket over the engine's millisecond clock.
#[derive(Debug, Clone)]
pub struct ResetBudget {
    tokens: u32,
    refilled_ms: u64,
}

impl Default for ResetBudget {
    fn default() -> Self {
        Self { tokens: STATELESS_RESETS_BURST, refilled_ms: 0 }
    }
}

impl ResetBudget {
    /// Takes one reset from the budget at time `now` (ms); false: over it.
    pub fn take(&mut self, now: u64) -> bool {
        let elapsed = now.saturating_sub(self.refilled_ms);
        let earned = elapsed.saturating_mul(u64::from(STATELESS_RESETS_PER_S)) / 1000;
        if earned > 0 {
            self.tokens = (u64::from(self.tokens) + earned).min(u64::from(STATELESS_RESETS_BURST)) as u32;
            // Keep the remainder: advance only by the time the tokens took.
            self.refilled_ms += earned * 1000 / u64::from(STATELESS_RESETS_PER_S);
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_burst_then_the_rate() {
        let mut b = ResetBudget::default();
        let burst = (0..10_000).filter(|_| b.take(0)).count();
        assert_eq!(burst, STATELESS_RESETS_BURST as usize);
        // One second later: one second's worth (capped by the burst).
        let next = (0..10_000).filter(|_| b.take(1000)).count();
        assert_eq!(next, STATELESS_RESETS_PER_S.min(STATELESS_RESETS_BURST) as usize);
        // Steady: about the rate over 10 s of one attempt per 100 us.
        let mut b = ResetBudget { tokens: 0, refilled_ms: 0 };
        let mut got = 0;
        for t in 0..100_000u64 {
            got += usize::from(b.take(t / 10));
        }
        let want = 10 * STATELESS_RESETS_PER_S as usize;
        assert!(got.abs_diff(want) <= want / 100 + 1, "{got} vs {want}");
    }
}
