//! The Redis outbox against a real `redis-server`: append, read, acknowledge, dead letters and
//! their retry, the takeover of a consumer that stopped renewing its entries, and the deletion of
//! idle consumers that hold nothing.

use std::time::Duration;

use super::*;
use crate::cxone::{DedupStatus, MetadataUpdate};

/// A real `redis-server`: the engine's harness (the store's tests include it too).
#[allow(clippy::duplicate_mod)]
#[path = "../../../../engine/tests/support/redis.rs"]
mod redis_server;

use redis_server::RedisServer;

const PREFIX: &str = "cxrules:test";

fn meta(seq: i64) -> Update {
    Update::Metadata(MetadataUpdate {
        status: DedupStatus::Processed,
        last_sequence: Some(seq),
        fingerprint: "f".into(),
        channel: "default".into(),
        event_type: None,
    })
}

async fn outbox(redis: &RedisServer, lease: Duration) -> RedisOutbox {
    let conn = cxrules_engine::dedup::redis::connect(&redis.url(), Duration::from_secs(2))
        .expect("connect");
    let outbox = RedisOutbox::new(
        conn,
        &redis.url(),
        PREFIX,
        lease,
        Duration::from_secs(2),
        Metrics::new(),
    )
    .expect("the outbox");
    outbox.ensure_group().await.expect("the group");
    outbox
}

fn blocking(redis: &RedisServer) -> redis::Connection {
    redis::Client::open(redis.url())
        .expect("a client")
        .get_connection()
        .expect("a connection")
}

fn last_sequence(p: &Pending) -> Option<i64> {
    match &p.update {
        Update::Metadata(m) => m.last_sequence,
        _ => None,
    }
}

/// Reads until `n` entries came (a read may return fewer).
async fn read_n(outbox: &RedisOutbox, n: usize) -> Vec<(u64, Pending)> {
    let mut rows = Vec::new();
    for _ in 0..10 {
        rows.extend(outbox.read(n - rows.len()).await.expect("read"));
        if rows.len() >= n {
            break;
        }
    }
    rows
}

async fn until_flushed(outbox: &RedisOutbox) {
    outbox.flush().await;
}

#[tokio::test]
async fn appended_updates_are_read_in_order_and_acknowledged_ones_are_gone() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let outbox = outbox(&redis, Duration::from_secs(30)).await;
    outbox.append("i-1", &[meta(1), meta(2)]).await.unwrap();
    outbox.append("i-2", &[meta(3)]).await.unwrap();
    outbox.refresh_stats().await.unwrap();
    assert_eq!(outbox.status().pending, 3);
    assert!(outbox.status().oldest_pending_age_s >= 0.0);

    let rows = read_n(&outbox, 3).await;
    let seqs: Vec<_> = rows.iter().map(|(_, p)| last_sequence(p)).collect();
    assert_eq!(seqs, vec![Some(1), Some(2), Some(3)]);
    assert_eq!(rows[0].1.interaction, "i-1");
    assert_eq!(outbox.held(), 3);
    assert!(outbox.read(10).await.unwrap().is_empty(), "nothing new");

    outbox.done(vec![rows[0].0, rows[1].0]);
    until_flushed(&outbox).await;
    assert_eq!(outbox.held(), 1);
    let mut con = blocking(&redis);
    let s = summary(&mut con, PREFIX).unwrap();
    assert_eq!((s.pending, s.in_delivery, s.dead_letters), (1, 1, 0));
    let left = list_pending(&mut con, PREFIX, 10).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(last_sequence(&left[0].1), Some(3));
}

