//! How failed calls are retried: bounded attempts, full-jitter exponential backoff, Retry-After.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// Bounds for retrying one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most attempts per call, the first included (a 401 refresh-and-retry does not count).
    pub max_attempts: u32,
    /// Backoff ceiling of the first retry; doubles each retry.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub max_backoff: Duration,
    /// Largest Retry-After honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The ceiling before retry number `retry` (1 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max_backoff)
    }

    /// A full-jitter delay: uniform in `[0, ceiling(retry)]`, so many clients that failed
    /// together do not come back together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }

    /// The delay a 429 asks for, capped, or the backoff when it gives none.
    pub fn after_429(&self, retry_after: Option<Duration>, retry: u32) -> Duration {
        match retry_after {
            Some(d) => d.min(self.max_retry_after),
            None => self.backoff(retry),
        }
    }
}

/// Parses a Retry-After value: delay-seconds or an HTTP date.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use cxrules_server::cxone::parse_retry_after;
/// assert_eq!(parse_retry_after("3", SystemTime::now()), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
            ..RetryPolicy::default()
        };
        let got: Vec<u128> = (1..=5).map(|r| p.ceiling(r).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 700, 700]);
        assert_eq!(p.ceiling(200), Duration::from_millis(700));
    }

    #[test]
    fn jitter_stays_under_the_ceiling() {
        let p = RetryPolicy::default();
        for retry in 1..8 {
            assert!(p.backoff(retry) <= p.ceiling(retry));
        }
    }

    #[test]
    fn backoffs_are_spread_over_the_whole_range_below_the_ceiling() {
        // Full jitter: uniform in [0, ceiling]. Without jitter every draw is the ceiling; with
        // "equal" jitter none is below half of it. 400 draws all missing a quarter of the range
        // has a chance of 0.75^400, below 1e-49.
        let p = RetryPolicy::default();
        for retry in [1, 3, 6] {
            let ceiling = p.ceiling(retry);
            let draws: Vec<Duration> = (0..400).map(|_| p.backoff(retry)).collect();
            let distinct: std::collections::HashSet<_> = draws.iter().collect();
            assert!(
                distinct.len() > 300,
                "retry {retry}: {} distinct",
                distinct.len()
            );
            for quarter in 0..4u32 {
                let (low, high) = (ceiling * quarter / 4, ceiling * (quarter + 1) / 4);
                assert!(
                    draws.iter().any(|d| (low..=high).contains(d)),
                    "retry {retry}: no backoff in {low:?}..={high:?}"
                );
            }
        }
    }

    #[test]
    fn retry_after_is_capped_and_dates_are_understood() {
        let p = RetryPolicy {
            max_retry_after: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        assert_eq!(
            p.after_429(Some(Duration::from_secs(99)), 1),
            Duration::from_secs(10)
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
    }
}
