//! One interaction's worker: takes its updates in order, merges metadata updates that arrive
//! within the coalescing window, and delivers each through the sink; with the outbox, records
//! how each delivery ended there (deleted, or moved to the dead letters).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::time::Instant;

use super::{Inner, Queued};
use crate::cxone::{PrepareError, PreparedCall, SendError, Update};
use crate::outbox::{now_ms, Attempt};
use crate::sequence::Admission;

/// An update ready to go, with the slots of everything merged into it.
struct Batch {
    update: Update,
    received_at: Instant,
    merged: Vec<Queued>,
}

/// Runs until the lane is empty, then removes it (under the map's lock, so an update queued
/// meanwhile either lands before the removal and is seen, or starts a new worker).
pub(super) async fn run(inner: Arc<Inner>, id: String) {
    while let Some(batch) = next(&inner, &id).await {
        // A lane's turn at delivering; the call's future is boxed so that a waiting lane's
        // task stays small (the semaphore is never closed).
        let turn = inner.delivering.acquire().await.ok();
        let ended = Box::pin(deliver(&inner, &id, &batch)).await;
        drop(turn);
        if let Some(outbox) = &inner.outbox {
            let ids: Vec<u64> = batch.merged.iter().filter_map(|q| q.id).collect();
            match ended {
                Ended::Delivered => {
                    outbox.delivered("delivered");
                    outbox.done(ids);
                }
                Ended::Skipped => {
                    outbox.delivered("skipped");
                    outbox.done(ids);
                }
                Ended::Failed(reason, attempt) => {
                    outbox.delivered("dead_letter");
                    outbox.dead(ids, &id, &batch.update, reason, attempt);
                }
            }
        }
        drop(batch);
        if let Some(lane) = inner.lanes().get_mut(&id) {
            lane.busy = None;
        }
        inner.publish_depth();
    }
}

/// When the front update may be taken: metadata waits out the window from its arrival.
fn ready_at(inner: &Inner, id: &str) -> Option<Option<Instant>> {
    let mut lanes = inner.lanes();
    let Some(front) = lanes.get(id).and_then(|l| l.queue.front()) else {
        lanes.remove(id);
        return None;
    };
    let window = inner.config.coalesce_window;
    let closing = inner.closed.load(Ordering::Acquire);
    let waits = matches!(front.update, Update::Metadata(_)) && !window.is_zero() && !closing;
    Some(waits.then(|| front.enqueued_at + window))
}

async fn next(inner: &Inner, id: &str) -> Option<Batch> {
    if let Some(at) = ready_at(inner, id)? {
        tokio::time::sleep_until(at).await;
    }
    let mut lanes = inner.lanes();
    let Some(first) = lanes.get_mut(id).and_then(|l| l.queue.pop_front()) else {
        lanes.remove(id);
        return None;
    };
    let lane = lanes.get_mut(id)?;
    let mut update = first.update.clone();
    let received_at = first.received_at;
    let mut slots = vec![first];
    // A zero window turns coalescing off entirely: one call per update, even behind a busy lane.
    let coalesce = !inner.config.coalesce_window.is_zero();
    if let (Update::Metadata(merged), true) = (&mut update, coalesce) {
        while let Some(Update::Metadata(_)) = lane.queue.front().map(|q| &q.update) {
            let Some(later) = lane.queue.pop_front() else {
                break;
            };
            if let Update::Metadata(m) = &later.update {
                merged.merge(m.clone());
            }
            inner.metrics.coalesced();
            slots.push(later);
        }
    }
    lane.busy = Some(update.clone());
    Some(Batch {
        update,
        received_at,
        merged: slots,
    })
}

/// The call for an update, or `None` (counted and logged) when there is none to make.
pub(super) fn prepare(inner: &Inner, id: &str, update: &Update) -> Option<PreparedCall> {
    let prepared = inner.profile.prepare(id, update);
    prepared.map_err(|e| refused(inner, id, update, e)).ok()
}

/// Whether [`prepare`] would give a call (and counts and logs it as `prepare` does when not),
/// without building the call.
pub(super) fn check(inner: &Inner, id: &str, update: &Update) -> bool {
    let checked = inner.profile.check(id, update);
    checked.map_err(|e| refused(inner, id, update, e)).is_ok()
}

