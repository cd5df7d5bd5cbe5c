//! With the Redis outbox: the tasks that fill this replica's lanes from the stream the replicas
//! share. The reader takes new entries as the lanes have room (at most the queue's capacity
//! held at once); the keeper, every second, reads the outbox's counts and, every third of the
//! lease, renews the entries this replica holds, takes over those another replica left and
//! deletes the idle consumers of earlier runs that hold nothing
//! (the first round runs at start, so what a previous run of this host left is taken up once
//! its lease has run out). Entries reach the lanes as updates handed back at start do
//! ([`Effects::restore`]): coalesced and guarded as new ones.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Effects, Restored};
use crate::outbox::{redis::missing_group, Pending, RedisOutbox};

/// Starts the reader and the keeper; [`RedisOutbox::close`] ends them.
pub fn follow(effects: &Effects, outbox: &RedisOutbox) {
    let reader = tokio::spawn(read(effects.clone(), outbox.clone()));
    outbox.keep_task(reader);
    let keeper = tokio::spawn(keep(effects.clone(), outbox.clone()));
    outbox.keep_task(keeper);
}

fn restored(rows: Vec<(u64, Pending)>) -> Vec<Restored> {
    rows.into_iter()
        .map(|(id, p)| Restored {
            id,
            interaction: p.interaction,
            update: p.update,
        })
        .collect()
}

/// Room for more entries: the queue's capacity less what this replica holds.
fn room(effects: &Effects, outbox: &RedisOutbox) -> usize {
    effects.inner.config.capacity.saturating_sub(outbox.held())
}

fn closing(effects: &Effects) -> bool {
    effects.inner.closed.load(Ordering::Acquire)
}

async fn read(effects: Effects, outbox: RedisOutbox) {
    let mut failing = false;
    while !closing(&effects) {
        let room = room(&effects, &outbox);
        if room == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        match outbox.read(room).await {
            Ok(rows) => {
                failing = false;
                effects.restore(restored(rows));
            }
            Err(e) => {
                if missing_group(&e) {
                    let _ = outbox.ensure_group().await;
                } else if !failing {
                    tracing::warn!(error = %e, "redis outbox: cannot read; trying again");
                }
                failing = true;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn keep(effects: Effects, outbox: RedisOutbox) {
    if let Err(e) = outbox.ensure_group().await {
        tracing::warn!(error = %e, "redis outbox: cannot create the consumer group yet");
    }
    let every = (outbox.lease() / 3).max(Duration::from_millis(100));
    let mut last_round: Option<tokio::time::Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1).min(every));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = outbox.refresh_stats().await {
            tracing::debug!(error = %e, "redis outbox: counts not read");
        }
        if last_round.is_some_and(|at| at.elapsed() < every) {
            continue;
        }
        last_round = Some(tokio::time::Instant::now());
        if let Err(e) = outbox.renew().await {
            tracing::warn!(error = %e, "redis outbox: held updates not renewed");
        }
        if let Err(e) = outbox.forget_idle_consumers().await {
            tracing::debug!(error = %e, "redis outbox: idle consumers not deleted");
        }
        if closing(&effects) {
            continue;
        }
        let room = room(&effects, &outbox);
        if room == 0 {
            continue;
        }
        match outbox.take_over(room).await {
            Ok(rows) => {
                effects.restore(restored(rows));
            }
            Err(e) if missing_group(&e) => {
                let _ = outbox.ensure_group().await;
            }
            Err(e) => tracing::warn!(error = %e, "redis outbox: nothing taken over"),
        }
    }
}
