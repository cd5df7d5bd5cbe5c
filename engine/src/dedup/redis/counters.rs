//! What one Redis store instance counts: its own calls, not the shared store's state.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

/// Counters of one store instance: what this process asked and was told. Other replicas keep
/// their own; add them up for the whole picture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RedisCounters {
    /// Checks answered.
    pub checks: u64,
    /// Checks answered duplicate (or re-delivery) because the message was claimed by a check
    /// not yet committed.
    pub in_flight_duplicates: u64,
    /// Keys evicted by this process's checks (`max_fingerprints`).
    pub evicted_fingerprints: u64,
    /// Commits made.
    pub commits: u64,
    /// Commits that found their claim gone (its lease ran out) and recorded the message anew.
    pub lapsed_commits: u64,
    /// Rollbacks made.
    pub rollbacks: u64,
    /// Calls that failed (every kind).
    pub errors: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) checks: AtomicU64,
    pub(super) in_flight_duplicates: AtomicU64,
    pub(super) evicted_fingerprints: AtomicU64,
    pub(super) commits: AtomicU64,
    pub(super) lapsed_commits: AtomicU64,
    pub(super) rollbacks: AtomicU64,
    pub(super) errors: AtomicU64,
}

impl Counters {
    /// The counters as they are now.
    pub(super) fn snapshot(&self) -> RedisCounters {
        RedisCounters {
            checks: self.checks.load(Relaxed),
            in_flight_duplicates: self.in_flight_duplicates.load(Relaxed),
            evicted_fingerprints: self.evicted_fingerprints.load(Relaxed),
            commits: self.commits.load(Relaxed),
            lapsed_commits: self.lapsed_commits.load(Relaxed),
            rollbacks: self.rollbacks.load(Relaxed),
            errors: self.errors.load(Relaxed),
        }
    }
}
