//! Calls sent together: one task per store and kind of call (checks, commits) takes every call
//! waiting when it is free and sends them as one script run (`check_many.lua`,
//! `commit_many.lua`), so a busy host spends a fraction of a Redis call per decision instead of
//! two. Nothing waits for a batch to fill: a lone call goes at once (as the one-call script), and
//! the calls that arrive while it is in flight make the next batch.
//!
//! A Redis Cluster refuses a script whose keys lie in several slots (`CROSSSLOT`, before running
//! any of it); the first such answer switches that task to one call per job for good, run
//! concurrently.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{FromRedisValue, ScriptInvocation, Value};
use tokio::sync::{mpsc, oneshot};

use super::connect::error;
use super::scripts::{CHECK, CHECK_MANY, COMMIT, COMMIT_MANY};
use crate::dedup::store::{StoreError, StoreErrorKind};

/// Most calls in one script run.
const MAX_BATCH: usize = 256;

/// One kind of call the task can send alone or in batches.
pub(super) trait Job: Send + Sync + Sized + 'static {
    /// One call's answer: the one-call script's reply, and each job's part of a batch's reply.
    type Answer: FromRedisValue + Send + 'static;
    /// How many values of a batch's flat reply make one job's answer.
    const WIDTH: usize;
    /// What the calls are called in errors and logs.
    const WHAT: &'static str;
    /// The pinned clock ('' the server's): only tests pin it; a batch holds jobs of one clock.
    fn pinned(&self) -> &str;
    /// This job as a call of its own.
    fn one(&self) -> ScriptInvocation<'static>;
    /// Jobs of one clock and one store as one call answering `WIDTH` values per job, in order.
    fn many(jobs: &[&Self]) -> ScriptInvocation<'static>;
}

/// One check's arguments.
pub(super) struct Check {
    /// The interaction's hash.
    pub key: String,
    /// The fingerprint's field.
    pub fingerprint: Vec<u8>,
    /// The event id's field (empty: none).
    pub event: Vec<u8>,
    /// The order key ('' none).
    pub order: String,
    /// This check's token.
    pub token: [u8; 8],
    /// The store's settings (one batch holds checks of one store).
    pub window_ms: u64,
    pub sliding: bool,
    pub cap: usize,
    pub lease_ms: u64,
    /// The pinned clock ('' the server's).
    pub pinned: String,
}

impl Job for Check {
    /// Verdict code, highest ('' none), highest before ('' none), keys evicted, in flight.
    type Answer = (i64, String, String, u64, u8);
    const WIDTH: usize = 5;
    const WHAT: &'static str = "check";

    fn pinned(&self) -> &str {
        &self.pinned
    }

    fn one(&self) -> ScriptInvocation<'static> {
        let mut call = CHECK.prepare_invoke();
        call.key(&self.key)
            .arg(&self.fingerprint[..])
            .arg(&self.event[..])
            .arg(&self.order)
            .arg(self.window_ms)
            .arg(if self.sliding { "1" } else { "0" })
            .arg(self.cap)
            .arg(self.lease_ms)
            .arg(&self.token[..])
            .arg(&self.pinned);
        call
    }

    fn many(jobs: &[&Self]) -> ScriptInvocation<'static> {
        let first = jobs[0];
        let mut call = CHECK_MANY.prepare_invoke();
        call.arg(&first.pinned)
            .arg(first.window_ms)
            .arg(if first.sliding { "1" } else { "0" })
            .arg(first.cap)
            .arg(first.lease_ms);
        for job in jobs {
            call.key(&job.key)
                .arg(&job.fingerprint[..])
                .arg(&job.event[..])
                .arg(&job.order)
                .arg(&job.token[..]);
        }
        call
    }
}

/// One commit's arguments.
pub(super) struct Commit {
    /// The interaction's hash.
    pub key: String,
    /// The fingerprint's field.
    pub fingerprint: Vec<u8>,
    /// The event id's field (empty: none).
    pub event: Vec<u8>,
    /// The check's token.
    pub token: [u8; 8],
    /// The store's settings (one batch holds commits of one store).
    pub window_ms: u64,
    pub cap: usize,
    /// The pinned clock ('' the server's).
    pub pinned: String,
}

impl Job for Commit {
    /// Claims committed, claims recorded anew.
    type Answer = (u64, u64);
    const WIDTH: usize = 2;
    const WHAT: &'static str = "commit";

    fn pinned(&self) -> &str {
        &self.pinned
    }

    fn one(&self) -> ScriptInvocation<'static> {
        let mut call = COMMIT.prepare_invoke();
        call.key(&self.key)
            .arg(&self.fingerprint[..])
            .arg(&self.event[..])
            .arg(&self.token[..])
            .arg(self.window_ms)
            .arg(self.cap)
            .arg(&self.pinned);
        call
    }

    fn many(jobs: &[&Self]) -> ScriptInvocation<'static> {
        let first = jobs[0];
        let mut call = COMMIT_MANY.prepare_invoke();
        call.arg(&first.pinned).arg(first.window_ms).arg(first.cap);
        for job in jobs {
            call.key(&job.key)
                .arg(&job.fingerprint[..])
                .arg(&job.event[..])
                .arg(&job.token[..]);
        }
        call
    }
}