#[tokio::test]
async fn a_dead_letter_keeps_the_attempt_and_retry_puts_it_back_in_the_stream() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let outbox = outbox(&redis, Duration::from_secs(30)).await;
    outbox.append("i-1", &[meta(7)]).await.unwrap();
    let rows = read_n(&outbox, 1).await;
    let attempt = Attempt {
        at_ms: now_ms(),
        calls: 1,
        answer: "cxone rejected the call with 400".into(),
    };
    outbox.dead(
        vec![rows[0].0],
        "i-1",
        &rows[0].1.update,
        "rejected",
        attempt.clone(),
    );
    until_flushed(&outbox).await;
    assert_eq!(outbox.held(), 0);

    let mut con = blocking(&redis);
    let s = summary(&mut con, PREFIX).unwrap();
    assert_eq!((s.pending, s.in_delivery, s.dead_letters), (0, 0, 1));
    let dead = list_dead(&mut con, PREFIX, 10).unwrap();
    let DeadEntry::Letter(letter) = &dead[0].1 else {
        panic!("a readable dead letter");
    };
    assert_eq!(letter.reason, "rejected");
    assert_eq!(letter.pending.history, vec![attempt.clone()]);
    assert_eq!(letter.pending.interaction, "i-1");

    assert_eq!(retry(&mut con, PREFIX, &["0-1".to_owned()]).unwrap(), 0);
    assert_eq!(retry(&mut con, PREFIX, &[]).unwrap(), 1);
    let s = summary(&mut con, PREFIX).unwrap();
    assert_eq!((s.pending, s.dead_letters), (1, 0));
    let again = read_n(&outbox, 1).await;
    assert_eq!(again[0].1.history, vec![attempt], "the attempts go with it");
    assert_eq!(last_sequence(&again[0].1), Some(7));

    assert_eq!(purge(&mut con, PREFIX, Purge::Pending).unwrap(), 1);
    assert_eq!(summary(&mut con, PREFIX).unwrap().pending, 0);
}

#[tokio::test]
async fn entries_of_a_consumer_that_stops_renewing_are_taken_over_after_the_lease() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let lease = Duration::from_millis(600);
    let (a, b) = (outbox(&redis, lease).await, outbox(&redis, lease).await);
    assert_ne!(a.consumer(), b.consumer());
    a.append("i-1", &[meta(1), meta(2)]).await.unwrap();
    let held_by_a = read_n(&a, 2).await;
    assert_eq!(held_by_a.len(), 2);

    // A renews within the lease: B takes nothing.
    for _ in 0..4 {
        tokio::time::sleep(lease / 3).await;
        assert_eq!(a.renew().await.unwrap(), 2);
        assert!(
            b.take_over(10).await.unwrap().is_empty(),
            "a live consumer keeps its entries"
        );
    }

    // A stops (as a killed replica does): after the lease B has them, in order.
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    let taken = b.take_over(10).await.unwrap();
    let seqs: Vec<_> = taken.iter().map(|(_, p)| last_sequence(p)).collect();
    assert_eq!(seqs, vec![Some(1), Some(2)]);
    assert!(
        b.take_over(10).await.unwrap().is_empty(),
        "held ones are not taken twice"
    );
    b.done(taken.iter().map(|(id, _)| *id).collect());
    until_flushed(&b).await;
    let mut con = blocking(&redis);
    let s = summary(&mut con, PREFIX).unwrap();
    assert_eq!((s.pending, s.in_delivery), (0, 0));
}

#[tokio::test]
async fn an_append_to_a_redis_that_is_gone_fails_and_marks_the_outbox_unwritable() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    let outbox = outbox(&redis, Duration::from_secs(30)).await;
    outbox.append("i-1", &[meta(1)]).await.unwrap();
    redis.kill();
    assert!(outbox.append("i-1", &[meta(2)]).await.is_err());
    assert!(outbox.is_unwritable());
    assert!(outbox.status().unwritable);
    redis.restart().await;
    let mut ok = false;
    for _ in 0..20 {
        if outbox.refresh_stats().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "redis answers again");
    assert!(!outbox.is_unwritable());
}

#[tokio::test]
async fn idle_consumers_that_hold_nothing_are_deleted_and_others_kept() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let lease = Duration::from_millis(50);
    let (a, b, c) = (
        outbox(&redis, lease).await,
        outbox(&redis, lease).await,
        outbox(&redis, lease).await,
    );
    a.append("i-1", &[meta(1), meta(2)]).await.unwrap();
    assert_eq!(read_n(&a, 1).await.len(), 1, "a holds one entry");
    let read = read_n(&b, 1).await;
    b.done(read.iter().map(|(id, _)| *id).collect());
    until_flushed(&b).await;
    tokio::time::sleep(lease * 10 + Duration::from_millis(100)).await;
    assert_eq!(c.forget_idle_consumers().await.unwrap(), 1, "only b goes");
    let mut con = blocking(&redis);
    let s = summary(&mut con, PREFIX).unwrap();
    assert_eq!(
        (s.consumers, s.in_delivery),
        (1, 1),
        "a stays with its entry"
    );
}
