//! The generic cell rate algorithm (GCRA): a token bucket kept as one instant, the theoretical
//! arrival time (TAT) of the next call, so a bucket is a single value whatever its size.
//!
//! A bucket of `burst` calls refilling one call per `interval` admits a call at `now` when
//! `max(tat, now) - now <= tolerance`, with `tolerance = interval * (burst - 1)`, and then
//! moves `tat` one interval on. A bucket whose `tat` is not after `now` is full. The same
//! arithmetic runs in the shared limiter's Lua script, in microseconds of the Redis clock.

use std::time::Duration;

use tokio::time::Instant;

/// The shape of one bucket: how fast it refills and how much it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Time to refill one call.
    pub interval: Duration,
    /// How far ahead of `now` the TAT may be and a call still go: `interval * (burst - 1)`.
    pub tolerance: Duration,
}

impl Gcra {
    /// A bucket of `burst` calls (at least 1) refilling `count` calls (at least 1) per `period`.
    pub fn new(burst: u32, count: u32, period: Duration) -> Self {
        let interval = period / count.max(1);
        Self {
            interval,
            tolerance: interval * (burst.max(1) - 1),
        }
    }

    /// A bucket refilling `rate` calls per second (at least one call per hour), holding one
    /// second's worth (at least 1 call).
    pub fn per_second(rate: f64) -> Self {
        let rate = rate.max(1.0 / 3600.0);
        let interval = Duration::from_secs_f64(1.0 / rate);
        let burst = rate.ceil().max(1.0) as u32;
        Self {
            interval,
            tolerance: interval * (burst - 1),
        }
    }

    /// The TAT after admitting a call at `now`, or how long until one would be admitted.
    pub fn admit(&self, tat: Instant, now: Instant) -> Result<Instant, Duration> {
        let base = tat.max(now);
        let ahead = base - now;
        if ahead <= self.tolerance {
            Ok(base + self.interval)
        } else {
            Err(ahead - self.tolerance)
        }
    }

    /// Admits a call whatever the bucket holds: the new TAT and how long the call must wait for
    /// its turn (zero when the bucket had room). Waiting callers each get their own turn, in
    /// order, instead of all waking at once and racing for the next one.
    pub fn reserve(&self, tat: Instant, now: Instant) -> (Instant, Duration) {
        let base = tat.max(now);
        let wait = (base - now).saturating_sub(self.tolerance);
        (base + self.interval, wait)
    }
}

/// True when a bucket with this TAT is full at `now` (forgetting it loses nothing).
pub fn is_full(tat: Instant, now: Instant) -> bool {
    tat <= now
}