fn refused(inner: &Inner, id: &str, update: &Update, e: PrepareError) {
    let ep = update.endpoint().as_str();
    match e {
        e @ (PrepareError::NoCall(_) | PrepareError::Missing(_)) => {
            let reason = if matches!(e, PrepareError::NoCall(_)) {
                "no_call"
            } else {
                "missing_value"
            };
            inner.metrics.effect_skipped(ep, reason);
            tracing::warn!(interaction_id = %id, endpoint = ep, reason = %e, "update skipped");
        }
        e @ PrepareError::Id(_) => {
            inner.metrics.effect_failed(ep, "unsafe_id");
            tracing::error!(interaction_id = %id, endpoint = ep, error = %e, "update refused");
        }
    }
}

/// How one delivery ended.
enum Ended {
    /// CXone accepted it (or dry-run logged it).
    Delivered,
    /// There was no call to make.
    Skipped,
    /// Given up: the reason and the delivery.
    Failed(&'static str, Attempt),
}

async fn deliver(inner: &Inner, id: &str, batch: &Batch) -> Ended {
    let ep = batch.update.endpoint().as_str();
    let Some(call) = prepare(inner, id, &batch.update) else {
        return Ended::Skipped;
    };
    if !inner.sink.is_dry_run() {
        if let Some(limiter) = &inner.limiter {
            limiter.until_ready().await;
        }
    }
    let lease = match (&batch.update, inner.sequence.get()) {
        (Update::Metadata(m), Some(guard)) if !inner.sink.is_dry_run() => match m.last_sequence {
            Some(seq) => match guard.admit(id, seq).await {
                Admission::Send(lease) => lease.map(|l| (guard, l)),
                Admission::Superseded => {
                    inner.metrics.effect_skipped(ep, "superseded");
                    tracing::debug!(interaction_id = %id, endpoint = ep, "another replica sent a newer update; not sent");
                    return Ended::Skipped;
                }
            },
            None => None,
        },
        _ => None,
    };
    // A sink that paces itself takes its in-flight slot only around each request, so that a
    // call waiting for its contact's bucket or a retry holds no slot another contact needs.
    let _slot = if inner.sink.paces_itself() {
        None
    } else {
        let Ok(slot) = inner.in_flight.acquire().await else {
            return Ended::Skipped;
        };
        Some(slot)
    };
    let sent = inner.sink.deliver(&call).await;
    if let Some((guard, lease)) = lease {
        guard.release(lease).await;
    }
    match sent {
        Ok(_) if inner.sink.is_dry_run() => {
            inner.metrics.outbound(ep, "dry_run");
            Ended::Delivered
        }
        Ok(done) => {
            inner
                .metrics
                .ack_latency(ep, batch.received_at.elapsed().as_secs_f64());
            tracing::debug!(interaction_id = %id, endpoint = ep, status = done.status, attempts = done.attempts, "cxone acknowledged");
            Ended::Delivered
        }
        Err(e) => {
            let reason = report_failure(inner, id, ep, &call.body, &e);
            let calls = match &e {
                SendError::Exhausted { attempts, .. } => *attempts,
                _ => 1,
            };
            let attempt = Attempt {
                at_ms: now_ms(),
                calls,
                answer: e.to_string(),
            };
            Ended::Failed(reason, attempt)
        }
    }
}

fn report_failure(inner: &Inner, id: &str, ep: &str, body: &str, e: &SendError) -> &'static str {
    let reason = match e {
        SendError::Gone => "gone",
        SendError::NotFound { .. } => "not_found",
        SendError::Forbidden => "forbidden",
        SendError::Rejected(_) => "rejected",
        SendError::Unauthorized | SendError::Auth(_) => "auth",
        SendError::Exhausted { .. } => "exhausted",
        SendError::UnsafePath(_) => "unsafe_path",
        SendError::Discovery(_) => "discovery",
    };
    inner.metrics.effect_failed(ep, reason);
    if matches!(e, SendError::Gone) {
        tracing::info!(interaction_id = %id, endpoint = ep, "interaction gone; update dropped");
    } else {
        tracing::error!(interaction_id = %id, endpoint = ep, error = %e, body = %body, "update not delivered");
    }
    reason
}
