//! The engine's timers: a hashed timing wheel of 1 ms ticks.
//!
//! Why not a binary heap: at a few hundred thousand setups per second the
//! heap held millions of entries (every deadline change pushed one, and an
//! idle timeout lives 300 s), and each pop walked ~20 cache-missing levels:
//! it cost more than the rest of the setup path together. Here an insert is
//! a push onto one slot's vector and expiry visits only the slots of the
//! elapsed ticks, O(1) per entry.
//!
//! Entries are `(deadline, key)` and carry no handle: the engine arms at
//! most one live entry per flow (`ConnEntry::armed`) and treats any other
//! as stale when it expires (lazy deletion). A deadline past the wheel's
//! horizon sits in its slot and is passed over (one comparison) on each
//! turn until due. The engine bounds stale entries with `retain`.

use switchyard_wire::flow::ConnKey;

/// Slots (ticks of 1 ms): a 4 s turn covers the retransmission timers of
/// the setup path in one visit; longer ones (idle, grace) are revisited
/// once per turn. A power of two, a multiple of 64 (the occupancy words).
pub const SLOTS: usize = 4096;
const WORDS: usize = SLOTS / 64;

pub type Entry = (u64, ConnKey);

#[derive(Debug)]
pub struct TimerWheel {
    slots: Box<[Vec<Entry>]>,
    /// Bit per slot: non-empty. Lets `next_deadline` skip empty slots
    /// without touching them.
    occupied: [u64; WORDS],
    /// Every tick up to and including this one has been expired.
    cursor: u64,
    /// Entries inserted at or before the cursor (a caller whose clock went
    /// backwards, or a zero timeout): due at the next `expire`.
    overdue: Vec<Entry>,
    len: usize,
}

impl Default for TimerWheel {
    fn default() -> Self {
        Self::new()
    }
}

impl TimerWheel {
    pub fn new() -> Self {
        Self { slots: (0..SLOTS).map(|_| Vec::new()).collect(), occupied: [0; WORDS], cursor: 0, overdue: Vec::new(), len: 0 }
    }

    /// Entries held, live and stale.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn insert(&mut self, deadline: u64, key: ConnKey) {
        self.len += 1;
        if deadline <= self.cursor {
            self.overdue.push((deadline, key));
            return;
        }
        let i = slot(deadline);
        self.slots[i].push((deadline, key));
        self.occupied[i / 64] |= 1 << (i % 64);
    }

    /// A lower bound of the earliest deadline held (exact for deadlines
    /// within one turn of the cursor), `None` when empty.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        if let Some(t) = self.overdue.iter().map(|e| e.0).min() {
            return Some(t);
        }
        // First occupied slot after the cursor, circularly. An entry in the
        // slot `d` ticks ahead has a deadline >= cursor + 1 + d.
        let start = slot(self.cursor + 1);
        let (w0, b0) = (start / 64, start % 64);
        let first = self.occupied[w0] & (!0u64 << b0);
        let found = if first != 0 {
            Some(w0 * 64 + first.trailing_zeros() as usize)
        } else {
            (1..=WORDS).find_map(|k| {
                let w = (w0 + k) % WORDS;
                let bits = if w == w0 { self.occupied[w] & !(!0u64 << b0) } else { self.occupied[w] };
                (bits != 0).then(|| w * 64 + bits.trailing_zeros() as usize)
            })
        };
        let i = found.expect("len > 0 and nothing overdue: some slot is occupied");
        Some(self.cursor + 1 + ((i + SLOTS - start) % SLOTS) as u64)
    }

    /// Moves every entry with deadline <= `now` into `due`, in deadline
    /// order, and advances the cursor to `now`.
    pub fn expire(&mut self, now: u64, due: &mut Vec<Entry>) {
        let from = due.len();
        if now > self.cursor {
            let ticks = (now - self.cursor).min(SLOTS as u64);
            for t in self.cursor + 1..=self.cursor + ticks {
                let i = slot(t);
                if self.occupied[i / 64] & (1 << (i % 64)) == 0 {
                    continue;
                }
                let s = &mut self.slots[i];
                let mut k = 0;
                while k < s.len() {
                    if s[k].0 <= now {
                        due.push(s.swap_remove(k));
                    } else {
                        k += 1;
                    }
                }
                if s.is_empty() {
                    self.occupied[i / 64] &= !(1 << (i % 64));
                }
            }
            self.cursor = now;
        }
        let mut k = 0;
        while k < self.overdue.len() {
            if self.overdue[k].0 <= now {
                due.push(self.overdue.swap_remove(k));
            } else {
                k += 1;
            }
        }
        self.len -= due.len() - from;
        due[from..].sort_unstable_by_key(|e| e.0);
    }

    /// Keeps only the entries `keep` accepts (dropping stale ones).
    pub fn retain(&mut self, mut keep: impl FnMut(u64, &ConnKey) -> bool) {
        let mut len = 0;
        for (i, s) in self.slots.iter_mut().enumerate() {
            s.retain(|e| keep(e.0, &e.1));
            len += s.len();
            if s.is_empty() {
                self.occupied[i / 64] &= !(1 << (i % 64));
            }
        }
        self.overdue.retain(|e| keep(e.0, &e.1));
        self.len = len + self.overdue.len();
    }
}

