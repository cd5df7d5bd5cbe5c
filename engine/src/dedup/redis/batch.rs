//! Commits sent together: one task per store takes every commit waiting when it is free and
//! sends them as one script run (`commit_many.lua`), so a busy host spends about one Redis call
//! per decision (the check) instead of two. Nothing waits for a batch to fill: a lone commit goes
//! at once, and the commits that arrive while it is in flight make the next batch.
//!
//! A Redis Cluster refuses a script whose keys lie in several slots (`CROSSSLOT`); the first such
//! answer switches the store to one call per commit for good, run concurrently.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{FromRedisValue, ScriptInvocation};
use tokio::sync::{mpsc, oneshot};

use super::connect::error;
use super::scripts::{COMMIT, COMMIT_MANY};
use crate::dedup::store::{StoreError, StoreErrorKind};

/// Most commits in one script run.
const MAX_BATCH: usize = 256;

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
    pub window_ms: u64,
    pub cap: usize,
    /// The pinned clock ('' the server's).
    pub pinned: String,
}

/// A commit and where its answer goes.
struct Item {
    commit: Commit,
    reply: oneshot::Sender<Result<(u64, u64), StoreError>>,
}

/// The sending side; the task ends when it is dropped.
pub(super) struct Batcher {
    tx: mpsc::UnboundedSender<Item>,
}

impl Batcher {
    /// Starts the task on the current runtime.
    pub fn start(conn: ConnectionManager, timeout: Duration) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, conn, timeout, Arc::new(AtomicBool::new(false))));
        Self { tx }
    }

    /// Queues a commit; the answer is `(claims committed, claims recorded anew)`.
    pub async fn commit(&self, commit: Commit) -> Result<(u64, u64), StoreError> {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Item { commit, reply }).is_err() {
            return Err(gone());
        }
        answer.await.unwrap_or_else(|_| Err(gone()))
    }
}

fn gone() -> StoreError {
    StoreError::new(StoreErrorKind::Other, "the redis commit task stopped")
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Item>,
    conn: ConnectionManager,
    timeout: Duration,
    singles: Arc<AtomicBool>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Only tests pin the clock; a batch holds commits of one clock.
        while !batch.is_empty() {
            let pinned = batch[0].commit.pinned.clone();
            let (same, rest): (Vec<Item>, Vec<Item>) =
                batch.drain(..).partition(|i| i.commit.pinned == pinned);
            batch = rest;
            send(same, &conn, timeout, &singles).await;
        }
    }
}

async fn send(items: Vec<Item>, conn: &ConnectionManager, timeout: Duration, singles: &AtomicBool) {
    if singles.load(Relaxed) {
        return send_each(items, conn, timeout);
    }
    // Waited for, alone or not: the commits that arrive meanwhile make the next batch.
    if items.len() == 1 {
        let mut items = items;
        if let Some(item) = items.pop() {
            let answer = commit_one(&item.commit, conn, timeout).await;
            let _ = item.reply.send(answer);
        }
        return;
    }
    let mut call = COMMIT_MANY.prepare_invoke();
    call.arg(&items[0].commit.pinned);
    for Item { commit: item, .. } in &items {
        call.key(&item.key)
            .arg(&item.fingerprint[..])
            .arg(&item.event[..])
            .arg(&item.token[..])
            .arg(item.window_ms)
            .arg(item.cap);
    }
    match invoke::<Vec<u64>>(&call, conn, timeout, "commit").await {
        Ok(counts) if counts.len() == items.len() * 2 => {
            for (item, pair) in items.into_iter().zip(counts.chunks(2)) {
                let _ = item.reply.send(Ok((pair[0], pair[1])));
            }
        }
        Ok(counts) => {
            let e = StoreError::new(
                StoreErrorKind::Script,
                format!(
                    "redis answered {} counts for {} commits",
                    counts.len(),
                    items.len()
                ),
            );
            for item in items {
                let _ = item.reply.send(Err(e.clone()));
            }
        }
        Err(Refused::CrossSlot) => {
            tracing::info!("redis cluster: dedup commits are sent one per call from now on");
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

/// One call per commit, all at once (each answers its own sender).
fn send_each(items: Vec<Item>, conn: &ConnectionManager, timeout: Duration) {
    for Item { commit, reply } in items {
        let conn = conn.clone();
        tokio::spawn(async move {
            let _ = reply.send(commit_one(&commit, &conn, timeout).await);
        });
    }
}

async fn commit_one(
    item: &Commit,
    conn: &ConnectionManager,
    timeout: Duration,
) -> Result<(u64, u64), StoreError> {
    let mut call = COMMIT.prepare_invoke();
    call.key(&item.key)
        .arg(&item.fingerprint[..])
        .arg(&item.event[..])
        .arg(&item.token[..])
        .arg(item.window_ms)
        .arg(item.cap)
        .arg(&item.pinned);
    let answer = invoke::<(u64, u64)>(&call, conn, timeout, "commit").await;
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
