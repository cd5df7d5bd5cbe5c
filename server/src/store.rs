//! The shared dedup store of `serve --dedup-store`: a `RedisStore` per channel on one lazily
//! connected `ConnectionManager`, each wrapped so store errors are counted and, with
//! `--on-store-error local`, decided on this replica's memory until Redis answers again.
//!
//! With `reject` a failed check is returned to the engine, and the event is answered 503 with
//! `Retry-After` before anything is recorded. With `local` a check that finds Redis unavailable
//! or too slow is decided by an in-memory store of the channel instead: replicas then no longer
//! see each other's messages, which is shown (`/healthz` degraded, `/rules/status`, the
//! `cxrules_dedup_store_fallback` gauge) rather than hidden. While it fails, Redis is tried again
//! at most once per [`PROBE_EVERY`], so not every event waits for a timeout; the first check that
//! succeeds ends the fallback. A token is committed or rolled back by the store that made it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cxrules_engine::dedup::config::Channel;
use cxrules_engine::dedup::memory::MemoryStore;
use cxrules_engine::dedup::redis::{connect, RedisOptions, RedisStore};
use cxrules_engine::dedup::store::{
    BoxFuture, CheckOutcome, CheckRequest, DedupStore, RollbackToken, StoreError, StoreErrorKind,
    StoreStats,
};
use cxrules_engine::engine::StoreFactory;
use prometheus_client::metrics::histogram::Histogram;
use serde::Serialize;

use crate::config::{DedupStoreConfig, OnStoreError};

/// How long the highest `lastSequence` sent for an interaction is remembered after its last
/// update (longer than any dedup window the shipped rules use).
pub const KEEP_SENT: Duration = Duration::from_secs(24 * 3600);

/// How long a failing store is left alone before the next check tries it again.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

const KINDS: [StoreErrorKind; 4] = [
    StoreErrorKind::Unavailable,
    StoreErrorKind::Timeout,
    StoreErrorKind::Script,
    StoreErrorKind::Other,
];

fn kind_index(kind: StoreErrorKind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(3)
}

/// The state of the shared store, common to every channel's store: errors by kind, whether the
/// last call failed, whether events are decided locally.
#[derive(Debug)]
pub struct StoreHealth {
    on_error: OnStoreError,
    errors: [AtomicU64; 4],
    failing: AtomicBool,
    /// Milliseconds after `epoch` before which a failing store is not tried again.
    probe_at_ms: AtomicU64,
    epoch: Instant,
    /// Check round trips, once the host's metrics are there.
    latency: OnceLock<Histogram>,
}

/// What `/rules/status` shows of the dedup store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DedupStoreStatus {
    /// `redis` or `memory`.
    pub kind: &'static str,
    /// True while events are decided on this replica's memory because Redis fails.
    pub fallback: bool,
    /// True while the latest call to the store failed.
    pub failing: bool,
    /// Store errors since start, by kind.
    pub errors: std::collections::BTreeMap<&'static str, u64>,
}

impl DedupStoreStatus {
    /// The status of a host whose windows are in memory.
    pub fn memory() -> Self {
        Self {
            kind: "memory",
            fallback: false,
            failing: false,
            errors: Default::default(),
        }
    }
}

impl StoreHealth {
    fn new(on_error: OnStoreError) -> Self {
        Self {
            on_error,
            errors: Default::default(),
            failing: AtomicBool::new(false),
            probe_at_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            latency: OnceLock::new(),
        }
    }

    /// Where check round trips are recorded from now on (the host's metrics are made after the
    /// engine, whose rule test gate makes no store call).
    pub fn record_latency_into(&self, histogram: Histogram) {
        let _ = self.latency.set(histogram);
    }

    /// Errors of `kind` since start.
    pub fn errors(&self, kind: StoreErrorKind) -> u64 {
        self.errors[kind_index(kind)].load(Relaxed)
    }

    /// Every kind with its count, in label order.
    pub fn errors_by_kind(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        KINDS.iter().map(|k| (k.as_str(), self.errors(*k)))
    }

