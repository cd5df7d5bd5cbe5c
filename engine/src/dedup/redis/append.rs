//! A commit that adds entries to a Redis stream in the same script run (`commit_append.lua`):
//! a host whose outbox is a stream in the same Redis writes an event's updates and makes its
//! dedup record last the window in one atomic step, so no crash can leave one without the
//! other (see [`Evaluation::commit_appending`](crate::evaluation::Evaluation::commit_appending)).
//!
//! A Redis Cluster refuses a script whose keys lie in several slots (`CROSSSLOT`, before any of
//! it runs), and the interactions' hashes are tagged by interaction while a stream has a tag of
//! its own: after the first such answer a store's commits add the entries (`MULTI` + `XADD`) and
//! then commit, in two steps, for good. Between those steps a crash leaves the message claimed but
//! not recorded: a re-delivery after the claim's lease is processed again (its update sent
//! twice, never lost).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisError, RedisResult};

use super::batch::Commit;
use super::connect::error;
use super::counters::Counters;
use super::scripts::COMMIT_APPEND;
use crate::dedup::store::{StoreError, StoreErrorKind};

/// Entries to add to a Redis stream together with an evaluation's commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAppend {
    /// The stream's key.
    pub stream: String,
    /// The field each entry's value is stored under.
    pub field: String,
    /// The entries' values, added in this order (`XADD <stream> * <field> <value>` each).
    pub values: Vec<Vec<u8>>,
}

/// One check's part in such a commit: what its store would send to commit it.
pub struct CommitPart<'a> {
    pub(super) commit: Commit,
    pub(super) conn: &'a ConnectionManager,
    pub(super) timeout: Duration,
    pub(super) counters: &'a Counters,
    /// The store's mark that its server refused the one-script form (a cluster).
    pub(super) split: &'a AtomicBool,
}

impl std::fmt::Debug for CommitPart<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitPart")
            .field("key", &self.commit.key)
            .finish_non_exhaustive()
    }
}

/// What [`commit_appending`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Entries added and every part committed, in one script run.
    Together,
    /// Entries added (one `MULTI`); the parts are still to be committed, by the caller.
    EntriesOnly,
}

/// Adds `append`'s entries and commits `parts`, in one script run on `conn` (the parts' own
/// connection when there are parts), within `timeout`. On a cluster (see the module) only the
/// entries are added, and the caller commits the parts as usual. An error means the outcome is
/// unknown: the script may have run (a timeout) or not; the caller rolls back, which removes
/// only claims still uncommitted.
pub(crate) async fn commit_appending(
    parts: &[CommitPart<'_>],
    conn: &ConnectionManager,
    timeout: Duration,
    append: &StreamAppend,
) -> Result<Appended, StoreError> {
    if parts.is_empty() || parts.iter().any(|p| p.split.load(Relaxed)) {
        return add_entries(conn, timeout, append)
            .await
            .map(|()| Appended::EntriesOnly);
    }
    let mut call = COMMIT_APPEND.prepare_invoke();
    call.arg(&parts[0].commit.pinned)
        .arg(&append.field)
        .arg(parts.len());
    for Commit {
        key,
        fingerprint,
        event,
        token,
        window_ms,
        cap,
        ..
    } in parts.iter().map(|p| &p.commit)
    {
        call.key(key)
            .arg(&fingerprint[..])
            .arg(&event[..])
            .arg(&token[..])
            .arg(*window_ms)
            .arg(*cap);
    }
    call.key(&append.stream);
    for value in &append.values {
        call.arg(&value[..]);
    }
    let mut c = parts[0].conn.clone();
    let answer: Result<RedisResult<Vec<u64>>, _> =
        tokio::time::timeout(parts[0].timeout, call.invoke_async(&mut c)).await;
    match answer {
        Ok(Ok(counts)) => {
            for (part, pair) in parts.iter().zip(counts.chunks(2)) {
                part.counters.commits.fetch_add(1, Relaxed);
                let renewed = pair.get(1).copied().unwrap_or(0);
                part.counters
                    .lapsed_commits
                    .fetch_add(u64::from(renewed > 0), Relaxed);
            }
            Ok(Appended::Together)
        }
        Ok(Err(e)) if e.code() == Some("CROSSSLOT") => {
            let first = parts.iter().all(|p| !p.split.swap(true, Relaxed));
            if first {
                tracing::info!(
                    "redis cluster: an event's outbox entries and its dedup commit go in two \
                     steps (their keys are in different slots)"
                );
            }
            add_entries(conn, timeout, append)
                .await
                .map(|()| Appended::EntriesOnly)
        }
        Ok(Err(e)) => Err(failed(parts, &e)),
        Err(_) => {
            for part in parts {
                part.counters.errors.fetch_add(1, Relaxed);
            }
            Err(StoreError::new(
                StoreErrorKind::Timeout,
                format!(
                    "redis commit with outbox entries took longer than {:?}; hint: is the \
                     server up and reachable?",
                    parts[0].timeout
                ),
            ))
        }
    }
}

fn failed(parts: &[CommitPart<'_>], e: &RedisError) -> StoreError {
    for part in parts {
        part.counters.errors.fetch_add(1, Relaxed);
    }
    error("commit with outbox entries", e)
}

/// Adds `append`'s entries alone, all or none (`MULTI`), in one round trip within `timeout`:
/// the second step on a cluster, and a stream write without a dedup commit.
pub async fn add_entries(
    conn: &ConnectionManager,
    timeout: Duration,
    append: &StreamAppend,
) -> Result<(), StoreError> {
    if append.values.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    pipe.atomic();
    for value in &append.values {
        pipe.cmd("XADD")
            .arg(&append.stream)
            .arg("*")
            .arg(&append.field)
            .arg(&value[..])
            .ignore();
    }
    let mut c = conn.clone();
    match tokio::time::timeout(timeout, pipe.query_async::<()>(&mut c)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(error("outbox entries", &e)),
        Err(_) => Err(StoreError::new(
            StoreErrorKind::Timeout,
            format!("redis outbox entries took longer than {timeout:?}; hint: is the server up and reachable?"),
        )),
    }
}
