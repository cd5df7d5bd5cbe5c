//! The side-effects queue: the handler answers once an event's updates are queued here; lanes
//! deliver them in order per interaction, coalesce metadata updates, respect the rate limit, and
//! drain on shutdown. The order guard refuses a metadata update overtaken by a newer one.

mod lane;
mod order;
mod sink;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::cxone::{Endpoint, Profile, Update};
use crate::metrics::Metrics;
use crate::store::sequence::SequenceGuard;

pub use order::Deciding;
pub use sink::{BoxFuture, DryRun, Sink};

/// Bounds and timings of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectsConfig {
    /// Most updates queued or in flight; beyond it events are refused with 503.
    pub capacity: usize,
    /// Metadata updates of one interaction closer together than this become one call.
    pub coalesce_window: Duration,
    /// Most calls per second to CXone (none: unlimited). Not applied in dry-run. The CXone
    /// client applies it to every attempt, retries included; the queue applies it per delivery
    /// only for a sink that does not pace itself.
    pub rate_limit: Option<NonZeroU32>,
    /// Most calls in flight at once.
    pub max_in_flight: usize,
}

impl Default for EffectsConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            coalesce_window: Duration::from_millis(100),
            rate_limit: NonZeroU32::new(15),
            max_in_flight: 32,
        }
    }
}

/// Why updates could not be queued; the caller rolls the event back and answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    /// The queue is at capacity.
    #[error("the side-effects queue is full")]
    Full,
    /// The host is shutting down.
    #[error("the host is shutting down")]
    Closed,
}

/// Room in the queue set aside for one event's first update (see [`Effects::reserve`]).
#[derive(Debug)]
#[must_use = "a reservation holds queue room until it is used or dropped"]
pub struct Reservation {
    slot: Option<OwnedSemaphorePermit>,
}

/// One queued update.
struct Queued {
    update: Update,
    received_at: Instant,
    enqueued_at: Instant,
    _slot: OwnedSemaphorePermit,
}

/// The updates of one interaction; present in the map while its worker runs.
#[derive(Default)]
struct Lane {
    queue: VecDeque<Queued>,
    busy: Option<Update>,
}

struct Inner {
    config: EffectsConfig,
    profile: Profile,
    sink: Arc<dyn Sink>,
    slots: Arc<Semaphore>,
    lanes: Mutex<HashMap<String, Lane>>,
    marks: order::Shared,
    closed: AtomicBool,
    limiter: Option<DefaultDirectRateLimiter>,
    in_flight: Semaphore,
    metrics: Metrics,
    /// With a shared store: the replicas' turn-taking on each interaction's metadata updates.
    sequence: std::sync::OnceLock<Arc<SequenceGuard>>,
}

impl Inner {
    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lane>> {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn depth(&self) -> usize {
        self.config.capacity - self.slots.available_permits()
    }

    fn publish_depth(&self) {
        self.metrics.set_queue_depth(self.depth());
    }
}

/// Handle to the queue; cheap to clone.
#[derive(Clone)]
pub struct Effects {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Effects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Effects")
            .field("config", &self.inner.config)
            .field("depth", &self.depth())
            .finish_non_exhaustive()
    }
}

