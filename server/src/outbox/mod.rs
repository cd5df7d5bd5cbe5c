//! The durable outbox: every update an event calls for is written to a redb file in the data
//! dir (with the event's body when the dedup windows remembered it) before the event is
//! answered 2xx; it is deleted once CXone accepted it, or moved to the dead letters when it is
//! given up. One writer commits the records of many events at once (group commit). At start the
//! pending updates are handed back to the queue and the remembered events rebuild the windows.
//!
//! With a Redis dedup store the outbox is a Redis stream shared by the replicas instead
//! ([`redis`]): [`Outbox`] is either one, and the queue and the routes use it the same way.

mod file;
pub mod redis;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::oneshot;

pub use self::redis::RedisOutbox;
pub use file::{
    list_dead, list_pending, now_ms, open, purge, recover, retry, summary, Attempt, DeadLetter,
    OpenError, Pending, Purge, Recovered, Remembered, Summary, FILE_NAME, FORMAT,
};
use writer::{Op, Writer};

use crate::cxone::Update;
use crate::metrics::Metrics;

/// The outbox's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Where the file lives.
    pub data_dir: PathBuf,
    /// How long the writer collects operations after the first before it commits.
    pub commit_window: Duration,
    /// With the Redis outbox: how long an update read by one replica may stay unconfirmed
    /// before another replica takes it over.
    pub lease: Duration,
}

/// Why an event's records could not be written; the event is rolled back and refused (503).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the outbox cannot write: {0}")]
pub struct WriteError(String);

#[derive(Default)]
pub(crate) struct Stats {
    pending: AtomicU64,
    dead: AtomicU64,
    oldest_ms: AtomicU64,
}

pub(crate) struct Shared {
    failing: AtomicBool,
    stats: Stats,
    metrics: Metrics,
    next_id: AtomicU64,
}

impl Shared {
    fn publish(&self) {
        let m = self.metrics.outbox();
        m.set_depth(self.stats.pending.load(Ordering::Acquire));
        m.set_dead_letters(self.stats.dead.load(Ordering::Acquire));
        let oldest = self.stats.oldest_ms.load(Ordering::Acquire);
        let age = if oldest == 0 {
            0.0
        } else {
            now_ms().saturating_sub(oldest) as f64 / 1e3
        };
        m.set_oldest_age(age);
    }
}

/// The outbox in use: the local file, or the Redis stream replicas share. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Outbox {
    /// The redb file in the data dir.
    File(FileOutbox),
    /// The Redis stream of the replicas (`--dedup-store` set).
    Redis(RedisOutbox),
}

/// Handle to the outbox file; cheap to clone. The writer thread ends when the last handle is
/// dropped, after writing what it was given.
#[derive(Clone)]
pub struct FileOutbox {
    shared: Arc<Shared>,
    tx: std::sync::mpsc::Sender<Op>,
    path: Arc<PathBuf>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl std::fmt::Debug for FileOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileOutbox")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What `/rules/status` shows of the outbox.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxStatus {
    /// The file (with the Redis outbox: `redis: <key prefix>`).
    pub path: PathBuf,
    /// Updates written and not yet delivered or given up.
    pub pending: u64,
    /// Age of the oldest of them, seconds.
    pub oldest_pending_age_s: f64,
    /// Updates given up (see `cxrules outbox dead-letters`).
    pub dead_letters: u64,
    /// True while the file cannot be written (events that queue updates get 503).
    pub unwritable: bool,
}

impl Outbox {
    /// Opens the outbox file (see [`FileOutbox::open`]).
    pub fn open(
        config: &OutboxConfig,
        horizon: Duration,
        metrics: Metrics,
    ) -> Result<(Self, Recovered), OpenError> {
        FileOutbox::open(config, horizon, metrics)
            .map(|(file, recovered)| (Self::File(file), recovered))
    }

    /// True while the outbox cannot be written: events that queue updates get 503.
    pub fn is_unwritable(&self) -> bool {
        match self {
            Self::File(o) => o.is_unwritable(),
            Self::Redis(o) => o.is_unwritable(),
        }
    }

