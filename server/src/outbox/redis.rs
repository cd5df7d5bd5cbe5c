//! The outbox replicas share when the dedup store is Redis: a Redis stream in the same Redis,
//! read through one consumer group.
//!
//! - An event's updates are added to the stream (`XADD`) in the same script run that commits
//!   its dedup claims (`Evaluation::commit_appending`), before the event is answered 2xx: a
//!   crash leaves both written or neither. A failed write is a 503 as with the file. On a
//!   Redis Cluster (the keys are in different slots) the entries go first, in one `MULTI`,
//!   and the commit follows.
//! - Each replica is one consumer of the group `cxrules` (hostname, pid and a random part). Its
//!   reader (`effects::shared`) takes new entries with `XREADGROUP` as its lanes have room; an
//!   entry read stays in the replica's pending list until it is delivered or skipped
//!   (`XACK` + `XDEL`) or given up (added to the dead-letter stream with its attempts, then
//!   acknowledged and deleted, in one `MULTI`).
//! - A replica renews the entries it holds (`XCLAIM … JUSTID` to itself) every third of the
//!   lease; entries of a consumer that stopped renewing are idle past the lease and any replica
//!   takes them over (`XAUTOCLAIM`) and delivers them. Order across replicas: the order guard
//!   (`sequence`) skips a metadata update older than one already sent.
//! - The stream is never trimmed by length: entries still pending must stay readable.
//!
//! Keys share the hash tag `{outbox}`, so they live in one Redis Cluster slot:
//! `<prefix>:{outbox}:stream` and `<prefix>:{outbox}:dead`.
//!
//! The functions at the end (`summary`, `list_pending`, …) are the `cxrules outbox` command's,
//! on a blocking connection.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamClaimOptions, StreamId, StreamRangeReply,
    StreamReadOptions, StreamReadReply,
};
use redis::{AsyncCommands, RedisError, RedisResult};
use serde::Serialize;

use super::{now_ms, Attempt, DeadLetter, OutboxStatus, Pending, Purge, WriteError};
use crate::cxone::Update;
use crate::metrics::Metrics;

/// The consumer group every replica reads through.
pub const GROUP: &str = "cxrules";
/// The field of a stream entry holding its [`Pending`] record (JSON).
const PENDING_FIELD: &str = "p";
/// The field of a dead-letter entry holding its [`DeadLetter`] (JSON).
const DEAD_FIELD: &str = "d";
/// The field of a dead-letter entry holding a stream entry that could not be read.
const RAW_FIELD: &str = "raw";
/// Most entries one read or claim takes.
const BATCH: usize = 512;

/// The keys of the outbox under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// The stream of pending updates.
    pub stream: String,
    /// The stream of dead letters.
    pub dead: String,
}

impl Keys {
    /// The keys under `prefix` (the dedup store's key prefix).
    pub fn new(prefix: &str) -> Self {
        Self {
            stream: format!("{prefix}:{{outbox}}:stream"),
            dead: format!("{prefix}:{{outbox}}:dead"),
        }
    }
}

/// KEYS: stream. ARGV: group, this consumer, idle ms. Deletes the group's consumers other than
/// this one that hold no entry and have been idle that long (earlier runs of the replicas);
/// each is checked and deleted in this one script, so no entry it reads meanwhile is dropped
/// with it. Returns how many went.
const FORGET_IDLE: &str = r"
local gone = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if name ~= ARGV[2] and pending == 0 and idle >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    gone = gone + 1
  end
end
return gone
";

/// An entry this replica read and has not finished: its stream id and what a dead letter keeps.
struct Held {
    entry: String,
    accepted_ms: u64,
    history: Vec<Attempt>,
}

/// The entries held, by local id (the queue's ids are numbers), and their stream ids.
#[derive(Default)]
struct Holding {
    by_id: HashMap<u64, Held>,
    entries: HashSet<String>,
}

struct Inner {
    /// Appends, acknowledgements, claims: the dedup store's connection.
    conn: ConnectionManager,
    /// Blocking reads only (a blocked command would hold up everything on a shared connection).
    reader: ConnectionManager,
    keys: Keys,
    label: PathBuf,
    consumer: String,
    lease: Duration,
    holding: Mutex<Holding>,
    next_id: AtomicU64,
    failing: AtomicBool,
    metrics: Metrics,
    depth: AtomicU64,
    dead: AtomicU64,
    oldest_ms: AtomicU64,
    /// Acknowledgements and dead letters sent and not yet answered.
    writing: AtomicUsize,
    /// How long a write may take.
    write_timeout: Duration,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Handle to the Redis outbox; cheap to clone.
#[derive(Clone)]
pub struct RedisOutbox {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOutbox")
            .field("keys", &self.inner.keys)
            .field("consumer", &self.inner.consumer)
            .finish_non_exhaustive()
    }
}

