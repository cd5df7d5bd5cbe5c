//! One shard of the memory store: its interactions, their expiry queue and its counters.
//!
//! The expiry queue holds one `(deadline, key)` entry per interaction, pushed when the
//! interaction is created, so deadlines enter in order. A later key or a sliding hit moves the
//! interaction's real deadline without touching the queue; when such a stale entry reaches the
//! front it is pushed again with the real deadline. Every call pops only what is due, so expiry
//! costs amortized O(1) per created interaction or extension, and the queue never holds more
//! entries than there are interactions (plus ones orphaned by rollbacks, skipped when popped).
//! Re-pushed entries can sit behind later deadlines, so an interaction may stay in memory up to
//! one extra window after it runs out; checks never see it, since every key carries its expiry.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::interaction::{later, Interaction, Slot, STAMP_MASK};
use crate::dedup::store::{StoreStats, Verdict};

/// Hashes interaction keys, which already are keyed 64-bit hashes, by passing them through.
#[derive(Debug, Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; this keeps the hasher total anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// An expiry queue entry, 12 bytes: the key is split so the entry needs only 4-byte alignment.
#[derive(Debug, Clone, Copy)]
struct QueueEntry {
    deadline: u32,
    key: [u32; 2],
}

const _: () = assert!(std::mem::size_of::<QueueEntry>() == 12);

impl QueueEntry {
    fn new(deadline: u32, key: u64) -> Self {
        Self {
            deadline,
            key: [key as u32, (key >> 32) as u32],
        }
    }

    fn key(self) -> u64 {
        u64::from(self.key[0]) | (u64::from(self.key[1]) << 32)
    }
}

/// Store-wide settings every shard applies.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// The window, in ms (at most `MAX_WINDOW_MS`).
    pub(super) window_ms: u32,
    /// Whether a hit extends the key's expiry.
    pub(super) sliding: bool,
    /// Keys per interaction (at least 1).
    pub(super) max_fingerprints: usize,
}

/// One check, already hashed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Probe {
    /// The interaction's keyed hash.
    pub(super) key: u64,
    /// The truncated fingerprint.
    pub(super) fingerprint: [u8; 16],
    /// The event id's keyed hash.
    pub(super) event: Option<[u8; 16]>,
    /// The order key.
    pub(super) order: Option<i64>,
    /// The store clock, ms.
    pub(super) now_ms: u64,
}

/// What a shard decided for one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decision {
    pub(super) verdict: Verdict,
    pub(super) highest: Option<i64>,
    pub(super) previous_highest: Option<i64>,
    /// Which check this was on its shard (31 bits, wrapping), for [`Shard::rollback`].
    pub(super) stamp: u32,
}

/// One shard; the store wraps each in a mutex.
#[derive(Debug)]
pub(super) struct Shard {
    map: HashMap<u64, Interaction, BuildHasherDefault<KeyHasher>>,
    queue: VecDeque<QueueEntry>,
    /// The latest clock value seen (ms), so time on a shard never runs backwards.
    clock: u64,
    /// Checks made on this shard (31 bits, wrapping): each interaction keeps the value of its
    /// latest, so a rollback can tell whether a later check has answered since.
    checks: u32,
    /// Most interactions this shard holds.
    cap: usize,
    stats: StoreStats,
}

impl Shard {
    /// An empty shard holding at most `cap` interactions.
    pub(super) fn new(cap: usize) -> Self {
        let stats = StoreStats::default();
        Self {
            map: HashMap::default(),
            queue: VecDeque::new(),
            clock: 0,
            checks: 0,
            cap,
            stats,
        }
    }

    /// The counters, with the interaction count filled in.
    pub(super) fn stats(&self) -> StoreStats {
        StoreStats {
            interactions: self.map.len() as u64,
            ..self.stats
        }
    }