    /// Writes an event's updates durably; returns their ids (none with the Redis outbox, whose
    /// reader queues them).
    pub async fn append(
        &self,
        interaction: &str,
        updates: &[Update],
        remembered: Option<&[u8]>,
    ) -> Result<Vec<u64>, WriteError> {
        match self {
            Self::File(o) => o.append(interaction, updates, remembered).await,
            Self::Redis(o) => o.append(interaction, updates).await.map(|()| Vec::new()),
        }
    }

    /// Removes updates delivered or without a call to make.
    pub fn done(&self, ids: Vec<u64>) {
        match self {
            Self::File(o) => o.done(ids),
            Self::Redis(o) => o.done(ids),
        }
    }

    /// Moves updates given up to the dead letters, with the delivery that failed.
    pub fn dead(
        &self,
        ids: Vec<u64>,
        interaction: &str,
        update: &Update,
        reason: &str,
        attempt: Attempt,
    ) {
        match self {
            Self::File(o) => o.dead(ids, interaction, update, reason, attempt),
            Self::Redis(o) => o.dead(ids, interaction, update, reason, attempt),
        }
    }

    /// Counts one delivery by its outcome (`delivered`, `dead_letter`, `skipped`).
    pub fn delivered(&self, outcome: &str) {
        match self {
            Self::File(o) => o.delivered(outcome),
            Self::Redis(o) => o.delivered(outcome),
        }
    }

    /// Waits until the removals and dead letters handed over so far are written.
    pub async fn flush(&self) {
        match self {
            Self::File(o) => o.flush().await,
            Self::Redis(o) => o.flush().await,
        }
    }

    /// The gauges brought up to now.
    pub fn publish(&self) {
        match self {
            Self::File(o) => o.publish(),
            Self::Redis(o) => o.publish(),
        }
    }

    /// What `/rules/status` shows.
    pub fn status(&self) -> OutboxStatus {
        match self {
            Self::File(o) => o.status(),
            Self::Redis(o) => o.status(),
        }
    }

    /// The file, or `redis: <key prefix>`.
    pub fn path(&self) -> &Path {
        match self {
            Self::File(o) => o.path(),
            Self::Redis(o) => o.path(),
        }
    }

    /// Ends the outbox at shutdown: the file is written and closed; the Redis outbox stops
    /// reading (what this replica holds stays pending in the stream for the others).
    pub async fn close(&self) {
        match self {
            Self::File(o) => o.close().await,
            Self::Redis(o) => o.close().await,
        }
    }
}