/// This process's consumer name: unique per process, recognisable per host.
fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Milliseconds of a duration, as the stream commands take them.
fn ms(d: Duration) -> usize {
    usize::try_from(d.as_millis()).unwrap_or(usize::MAX)
}

/// The time (ms since the epoch) a stream id starts with.
fn entry_time(entry: &str) -> u64 {
    entry
        .split('-')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// True for the error of a stream or group that does not exist (yet, or any more, after a
/// `purge --pending` or a Redis restarted empty): the reader creates them again.
pub fn missing_group(e: &RedisError) -> bool {
    e.code() == Some("NOGROUP")
}

impl RedisOutbox {
    /// The outbox under `prefix` on `conn` (the dedup store's connection); blocking reads go
    /// through a connection of their own to `url`. Nothing is sent yet (a Redis that is down at
    /// start is tried again by the reader); only a bad URL is an error.
    pub fn new(
        conn: ConnectionManager,
        url: &str,
        prefix: &str,
        lease: Duration,
        timeout: Duration,
        metrics: Metrics,
    ) -> RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(Self::block_for() + timeout))
            .set_number_of_retries(2);
        let reader = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                reader,
                keys: Keys::new(prefix),
                label: PathBuf::from(format!("redis: {prefix}")),
                consumer: consumer_name(),
                lease,
                holding: Mutex::new(Holding::default()),
                next_id: AtomicU64::new(1),
                failing: AtomicBool::new(false),
                metrics,
                depth: AtomicU64::new(0),
                dead: AtomicU64::new(0),
                oldest_ms: AtomicU64::new(0),
                writing: AtomicUsize::new(0),
                write_timeout: timeout,
                tasks: Mutex::new(Vec::new()),
            }),
        })
    }

    /// How long one read waits for new entries.
    pub fn block_for() -> Duration {
        Duration::from_secs(1)
    }

    /// The keys.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// This replica's consumer name.
    pub fn consumer(&self) -> &str {
        &self.inner.consumer
    }

    /// How long a read entry may stay unrenewed before another replica takes it over.
    pub fn lease(&self) -> Duration {
        self.inner.lease
    }

    /// True while the last write failed: events that queue updates get 503 until Redis answers.
    pub fn is_unwritable(&self) -> bool {
        self.inner.failing.load(Ordering::Acquire)
    }

    /// Records whether a write of entries succeeded: a failure makes events that queue updates
    /// 503 until one succeeds again, with a metric and one log line.
    pub fn wrote(&self, ok: bool) {
        let metrics = self.inner.metrics.outbox();
        if ok {
            if self.inner.failing.swap(false, Ordering::AcqRel) {
                tracing::info!(stream = %self.inner.keys.stream, "redis outbox writable again");
            }
        } else {
            metrics.write_error();
            if !self.inner.failing.swap(true, Ordering::AcqRel) {
                tracing::error!(stream = %self.inner.keys.stream, "redis outbox cannot write; events that queue updates get 503 until it can");
            }
        }
        metrics.set_unwritable(!ok);
    }

    /// Creates the consumer group (and the stream) unless they exist; the group starts at the
    /// stream's beginning, so entries added before it existed are read too.
    pub async fn ensure_group(&self) -> RedisResult<()> {
        let mut conn = self.inner.conn.clone();
        let created: RedisResult<()> = conn
            .xgroup_create_mkstream(&self.inner.keys.stream, GROUP, "0")
            .await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Adds an event's updates to the stream, all or none, in one round trip.
    pub async fn append(&self, interaction: &str, updates: &[Update]) -> Result<(), WriteError> {
        if updates.is_empty() {
            return Ok(());
        }
        let append = self.entries(interaction, updates)?;
        let (conn, timeout) = self.writer();
        let result = cxrules_engine::dedup::redis::add_entries(conn, timeout, &append).await;
        self.wrote(result.is_ok());
        result.map_err(|e| WriteError(format!("redis: {e}")))
    }

    /// An event's updates as the stream entries that hold them: written together with the
    /// event's dedup commit in one script run (`Evaluation::commit_appending`), so that no
    /// crash leaves the updates written and the message unrecorded, or the reverse. Report how
    /// that write went with [`Self::wrote`].
    pub fn entries(
        &self,
        interaction: &str,
        updates: &[Update],
    ) -> Result<cxrules_engine::dedup::redis::StreamAppend, WriteError> {
        let at = now_ms();
        let values = updates
            .iter()
            .map(|update| {
                let record = Pending {
                    interaction: interaction.to_owned(),
                    update: update.clone(),
                    accepted_ms: at,
                    history: Vec::new(),
                };
                serde_json::to_vec(&record).map_err(|e| WriteError(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(cxrules_engine::dedup::redis::StreamAppend {
            stream: self.inner.keys.stream.clone(),
            field: PENDING_FIELD.to_owned(),
            values,
        })
    }

    /// The connection writes go through, and how long one may take.
    pub fn writer(&self) -> (&ConnectionManager, Duration) {
        (&self.inner.conn, self.inner.write_timeout)
    }

    /// Takes up to `max` entries no consumer has read yet, waiting up to [`Self::block_for`]
    /// for one; they are this replica's to deliver from now on.
    pub async fn read(&self, max: usize) -> RedisResult<Vec<(u64, Pending)>> {
        let options = StreamReadOptions::default()
            .group(GROUP, &self.inner.consumer)
            .count(max.clamp(1, BATCH))
            .block(ms(Self::block_for()));
        let mut reader = self.inner.reader.clone();
        let reply: Option<StreamReadReply> = reader
            .xread_options(&[&self.inner.keys.stream], &[">"], &options)
            .await?;
        let entries = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .collect();
        Ok(self.hold(entries).await)
    }

    /// Takes over up to `max` entries another consumer (or an earlier run of this host) read and
    /// left unrenewed for longer than the lease.
    pub async fn take_over(&self, max: usize) -> RedisResult<Vec<(u64, Pending)>> {
        let mut conn = self.inner.conn.clone();
        let mut start = "0-0".to_owned();
        let mut claimed = Vec::new();
        while claimed.len() < max {
            let options = StreamAutoClaimOptions::default().count((max - claimed.len()).min(BATCH));
            let reply: StreamAutoClaimReply = conn
                .xautoclaim_options(
                    &self.inner.keys.stream,
                    GROUP,
                    &self.inner.consumer,
                    ms(self.inner.lease),
                    &start,
                    options,
                )
                .await?;
            claimed.extend(reply.claimed);
            if reply.next_stream_id == "0-0" || reply.next_stream_id == start {
                break;
            }
            start = reply.next_stream_id;
        }
        if !claimed.is_empty() {
            tracing::info!(
                claimed = claimed.len(),
                "redis outbox: updates of a replica that stopped renewing them taken over"
            );
        }
        Ok(self.hold(claimed).await)
    }

    /// Renews the entries this replica holds (their idle time starts again), so no other
    /// replica takes them over while they wait in the lanes. Returns how many.
    pub async fn renew(&self) -> RedisResult<usize> {
        let entries: Vec<String> = {
            let holding = self.holding();
            holding.entries.iter().cloned().collect()
        };
        let mut conn = self.inner.conn.clone();
        for chunk in entries.chunks(BATCH) {
            let _: Vec<String> = conn
                .xclaim_options(
                    &self.inner.keys.stream,
                    GROUP,
                    &self.inner.consumer,
                    0,
                    chunk,
                    StreamClaimOptions::default().with_justid(),
                )
                .await?;
        }
        Ok(entries.len())
    }

    /// Deletes the consumers of earlier runs that hold nothing and have been idle for ten
    /// leases, so the group's list does not grow with every restart. Returns how many.
    pub async fn forget_idle_consumers(&self) -> RedisResult<u64> {
        let mut conn = self.inner.conn.clone();
        redis::Script::new(FORGET_IDLE)
            .key(&self.inner.keys.stream)
            .arg(GROUP)
            .arg(&self.inner.consumer)
            .arg(ms(self.inner.lease * 10))
            .invoke_async(&mut conn)
            .await
    }

    /// Entries read and not yet finished.
    pub fn held(&self) -> usize {
        self.holding().by_id.len()
    }

    fn holding(&self) -> std::sync::MutexGuard<'_, Holding> {
        self.inner.holding.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives read entries local ids; entries this replica already holds are left out, and an
    /// entry that cannot be read is moved to the dead letters as it is.
    async fn hold(&self, entries: Vec<StreamId>) -> Vec<(u64, Pending)> {
        let mut out = Vec::with_capacity(entries.len());
        let mut unreadable = Vec::new();
        {
            let mut holding = self.holding();
            for entry in entries {
                if holding.entries.contains(&entry.id) {
                    continue;
                }
                let raw: Option<Vec<u8>> = entry.get(PENDING_FIELD);
                let record = raw
                    .as_deref()
                    .and_then(|r| serde_json::from_slice::<Pending>(r).ok());
                let Some(record) = record else {
                    unreadable.push((entry.id, raw.unwrap_or_default()));
                    continue;
                };
                let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
                holding.entries.insert(entry.id.clone());
                holding.by_id.insert(
                    id,
                    Held {
                        entry: entry.id,
                        accepted_ms: record.accepted_ms,
                        history: record.history.clone(),
                    },
                );
                out.push((id, record));
            }
        }
        for (entry, raw) in unreadable {
            tracing::error!(entry = %entry, "redis outbox: unreadable entry moved to the dead letters");
            let mut pipe = redis::pipe();
            pipe.atomic()
                .xadd(
                    &self.inner.keys.dead,
                    "*",
                    &[(RAW_FIELD, raw), ("entry", entry.clone().into_bytes())],
                )
                .ignore()
                .xack(&self.inner.keys.stream, GROUP, &[&entry])
                .ignore()
                .xdel(&self.inner.keys.stream, &[&entry])
                .ignore();
            let mut conn = self.inner.conn.clone();
            let _: RedisResult<()> = pipe.query_async(&mut conn).await;
        }
        out
    }

    /// Stops holding `ids`; their stream ids.
    fn release(&self, ids: &[u64]) -> Vec<Held> {
        let mut holding = self.holding();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(held) = holding.by_id.remove(id) {
                holding.entries.remove(&held.entry);
                out.push(held);
            }
        }
        out
    }

    /// Runs a write of the finished entries in the background; [`Self::flush`] waits for it.
    fn finish(&self, what: &'static str, pipe: redis::Pipeline, n: usize) {
        let inner = self.inner.clone();
        inner.writing.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            let mut conn = inner.conn.clone();
            let result: RedisResult<()> = pipe.query_async(&mut conn).await;
            if let Err(e) = result {
                // Still pending in the stream: taken over and sent again after the lease.
                tracing::warn!(error = %e, entries = n, what, "redis outbox: not recorded; the updates will be delivered again after the lease");
            }
            inner.writing.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// Acknowledges and deletes entries delivered or without a call to make.
    pub fn done(&self, ids: Vec<u64>) {
        let held = self.release(&ids);
        if held.is_empty() {
            return;
        }
        let entries: Vec<&str> = held.iter().map(|h| h.entry.as_str()).collect();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .xack(&self.inner.keys.stream, GROUP, &entries)
            .ignore()
            .xdel(&self.inner.keys.stream, &entries)
            .ignore();
        self.finish("done", pipe, entries.len());
    }

    /// Adds a dead letter (the update, its earlier attempts and this one) and acknowledges and
    /// deletes the entries merged into it, in one `MULTI`.
    pub fn dead(
        &self,
        ids: Vec<u64>,
        interaction: &str,
        update: &Update,
        reason: &str,
        attempt: Attempt,
    ) {
        let held = self.release(&ids);
        if held.is_empty() {
            return;
        }
        let mut history: Vec<Attempt> = held.iter().flat_map(|h| h.history.clone()).collect();
        history.push(attempt);
        let letter = DeadLetter {
            pending: Pending {
                interaction: interaction.to_owned(),
                update: update.clone(),
                accepted_ms: held
                    .iter()
                    .map(|h| h.accepted_ms)
                    .min()
                    .unwrap_or_else(now_ms),
                history,
            },
            reason: reason.to_owned(),
            merged_ids: ids,
        };
        let record = match serde_json::to_vec(&letter) {
            Ok(record) => record,
            Err(e) => {
                tracing::error!(error = %e, "dead letter not written");
                return;
            }
        };
        let entries: Vec<&str> = held.iter().map(|h| h.entry.as_str()).collect();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .xadd(&self.inner.keys.dead, "*", &[(DEAD_FIELD, record)])
            .ignore()
            .xack(&self.inner.keys.stream, GROUP, &entries)
            .ignore()
            .xdel(&self.inner.keys.stream, &entries)
            .ignore();
        self.finish("dead letter", pipe, entries.len());
    }

    /// Counts one delivery by its outcome.
    pub fn delivered(&self, outcome: &str) {
        self.inner.metrics.outbox().delivery(outcome);
    }

    /// Waits (up to a few seconds) until the acknowledgements and dead letters sent are answered.
    pub async fn flush(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while self.inner.writing.load(Ordering::Acquire) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Reads the depth (entries in the stream: read or not), the dead letters and the oldest
    /// entry's time, and publishes them; a success also ends the unwritable state.
    pub async fn refresh_stats(&self) -> RedisResult<()> {
        let mut conn = self.inner.conn.clone();
        let (depth, dead, first): (u64, u64, StreamRangeReply) = redis::pipe()
            .xlen(&self.inner.keys.stream)
            .xlen(&self.inner.keys.dead)
            .xrange_count(&self.inner.keys.stream, "-", "+", 1)
            .query_async(&mut conn)
            .await?;
        let oldest = first.ids.first().map_or(0, |e| entry_time(&e.id));
        self.inner.depth.store(depth, Ordering::Release);
        self.inner.dead.store(dead, Ordering::Release);
        self.inner.oldest_ms.store(oldest, Ordering::Release);
        if self.is_unwritable() {
            self.wrote(true);
        }
        self.publish();
        Ok(())
    }

    /// The gauges, as last read.
    pub fn publish(&self) {
        let m = self.inner.metrics.outbox();
        m.set_depth(self.inner.depth.load(Ordering::Acquire));
        m.set_dead_letters(self.inner.dead.load(Ordering::Acquire));
        m.set_oldest_age(self.oldest_age());
    }

    fn oldest_age(&self) -> f64 {
        let oldest = self.inner.oldest_ms.load(Ordering::Acquire);
        if oldest == 0 {
            0.0
        } else {
            now_ms().saturating_sub(oldest) as f64 / 1e3
        }
    }

    /// What `/rules/status` shows (counts as last read, every second).
    pub fn status(&self) -> OutboxStatus {
        OutboxStatus {
            path: self.inner.label.clone(),
            pending: self.inner.depth.load(Ordering::Acquire),
            oldest_pending_age_s: self.oldest_age(),
            dead_letters: self.inner.dead.load(Ordering::Acquire),
            unwritable: self.is_unwritable(),
        }
    }

    /// `redis: <prefix>`.
    pub fn path(&self) -> &Path {
        &self.inner.label
    }

    /// Keeps a background task of this outbox, ended by [`Self::close`].
    pub fn keep_task(&self, task: tokio::task::JoinHandle<()>) {
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }

    /// Stops reading and taking over (what this replica holds stays pending in the stream, for
    /// another replica after the lease, or this host's next run).
    pub async fn close(&self) {
        self.flush().await;
        let tasks =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            task.abort();
        }
    }
}

/// What `cxrules outbox status` shows of the Redis outbox.
#[derive(Debug, Serialize)]
pub struct RedisSummary {
    /// The stream.
    pub stream: String,
    /// Updates in the stream: waiting to be read, or read and not yet delivered.
    pub pending: u64,
    /// Of those, read by a replica and not yet acknowledged.
    pub in_delivery: u64,
    /// When the oldest pending update was added (ms since the epoch).
    pub oldest_pending_ms: Option<u64>,
    /// Updates given up.
    pub dead_letters: u64,
    /// Consumers (replicas, past and present) the group knows.
    pub consumers: u64,
}

/// The counts of the outbox under `prefix`.
pub fn summary<C: redis::ConnectionLike>(con: &mut C, prefix: &str) -> RedisResult<RedisSummary> {
    use redis::Commands;
    let keys = Keys::new(prefix);
    let pending: u64 = con.xlen(&keys.stream)?;
    let dead: u64 = con.xlen(&keys.dead)?;
    let first: StreamRangeReply = con.xrange_count(&keys.stream, "-", "+", 1)?;
    let (in_delivery, consumers) = if pending > 0 || con.exists::<_, bool>(&keys.stream)? {
        let groups: RedisResult<redis::streams::StreamInfoGroupsReply> =
            con.xinfo_groups(&keys.stream);
        match groups {
            Ok(g) => g
                .groups
                .iter()
                .find(|g| g.name == GROUP)
                .map_or((0, 0), |g| (g.pending as u64, g.consumers as u64)),
            Err(e) if missing_group(&e) => (0, 0),
            Err(e) => return Err(e),
        }
    } else {
        (0, 0)
    };
    Ok(RedisSummary {
        stream: keys.stream,
        pending,
        in_delivery,
        oldest_pending_ms: first.ids.first().map(|e| entry_time(&e.id)),
        dead_letters: dead,
        consumers,
    })
}

/// Up to `limit` pending updates, oldest first, with their stream ids.
pub fn list_pending<C: redis::ConnectionLike>(
    con: &mut C,
    prefix: &str,
    limit: usize,
) -> RedisResult<Vec<(String, Pending)>> {
    use redis::Commands;
    let keys = Keys::new(prefix);
    let limit = limit.min(i64::MAX as usize);
    let rows: StreamRangeReply = con.xrange_count(&keys.stream, "-", "+", limit)?;
    Ok(rows
        .ids
        .into_iter()
        .filter_map(|e| {
            let raw: Vec<u8> = e.get(PENDING_FIELD)?;
            let record = serde_json::from_slice(&raw).ok()?;
            Some((e.id, record))
        })
        .collect())
}

/// A dead letter as stored: readable, or the raw entry that could not be read.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum DeadEntry {
    /// A dead letter.
    Letter(Box<DeadLetter>),
    /// A stream entry that was not a pending record.
    Unreadable {
        /// Its text, as far as it is text.
        raw: String,
    },
}

/// Up to `limit` dead letters, oldest first, with their stream ids.
pub fn list_dead<C: redis::ConnectionLike>(
    con: &mut C,
    prefix: &str,
    limit: usize,
) -> RedisResult<Vec<(String, DeadEntry)>> {
    use redis::Commands;
    let keys = Keys::new(prefix);
    // Redis takes a COUNT up to i64::MAX.
    let limit = limit.min(i64::MAX as usize);
    let rows: StreamRangeReply = con.xrange_count(&keys.dead, "-", "+", limit)?;
    Ok(rows
        .ids
        .into_iter()
        .map(|e| {
            let letter = e
                .get::<Vec<u8>>(DEAD_FIELD)
                .and_then(|raw| serde_json::from_slice(&raw).ok());
            let entry = match letter {
                Some(letter) => DeadEntry::Letter(Box::new(letter)),
                None => DeadEntry::Unreadable {
                    raw: String::from_utf8_lossy(&e.get::<Vec<u8>>(RAW_FIELD).unwrap_or_default())
                        .into_owned(),
                },
            };
            (e.id, entry)
        })
        .collect())
}

/// Moves dead letters (all, or those with the stream ids in `ids`) back to the stream, their
/// attempts kept; a running replica reads them as new. Returns how many moved.
pub fn retry<C: redis::ConnectionLike>(
    con: &mut C,
    prefix: &str,
    ids: &[String],
) -> RedisResult<usize> {
    let keys = Keys::new(prefix);
    let mut moved = 0;
    for (entry, dead) in list_dead(con, prefix, usize::MAX)? {
        if !ids.is_empty() && !ids.contains(&entry) {
            continue;
        }
        let DeadEntry::Letter(letter) = dead else {
            continue;
        };
        let record = serde_json::to_vec(&letter.pending).map_err(|e| {
            RedisError::from((redis::ErrorKind::Client, "serialize", e.to_string()))
        })?;
        let () = redis::pipe()
            .atomic()
            .xadd(&keys.stream, "*", &[(PENDING_FIELD, record)])
            .ignore()
            .xdel(&keys.dead, &[&entry])
            .ignore()
            .query(con)?;
        moved += 1;
    }
    Ok(moved)
}

/// Deletes every dead letter, or every pending update (the stream and its group, made again
/// empty: a replica holding some of them may still deliver those). Returns how many.
pub fn purge<C: redis::ConnectionLike>(con: &mut C, prefix: &str, what: Purge) -> RedisResult<u64> {
    use redis::Commands;
    let keys = Keys::new(prefix);
    let key = match what {
        Purge::DeadLetters => &keys.dead,
        Purge::Pending => &keys.stream,
    };
    let n: u64 = con.xlen(key)?;
    let () = con.del(key)?;
    if what == Purge::Pending {
        let created: RedisResult<()> = con.xgroup_create_mkstream(&keys.stream, GROUP, "0");
        if let Err(e) = created {
            if e.code() != Some("BUSYGROUP") {
                return Err(e);
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
