//! v1model meters (`meter`, `direct_meter`) as bmv2 runs them
//! (`src/bm_sim/meters.cpp`): a two-rate three-colour marker, RFC 2698,
//! colour-blind. Rates are given as P4Runtime's MeterConfig gives them
//! (CIR and PIR in units per second, CBS and PBS in units; units are
//! packets or bytes by the meter's type); bmv2 keeps a rate per
//! microsecond (PI converts `rate / 1e6` as a double), so the arithmetic
//! below is bmv2's, in f64 where bmv2 uses a double.
//!
//! Per rate, bmv2 counts tokens from one time origin: at a packet at time
//! `t` µs, `since = (u64)(t * rate_per_us)`, the bucket gains `since -
//! last` (then `last = since`) and is capped at its burst. The peak bucket
//! is looked at first: fewer tokens than the packet (1, or its length in
//! bytes) -> RED and nothing is taken; else they are taken, then the
//! committed bucket: too few -> YELLOW, else taken -> GREEN. A meter never
//! configured is GREEN (0) for every packet. Colours: GREEN 0, YELLOW 1,
//! RED 2 (v1model's V1MODEL_METER_COLOR_*). The time origin is the
//! switch's clock zero (`Switch::set_time`), bmv2's is the meter's
//! creation; a bucket is full when it is configured.

/// Rates of one meter cell, P4Runtime's MeterConfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterConfig {
    /// Committed rate (units per second) and burst (units).
    pub cir: u64,
    pub cburst: u64,
    /// Peak rate and burst.
    pub pir: u64,
    pub pburst: u64,
}

impl MeterConfig {
    /// bmv2 refuses a committed rate above the peak rate
    /// (INVALID_INFO_RATE_VALUE).
    pub fn check(&self) -> Result<(), String> {
        if self.cir > self.pir {
            return Err(format!("meter committed rate {} is above its peak rate {}", self.cir, self.pir));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bucket {
    per_us: f64,
    burst: u64,
    tokens: u64,
    last: u64,
}

impl Bucket {
    fn new(rate: u64, burst: u64) -> Bucket {
        Bucket { per_us: rate as f64 / 1_000_000.0, burst, tokens: burst, last: 0 }
    }

    /// Refills to time `now_us`; true when `input` tokens were there (and
    /// are taken).
    fn take(&mut self, now_us: u64, input: u64) -> bool {
        let since = (now_us as f64 * self.per_us) as u64;
        // bmv2 asserts the clock never goes back; here an earlier time
        // adds nothing.
        if since > self.last {
            self.tokens = self.tokens.saturating_add(since - self.last).min(self.burst);
            self.last = since;
        }
        if self.tokens < input {
            return false;
        }
        self.tokens -= input;
        true
    }
}

/// One meter: its configuration and its two buckets (peak, committed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeterCell {
    config: Option<MeterConfig>,
    peak: Bucket,
    committed: Bucket,
}

pub const GREEN: u64 = 0;
pub const YELLOW: u64 = 1;
pub const RED: u64 = 2;

impl MeterCell {
    pub fn config(&self) -> Option<MeterConfig> {
        self.config
    }

    /// Sets (full buckets) or clears the rates.
    pub fn set(&mut self, config: Option<MeterConfig>) {
        *self = MeterCell::default();
        if let Some(c) = config {
            self.config = Some(c);
            self.peak = Bucket::new(c.pir, c.pburst);
            self.committed = Bucket::new(c.cir, c.cburst);
        }
    }

    /// The colour of a packet of `input` units at `now_ns`.
    pub fn execute(&mut self, now_ns: u64, input: u64) -> u64 {
        if self.config.is_none() {
            return GREEN;
        }
        let now_us = now_ns / 1_000;
        if !self.peak.take(now_us, input) {
            return RED;
        }
        if !self.committed.take(now_us, input) {
            return YELLOW;
        }
        GREEN
    }
}
