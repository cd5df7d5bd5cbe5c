//! The in-memory `DedupStore`: sharded, bounded, expiry amortized O(1).
//!
//! # How it remembers
//!
//! Interactions are kept under a 64-bit keyed hash of their id (std `RandomState`, so keys are
//! not predictable from outside), spread over up to 64 shards, each behind its own mutex. Two
//! interaction ids share a key with odds of about `n² / 2^65` (3·10⁻⁸ at a million tracked);
//! they would then share a highest order key, and one could only suppress the other's message if
//! their 128-bit fingerprints matched too. Each interaction remembers every fingerprint and event
//! id of its window as 16-byte keys (see `interaction::Slot` for why 16 bytes suffice), each
//! with its own expiry, plus the highest order key seen.
//!
//! Times are milliseconds since the first check's `now`, held as wrapping `u32`. The store never
//! reads a clock: `CheckRequest::now` is the only time, so paused tokio time drives it in tests.
//! Windows are capped at about 12.4 days.
//!
//! # Bounds
//!
//! - `max_interactions` is split evenly over the shards (a shard holds at least 1024 of them
//!   unless the whole store is smaller, in which case there is one shard), so the total never
//!   exceeds it; a busy shard may start evicting a little before the whole store is full
//!   (shards differ by about the square root of their share: under 1% each at a million). Beyond its share a shard evicts the least recently *created*
//!   interaction whose deadline has not moved since it was queued; one kept busy since (a
//!   sliding hit, a new message) goes to the back of the line once instead.
//! - `max_fingerprints` counts fingerprints and event ids together; beyond it the key expiring
//!   first is dropped. Values below 1 are treated as 1, as is a `max_interactions` of 0.
//!
//! # Memory per interaction (x86_64), the worst case being one key per interaction
//!
//! - Map bucket: 8-byte key + 40-byte `Interaction` (20-byte inline first slot, 4-byte flags,
//!   8-byte highest, 8-byte pointer to the heap list used from the second key on) = 48 bytes,
//!   plus 1 control byte. Tables have power-of-two bucket counts filled to at most 7/8, so
//!   between 7/16 and 7/8 of the buckets are used: 56 to 112 bytes per interaction. A million
//!   interactions over 64 shards is ~15,600 per 32,768-bucket table (load 0.48): ~103 bytes.
//! - Expiry queue entry: 12 bytes in a power-of-two ring buffer, 12 to 24 bytes (~12.9 here).
//! - Total: ~116 bytes at a million, at most 136 bytes in the worst table state, under the
//!   150-byte bar. A second key moves to a heap list (a boxed 24-byte `Vec` header plus room
//!   for three 20-byte slots, about 100 bytes with allocator overhead), spread over the keys it
//!   holds: one message with an event id measures ~114 bytes per key.

mod interaction;
mod shard;
#[cfg(test)]
mod tests;

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use tokio::time::Instant;

use self::interaction::MAX_WINDOW_MS;
use self::shard::{Limits, Probe, Shard};
use super::store::{
    BoxFuture, CheckOutcome, CheckRequest, DedupStore, RollbackToken, StoreError, StoreStats,
    WindowPolicy,
};

/// Fewest interactions a shard should hold, so the per-shard caps add up to a fair global bound.
const MIN_PER_SHARD: usize = 1024;
/// Most shards: plenty for a few cores to rarely meet on one lock.
const MAX_SHARDS: usize = 64;

/// A shard on its own cache lines, so two cores locking neighbours do not share a line.
#[repr(align(128))]
struct Padded(Mutex<Shard>);

/// In-memory store for one channel's windows.
///
/// ```
/// use std::time::Duration;
/// use cxrules_engine::dedup::memory::MemoryStore;
/// use cxrules_engine::dedup::store::{CheckRequest, Verdict, WindowPolicy};
///
/// let store = MemoryStore::new(WindowPolicy {
///     window: Duration::from_secs(45),
///     sliding: true,
///     max_interactions: 100_000,
///     max_fingerprints: 64,
/// });
/// let now = tokio::time::Instant::now();
/// let req = |fingerprint| CheckRequest {
///     interaction: "contact-1",
///     fingerprint,
///     event_id: None,
///     order: None,
///     now,
/// };
/// assert_eq!(store.check_sync(&req([1; 32])).verdict, Verdict::Unique);
/// assert_eq!(store.check_sync(&req([2; 32])).verdict, Verdict::Unique);
/// assert_eq!(store.check_sync(&req([1; 32])).verdict, Verdict::Duplicate);
/// ```
pub struct MemoryStore {
    policy: WindowPolicy,
    limits: Limits,
    hasher: RandomState,
    /// The instant the store's millisecond clock counts from: the first check's `now`.
    epoch: OnceLock<Instant>,
    shards: Box<[Padded]>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("policy", &self.policy)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store with the given policy.
    pub fn new(policy: WindowPolicy) -> Self {
        let window_ms = policy
            .window
            .as_nanos()
            .div_ceil(1_000_000)
            .min(u128::from(MAX_WINDOW_MS));
        let limits = Limits {
            window_ms: window_ms as u32,
            sliding: policy.sliding,
            max_fingerprints: policy.max_fingerprints.max(1),
        };
        let max = policy.max_interactions.max(1);
        let count = (max / MIN_PER_SHARD).clamp(1, MAX_SHARDS);
        let count = 1 << count.ilog2();
        let shards = (0..count)
            .map(|i| {
                Padded(Mutex::new(Shard::new(
                    max / count + usize::from(i < max % count),
                )))
            })
            .collect();
        Self {
            policy,
            limits,
            hasher: RandomState::new(),
            epoch: OnceLock::new(),
            shards,
        }
    }

