//! A circuit breaker for the inventory lookup: stop calling an inventory that keeps failing.
//!
//! Closed: every caller gets a [`Permit`]. After `failures` consecutive failures the breaker
//! opens and refuses callers for `open_for`. Then it is half-open: exactly one caller gets a
//! trial permit; its success closes the breaker, its failure opens it for another `open_for`.
//!
//! Time is passed in (`now`) so tests drive it with paused tokio time. Which outcomes count
//! as failures is the caller's choice.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker; 0 is treated as 1.
    pub failures: u32,
    /// How long the breaker stays open before it lets one trial call through.
    pub open_for: Duration,
}

/// Where a breaker stands, for status pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused until the open period has passed.
    Open,
    /// One trial call is in flight; everyone else is refused until it reports.
    HalfOpen,
}

/// The breaker refused the call: go straight to the fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("inventory circuit breaker is open; lookups resume after the open period")]
pub struct BreakerOpen;

/// Leave to make one call; hand it back with [`CircuitBreaker::record`].
///
/// Dropping the trial permit of a half-open breaker without recording it counts as a
/// failure (the trial did not show the inventory is healthy), so the breaker re-opens
/// instead of waiting for a report that never comes. Dropping any other permit has no
/// effect.
#[must_use = "a permit must be handed back with CircuitBreaker::record"]
#[derive(Debug)]
pub struct Permit {
    shared: Arc<Mutex<Inner>>,
    /// The breaker's epoch when the permit was granted; a result from an older epoch
    /// describes a state that no longer exists and is ignored.
    epoch: u64,
    trial: bool,
    armed: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.armed && self.trial {
            lock(&self.shared).settle(self.epoch, false, Instant::now());
        }
    }
}

/// A thread-safe circuit breaker; share it by reference (or in an `Arc`).
///
/// ```
/// use std::time::Duration;
/// use cxrules_engine::routing::breaker::{BreakerPolicy, BreakerState, CircuitBreaker};
/// use tokio::time::Instant;
///
/// let breaker = CircuitBreaker::new(BreakerPolicy { failures: 2, open_for: Duration::from_secs(30) });
/// let now = Instant::now();
/// for _ in 0..2 {
///     let permit = breaker.try_acquire(now).expect("closed breakers let calls through");
///     breaker.record(permit, false, now);
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert!(breaker.try_acquire(now).is_err());
/// ```
#[derive(Debug)]
pub struct CircuitBreaker {
    shared: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    policy: BreakerPolicy,
    phase: Phase,
    /// Bumped on every change of phase, so late results from an earlier phase are ignored.
    epoch: u64,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// `deadline` bounds how long the trial may take before another caller may try; it
    /// covers a trial permit that is neither recorded nor dropped (leaked or stuck).
    HalfOpen {
        deadline: Instant,
    },
}

impl CircuitBreaker {
    /// A closed breaker with the given policy.
    pub fn new(policy: BreakerPolicy) -> Self {
        let policy = BreakerPolicy {
            failures: policy.failures.max(1),
            ..policy
        };
        let inner = Inner {
            policy,
            phase: Phase::Closed { failures: 0 },
            epoch: 0,
        };
        Self {
            shared: Arc::new(Mutex::new(inner)),
        }
    }

    /// The policy in force (with `failures` at least 1).
    pub fn policy(&self) -> BreakerPolicy {
        lock(&self.shared).policy
    }

    /// Asks leave to call the inventory at `now`.
    pub fn try_acquire(&self, now: Instant) -> Result<Permit, BreakerOpen> {
        let mut inner = lock(&self.shared);
        let open_for = inner.policy.open_for;
        let trial = match inner.phase {
            Phase::Closed { .. } => false,
            Phase::Open { until } | Phase::HalfOpen { deadline: until } if now < until => {
                return Err(BreakerOpen);
            }
            Phase::Open { .. } | Phase::HalfOpen { .. } => {
                inner.enter(Phase::HalfOpen {
                    deadline: now + open_for,
                });
                true
            }
        };
        let epoch = inner.epoch;
        drop(inner);
        Ok(Permit {
            shared: Arc::clone(&self.shared),
            epoch,
            trial,
            armed: true,
        })
    }

    /// Reports how the call made under `permit` went.
    ///
    /// A success closes the breaker and clears the failure count. A failure counts toward
    /// the threshold when closed, and re-opens the breaker when it was the half-open trial.
    /// Results of calls granted before the breaker last changed state are ignored.
    pub fn record(&self, mut permit: Permit, success: bool, now: Instant) {
        permit.armed = false;
        debug_assert!(
            Arc::ptr_eq(&self.shared, &permit.shared),
            "a permit must be recorded on the breaker that granted it"
        );
        lock(&permit.shared).settle(permit.epoch, success, now);
    }

    /// The current state. An open breaker whose open period has passed still reads `Open`
    /// until the next caller takes the trial permit.
    pub fn state(&self) -> BreakerState {
        match lock(&self.shared).phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

impl Inner {
    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.epoch += 1;
    }

    fn settle(&mut self, epoch: u64, success: bool, now: Instant) {
        if epoch != self.epoch {
            return;
        }
        let reopen = Phase::Open {
            until: now + self.policy.open_for,
        };
        match (self.phase, success) {
            (Phase::Closed { .. }, true) => self.phase = Phase::Closed { failures: 0 },
            (Phase::Closed { failures }, false) if failures + 1 >= self.policy.failures => {
                self.enter(reopen);
            }
            (Phase::Closed { failures }, false) => {
                self.phase = Phase::Closed {
                    failures: failures + 1,
                };
            }
            (Phase::HalfOpen { .. }, true) => self.enter(Phase::Closed { failures: 0 }),
            (Phase::HalfOpen { .. }, false) => self.enter(reopen),
            // Opening bumps the epoch, so no permit of the current epoch exists while open.
            (Phase::Open { .. }, _) => {}
        }
    }
}

/// The state stays consistent at every await-free step, so a panic elsewhere while the
/// lock was held cannot leave it half-updated: recover the guard instead of propagating.
fn lock(shared: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
