//! A small, bounded, short-lived cache of inventory status by SKU.
//!
//! Every entry lives for the same `ttl`, so insertion order is also expiry order: the
//! oldest entry is always the first to expire and the first to evict when full.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// SKU → inventory status, each entry kept for `ttl`, at most `max_entries` at once.
///
/// Time is passed in (`now`) and never read from a clock, so tests drive it with paused
/// tokio time.
///
/// ```
/// use std::time::Duration;
/// use cxrules_engine::routing::cache::StatusCache;
/// use tokio::time::Instant;
///
/// let cache = StatusCache::new(Duration::from_secs(5), 1000);
/// let now = Instant::now();
/// cache.insert("SKU-CHAT-567890", "in_stock", now);
/// assert_eq!(cache.get("SKU-CHAT-567890", now).as_deref(), Some("in_stock"));
/// assert_eq!(cache.get("SKU-CHAT-567890", now + Duration::from_secs(5)), None);
/// ```
#[derive(Debug)]
pub struct StatusCache {
    ttl: Duration,
    max_entries: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// SKUs oldest first, each with the stamp of the insert that queued it; a SKU inserted
    /// again is queued again, and its older queue slot is skipped as stale.
    order: VecDeque<(String, u64)>,
    next_stamp: u64,
}

#[derive(Debug)]
struct Entry {
    status: String,
    expires: Instant,
    stamp: u64,
}

impl StatusCache {
    /// An empty cache. `max_entries == 0` disables caching; `ttl` zero makes every entry
    /// expire at once.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How long an entry is kept.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The most entries held at once.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The status cached for `sku`, unless it has expired by `now`.
    pub fn get(&self, sku: &str, now: Instant) -> Option<String> {
        let mut inner = self.lock();
        let entry = inner.entries.get(sku)?;
        if now < entry.expires {
            return Some(entry.status.clone());
        }
        inner.entries.remove(sku);
        None
    }

    /// Caches `status` for `sku` from `now`, replacing any earlier entry for it. Expired
    /// entries go first; when still full, the oldest entry makes room.
    pub fn insert(&self, sku: &str, status: impl Into<String>, now: Instant) {
        if self.max_entries == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.evict_expired(now);
        if !inner.entries.contains_key(sku) {
            while inner.entries.len() >= self.max_entries {
                inner.evict_oldest();
            }
        }
        let stamp = inner.next_stamp;
        inner.next_stamp += 1;
        let entry = Entry {
            status: status.into(),
            expires: now + self.ttl,
            stamp,
        };
        inner.entries.insert(sku.to_owned(), entry);
        inner.order.push_back((sku.to_owned(), stamp));
        // Re-inserting hot SKUs leaves stale queue slots behind; keep the queue in
        // proportion to the map so it cannot grow without bound.
        if inner.order.len() > 2 * self.max_entries {
            inner.compact();
        }
    }

    /// Entries held, expired ones not yet evicted included.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything (for a reload that changes the inventory source, say).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.order.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves the map and queue consistent before the next can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn is_live(&self, sku: &str, stamp: u64) -> bool {
        self.entries
            .get(sku)
            .is_some_and(|entry| entry.stamp == stamp)
    }

    fn evict_expired(&mut self, now: Instant) {
        while let Some((sku, stamp)) = self.order.front() {
            match self.entries.get(sku) {
                Some(entry) if entry.stamp == *stamp && now < entry.expires => break,
                Some(entry) if entry.stamp == *stamp => {
                    self.entries.remove(sku);
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((sku, stamp)) = self.order.pop_front() {
            if self.is_live(&sku, stamp) {
                self.entries.remove(&sku);
                return;
            }
        }
    }

    fn compact(&mut self) {
        let order = std::mem::take(&mut self.order);
        self.order = order
            .into_iter()
            .filter(|(sku, stamp)| self.is_live(sku, *stamp))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::advance;

    use super::*;

    const TTL: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_ttl() {
        let cache = StatusCache::new(TTL, 10);
        cache.insert("A", "in_stock", Instant::now());
        advance(TTL - Duration::from_millis(1)).await;
        assert_eq!(cache.get("A", Instant::now()).as_deref(), Some("in_stock"));
        advance(Duration::from_millis(1)).await;
        assert_eq!(cache.get("A", Instant::now()), None);
        assert!(cache.is_empty(), "an expired entry is dropped when read");
    }

    #[tokio::test(start_paused = true)]
    async fn reinsert_replaces_status_and_restarts_ttl() {
        let cache = StatusCache::new(TTL, 10);
        cache.insert("A", "in_stock", Instant::now());
        advance(TTL / 2).await;
        cache.insert("A", "low_stock", Instant::now());
        advance(TTL / 2).await;
        assert_eq!(cache.get("A", Instant::now()).as_deref(), Some("low_stock"));
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn full_cache_evicts_oldest() {
        let cache = StatusCache::new(TTL, 2);
        cache.insert("A", "1", Instant::now());
        cache.insert("B", "2", Instant::now());
        cache.insert("A", "1b", Instant::now());
        cache.insert("C", "3", Instant::now());
        let now = Instant::now();
        assert_eq!(cache.get("B", now), None, "B is now the oldest");
        assert_eq!(cache.get("A", now).as_deref(), Some("1b"));
        assert_eq!(cache.get("C", now).as_deref(), Some("3"));
    }

    #[tokio::test(start_paused = true)]
    async fn expired_entries_make_room_before_live_ones() {
        let cache = StatusCache::new(TTL, 2);
        cache.insert("old", "x", Instant::now());
        advance(TTL).await;
        cache.insert("B", "2", Instant::now());
        cache.insert("C", "3", Instant::now());
        let now = Instant::now();
        assert_eq!(cache.get("B", now).as_deref(), Some("2"));
        assert_eq!(cache.get("C", now).as_deref(), Some("3"));
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn hot_key_reinserts_stay_bounded() {
        let cache = StatusCache::new(TTL, 3);
        for i in 0..1000 {
            cache.insert("hot", i.to_string(), Instant::now());
        }
        assert!(cache.lock().order.len() <= 6);
        assert_eq!(cache.get("hot", Instant::now()).as_deref(), Some("999"));
    }

    #[tokio::test(start_paused = true)]
    async fn never_holds_more_than_max_entries() {
        let cache = StatusCache::new(TTL, 5);
        for i in 0..50 {
            cache.insert(&format!("SKU-{i}"), "in_stock", Instant::now());
            assert!(cache.len() <= 5);
        }
        let now = Instant::now();
        let kept: Vec<usize> = (0..50)
            .filter(|i| cache.get(&format!("SKU-{i}"), now).is_some())
            .collect();
        assert_eq!(kept, vec![45, 46, 47, 48, 49]);
    }

    #[test]
    fn zero_capacity_or_zero_ttl_caches_nothing() {
        let now = Instant::now();
        let disabled = StatusCache::new(TTL, 0);
        disabled.insert("A", "in_stock", now);
        assert_eq!(disabled.get("A", now), None);
        let instant = StatusCache::new(Duration::ZERO, 10);
        instant.insert("A", "in_stock", now);
        assert_eq!(instant.get("A", now), None);
    }

    #[test]
    fn clear_forgets_everything() {
        let now = Instant::now();
        let cache = StatusCache::new(TTL, 10);
        cache.insert("A", "in_stock", now);
        cache.clear();
        assert_eq!(cache.get("A", now), None);
        assert!(cache.is_empty());
    }
}