    /// Checks a message and records it when it is new.
    pub(super) fn check(&mut self, probe: &Probe, limits: Limits) -> Decision {
        let now = self.advance(probe.now_ms, limits.window_ms);
        let expires = now.wrapping_add(limits.window_ms);
        self.checks = self.checks.wrapping_add(1) & STAMP_MASK;
        let stamp = self.checks;
        let Some(it) = self.map.get_mut(&probe.key) else {
            if self.map.len() >= self.cap {
                self.evict_one(now);
            }
            let (mut it, decision) = fresh(probe, expires, limits, &mut self.stats);
            it.set_stamp(stamp);
            self.map.insert(probe.key, it);
            self.queue.push_back(QueueEntry::new(expires, probe.key));
            return Decision { stamp, ..decision };
        };
        let decision = match it.prune(now) {
            Some(pruned) => {
                self.stats.fingerprints -= pruned as u64;
                record(it, probe, expires, limits, &mut self.stats)
            }
            None => {
                // Every key ran out: the interaction starts over, as if it had been dropped. Its
                // queue entry stays and is found stale when it comes due.
                self.stats.fingerprints -= it.len() as u64;
                self.stats.expired_interactions += 1;
                let (started, decision) = fresh(probe, expires, limits, &mut self.stats);
                *it = started;
                decision
            }
        };
        it.set_stamp(stamp);
        Decision { stamp, ..decision }
    }

    /// Moves the shard clock to `now_ms` and drops what is due; returns the wrapped clock.
    fn advance(&mut self, now_ms: u64, window_ms: u32) -> u32 {
        if now_ms > self.clock {
            // Every deadline is at most the old clock plus a window, so after a longer idle gap
            // all of them have passed. Clearing here also keeps wrapped times unambiguous.
            if now_ms - self.clock >= u64::from(window_ms) && !self.map.is_empty() {
                self.stats.expired_interactions += self.map.len() as u64;
                self.stats.fingerprints = 0;
                self.map.clear();
                self.queue.clear();
            }
            self.clock = now_ms;
        }
        let now = self.clock as u32;
        self.expire_due(now);
        now
    }

    /// Pops queue entries whose deadline has passed, dropping their interactions or re-queueing
    /// the ones extended since.
    fn expire_due(&mut self, now: u32) {
        while let Some(&entry) = self.queue.front() {
            if later(entry.deadline, now) {
                break;
            }
            self.queue.pop_front();
            let key = entry.key();
            let Some(it) = self.map.get(&key) else {
                continue;
            };
            let deadline = it.deadline();
            if later(deadline, now) {
                self.queue.push_back(QueueEntry::new(deadline, key));
            } else {
                self.drop_interaction(key);
                self.stats.expired_interactions += 1;
            }
        }
    }

    /// Frees one interaction slot: the first one in queue order whose deadline has not moved
    /// since it was queued (the least recently created, skipping ones kept busy since).
    fn evict_one(&mut self, now: u32) {
        while let Some(entry) = self.queue.pop_front() {
            let key = entry.key();
            let Some(it) = self.map.get(&key) else {
                continue;
            };
            let deadline = it.deadline();
            if !later(deadline, now) {
                self.drop_interaction(key);
                self.stats.expired_interactions += 1;
                return;
            }
            if later(deadline, entry.deadline) {
                self.queue.push_back(QueueEntry::new(deadline, key));
                continue;
            }
            self.drop_interaction(key);
            self.stats.evicted_interactions += 1;
            return;
        }
    }

    fn drop_interaction(&mut self, key: u64) {
        if let Some(it) = self.map.remove(&key) {
            self.stats.fingerprints -= it.len() as u64;
        }
    }