fn slot(t: u64) -> usize {
    (t % SLOTS as u64) as usize
}

#[cfg(test)]
mod tests {
    use core::net::Ipv4Addr;

    use super::*;

    fn key(p: u16) -> ConnKey {
        ConnKey { client_ip: Ipv4Addr::new(198, 18, 0, 2), client_port: p, vip_id: 0 }
    }

    fn expire(w: &mut TimerWheel, now: u64) -> Vec<(u64, u16)> {
        let mut due = Vec::new();
        w.expire(now, &mut due);
        due.iter().map(|(t, k)| (*t, k.client_port)).collect()
    }

    #[test]
    fn fires_at_the_deadline_not_before() {
        let mut w = TimerWheel::new();
        w.insert(10, key(1));
        w.insert(5, key(2));
        assert_eq!(w.next_deadline(), Some(5));
        assert_eq!(expire(&mut w, 4), vec![]);
        assert_eq!(expire(&mut w, 5), vec![(5, 2)]);
        assert_eq!(w.next_deadline(), Some(10));
        assert_eq!(expire(&mut w, 9), vec![]);
        assert_eq!(expire(&mut w, 10), vec![(10, 1)]);
        assert_eq!((w.len(), w.next_deadline()), (0, None));
    }

    #[test]
    fn beyond_one_turn_and_jumps() {
        let mut w = TimerWheel::new();
        let far = 3 * SLOTS as u64 + 17;
        w.insert(far, key(1));
        w.insert(far - SLOTS as u64, key(2)); // same slot, one turn earlier
        w.insert(100, key(3));
        // A lower bound, never later than the earliest deadline.
        assert!(w.next_deadline().unwrap() <= 100);
        // Turn by turn, only what is due comes out.
        assert_eq!(expire(&mut w, SLOTS as u64), vec![(100, 3)]);
        assert_eq!(expire(&mut w, 2 * SLOTS as u64 + 16), vec![]);
        assert_eq!(expire(&mut w, 2 * SLOTS as u64 + 17), vec![(far - SLOTS as u64, 2)]);
        // A jump of many turns at once still finds it, in deadline order.
        w.insert(far + 1, key(4));
        assert_eq!(expire(&mut w, 100 * SLOTS as u64), vec![(far, 1), (far + 1, 4)]);
        assert!(w.is_empty());
    }

    #[test]
    fn past_deadlines_fire_at_the_next_expiry() {
        let mut w = TimerWheel::new();
        assert_eq!(expire(&mut w, 1000), vec![]);
        w.insert(900, key(1)); // the caller's clock went backwards
        assert_eq!(w.next_deadline(), Some(900));
        assert_eq!(expire(&mut w, 1000), vec![(900, 1)]);
    }

    #[test]
    fn next_deadline_wraps_around_the_wheel() {
        let mut w = TimerWheel::new();
        expire(&mut w, SLOTS as u64 - 10);
        w.insert(SLOTS as u64 + 5, key(1)); // slot 5, after the cursor's slot
        assert_eq!(w.next_deadline(), Some(SLOTS as u64 + 5));
    }

    #[test]
    fn retain_drops_and_recounts() {
        let mut w = TimerWheel::new();
        for p in 0..100u16 {
            w.insert(1 + u64::from(p), key(p));
        }
        w.retain(|_, k| k.client_port % 2 == 0);
        assert_eq!(w.len(), 50);
        let due = expire(&mut w, 1000);
        assert_eq!(due.len(), 50);
        assert!(due.iter().all(|(_, p)| p % 2 == 0));
        assert_eq!(w.next_deadline(), None);
    }
}
