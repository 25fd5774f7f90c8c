//! Cookie secret rotation (plain state, time in ms passed in).
//!
//! Order: the switch signs SYN cookies with its current secret and the
//! worker validates with its current and previous one. A cookie signed by a
//! generation the worker does not hold yet is dropped as forged (the client
//! retransmits its ACK, a lost connection setup at worst). So:
//!
//! 1. `TellWorkers(next)`: every worker rotates its engine's keyring (next
//!    becomes current, the old current becomes previous) and acknowledges;
//!    from then on it accepts both the generation the switch still signs
//!    with (now its previous) and the coming one.
//! 2. Only when every worker acknowledged, `WriteSwitch`: the switch signs
//!    with `next` under the flipped generation bit, old current as previous.
//! 3. The write's answer: success schedules the next rotation one period
//!    later; a failure retries the same write (never a newer secret: a
//!    second engine rotation before the switch moved would make the engine
//!    forget the secret the switch still signs with).
//!
//! The reverse order (switch first) would open a window, between the write
//! and the worker's rotation, in which every fresh cookie fails validation.

use switchyard_wire::cookie::CookieSecret;

/// Delay before retrying a failed secrets write.
pub const RETRY_MS: u64 = 1000;

/// What the driver must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send `next` to every worker (`Engine::rotate_cookie_secret`).
    TellWorkers(CookieSecret),
    /// Write cookie_secrets: current = (secret, generation), previous.
    WriteSwitch { current: CookieSecret, generation: u8, previous: CookieSecret },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle { due: u64 },
    AwaitingWorkers { next: CookieSecret, acks_needed: u64 },
    Writing { next: CookieSecret, retry_at: Option<u64> },
}

#[derive(Debug, Clone)]
pub struct Rotation {
    period_ms: u64,
    current: CookieSecret,
    generation: u8,
    previous: CookieSecret,
    /// Rotations handed to the workers so far.
    told: u64,
    state: State,
    completed: u64,
}

impl Rotation {
    /// Starts from what the switch was programmed with; the first rotation
    /// is due one period after `now`.
    pub fn new(period_ms: u64, current: CookieSecret, generation: u8, previous: CookieSecret, now: u64) -> Self {
        let period_ms = period_ms.max(1);
        Rotation { period_ms, current, generation: generation & 1, previous, told: 0, state: State::Idle { due: now + period_ms }, completed: 0 }
    }

    /// The switch's current signing secret and generation, and the previous one.
    pub fn switch_view(&self) -> (CookieSecret, u8, CookieSecret) {
        (self.current, self.generation, self.previous)
    }

    /// Completed rotations (written to the switch).
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// The next step, given how many rotations every worker has applied;
    /// `fresh` makes the new secret when one is needed.
    pub fn poll(&mut self, now: u64, workers_applied: u64, fresh: impl FnOnce() -> CookieSecret) -> Option<Step> {
        match self.state {
            State::Idle { due } if now >= due => {
                let next = fresh();
                self.told += 1;
                self.state = State::AwaitingWorkers { next, acks_needed: self.told };
                Some(Step::TellWorkers(next))
            }
            State::AwaitingWorkers { next, acks_needed } if workers_applied >= acks_needed => {
                self.state = State::Writing { next, retry_at: None };
                Some(self.write_step(next))
            }
            State::Writing { next, retry_at: Some(at) } if now >= at => {
                self.state = State::Writing { next, retry_at: None };
                Some(self.write_step(next))
            }
            _ => None,
        }
    }

    fn write_step(&self, next: CookieSecret) -> Step {
        Step::WriteSwitch { current: next, generation: self.generation ^ 1, previous: self.current }
    }

    /// The answer to the last `WriteSwitch`.
    pub fn written(&mut self, ok: bool, now: u64) {
        let State::Writing { next, retry_at: None } = self.state else { return };
        if ok {
            self.previous = self.current;
            self.current = next;
            self.generation ^= 1;
            self.completed += 1;
            self.state = State::Idle { due: now + self.period_ms };
        } else {
            self.state = State::Writing { next, retry_at: Some(now + RETRY_MS) };
        }
    }

    /// An operator asked for a rotation now (the admin API): an idle
    /// schedule becomes due at once. False when one is under way already
    /// (it completes the same way; no second secret is made).
    pub fn request_now(&mut self, now: u64) -> bool {
        match self.state {
            State::Idle { .. } => {
                self.state = State::Idle { due: now };
                true
            }
            _ => false,
        }
    }

    /// When `poll` next has time-driven work (acks wake the driver themselves).
    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            State::Idle { due } => Some(due),
            State::Writing { retry_at, .. } => retry_at,
            State::AwaitingWorkers { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: CookieSecret = CookieSecret { k0: 1, k1: 2 };
    const B: CookieSecret = CookieSecret { k0: 3, k1: 4 };
    const C: CookieSecret = CookieSecret { k0: 5, k1: 6 };

    #[test]
    fn workers_first_then_switch_then_next_period() {
        let mut r = Rotation::new(1000, A, 1, B, 0);
        assert_eq!(r.poll(999, 0, || C), None);
        assert_eq!(r.next_deadline(), Some(1000));
        assert_eq!(r.poll(1000, 0, || C), Some(Step::TellWorkers(C)));
        assert_eq!(r.poll(1001, 0, || panic!("no second secret")), None, "waits for the worker");
        assert_eq!(r.poll(1002, 1, || panic!()), Some(Step::WriteSwitch { current: C, generation: 0, previous: A }));
        assert_eq!(r.poll(1003, 1, || panic!()), None, "one write in flight");
        r.written(true, 1010);
        assert_eq!(r.switch_view(), (C, 0, A));
        assert_eq!(r.completed(), 1);
        assert_eq!(r.next_deadline(), Some(2010));
        assert_eq!(r.poll(2010, 1, || B), Some(Step::TellWorkers(B)));
        assert_eq!(r.poll(2011, 1, || panic!()), None, "the second rotation needs a second ack");
        assert!(matches!(r.poll(2012, 2, || panic!()), Some(Step::WriteSwitch { generation: 1, .. })));
    }

    #[test]
    fn a_requested_rotation_is_due_at_once_and_only_when_idle() {
        let mut r = Rotation::new(1000, A, 0, A, 0);
        assert!(r.request_now(10));
        assert_eq!(r.next_deadline(), Some(10));
        assert_eq!(r.poll(10, 0, || B), Some(Step::TellWorkers(B)));
        assert!(!r.request_now(11), "under way: no second secret");
        assert!(matches!(r.poll(12, 1, || panic!()), Some(Step::WriteSwitch { current: B, .. })));
        r.written(true, 20);
        assert_eq!(r.next_deadline(), Some(1020), "then the period again");
    }

    #[test]
    fn a_failed_write_retries_the_same_secret() {
        let mut r = Rotation::new(1000, A, 0, A, 0);
        r.poll(1000, 0, || C);
        let first = r.poll(1000, 1, || panic!()).unwrap();
        r.written(false, 1001);
        assert_eq!(r.poll(1500, 1, || panic!()), None);
        assert_eq!(r.poll(1001 + RETRY_MS, 1, || panic!("never a newer secret")), Some(first));
        r.written(true, 2100);
        assert_eq!(r.switch_view(), (C, 1, A));
    }
}