impl FileOutbox {
    /// Opens (or creates) the outbox in `config.data_dir`, reads what a previous run left
    /// (remembered events older than `horizon` are deleted) and starts the writer. The file
    /// stays locked until the last handle is dropped.
    pub fn open(
        config: &OutboxConfig,
        horizon: Duration,
        metrics: Metrics,
    ) -> Result<(Self, Recovered), OpenError> {
        let started = std::time::Instant::now();
        let (db, path) = file::open(&config.data_dir)?;
        let opened = started.elapsed();
        let horizon_ms = u64::try_from(horizon.as_millis()).unwrap_or(u64::MAX);
        let recovered = file::recover(&db, &path, now_ms().saturating_sub(horizon_ms))?;
        tracing::info!(
            open_ms = opened.as_millis() as u64,
            read_ms = (started.elapsed() - opened).as_millis() as u64,
            pending = recovered.pending.len(),
            remembered = recovered.seen.len(),
            "outbox file opened and read"
        );
        let index: BTreeMap<u64, u64> = recovered
            .pending
            .iter()
            .map(|(id, p)| (*id, p.accepted_ms))
            .collect();
        let shared = Arc::new(Shared {
            failing: AtomicBool::new(false),
            stats: Stats::default(),
            metrics,
            next_id: AtomicU64::new(recovered.next_id),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = Writer {
            db: Some(db),
            path: path.clone(),
            shared: shared.clone(),
            window: config.commit_window,
            index,
            dead: recovered.dead,
            horizon_ms,
            deferred: Vec::new(),
            last_reopen: None,
        };
        let handle = std::thread::Builder::new()
            .name("cxrules-outbox".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| OpenError::Storage(path.clone(), e.to_string()))?;
        let outbox = Self {
            shared,
            tx,
            path: Arc::new(path),
            writer: Arc::new(Mutex::new(Some(handle))),
        };
        Ok((outbox, recovered))
    }

    /// True while the file cannot be written: an event that would queue an update is refused
    /// (503) before anything is recorded.
    pub fn is_unwritable(&self) -> bool {
        self.shared.failing.load(Ordering::Acquire)
    }

    /// Writes an event's updates (and the body of an event the dedup windows remembered, for
    /// rebuilding them at start) in the next commit, and returns the updates' ids once that
    /// commit is durable.
    pub async fn append(
        &self,
        interaction: &str,
        updates: &[Update],
        remembered: Option<&[u8]>,
    ) -> Result<Vec<u64>, WriteError> {
        if self.is_unwritable() {
            return Err(WriteError("the last write failed; retrying".into()));
        }
        let at = now_ms();
        let mut rows = Vec::with_capacity(updates.len());
        for update in updates {
            let record = Pending {
                interaction: interaction.to_owned(),
                update: update.clone(),
                accepted_ms: at,
                history: Vec::new(),
            };
            let bytes = serde_json::to_vec(&record).map_err(|e| WriteError(e.to_string()))?;
            rows.push((self.next_id(), bytes, at));
        }
        let seen =
            remembered.map(|body| (self.next_id(), file::seen_record(at, interaction, body)));
        let ids = rows.iter().map(|(id, _, _)| *id).collect();
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Op::Append { rows, seen, reply })
            .map_err(|_| WriteError("the outbox writer has stopped".into()))?;
        match answer.await {
            Ok(Ok(())) => Ok(ids),
            Ok(Err(e)) => Err(WriteError(e)),
            Err(_) => Err(WriteError("the outbox writer has stopped".into())),
        }
    }

    fn next_id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Deletes updates CXone accepted, or that have no call to make (next commit).
    pub fn done(&self, ids: Vec<u64>) {
        if !ids.is_empty() {
            let _ = self.tx.send(Op::Done(ids));
        }
    }

    /// Moves updates given up to the dead letters, with the delivery that failed.
    pub fn dead(
        &self,
        ids: Vec<u64>,
        interaction: &str,
        update: &Update,
        reason: &str,
        attempt: Attempt,
    ) {
        if ids.is_empty() {
            return;
        }
        let letter = DeadLetter {
            pending: Pending {
                interaction: interaction.to_owned(),
                update: update.clone(),
                accepted_ms: now_ms(),
                history: vec![attempt],
            },
            reason: reason.to_owned(),
            merged_ids: ids.clone(),
        };
        match serde_json::to_vec(&letter) {
            Ok(record) => {
                let key = self.next_id();
                let _ = self.tx.send(Op::Dead { key, ids, record });
            }
            Err(e) => tracing::error!(error = %e, "dead letter not written"),
        }
    }

    /// Counts one delivery by its outcome (`delivered`, `dead_letter`, `skipped`).
    pub fn delivered(&self, outcome: &str) {
        self.shared.metrics.outbox().delivery(outcome);
    }

    /// Waits until everything handed to the writer so far is committed (or failed).
    pub async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Op::Flush(reply)).is_ok() {
            let _ = done.await;
        }
    }

    /// The gauges brought up to now (the oldest pending age grows while nothing is written).
    pub fn publish(&self) {
        self.shared.publish();
    }

    /// What `/rules/status` shows.
    pub fn status(&self) -> OutboxStatus {
        let stats = &self.shared.stats;
        let oldest = stats.oldest_ms.load(Ordering::Acquire);
        OutboxStatus {
            path: self.path.as_ref().clone(),
            pending: stats.pending.load(Ordering::Acquire),
            oldest_pending_age_s: if oldest == 0 {
                0.0
            } else {
                now_ms().saturating_sub(oldest) as f64 / 1e3
            },
            dead_letters: stats.dead.load(Ordering::Acquire),
            unwritable: self.is_unwritable(),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes what is queued, closes the file (releasing its lock) and ends the writer; later
    /// writes fail. Waits for the writer thread to finish.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Op::Close(reply)).is_ok() {
            let _ = done.await;
        }
        let handle = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

#[cfg(test)]
mod tests;
