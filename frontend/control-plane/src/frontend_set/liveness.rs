//! Each front-end's liveness from its probes, sans I/O. Like a backend's
//! health check (rise/fall), with one difference: a probe whose connect
//! is refused takes a live front-end out at once. A refusal means the
//! process or its host is gone (a SIGKILLed front-end's admin port answers
//! RST), so waiting `fall` probes would only send new connections into a
//! front-end that cannot finish them; a slow answer may be a busy host and
//! must repeat `fall` times.

/// What one probe said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// A timeout or a wrong answer.
    Fail(String),
    /// Nothing there (connect refused or unreachable).
    Refused(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Passes in a row that bring a front-end back.
    pub rise: u32,
    /// Failures in a row (refusals excepted) that take it out.
    pub fall: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Liveness {
    /// None until the first probe has answered: the watcher writes nothing
    /// before every front-end has been probed once.
    pub live: Option<bool>,
    /// Probes in a row against the current state.
    streak: u32,
    /// Why the last probe failed (for the log).
    pub last_failure: Option<String>,
}

impl Liveness {
    /// Counts `o`; `Some(live)` when the state changed (the first probe
    /// always sets it: a front-end starts as its first probe says).
    pub fn observe(&mut self, o: Outcome, t: Thresholds) -> Option<bool> {
        let pass = o == Outcome::Pass;
        match &o {
            Outcome::Pass => {}
            Outcome::Fail(why) | Outcome::Refused(why) => self.last_failure = Some(why.clone()),
        }
        let Some(live) = self.live else {
            self.live = Some(pass);
            self.streak = 0;
            return self.live;
        };
        if pass == live {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let enough = match o {
            Outcome::Pass => self.streak >= t.rise.max(1),
            Outcome::Refused(_) => true,
            Outcome::Fail(_) => self.streak >= t.fall.max(1),
        };
        if enough {
            self.live = Some(pass);
            self.streak = 0;
            return self.live;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds { rise: 2, fall: 3 };

    fn run(steps: &[Outcome]) -> Vec<Option<bool>> {
        let mut l = Liveness::default();
        steps.iter().map(|o| l.observe(o.clone(), T)).collect()
    }

    fn fail() -> Outcome {
        Outcome::Fail("no answer within 2000 ms".into())
    }
    fn refused() -> Outcome {
        Outcome::Refused("connect: Connection refused".into())
    }

    #[test]
    fn the_first_probe_decides() {
        assert_eq!(run(&[Outcome::Pass]), vec![Some(true)]);
        assert_eq!(run(&[fail()]), vec![Some(false)]);
    }

    #[test]
    fn slow_answers_take_it_out_after_fall_a_refusal_at_once() {
        use Outcome::Pass;
        assert_eq!(run(&[Pass, fail(), fail(), fail()]), vec![Some(true), None, None, Some(false)]);
        assert_eq!(run(&[Pass, fail(), Pass, fail(), fail()]), vec![Some(true), None, None, None, None], "a pass resets the count");
        assert_eq!(run(&[Pass, refused()]), vec![Some(true), Some(false)]);
    }

    #[test]
    fn it_comes_back_after_rise_passes() {
        use Outcome::Pass;
        assert_eq!(run(&[refused(), Pass, refused(), Pass, Pass]), vec![Some(false), None, None, None, Some(true)]);
        let mut l = Liveness::default();
        l.observe(refused(), T);
        assert_eq!(l.last_failure.as_deref(), Some("connect: Connection refused"));
    }
}
