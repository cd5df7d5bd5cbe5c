//! The tenant-wide rate that adapts to CXone's answers, on the model of additive increase /
//! multiplicative decrease (as in Vector's adaptive request concurrency), judged once per
//! period (one second): a period whose 429s came on at least `spread` different contacts *and*
//! make up at least [`SHARE`] of its answers means the tenant as a whole is over its limit (a
//! tenant limit refuses most calls, not a few), so the rate drops by [`DECREASE`]; a period
//! with successes and no such verdict raises it by [`INCREASE`] of the maximum, up to the
//! maximum. 429s on one contact alone say nothing about the tenant (CXone limits each contact
//! on its own), and neither do a few scattered ones: both leave the rate alone.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

/// Factor applied to the rate when 429s spread over many contacts.
pub const DECREASE: f64 = 0.75;
/// Share of the maximum added after a period with successes and no spread of 429s.
pub const INCREASE: f64 = 0.05;
/// Share of a period's answers that must be 429s (on enough contacts) to lower the rate.
pub const SHARE: f64 = 0.25;
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
    /// Distinct contacts answered 429 this period (at most `spread` kept).
    limited: HashSet<String>,
    /// Answers this period, and how many were 429s.
    answers: u64,
    refused: u64,
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
            answers: 0,
            refused: 0,
        }
    }

    /// The rate in force, calls per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// A call was answered 429. Returns the new rate when the period it closed changed it.
    pub fn rate_limited(&mut self, contact: &str, now: Instant) -> Option<f64> {
        let rolled = self.roll(now);
        self.answers += 1;
        self.refused += 1;
        if self.limited.len() < self.spread {
            self.limited.insert(contact.to_owned());
        }
        rolled
    }

    /// A call was accepted. Returns the new rate when the period it closed changed it.
    pub fn succeeded(&mut self, now: Instant) -> Option<f64> {
        let rolled = self.roll(now);
        self.answers += 1;
        rolled
    }

    /// True when the period's 429s say the tenant is over its limit.
    fn over_limit(&self) -> bool {
        self.limited.len() >= self.spread && self.refused as f64 >= SHARE * self.answers as f64
    }

    /// Closes the period when it is over: lowers the rate when the tenant was over its limit,
    /// raises it when calls succeeded otherwise.
    fn roll(&mut self, now: Instant) -> Option<f64> {
        if now.duration_since(self.started) < PERIOD {
            return None;
        }
        let rate = if self.over_limit() {
            (self.rate * DECREASE).max(self.min)
        } else if self.answers > self.refused {
            (self.rate + self.max * INCREASE).min(self.max)
        } else {
            self.rate
        };
        self.start(now);
        self.changed(rate)
    }

    fn start(&mut self, now: Instant) {
        self.started = now;
        self.limited.clear();
        self.answers = 0;
        self.refused = 0;
    }

    fn changed(&mut self, rate: f64) -> Option<f64> {
        let changed = (rate - self.rate).abs() > f64::EPSILON;
        self.rate = rate;
        changed.then_some(rate)
    }
}
