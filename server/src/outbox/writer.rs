//! The one writer of the outbox file: group commit. It takes every operation queued since its
//! last commit (it sleeps a window after the first, then takes up to a batch size), writes them in one redb
//! transaction with one fsync, then answers the events that waited. A failed write answers
//! them with the error, marks the outbox unwritable, and keeps the deliveries' deletions for
//! the next commit; it tries the file again once a second.
//!
//! Every write transaction uses redb's quick repair: the commit is two-phase (two fsyncs) and
//! carries the allocator state, so opening the file after a crash does not walk every table
//! (a restart with a large backlog serves again at once).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable};
use tokio::sync::oneshot;

use super::file::{now_ms, seen_time, DEAD, META, PENDING, SEEN};
use super::Shared;

/// A write for the writer.
pub(super) enum Op {
    /// An event's updates and its remembered body; answered once durable.
    Append {
        rows: Vec<(u64, Vec<u8>, u64)>,
        seen: Option<(u64, Vec<u8>)>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Updates CXone accepted (or that had no call to make): deleted.
    Done(Vec<u64>),
    /// Updates given up: deleted from pending, one dead letter written.
    Dead {
        key: u64,
        ids: Vec<u64>,
        record: Vec<u8>,
    },
    /// Answered once everything before it is committed.
    Flush(oneshot::Sender<()>),
    /// Like `Flush`, then the file is closed (its lock released) and the writer ends.
    Close(oneshot::Sender<()>),
}

/// Most appends in one transaction.
const MAX_BATCH: usize = 4096;
/// Remembered events deleted per commit at most, so a prune never makes one commit long.
const PRUNE_PER_COMMIT: usize = 2048;

pub(super) struct Writer {
    pub(super) db: Option<Database>,
    pub(super) path: PathBuf,
    pub(super) shared: Arc<Shared>,
    pub(super) window: Duration,
    /// Pending id → accepted at (ms): the depth and the oldest pending age.
    pub(super) index: BTreeMap<u64, u64>,
    pub(super) dead: u64,
    /// Remembered events older than this many ms are deleted.
    pub(super) horizon_ms: u64,
    /// Deletions and dead letters a failed commit could not write, for the next one.
    pub(super) deferred: Vec<Op>,
    pub(super) last_reopen: Option<Instant>,
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Writer {
    pub(super) fn run(mut self, rx: Receiver<Op>) {
        self.publish();
        loop {
            let first = match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(op) => op,
                Err(RecvTimeoutError::Timeout) => {
                    if self.shared.failing.load(Ordering::Acquire) || !self.deferred.is_empty() {
                        self.write(Vec::new(), true);
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = vec![first];
            // The window is slept through, not waited on op by op: an op sent meanwhile finds
            // the writer not waiting and wakes nothing (each wake-up is a context switch on
            // the core the handlers share), and is taken with the rest below. A flush or a
            // close waits out the window like an append.
            if !self.window.is_zero() && !matches!(batch[0], Op::Flush(_) | Op::Close(_)) {
                // The writer's own thread, never a tokio worker.
                #[allow(clippy::disallowed_methods)]
                std::thread::sleep(self.window);
            }
            let mut appends = usize::from(matches!(batch[0], Op::Append { .. }));
            while appends < MAX_BATCH && !matches!(batch.last(), Some(Op::Flush(_) | Op::Close(_)))
            {
                let Ok(op) = rx.try_recv() else { break };
                appends += usize::from(matches!(op, Op::Append { .. }));
                batch.push(op);
            }
            let close = match batch.last_mut() {
                Some(Op::Close(_)) => batch.pop(),
                _ => None,
            };
            self.write(batch, false);
            if let Some(Op::Close(reply)) = close {
                self.db = None;
                let _ = reply.send(());
                return;
            }
        }
        // Every handle is gone: write what is left.
        self.write(Vec::new(), false);
    }

    /// Writes a batch (and what earlier failures left) in one transaction and answers it.
    fn write(&mut self, batch: Vec<Op>, probe: bool) {
        let mut ops = std::mem::take(&mut self.deferred);
        ops.extend(batch);
        if ops.is_empty() && !probe {
            return;
        }
        let result = self.ensure_open().and_then(|()| self.commit(&ops, probe));
        let events = ops
            .iter()
            .filter(|op| matches!(op, Op::Append { .. }))
            .count();
        let metrics = self.shared.metrics.outbox();
        match &result {
            Ok(()) => {
                metrics.fsync(events);
                if self.shared.failing.swap(false, Ordering::AcqRel) {
                    tracing::info!(path = %self.path.display(), "outbox writable again");
                }
                metrics.set_unwritable(false);
            }
            Err(e) => {
                metrics.write_error();
                metrics.set_unwritable(true);
                if !self.shared.failing.swap(true, Ordering::AcqRel) {
                    tracing::error!(path = %self.path.display(), error = %e, "outbox cannot write; events that queue updates get 503 until it can");
                }
                // redb wants a file that failed an IO reopened before it is used again.
                self.db = None;
            }
        }
        for op in ops {
            match op {
                Op::Append { rows, reply, .. } => {
                    if result.is_ok() {
                        for (id, _, at) in rows {
                            self.index.insert(id, at);
                        }
                    }
                    let _ = reply.send(result.clone());
                }
                Op::Done(ids) if result.is_ok() => {
                    for id in ids {
                        self.index.remove(&id);
                    }
                }
                Op::Dead { ids, .. } if result.is_ok() => {
                    for id in ids {
                        self.index.remove(&id);
                    }
                    self.dead += 1;
                }
                Op::Flush(reply) | Op::Close(reply) => {
                    let _ = reply.send(());
                }
                kept => self.deferred.push(kept),
            }
        }
        self.publish();
    }

    fn ensure_open(&mut self) -> Result<(), String> {
        if self.db.is_some() {
            return Ok(());
        }
        if self
            .last_reopen
            .is_some_and(|at| at.elapsed() < Duration::from_millis(500))
        {
            return Err("the outbox file failed a write; reopening it".into());
        }
        self.last_reopen = Some(Instant::now());
        self.db = Some(Database::create(&self.path).map_err(s)?);
        Ok(())
    }

    fn commit(&self, ops: &[Op], probe: bool) -> Result<(), String> {
        let db = self.db.as_ref().ok_or("the outbox file is not open")?;
        let mut tx = db.begin_write().map_err(s)?;
        tx.set_quick_repair(true);
        {
            let mut pending = tx.open_table(PENDING).map_err(s)?;
            let mut dead = tx.open_table(DEAD).map_err(s)?;
            let mut seen = tx.open_table(SEEN).map_err(s)?;
            for op in ops {
                match op {
                    Op::Append { rows, seen: s_, .. } => {
                        for (id, record, _) in rows {
                            pending.insert(*id, record.as_slice()).map_err(s)?;
                        }
                        if let Some((id, record)) = s_ {
                            seen.insert(*id, record.as_slice()).map_err(s)?;
                        }
                    }
                    Op::Done(ids) => {
                        for id in ids {
                            pending.remove(*id).map_err(s)?;
                        }
                    }
                    Op::Dead { key, ids, record } => {
                        for id in ids {
                            pending.remove(*id).map_err(s)?;
                        }
                        dead.insert(*key, record.as_slice()).map_err(s)?;
                    }
                    Op::Flush(_) | Op::Close(_) => {}
                }
            }
            // Remembered events outside every window go, oldest first, a bounded number a time.
            let cutoff = now_ms().saturating_sub(self.horizon_ms);
            for _ in 0..PRUNE_PER_COMMIT {
                let old = match seen.first().map_err(s)? {
                    Some((k, v)) if seen_time(v.value()) < cutoff => k.value(),
                    _ => break,
                };
                seen.remove(old).map_err(s)?;
            }
            if probe {
                let mut meta = tx.open_table(META).map_err(s)?;
                meta.insert("last_probe_ms", now_ms().to_string().as_str())
                    .map_err(s)?;
            }
        }
        tx.commit().map_err(s)
    }

    fn publish(&self) {
        let oldest = self.index.values().next().copied().unwrap_or(0);
        let stats = &self.shared.stats;
        stats
            .pending
            .store(self.index.len() as u64, Ordering::Release);
        stats.dead.store(self.dead, Ordering::Release);
        stats.oldest_ms.store(oldest, Ordering::Release);
        self.shared.publish();
    }
}