/// A job and where its answer goes.
struct Item<J: Job> {
    job: J,
    reply: oneshot::Sender<Result<J::Answer, StoreError>>,
}

/// The sending side; the task ends when it is dropped.
pub(super) struct Batcher<J: Job> {
    tx: mpsc::UnboundedSender<Item<J>>,
}

impl<J: Job> Batcher<J> {
    /// Starts the task on the current runtime; each script run is bounded by `timeout`.
    pub fn start(conn: ConnectionManager, timeout: Duration) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, conn, timeout, Arc::new(AtomicBool::new(false))));
        Self { tx }
    }

    /// Queues a job and waits for its answer. A caller that stops waiting before its job is sent
    /// (a timeout) takes it out: it is not sent at all.
    pub async fn send(&self, job: J) -> Result<J::Answer, StoreError> {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Item { job, reply }).is_err() {
            return Err(gone::<J>());
        }
        answer.await.unwrap_or_else(|_| Err(gone::<J>()))
    }
}

fn gone<J: Job>() -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        format!("the redis {} task stopped", J::WHAT),
    )
}

async fn run<J: Job>(
    mut rx: mpsc::UnboundedReceiver<Item<J>>,
    conn: ConnectionManager,
    timeout: Duration,
    singles: Arc<AtomicBool>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Jobs whose callers gave up are not sent: the caller has answered an error already.
        batch.retain(|i: &Item<J>| !i.reply.is_closed());
        while !batch.is_empty() {
            let pinned = batch[0].job.pinned().to_owned();
            let (same, rest): (Vec<Item<J>>, Vec<Item<J>>) =
                batch.drain(..).partition(|i| i.job.pinned() == pinned);
            batch = rest;
            send(same, &conn, timeout, &singles).await;
        }
    }
}

async fn send<J: Job>(
    mut items: Vec<Item<J>>,
    conn: &ConnectionManager,
    timeout: Duration,
    singles: &AtomicBool,
) {
    if singles.load(Relaxed) {
        return send_each(items, conn, timeout);
    }
    // Waited for, alone or not: the jobs that arrive meanwhile make the next batch.
    if items.len() == 1 {
        if let Some(item) = items.pop() {
            let answer = one(&item.job, conn, timeout).await;
            let _ = item.reply.send(answer);
        }
        return;
    }
    let call = J::many(&items.iter().map(|i| &i.job).collect::<Vec<_>>());
    match invoke::<Vec<Value>>(&call, conn, timeout, J::WHAT).await {
        Ok(values) if values.len() == items.len() * J::WIDTH => {
            let mut values = values.into_iter();
            for item in items {
                let part: Vec<Value> = values.by_ref().take(J::WIDTH).collect();
                let answer = redis::from_redis_value::<J::Answer>(Value::Array(part))
                    .map_err(|e| bad::<J>(format!("a batch answer did not parse: {e}")));
                let _ = item.reply.send(answer);
            }
        }
        Ok(values) => {
            let e = bad::<J>(format!(
                "redis answered {} values for {} {}s",
                values.len(),
                items.len(),
                J::WHAT
            ));
            for item in items {
                let _ = item.reply.send(Err(e.clone()));
            }
        }
        Err(Refused::CrossSlot) => {
            tracing::info!(
                "redis cluster: dedup {}s are sent one per call from now on",
                J::WHAT
            );
            singles.store(true, Relaxed);
            send_each(items, conn, timeout);
        }
        Err(Refused::Other(e)) => {
            for item in items {
                let _ = item.reply.send(Err(e.clone()));
            }
        }
    }
}

fn bad<J: Job>(what: String) -> StoreError {
    StoreError::new(StoreErrorKind::Script, format!("redis {}: {what}", J::WHAT))
}

/// One call per job, all at once (each answers its own caller).
fn send_each<J: Job>(items: Vec<Item<J>>, conn: &ConnectionManager, timeout: Duration) {
    for Item { job, reply } in items {
        let conn = conn.clone();
        tokio::spawn(async move {
            let _ = reply.send(one(&job, &conn, timeout).await);
        });
    }
}

async fn one<J: Job>(
    job: &J,
    conn: &ConnectionManager,
    timeout: Duration,
) -> Result<J::Answer, StoreError> {
    let answer = invoke::<J::Answer>(&job.one(), conn, timeout, J::WHAT).await;
    answer.map_err(|r| match r {
        Refused::CrossSlot => StoreError::new(StoreErrorKind::Script, "CROSSSLOT"),
        Refused::Other(e) => e,
    })
}

enum Refused {
    CrossSlot,
    Other(StoreError),
}

async fn invoke<T: FromRedisValue>(
    call: &ScriptInvocation<'_>,
    conn: &ConnectionManager,
    timeout: Duration,
    what: &str,
) -> Result<T, Refused> {
    let mut conn = conn.clone();
    match tokio::time::timeout(timeout, call.invoke_async(&mut conn)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) if e.code() == Some("CROSSSLOT") => Err(Refused::CrossSlot),
        Ok(Err(e)) => Err(Refused::Other(error(what, &e))),
        Err(_) => Err(Refused::Other(StoreError::new(
            StoreErrorKind::Timeout,
            format!(
                "redis {what} took longer than {timeout:?}; hint: is the server up and reachable?"
            ),
        ))),
    }
}
