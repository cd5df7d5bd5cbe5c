//! Client-side pacing of CXone API calls: the configured rate limit applies to every attempt,
//! retries included, and a 429 holds back every call, not only the one that got it.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

/// When the next API attempt may go.
#[derive(Debug)]
pub struct Pacing {
    limiter: Option<DefaultDirectRateLimiter>,
    paused_until: Mutex<Option<Instant>>,
}

impl Pacing {
    /// At most `rate` attempts per second (`None`: no limit), plus the pauses 429s ask for.
    pub fn new(rate: Option<NonZeroU32>) -> Self {
        Self {
            limiter: rate.map(|rate| RateLimiter::direct(Quota::per_second(rate))),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits out any pause, then for the rate limit's next permit.
    pub async fn ready(&self) {
        while let Some(until) = self.paused_until() {
            tokio::time::sleep_until(until).await;
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
    }

    /// Holds every attempt back for `delay` from now (a later pause already set stays).
    pub fn pause(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// The end of the pause in force, if one is.
    fn paused_until(&self) -> Option<Instant> {
        let paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        paused.filter(|until| *until > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_back_every_later_attempt() {
        let pacing = Pacing::new(None);
        pacing.pause(Duration::from_secs(2));
        pacing.pause(Duration::from_secs(1)); // shorter: the longer pause stays
        let started = Instant::now();
        pacing.ready().await;
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        // Over: no wait.
        let again = Instant::now();
        pacing.ready().await;
        assert_eq!(again.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn the_rate_limit_spaces_attempts() {
        let pacing = Pacing::new(NonZeroU32::new(20));
        let started = std::time::Instant::now();
        // A burst of 20, then one every 50 ms: 25 attempts need at least 250 ms.
        for _ in 0..25 {
            pacing.ready().await;
        }
        assert!(
            started.elapsed() >= Duration::from_millis(240),
            "{:?}",
            started.elapsed()
        );
    }
}
