//! What the engine did, for metrics. Every counter is a row of the shared
//! registry (`wire::reason::FRONTEND_COUNTERS`, indexed by
//! `FrontendCounter`), drops are indexed by the registry's `DropReason`
//! code, so every part's numbers mean the same thing and the arrays are
//! sized from the tables. The data path does a plain array increment.
//!
//! A drop verdict carries a `CountedDrop`, which only `Counters::drop`
//! makes: the engine cannot return `Verdict::Drop` without counting it.

use core::ops::{Index, IndexMut};

use switchyard_wire::reason::{DropReason, FrontendCounter};

use crate::http::ErrorReply;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Index = `FrontendCounter as usize`.
    values: [u64; FrontendCounter::SLOTS],
    /// Index = `DropReason as usize`.
    drops: [u64; DropReason::SLOTS],
    /// Index = position in `ErrorReply::ALL`.
    replies: [u64; ErrorReply::ALL.len()],
}

impl Default for Counters {
    fn default() -> Self {
        Self { values: [0; FrontendCounter::SLOTS], drops: [0; DropReason::SLOTS], replies: [0; ErrorReply::ALL.len()] }
    }
}

/// A drop that has been counted: the payload of `Verdict::Drop`, made only
/// by `Counters::drop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountedDrop(DropReason);

impl CountedDrop {
    pub fn reason(self) -> DropReason {
        self.0
    }
}

impl Index<FrontendCounter> for Counters {
    type Output = u64;
    #[inline]
    fn index(&self, c: FrontendCounter) -> &u64 {
        &self.values[c as usize]
    }
}

impl IndexMut<FrontendCounter> for Counters {
    #[inline]
    fn index_mut(&mut self, c: FrontendCounter) -> &mut u64 {
        &mut self.values[c as usize]
    }
}

impl Counters {
    /// Counts a drop; its token is what `Verdict::Drop` carries.
    #[inline]
    pub fn drop(&mut self, r: DropReason) -> CountedDrop {
        self.drops[r as usize] += 1;
        CountedDrop(r)
    }

    pub fn dropped(&self, r: DropReason) -> u64 {
        self.drops[r as usize]
    }

    /// Every drop, whatever its reason.
    pub fn drops_total(&self) -> u64 {
        self.drops.iter().sum()
    }

    pub fn reply(&mut self, r: ErrorReply) {
        if let Some(i) = ErrorReply::ALL.iter().position(|&x| x == r) {
            self.replies[i] += 1;
        }
    }

    pub fn replied(&self, r: ErrorReply) -> u64 {
        ErrorReply::ALL.iter().position(|&x| x == r).map_or(0, |i| self.replies[i])
    }
}

#[cfg(test)]
mod tests {
    use switchyard_wire::reason::{DROP_REASONS, FRONTEND_COUNTERS};

    use super::*;

    #[test]
    fn every_registry_row_has_a_slot() {
        let mut c = Counters::default();
        for row in FRONTEND_COUNTERS {
            c[FrontendCounter::from_code(row.code).unwrap()] += 1;
        }
        for r in DROP_REASONS {
            let d = DropReason::from_code(r.code).unwrap();
            assert_eq!(c.drop(d).reason(), d);
            assert_eq!(c.dropped(d), 1);
        }
        assert_eq!(c.drops_total(), DROP_REASONS.len() as u64);
        assert!(FrontendCounter::ALL.iter().all(|&k| c[k] == 1));
    }
}