    /// True while the latest call failed.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Relaxed)
    }

    /// True while events are decided on this replica's memory.
    pub fn is_fallback(&self) -> bool {
        self.on_error == OnStoreError::Local && self.is_failing()
    }

    /// The status document.
    pub fn status(&self) -> DedupStoreStatus {
        DedupStoreStatus {
            kind: "redis",
            fallback: self.is_fallback(),
            failing: self.is_failing(),
            errors: self.errors_by_kind().collect(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether this check should go to Redis: always while it works; while it fails, one check
    /// per [`PROBE_EVERY`] (the first to claim the slot).
    fn should_try(&self) -> bool {
        if !self.is_fallback() {
            return true;
        }
        let now = self.now_ms();
        let at = self.probe_at_ms.load(Relaxed);
        now >= at
            && self
                .probe_at_ms
                .compare_exchange(at, now + PROBE_EVERY.as_millis() as u64, Relaxed, Relaxed)
                .is_ok()
    }

    fn succeeded(&self) {
        if self.failing.swap(false, Relaxed) {
            tracing::warn!("dedup store: redis answers again; dedup windows are shared again");
        }
    }

    fn failed(&self, e: &StoreError) {
        self.errors[kind_index(e.kind())].fetch_add(1, Relaxed);
        if !falls_back(e.kind()) {
            return;
        }
        let now = self.now_ms();
        self.probe_at_ms
            .store(now + PROBE_EVERY.as_millis() as u64, Relaxed);
        if !self.failing.swap(true, Relaxed) {
            match self.on_error {
                OnStoreError::Local => tracing::error!(
                    error = %e,
                    "dedup store: redis fails; deciding on this replica's memory until it answers \
                     (--on-store-error local): replicas do not see each other's messages meanwhile"
                ),
                OnStoreError::Reject => tracing::error!(
                    error = %e,
                    "dedup store: redis fails; events are answered 503 until it answers \
                     (--on-store-error reject)"
                ),
            }
        }
    }
}

/// Unavailable and timeout are the store being away; a script or other error is a bug or a
/// misconfiguration that deciding locally would hide.
fn falls_back(kind: StoreErrorKind) -> bool {
    matches!(kind, StoreErrorKind::Unavailable | StoreErrorKind::Timeout)
}

/// The Redis stores of every channel and their shared health.
#[derive(Clone)]
pub struct SharedStore {
    factory: StoreFactory,
    health: Arc<StoreHealth>,
    conn: redis::aio::ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// One connection manager for `config.url`, connected on first use (a Redis that is down at
    /// start does not stop the host). Must be called inside a tokio runtime.
    pub fn connect(config: &DedupStoreConfig) -> Result<Self, StoreError> {
        let conn = connect(&config.url, config.timeout)?;
        let kept = conn.clone();
        let health = Arc::new(StoreHealth::new(config.on_error));
        let options = RedisOptions {
            timeout: config.timeout,
            ..RedisOptions::default()
        };
        let prefix = config.key_prefix.clone();
        let shared = health.clone();
        let factory: StoreFactory = Arc::new(move |ch: &Channel| {
            let store: Arc<dyn DedupStore> =
                match RedisStore::for_channel(conn.clone(), &prefix, ch, options.clone()) {
                    Ok(redis) => Arc::new(Guarded::new(redis, ch, shared.clone())),
                    // The prefix was checked at start; a channel name cannot make it invalid.
                    Err(e) => {
                        tracing::error!(error = %e, channel = ch.name(), "dedup store: in memory");
                        Arc::new(MemoryStore::new(ch.policy().clone()))
                    }
                };
            store
        });
        Ok(Self {
            factory,
            health,
            conn: kept,
            prefix: config.key_prefix.clone(),
        })
    }

    /// The cross-replica order guard of metadata updates on the same connection; `lease`
    /// bounds one delivery with its retries.
    pub fn sequence_guard(&self, lease: Duration) -> crate::sequence::SequenceGuard {
        crate::sequence::SequenceGuard::new(self.conn.clone(), &self.prefix, lease, KEEP_SENT)
    }

    /// The connection manager every channel's store uses (the Redis outbox shares it).
    pub fn connection(&self) -> redis::aio::ConnectionManager {
        self.conn.clone()
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Makes each channel's store.
    pub fn factory(&self) -> StoreFactory {
        self.factory.clone()
    }

    /// The health every channel's store reports into.
    pub fn health(&self) -> Arc<StoreHealth> {
        self.health.clone()
    }
}

/// One channel's Redis store, its errors counted, with its in-memory stand-in.
struct Guarded {
    redis: Arc<RedisStore>,
    local: Arc<MemoryStore>,
    health: Arc<StoreHealth>,
    /// Tokens the local store made and has not been told about since: `(interaction, stamp)`.
    local_tokens: Mutex<HashSet<(String, u64)>>,
}

impl Guarded {
    fn new(redis: RedisStore, channel: &Channel, health: Arc<StoreHealth>) -> Self {
        Self {
            redis: Arc::new(redis),
            local: Arc::new(MemoryStore::new(channel.policy().clone())),
            health,
            local_tokens: Mutex::new(HashSet::new()),
        }
    }

    /// True (and forgotten) when the local store made `token`.
    fn take_local(&self, token: &RollbackToken) -> bool {
        self.local_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(token.interaction.clone(), token.check_stamp))
    }

    async fn check_local(&self, req: CheckRequest<'_>) -> Result<CheckOutcome, StoreError> {
        let outcome = self.local.check(req).await?;
        if let Some(token) = &outcome.rollback {
            self.local_tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((token.interaction.clone(), token.check_stamp));
        }
        Ok(outcome)
    }

    async fn check_guarded(&self, req: CheckRequest<'_>) -> Result<CheckOutcome, StoreError> {
        if self.health.should_try() {
            let started = Instant::now();
            let result = self.redis.check(req.clone()).await;
            if let Some(latency) = self.health.latency.get() {
                latency.observe(started.elapsed().as_secs_f64());
            }
            match result {
                Ok(outcome) => {
                    self.health.succeeded();
                    return Ok(outcome);
                }
                Err(e) => {
                    self.health.failed(&e);
                    if self.health.on_error == OnStoreError::Reject || !falls_back(e.kind()) {
                        return Err(e);
                    }
                }
            }
        }
        self.check_local(req).await
    }
}

impl DedupStore for Guarded {
    fn check<'a>(
        &'a self,
        req: CheckRequest<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        Box::pin(self.check_guarded(req))
    }

    fn commits(&self) -> bool {
        true
    }

    fn commit(self: Arc<Self>, token: RollbackToken) -> BoxFuture<'static, Result<(), StoreError>> {
        if self.take_local(&token) {
            return self.local.clone().commit(token);
        }
        let health = self.health.clone();
        let commit = self.redis.clone().commit(token);
        Box::pin(async move {
            let result = commit.await;
            if let Err(e) = &result {
                health.failed(e);
            }
            result
        })
    }

    fn rollback(&self, token: RollbackToken) -> BoxFuture<'_, Result<(), StoreError>> {
        if self.take_local(&token) {
            return self.local.rollback(token);
        }
        Box::pin(async move {
            let result = self.redis.rollback(token).await;
            if let Err(e) = &result {
                self.health.failed(e);
            }
            result
        })
    }

    fn commit_part(
        &self,
        token: &RollbackToken,
    ) -> Option<cxrules_engine::dedup::redis::CommitPart<'_>> {
        let local = self
            .local_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&(token.interaction.clone(), token.check_stamp));
        if local {
            return None;
        }
        self.redis.commit_part(token)
    }

    fn stats(&self) -> StoreStats {
        self.redis.stats()
    }
}

/// A real `redis-server` for the tests: the engine's harness.
#[cfg(test)]
#[path = "../../engine/tests/support/redis.rs"]
mod redis_server;

#[cfg(test)]
mod tests;