impl Effects {
    /// A queue delivering through `sink`, turning updates into calls with `profile`.
    pub fn new(
        config: EffectsConfig,
        profile: Profile,
        sink: Arc<dyn Sink>,
        metrics: Metrics,
    ) -> Self {
        let limiter = match (config.rate_limit, sink.is_dry_run() || sink.paces_itself()) {
            (Some(rate), false) => Some(RateLimiter::direct(Quota::per_second(rate))),
            _ => None,
        };
        let inner = Inner {
            slots: Arc::new(Semaphore::new(config.capacity)),
            in_flight: Semaphore::new(config.max_in_flight.max(1)),
            lanes: Mutex::new(HashMap::new()),
            marks: Arc::new(Mutex::new(order::Marks::new())),
            closed: AtomicBool::new(false),
            config,
            profile,
            sink,
            limiter,
            metrics,
            sequence: std::sync::OnceLock::new(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Makes metadata updates take turns with other replicas through `guard` (see
    /// [`SequenceGuard`]); set once, before events arrive.
    pub fn set_sequence_guard(&self, guard: Arc<SequenceGuard>) {
        let _ = self.inner.sequence.set(guard);
    }

    /// True when calls are only logged.
    pub fn is_dry_run(&self) -> bool {
        self.inner.sink.is_dry_run()
    }

    /// Updates queued or in flight, plus the room reserved for events being decided.
    pub fn depth(&self) -> usize {
        self.inner.depth()
    }

    /// The profile that turns updates into calls.
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// Sets room for one update aside before an event is decided, so that once dedup has
    /// recorded the message its first update can always be queued, also while the host drains
    /// for shutdown (the drain waits for reservations as for queued updates). Refused when the
    /// queue is full or closed; unused room comes back when the reservation is dropped.
    pub fn reserve(&self) -> Result<Reservation, EnqueueError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(EnqueueError::Closed);
        }
        if self.inner.sink.is_dry_run() {
            return Ok(Reservation { slot: None });
        }
        let slot = self.inner.slots.clone().try_acquire_owned();
        let slot = slot.map_err(|_| EnqueueError::Full)?;
        self.inner.publish_depth();
        Ok(Reservation { slot: Some(slot) })
    }

    /// Marks the start of a decision, before its dedup check: held until its updates are queued,
    /// it keeps what the order guard needs to refuse an update of the same interaction queued
    /// meanwhile by a decision checked later (see [`Effects::enqueue`]).
    pub fn deciding(&self) -> Deciding {
        if self.inner.sink.is_dry_run() {
            return Deciding::none();
        }
        Deciding::begin(&self.inner.marks)
    }

    /// Queues all of an event's updates, or none of them; returns the endpoints queued.
    pub fn try_enqueue(
        &self,
        interaction: &str,
        updates: Vec<Update>,
        received_at: Instant,
    ) -> Result<Vec<Endpoint>, EnqueueError> {
        let reservation = self.reserve()?;
        self.enqueue(interaction, updates, received_at, reservation)
    }

    /// Queues all of an event's updates, or none of them: the first in the reserved room, any
    /// further one in room taken now (`Full` when there is none left). Returns the endpoints
    /// queued: a metadata update whose `lastSequence` is below one already queued for the
    /// interaction was overtaken by a newer message's and is left out (and counted as skipped,
    /// `superseded`), so CXone's value never goes back and the newer status stays. The caller
    /// holds a [`Deciding`] from before the dedup check, so no mark it must see has been dropped.
    pub fn enqueue(
        &self,
        interaction: &str,
        updates: Vec<Update>,
        received_at: Instant,
        reservation: Reservation,
    ) -> Result<Vec<Endpoint>, EnqueueError> {
        if self.inner.sink.is_dry_run() {
            self.log_dry_run(interaction, &updates);
            return Ok(updates.iter().map(Update::endpoint).collect());
        }
        let mut reserved = reservation.slot;
        let mut slots = Vec::with_capacity(updates.len());
        for _ in &updates {
            let slot = match reserved.take() {
                Some(slot) => slot,
                None => self
                    .inner
                    .slots
                    .clone()
                    .try_acquire_owned()
                    .map_err(|_| EnqueueError::Full)?,
            };
            slots.push(slot);
        }
        drop(reserved);
        let now = Instant::now();
        let mut queued = Vec::with_capacity(updates.len());
        let spawn = {
            // The guard is asked under the lanes' lock, so the order it admits is the lane's.
            let mut lanes = self.inner.lanes();
            let mut marks = order::lock(&self.inner.marks);
            let fresh = !lanes.contains_key(interaction);
            for (update, slot) in updates.into_iter().zip(slots) {
                if let Update::Metadata(m) = &update {
                    if !marks.admit(interaction, m.last_sequence) {
                        self.superseded(interaction, &update);
                        continue;
                    }
                }
                queued.push(update.endpoint());
                let lane = lanes.entry(interaction.to_owned()).or_default();
                lane.queue.push_back(Queued {
                    update,
                    received_at,
                    enqueued_at: now,
                    _slot: slot,
                });
            }
            fresh && lanes.contains_key(interaction)
        };
        if spawn {
            tokio::spawn(lane::run(self.inner.clone(), interaction.to_owned()));
        }
        self.inner.publish_depth();
        Ok(queued)
    }

    /// Counts and logs a metadata update left out because a newer one was queued first.
    fn superseded(&self, interaction: &str, update: &Update) {
        let ep = update.endpoint().as_str();
        self.inner.metrics.effect_skipped(ep, "superseded");
        tracing::debug!(interaction_id = %interaction, endpoint = ep, "update overtaken by a newer one; not sent");
    }

    /// Dry-run: nothing will be sent, so nothing is queued; each update is prepared (checked),
    /// logged as the call it would be, and counted, right away. With that log line filtered
    /// out, the call is only checked, not built: the counts are the same.
    fn log_dry_run(&self, interaction: &str, updates: &[Update]) {
        let logged = tracing::enabled!(tracing::Level::INFO);
        for update in updates {
            let ep = update.endpoint().as_str();
            if !logged {
                if lane::check(&self.inner, interaction, update) {
                    self.inner.metrics.outbound(ep, "dry_run");
                }
            } else if let Some(call) = lane::prepare(&self.inner, interaction, update) {
                self.inner.metrics.outbound(ep, "dry_run");
                tracing::info!(method = %call.method, path = %call.path, body = %call.body, "dry-run: cxone call not sent");
            }
        }
    }

    /// Stops accepting, waits up to `timeout` for everything queued to be delivered, and logs
    /// (and counts) whatever is left. Returns the number of updates not delivered.
    pub async fn drain(&self, timeout: Duration) -> usize {
        self.inner.closed.store(true, Ordering::Release);
        let capacity = u32::try_from(self.inner.config.capacity).unwrap_or(u32::MAX);
        let everything = self.inner.slots.clone().acquire_many_owned(capacity);
        if tokio::time::timeout(timeout, everything).await.is_ok() {
            tracing::info!("side-effects queue drained");
            return 0;
        }
        let lanes = self.inner.lanes();
        let mut left = 0;
        for (id, lane) in lanes.iter() {
            for update in lane.busy.iter().chain(lane.queue.iter().map(|q| &q.update)) {
                left += 1;
                let ep = update.endpoint().as_str();
                self.inner.metrics.effect_failed(ep, "shutdown");
                let body = serde_json::to_string(update).unwrap_or_default();
                tracing::error!(interaction_id = %id, endpoint = ep, update = %body, "update not sent before shutdown");
            }
        }
        left
    }
}
