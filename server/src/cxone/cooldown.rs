//! Memory of a failed request (token, discovery): the failure is the answer to every caller
//! for a short, jittered back-off that grows while failures continue, instead of each waiting
//! caller trying again in turn, each up to the timeout.

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// How long a failure is remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CooldownPolicy {
    /// Ceiling of the first failure's back-off; doubles with each failure in a row.
    pub base: Duration,
    /// Largest ceiling.
    pub max: Duration,
}

impl Default for CooldownPolicy {
    /// 0.5–1 s after the first failure, up to 15–30 s while the endpoint stays down.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl CooldownPolicy {
    /// The ceiling after `streak` failures in a row (1 for the first).
    pub fn ceiling(&self, streak: u32) -> Duration {
        let factor = 1u32
            .checked_shl(streak.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A back-off uniform in `[ceiling / 2, ceiling]`: never near zero, so a failure is always
    /// shared, and spread, so hosts that failed together do not come back together.
    pub fn delay(&self, streak: u32) -> Duration {
        let ceiling = self.ceiling(streak);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(nanos / 2..=nanos))
    }
}

struct Memory<E> {
    failure: Option<(E, Instant)>,
    streak: u32,
}

/// The last failure of one kind of request, while its back-off lasts.
pub struct Cooldown<E> {
    policy: CooldownPolicy,
    memory: Mutex<Memory<E>>,
}

impl<E> std::fmt::Debug for Cooldown<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cooldown")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<E: Clone> Cooldown<E> {
    /// Nothing remembered yet.
    pub fn new(policy: CooldownPolicy) -> Self {
        Self {
            policy,
            memory: Mutex::new(Memory {
                failure: None,
                streak: 0,
            }),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory<E>> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The remembered failure, while its back-off lasts.
    pub fn current(&self) -> Option<E> {
        let memory = self.memory();
        let (error, until) = memory.failure.as_ref()?;
        (Instant::now() < *until).then(|| error.clone())
    }

    /// How long the remembered failure still stands (`None`: a request may go now).
    pub fn remaining(&self) -> Option<Duration> {
        let memory = self.memory();
        let (_, until) = memory.failure.as_ref()?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Remembers `error` for the next back-off; returns how long.
    pub fn failed(&self, error: E) -> Duration {
        let mut memory = self.memory();
        memory.streak = memory.streak.saturating_add(1);
        let delay = self.policy.delay(memory.streak);
        memory.failure = Some((error, Instant::now() + delay));
        delay
    }

    /// A request succeeded: the next failure starts from the first back-off again.
    pub fn succeeded(&self) {
        let mut memory = self.memory();
        memory.failure = None;
        memory.streak = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_offs_grow_to_the_cap_and_are_jittered_within_the_upper_half() {
        let p = CooldownPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_millis(700),
        };
        let ceilings: Vec<u128> = (1..=5).map(|s| p.ceiling(s).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 700, 700]);
        let delays: Vec<Duration> = (0..64).map(|_| p.delay(3)).collect();
        assert!(delays
            .iter()
            .all(|d| (Duration::from_millis(200)..=Duration::from_millis(400)).contains(d)));
        // Jitter: 64 draws from 200 million nanoseconds are not all one value.
        assert!(delays.iter().any(|d| *d != delays[0]), "{delays:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_is_remembered_until_its_back_off_ends() {
        let c = Cooldown::new(CooldownPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(8),
        });
        assert_eq!(c.current(), None::<&str>);
        let first = c.failed("down");
        assert!((Duration::from_secs(1)..=Duration::from_secs(2)).contains(&first));
        assert_eq!(c.current(), Some("down"));
        assert_eq!(c.remaining(), Some(first));
        tokio::time::advance(first).await;
        assert_eq!((c.current(), c.remaining()), (None, None));
        // Second failure in a row: the ceiling doubled.
        let second = c.failed("still down");
        assert!(second >= Duration::from_secs(2), "{second:?}");
        c.succeeded();
        assert_eq!(c.current(), None);
        assert!(c.failed("again") <= Duration::from_secs(2));
    }
}