    /// The policy this store was made with.
    pub fn policy(&self) -> &WindowPolicy {
        &self.policy
    }

    /// The synchronous check behind [`DedupStore::check`].
    pub fn check_sync(&self, req: &CheckRequest<'_>) -> CheckOutcome {
        let epoch = *self.epoch.get_or_init(|| req.now);
        let probe = Probe {
            key: self.hasher.hash_one(req.interaction),
            fingerprint: truncate(&req.fingerprint),
            event: req.event_id.map(|id| self.event_key(id)),
            order: req.order,
            now_ms: req.now.saturating_duration_since(epoch).as_millis() as u64,
        };
        let decision = self.shard(probe.key).check(&probe, self.limits);
        let rollback = (!decision.verdict.is_suppressed()).then(|| RollbackToken {
            interaction: req.interaction.to_owned(),
            fingerprint: req.fingerprint,
            event_id: req.event_id.map(str::to_owned),
            previous_highest: decision.previous_highest,
            set_highest: decision.highest,
            check_stamp: u64::from(decision.stamp),
        });
        CheckOutcome {
            verdict: decision.verdict,
            highest: decision.highest,
            rollback,
        }
    }

    /// The synchronous rollback behind [`DedupStore::rollback`].
    pub fn rollback_sync(&self, token: &RollbackToken) {
        let key = self.hasher.hash_one(token.interaction.as_str());
        let keys = [
            Some(truncate(&token.fingerprint)),
            token.event_id.as_deref().map(|id| self.event_key(id)),
        ];
        self.shard(key)
            .rollback(key, keys, token.previous_highest, stamp(token));
    }

    /// The counters, summed over the shards (each read under its own lock, so a sum taken while
    /// checks run is close, not exact).
    fn sum_stats(&self) -> StoreStats {
        self.shards
            .iter()
            .map(|s| lock(&s.0).stats())
            .fold(StoreStats::default(), |a, b| StoreStats {
                interactions: a.interactions + b.interactions,
                fingerprints: a.fingerprints + b.fingerprints,
                evicted_interactions: a.evicted_interactions + b.evicted_interactions,
                evicted_fingerprints: a.evicted_fingerprints + b.evicted_fingerprints,
                expired_interactions: a.expired_interactions + b.expired_interactions,
            })
    }

    /// The shard owning `key`. Bits 32.. pick it: the map uses the low bits for the bucket and
    /// the top seven as a tag, which must both still vary inside one shard.
    fn shard(&self, key: u64) -> MutexGuard<'_, Shard> {
        let index = (key >> 32) as usize & (self.shards.len() - 1);
        lock(&self.shards[index].0)
    }

    /// A 128-bit keyed hash of an event id: two 64-bit hashes told apart by a salt byte.
    fn event_key(&self, id: &str) -> [u8; 16] {
        let mut key = [0; 16];
        key[..8].copy_from_slice(&self.hasher.hash_one((b'e', id)).to_le_bytes());
        key[8..].copy_from_slice(&self.hasher.hash_one((b'i', id)).to_le_bytes());
        key
    }
}

/// Locks a shard. A panic while holding a lock leaves counters at worst slightly off, never
/// memory unsafe, so a poisoned shard keeps serving rather than failing every later check.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The first 16 bytes of a fingerprint.
/// The shard stamp a token carries (31 bits; a token made elsewhere matches no check).
fn stamp(token: &RollbackToken) -> u32 {
    u32::try_from(token.check_stamp).unwrap_or(u32::MAX)
}

fn truncate(fingerprint: &[u8; 32]) -> [u8; 16] {
    let mut key = [0; 16];
    key.copy_from_slice(&fingerprint[..16]);
    key
}

impl DedupStore for MemoryStore {
    fn check<'a>(
        &'a self,
        req: CheckRequest<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        let out = self.check_sync(&req);
        Box::pin(async move { Ok(out) })
    }

    fn rollback(&self, token: RollbackToken) -> BoxFuture<'_, Result<(), StoreError>> {
        self.rollback_sync(&token);
        Box::pin(async { Ok(()) })
    }

    fn stats(&self) -> StoreStats {
        self.sum_stats()
    }
}
