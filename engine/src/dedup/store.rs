//! The `DedupStore` trait: where fingerprints and the highest order key of each interaction live.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// A boxed future, the shape every store method returns so stores can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A SHA-256 fingerprint.
pub type Fingerprint = [u8; 32];

/// How a store keeps one channel's windows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WindowPolicy {
    /// How long a fingerprint is remembered.
    pub window: Duration,
    /// A duplicate hit extends the fingerprint's window (the seed's behaviour) when true.
    pub sliding: bool,
    /// Most interactions tracked at once; the oldest is evicted (and counted) beyond it.
    pub max_interactions: usize,
    /// Most fingerprints remembered per interaction; the oldest is dropped (and counted) beyond it.
    pub max_fingerprints: usize,
}

/// One question to the store: is this message new for this interaction?
#[derive(Debug, Clone)]
pub struct CheckRequest<'a> {
    /// The interaction the message belongs to.
    pub interaction: &'a str,
    /// SHA-256 over the fingerprint fields.
    pub fingerprint: Fingerprint,
    /// The event id, when the event carries one: the same id again is a re-delivery.
    pub event_id: Option<&'a str>,
    /// The message's order key (sequence number, or timestamp in ms), when known.
    pub order: Option<i64>,
    /// The time of the check (tokio's clock, so tests can pause it). A shared store may take the
    /// time from its server instead, so replicas agree (the Redis store does and ignores this).
    pub now: Instant,
}

/// What the store decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// New content for this interaction inside the window.
    Unique,
    /// New content, but its order key is below the highest seen: processed and flagged.
    OutOfOrder,
    /// The same fingerprint was seen inside the window: suppress.
    Duplicate,
    /// The same event id was seen inside the window: an exact re-delivery, suppress.
    Redelivery,
}

impl Verdict {
    /// True when the message should be suppressed.
    pub fn is_suppressed(self) -> bool {
        matches!(self, Verdict::Duplicate | Verdict::Redelivery)
    }
}

/// Undoes what one check recorded, so a later delivery is not mistaken for a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackToken {
    /// The interaction.
    pub interaction: String,
    /// The fingerprint the check inserted.
    pub fingerprint: Fingerprint,
    /// The event id the check inserted, if any.
    pub event_id: Option<String>,
    /// The highest order key before the check, restored only if no check of the interaction
    /// came after this one (a later check has answered with the highest this one set, so it
    /// stays: `lastSequence` never goes backwards).
    pub previous_highest: Option<i64>,
    /// The highest order key the check set.
    pub set_highest: Option<i64>,
    /// Which check this was, in the store's own numbering: how the store tells whether another
    /// check of the interaction came after it (the Redis store: the check's random token, which
    /// also owns its claim).
    pub check_stamp: u64,
}

/// The store's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// The verdict.
    pub verdict: Verdict,
    /// The highest order key seen for the interaction after this check.
    pub highest: Option<i64>,
    /// Present when the check recorded something (unique or out-of-order).
    pub rollback: Option<RollbackToken>,
}

/// Counters a store exposes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Interactions tracked now.
    pub interactions: u64,
    /// Fingerprints (and event ids) remembered now.
    pub fingerprints: u64,
    /// Interactions evicted because `max_interactions` was reached.
    pub evicted_interactions: u64,
    /// Fingerprints dropped because `max_fingerprints` was reached.
    pub evicted_fingerprints: u64,
    /// Interactions whose windows all ran out.
    pub expired_interactions: u64,
}

/// What kind of failure a [`StoreError`] is, for the host to label and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached: connection refused or dropped, or still reconnecting.
    Unavailable,
    /// The store did not answer in time.
    Timeout,
    /// The store answered with an error (a failed script, an answer that could not be read).
    Script,
    /// Anything else (a bad configuration, no runtime).
    Other,
}

impl StoreErrorKind {
    /// The kind as a metric label: `unavailable`, `timeout`, `script` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Timeout => "timeout",
            StoreErrorKind::Script => "script",
            StoreErrorKind::Other => "other",
        }
    }
}

/// A store failed (a remote store's connection, say); the host treats the event as not processed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("dedup store failed: {message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
}

impl StoreError {
    /// An error of `kind`, described by `message`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Where dedup windows live. In memory by default; shaped so a shared store (Redis) can answer a
/// check in one round trip.
///
/// The engine may drop a `check` future part-way (its caller was cancelled); it then has no token
/// to roll back with, so a store should record a check atomically and only once it can answer
/// (what a check recorded whose answer was lost stays recorded until its window ends). A
/// rollback, once issued, is driven to its end on the runtime even if its caller is dropped, and
/// is issued once.
///
/// Every token a check returns is answered once, by [`commit`](DedupStore::commit) when the
/// host has queued the message's side effects, or by [`rollback`](DedupStore::rollback) when it
/// could not. A store may record a check at once (the memory store: commit has nothing left to
/// do) or in two phases (the Redis store: the check claims the message for a short lease, the
/// commit makes the claim last the window).
pub trait DedupStore: Send + Sync + 'static {
    /// Checks a message and records it when it is new.
    fn check<'a>(
        &'a self,
        req: CheckRequest<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>>;
    /// Whether [`DedupStore::commit`] has work to do. False by default, for stores that record
    /// for the whole window at check time: the engine then drops the token without calling
    /// `commit`, so committing costs those stores nothing.
    fn commits(&self) -> bool {
        false
    }
    /// Keeps what a check recorded: its side effects are queued (called only when
    /// [`DedupStore::commits`] says so). Takes the store's `Arc` so the future owns what it
    /// needs: the engine polls it once and, if it has to wait, hands it to the runtime.
    fn commit(self: Arc<Self>, token: RollbackToken) -> BoxFuture<'static, Result<(), StoreError>> {
        drop(token);
        Box::pin(async { Ok(()) })
    }
    /// Undoes a check whose side effects could not be queued.
    fn rollback(&self, token: RollbackToken) -> BoxFuture<'_, Result<(), StoreError>>;
    /// When `token`'s claim is kept in Redis: what committing it takes, so that the commit can
    /// run in one script with other writes (see
    /// [`Evaluation::commit_appending`](crate::evaluation::Evaluation::commit_appending)).
    /// `None` (the default) for a store that keeps it elsewhere.
    #[cfg(feature = "redis")]
    fn commit_part(&self, token: &RollbackToken) -> Option<crate::dedup::redis::CommitPart<'_>> {
        let _ = token;
        None
    }
    /// Current counters.
    fn stats(&self) -> StoreStats;
}
