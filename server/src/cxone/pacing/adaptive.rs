//! The tenant-wide rate that adapts to CXone's answers, on the model of additive increase /
//! multiplicative decrease (as in Vector's adaptive request concurrency): 429s on many
//! different contacts within one period mean the tenant as a whole is over its limit, so the
//! rate drops by a factor; a period with successes and no such spread raises it by a step, up
//! to the configured maximum. 429s on one contact alone say nothing about the tenant (CXone
//! limits each contact on its own) and leave the rate alone.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

/// Factor applied to the rate when 429s spread over many contacts.
pub const DECREASE: f64 = 0.75;
/// Share of the maximum added after a period with successes and no spread of 429s.
pub const INCREASE: f64 = 0.05;
/// Length of one observation period.
pub const PERIOD: Duration = Duration::from_secs(1);

/// The current rate and what the current period has seen.
#[derive(Debug)]
pub struct Adaptive {
    min: f64,
    max: f64,
    rate: f64,
    /// Distinct contacts answered 429 in this period that lower the rate.
    spread: usize,
    started: Instant,
    limited: HashSet<String>,
    succeeded: bool,
}

impl Adaptive {
    /// Starts at `max` calls per second; never goes below `min` (clamped to `1..=max`).
    /// `spread` distinct contacts answered 429 within one period lower the rate.
    pub fn new(max: f64, min: f64, spread: usize, now: Instant) -> Self {
        let max = max.max(1.0);
        Self {
            min: min.clamp(1.0, max),
            max,
            rate: max,
            spread: spread.max(1),
            started: now,
            limited: HashSet::new(),
            succeeded: false,
        }
    }

    /// The rate in force, calls per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// A call was answered 429. Returns the new rate when it changed.
    pub fn rate_limited(&mut self, contact: &str, now: Instant) -> Option<f64> {
        let rolled = self.roll(now);
        if self.limited.len() < self.spread {
            self.limited.insert(contact.to_owned());
        }
        if self.limited.len() < self.spread {
            return rolled;
        }
        // Spread over enough contacts: lower now and start a new period, so one burst of 429s
        // lowers the rate once per period, not once per call.
        let lowered = (self.rate * DECREASE).max(self.min);
        self.start(now);
        self.changed(lowered)
    }

    /// A call was accepted. Returns the new rate when it changed.
    pub fn succeeded(&mut self, now: Instant) -> Option<f64> {
        let rolled = self.roll(now);
        self.succeeded = true;
        rolled
    }

    /// Closes the period when it is over: a period with successes and no spread raises the rate.
    fn roll(&mut self, now: Instant) -> Option<f64> {
        if now.duration_since(self.started) < PERIOD {
            return None;
        }
        let raise = self.succeeded && self.limited.len() < self.spread;
        self.start(now);
        if raise {
            let raised = (self.rate + self.max * INCREASE).min(self.max);
            return self.changed(raised);
        }
        None
    }

    fn start(&mut self, now: Instant) {
        self.started = now;
        self.limited.clear();
        self.succeeded = false;
    }

    fn changed(&mut self, rate: f64) -> Option<f64> {
        let changed = (rate - self.rate).abs() > f64::EPSILON;
        self.rate = rate;
        changed.then_some(rate)
    }
}
