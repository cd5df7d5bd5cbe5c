//! The side-effects queue: the handler answers once an event's updates are queued here; lanes
//! deliver them in order per interaction, coalesce metadata updates, respect the rate limit, and
//! drain on shutdown. The order guard refuses a metadata update overtaken by a newer one.
//! With the durable outbox, each queued update carries its outbox id: delivered (or without a
//! call to make) it is deleted there, given up it becomes a dead letter, and the updates a
//! previous run left are handed back at start ([`Effects::restore`]). With the Redis outbox the
//! lanes are filled from the replicas' stream instead ([`follow`]).

mod lane;
mod order;
mod shared;
mod sink;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::cxone::{Endpoint, Profile, Update};
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::sequence::SequenceGuard;

pub use order::Deciding;
pub use shared::follow;
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
    /// The durable outbox cannot be written (disk full, file unwritable).
    #[error("the outbox cannot be written (disk full or unwritable data dir)")]
    Unwritable,
}

/// Queue room for all of an event's updates, taken before they are written to the outbox so
/// that, once written, they always fit (see [`Effects::room`]).
#[derive(Debug)]
#[must_use = "room is held until it is used or dropped"]
pub struct Room {
    slots: Vec<OwnedSemaphorePermit>,
}

/// The room one queued update holds. An update handed back at start took room added for it,
/// which goes away with it (the queue's capacity for new events is unchanged by a backlog).
struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    added: Option<Arc<AtomicUsize>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let (Some(permit), Some(capacity)) = (self.permit.take(), self.added.take()) {
            permit.forget();
            capacity.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// An update a previous run left in the outbox.
#[derive(Debug, Clone)]
pub struct Restored {
    /// Its outbox id (acceptance order).
    pub id: u64,
    /// The interaction.
    pub interaction: String,
    /// The update.
    pub update: Update,
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
    /// Its outbox id, with the durable outbox on.
    id: Option<u64>,
    _slot: Slot,
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
    /// The semaphore's permits: the configured capacity plus room added for a backlog.
    capacity: Arc<AtomicUsize>,
    outbox: Option<Outbox>,
    lanes: Mutex<HashMap<String, Lane>>,
    marks: order::Shared,
    closed: AtomicBool,
    limiter: Option<DefaultDirectRateLimiter>,
    in_flight: Semaphore,
    /// Lanes inside a delivery at once (see [`delivering_bound`]); the others wait with their
    /// small lane state only, not a call's future each.
    delivering: Semaphore,
    metrics: Metrics,
    /// With a shared store: the replicas' turn-taking on each interaction's metadata updates.
    sequence: std::sync::OnceLock<Arc<SequenceGuard>>,
}

impl Inner {
    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lane>> {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn depth(&self) -> usize {
        let capacity = self.capacity.load(Ordering::Acquire);
        capacity.saturating_sub(self.slots.available_permits())
    }

    fn publish_depth(&self) {
        self.metrics.set_queue_depth(self.depth());
    }
}

/// How many lanes may be inside a delivery at once: many times the calls in flight, so that
/// lanes waiting on one contact's bucket or a retry leave plenty for the others, but bounded,
/// so that a backlog of 100,000 interactions (restored at start, or a burst) does not build
/// 100,000 calls and their futures at once (at start that cost over a second of page faults
/// before the host served).
pub(crate) fn delivering_bound(max_in_flight: usize) -> usize {
    max_in_flight.max(1).saturating_mul(32).max(1024)
}

/// Lane workers a restore starts before it lets other tasks run.
const RESUME_STEP: usize = 512;

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
        Self::with_outbox(config, profile, sink, metrics, None)
    }

    /// Like [`Effects::new`], recording deliveries in `outbox` (ignored in dry-run).
    pub fn with_outbox(
        config: EffectsConfig,
        profile: Profile,
        sink: Arc<dyn Sink>,
        metrics: Metrics,
        outbox: Option<Outbox>,
    ) -> Self {
        let outbox = outbox.filter(|_| !sink.is_dry_run());
        let limiter = match (config.rate_limit, sink.is_dry_run() || sink.paces_itself()) {
            (Some(rate), false) => Some(RateLimiter::direct(Quota::per_second(rate))),
            _ => None,
        };
        let inner = Inner {
            slots: Arc::new(Semaphore::new(config.capacity)),
            capacity: Arc::new(AtomicUsize::new(config.capacity)),
            outbox,
            in_flight: Semaphore::new(config.max_in_flight.max(1)),
            delivering: Semaphore::new(delivering_bound(config.max_in_flight)),
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

    /// The durable outbox deliveries are recorded in (none in dry-run or without one).
    pub fn outbox(&self) -> Option<&Outbox> {
        self.inner.outbox.as_ref()
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
        if self
            .inner
            .outbox
            .as_ref()
            .is_some_and(Outbox::is_unwritable)
        {
            return Err(EnqueueError::Unwritable);
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
        let room = self.room(updates.len(), Some(reservation))?;
        Ok(self.enqueue_in(interaction, updates, Vec::new(), received_at, room))
    }

    /// Room for `n` updates: the reserved room first, the rest taken now (`Full` when there is
    /// none left). Taken before an event's updates are written to the outbox, so that once
    /// written they are queued without fail.
    pub fn room(&self, n: usize, reservation: Option<Reservation>) -> Result<Room, EnqueueError> {
        if self.inner.sink.is_dry_run() {
            return Ok(Room { slots: Vec::new() });
        }
        let mut reserved = reservation.and_then(|r| r.slot);
        let mut slots = Vec::with_capacity(n);
        for _ in 0..n {
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
        Ok(Room { slots })
    }

    /// Queues an event's updates in room taken for them, each with its outbox id (`ids` empty
    /// without the outbox); see [`Effects::enqueue`] for what is left out.
    pub fn enqueue_in(
        &self,
        interaction: &str,
        updates: Vec<Update>,
        ids: Vec<u64>,
        received_at: Instant,
        room: Room,
    ) -> Vec<Endpoint> {
        if self.inner.sink.is_dry_run() {
            self.log_dry_run(interaction, &updates);
            return updates.iter().map(Update::endpoint).collect();
        }
        let mut ids = ids.into_iter();
        let entries = updates.into_iter().zip(room.slots).map(|(update, permit)| {
            let slot = Slot {
                permit: Some(permit),
                added: None,
            };
            (update, ids.next(), slot)
        });
        self.push(interaction, entries, received_at)
    }

    /// Puts updates into the interaction's lane under the order guard; starts its worker.
    fn push(
        &self,
        interaction: &str,
        entries: impl Iterator<Item = (Update, Option<u64>, Slot)>,
        received_at: Instant,
    ) -> Vec<Endpoint> {
        let entries = entries.map(|(update, id, slot)| (interaction, update, id, slot));
        let (queued, fresh) = self.push_all(entries, received_at);
        for interaction in fresh {
            tokio::spawn(lane::run(self.inner.clone(), interaction));
        }
        queued
    }

    /// Puts updates, each with its interaction, into their lanes under one hold of the locks
    /// (the order guard asked under the lanes' lock, so the order it admits is the lanes'; a
    /// metadata update overtaken by a newer mark is left out). Returns the endpoints queued and
    /// the interactions whose lane is new, for which the caller starts a worker.
    fn push_all<'a>(
        &self,
        entries: impl Iterator<Item = (&'a str, Update, Option<u64>, Slot)>,
        received_at: Instant,
    ) -> (Vec<Endpoint>, Vec<String>) {
        let now = Instant::now();
        let mut queued = Vec::new();
        let mut dropped = Vec::new();
        let mut fresh = Vec::new();
        {
            let mut lanes = self.inner.lanes();
            let mut marks = order::lock(&self.inner.marks);
            for (interaction, update, id, slot) in entries {
                if let Update::Metadata(m) = &update {
                    if !marks.admit(interaction, m.last_sequence) {
                        self.superseded(interaction, &update);
                        dropped.extend(id);
                        continue;
                    }
                }
                queued.push(update.endpoint());
                let lane = match lanes.get_mut(interaction) {
                    Some(lane) => lane,
                    None => {
                        fresh.push(interaction.to_owned());
                        lanes.entry(interaction.to_owned()).or_default()
                    }
                };
                lane.queue.push_back(Queued {
                    update,
                    received_at,
                    enqueued_at: now,
                    id,
                    _slot: slot,
                });
            }
        }
        if let Some(outbox) = &self.inner.outbox {
            outbox.done(dropped);
        }
        self.inner.publish_depth();
        (queued, fresh)
    }

    /// Hands back the updates a previous run left in the outbox (or, with the Redis outbox, the
    /// entries read from the stream), in their order of acceptance: each interaction's in its
    /// lane, coalesced and guarded as new ones are. They take room added for them, so the
    /// capacity for new events stays what it was configured.
    pub fn restore(&self, updates: Vec<Restored>) -> usize {
        if self.inner.sink.is_dry_run() || updates.is_empty() {
            return 0;
        }
        let n = updates.len();
        self.inner.capacity.fetch_add(n, Ordering::AcqRel);
        self.inner.slots.add_permits(n);
        let entries = updates.iter().map(|r| {
            let permit = self.inner.slots.clone().try_acquire_owned().ok();
            let slot = Slot {
                permit,
                added: Some(self.inner.capacity.clone()),
            };
            (r.interaction.as_str(), r.update.clone(), Some(r.id), slot)
        });
        let (_, fresh) = self.push_all(entries, Instant::now());
        // The workers of a large backlog start in steps, beside the host's other tasks, so
        // that the host serves while they do: an event for one of these interactions meanwhile
        // joins the lane already filled, behind the restored updates.
        let inner = self.inner.clone();
        tokio::spawn(async move {
            for chunk in fresh.chunks(RESUME_STEP) {
                for interaction in chunk {
                    tokio::spawn(lane::run(inner.clone(), interaction.clone()));
                }
                tokio::task::yield_now().await;
            }
        });
        n
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
    /// (and counts) whatever is left. Returns the number of updates not delivered. With the
    /// outbox, what is left stays pending in it for the next start.
    pub async fn drain(&self, timeout: Duration) -> usize {
        self.inner.closed.store(true, Ordering::Release);
        let deadline = Instant::now() + timeout;
        while self.depth() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let left = if self.depth() == 0 {
            tracing::info!("side-effects queue drained");
            0
        } else {
            self.log_left()
        };
        if let Some(outbox) = &self.inner.outbox {
            outbox.flush().await;
        }
        left
    }

    fn log_left(&self) -> usize {
        let durable = self.inner.outbox.is_some();
        let lanes = self.inner.lanes();
        let mut left = 0;
        for (id, lane) in lanes.iter() {
            for update in lane.busy.iter().chain(lane.queue.iter().map(|q| &q.update)) {
                left += 1;
                let ep = update.endpoint().as_str();
                if durable {
                    continue;
                }
                self.inner.metrics.effect_failed(ep, "shutdown");
                let body = serde_json::to_string(update).unwrap_or_default();
                tracing::error!(interaction_id = %id, endpoint = ep, update = %body, "update not sent before shutdown");
            }
        }
        if durable && left > 0 {
            tracing::warn!(
                left,
                "shutdown: updates not yet sent stay pending in the outbox for the next start"
            );
        }
        left
    }
}