    /// Forgets the keys check `stamp` recorded. Its highest order key is undone (back to
    /// `previous`) only when no check of the interaction came after it: a later check has
    /// answered with that highest, and the update it queued may already carry it, so lowering
    /// it again would let `lastSequence` go backwards.
    pub(super) fn rollback(
        &mut self,
        key: u64,
        keys: [Option<[u8; 16]>; 2],
        previous: Option<i64>,
        stamp: u32,
    ) {
        let Some(it) = self.map.get_mut(&key) else {
            return;
        };
        let highest = if it.stamp() == stamp {
            previous
        } else {
            it.highest()
        };
        let mut removed_until = None;
        for k in keys.iter().flatten() {
            let Some(i) = it.find(k) else { continue };
            let expires = it.expires(i);
            if it.remove(i) {
                self.stats.fingerprints -= 1;
                removed_until = Some(expires);
            } else if highest.is_none() {
                // The interaction's last key, and no order key to keep: nothing is left.
                self.drop_interaction(key);
                return;
            } else {
                // The last key, but the highest must outlive it: the key stays, matching nothing,
                // until the latest expiry of the keys this rollback took.
                it.forget(i);
                if let Some(until) = removed_until {
                    it.extend(i, until);
                }
            }
        }
        it.set_highest(highest);
    }
}

/// A new interaction holding the probe's keys (event id first, so a cap of one keeps the
/// fingerprint), with the counters updated.
fn fresh(
    probe: &Probe,
    expires: u32,
    limits: Limits,
    stats: &mut StoreStats,
) -> (Interaction, Decision) {
    let fingerprint = Slot {
        key: probe.fingerprint,
        expires,
    };
    let mut it = match probe.event {
        Some(key) => {
            let mut it = Interaction::new(Slot { key, expires }, None);
            stats.fingerprints += 1;
            add(&mut it, fingerprint, limits, stats);
            it
        }
        None => {
            stats.fingerprints += 1;
            Interaction::new(fingerprint, None)
        }
    };
    let highest = it.raise_highest(probe.order);
    (
        it,
        Decision {
            verdict: Verdict::Unique,
            highest,
            previous_highest: None,
            stamp: 0,
        },
    )
}

/// Checks a message against a live interaction and records it when it is new.
fn record(
    it: &mut Interaction,
    probe: &Probe,
    expires: u32,
    limits: Limits,
    stats: &mut StoreStats,
) -> Decision {
    let previous_highest = it.highest();
    if let Some(verdict) = hit(it, probe, expires, limits.sliding) {
        let highest = it.raise_highest(probe.order);
        return Decision {
            verdict,
            highest,
            previous_highest,
            stamp: 0,
        };
    }
    let highest = it.raise_highest(probe.order);
    for key in probe.event.into_iter().chain([probe.fingerprint]) {
        add(it, Slot { key, expires }, limits, stats);
    }
    let verdict = new_verdict(probe.order, previous_highest);
    Decision {
        verdict,
        highest,
        previous_highest,
        stamp: 0,
    }
}

/// Remembers one more key, counting the one dropped when the interaction is at its cap.
fn add(it: &mut Interaction, slot: Slot, limits: Limits, stats: &mut StoreStats) {
    if it.insert(slot, limits.max_fingerprints) {
        stats.evicted_fingerprints += 1;
    } else {
        stats.fingerprints += 1;
    }
}

/// The verdict for a hit on an existing key, extending the hit keys when windows slide.
fn hit(it: &mut Interaction, probe: &Probe, expires: u32, sliding: bool) -> Option<Verdict> {
    let event_at = probe.event.and_then(|e| it.find(&e));
    let fingerprint_at = it.find(&probe.fingerprint);
    let verdict = match (event_at, fingerprint_at) {
        (Some(_), _) => Verdict::Redelivery,
        (None, Some(_)) => Verdict::Duplicate,
        (None, None) => return None,
    };
    if sliding {
        for i in [event_at, fingerprint_at].into_iter().flatten() {
            it.extend(i, expires);
        }
    }
    Some(verdict)
}

/// The verdict for a new message: out of order when its order key is below the highest seen.
fn new_verdict(order: Option<i64>, previous_highest: Option<i64>) -> Verdict {
    match (order, previous_highest) {
        (Some(o), Some(h)) if o < h => Verdict::OutOfOrder,
        _ => Verdict::Unique,
    }
}
