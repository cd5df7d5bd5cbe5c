//! Bounds of the memory store: eviction, key caps, expiry, the clock wrap and concurrency.

use std::sync::Barrier;
use std::time::Duration;

use tokio::time::Instant;

use super::{check, fp, msg, policy, verdicts, D, U};
use crate::dedup::memory::MemoryStore;
use crate::dedup::store::{CheckRequest, DedupStore, WindowPolicy};

/// A request for interaction `id` with content `content` at `now`.
fn req<'a>(id: &'a str, content: &str, now: Instant) -> CheckRequest<'a> {
    CheckRequest {
        interaction: id,
        fingerprint: fp(content),
        event_id: None,
        order: None,
        now,
    }
}

#[tokio::test(start_paused = true)]
async fn oldest_interaction_is_evicted_unless_busy_since() {
    let store = MemoryStore::new(WindowPolicy {
        max_interactions: 3,
        ..policy(false)
    });
    let t0 = Instant::now();
    for i in ["i1", "i2", "i3"] {
        check(&store, t0, msg(0, "a").on(i));
    }
    check(&store, t0, msg(1, "b").on("i1"));
    check(&store, t0, msg(2, "a").on("i4"));
    let stats = store.stats();
    assert_eq!((stats.interactions, stats.evicted_interactions), (3, 1));
    let again = [
        msg(3, "a").on("i1"),
        msg(3, "a").on("i3"),
        msg(3, "a").on("i4"),
        msg(4, "a").on("i2"),
    ];
    assert_eq!(
        verdicts(&store, t0, &again),
        [D, D, D, U],
        "i2 was the one evicted"
    );
    assert_eq!(store.stats().evicted_interactions, 2);
}

#[tokio::test(start_paused = true)]
async fn fingerprint_cap_drops_the_oldest_and_counts_it() {
    let store = MemoryStore::new(WindowPolicy {
        max_fingerprints: 2,
        ..policy(false)
    });
    let t0 = Instant::now();
    let msgs = [
        msg(0, "a"),
        msg(1, "b"),
        msg(2, "c"),
        msg(3, "c"),
        msg(3, "b"),
        msg(4, "a"),
    ];
    assert_eq!(verdicts(&store, t0, &msgs), [U, U, U, D, D, U]);
    let stats = store.stats();
    assert_eq!((stats.fingerprints, stats.evicted_fingerprints), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn cap_of_one_keeps_the_fingerprint_over_the_event_id() {
    let store = MemoryStore::new(WindowPolicy {
        max_fingerprints: 0,
        max_interactions: 0,
        ..policy(false)
    });
    let t0 = Instant::now();
    let msgs = [
        msg(0, "a").event("e1"),
        msg(1, "a").event("e2"),
        msg(2, "b"),
        msg(3, "a"),
    ];
    assert_eq!(verdicts(&store, t0, &msgs), [U, D, U, U]);
    assert_eq!(
        verdicts(&store, t0, &[msg(4, "x").on("i2"), msg(5, "a")]),
        [U, U],
        "one interaction kept"
    );
    assert_eq!(store.stats().fingerprints, 1);
}

#[tokio::test(start_paused = true)]
async fn expiry_frees_interactions_as_later_calls_arrive() {
    let store = MemoryStore::new(policy(false));
    let t0 = Instant::now();
    let ids: Vec<String> = (0..200).map(|i| format!("c{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let at = if i < 100 { 0 } else { 30 };
        store.check_sync(&req(id, "a", t0 + Duration::from_secs(at)));
    }
    check(&store, t0, msg(50, "a"));
    let stats = store.stats();
    assert_eq!(
        (stats.interactions, stats.expired_interactions),
        (101, 100),
        "the first hundred ran out"
    );
    assert_eq!(stats.fingerprints, 101);
    tokio::time::advance(Duration::from_secs(200)).await;
    store.check_sync(&req("late", "a", Instant::now()));
    let stats = store.stats();
    assert_eq!(
        (
            stats.interactions,
            stats.fingerprints,
            stats.expired_interactions
        ),
        (1, 1, 201)
    );
}

#[tokio::test(start_paused = true)]
async fn expiry_frees_every_shard_of_a_large_store() {
    let store = MemoryStore::new(WindowPolicy {
        max_interactions: 1 << 20,
        ..policy(true)
    });
    assert_eq!(store.shards.len(), 64);
    let t0 = Instant::now();
    let fill = |prefix: &str, at: u64| {
        for i in 0..5_000 {
            let id = format!("{prefix}{i}");
            let now = t0 + Duration::from_secs(at);
            store.check_sync(&req(&id, "a", now));
        }
    };
    fill("old", 0);
    fill("new", 40);
    assert_eq!(store.stats().interactions, 10_000);
    fill("newer", 80);
    let stats = store.stats();
    assert_eq!(
        (stats.interactions, stats.expired_interactions),
        (10_000, 5_000)
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_gap_past_the_u32_clock_wrap_does_not_revive_keys() {
    let store = MemoryStore::new(policy(false));
    let t0 = Instant::now();
    check(&store, t0, msg(0, "a"));
    let wrap = Duration::from_millis(1 << 32);
    let out = store.check_sync(&req("i1", "a", t0 + wrap));
    assert_eq!(out.verdict, U);
    assert_eq!(store.stats().expired_interactions, 1);
}

#[tokio::test(start_paused = true)]
async fn sliding_window_stays_exact_across_the_clock_wrap() {
    let store = MemoryStore::new(WindowPolicy {
        window: Duration::from_secs(86_400),
        ..policy(true)
    });
    let half_day = 43_200;
    check(&store, Instant::now(), msg(0, "a"));
    for step in 1..=120 {
        tokio::time::advance(Duration::from_secs(half_day)).await;
        let now = Instant::now();
        assert_eq!(check(&store, now, msg(0, "a")).verdict, D, "step {step}");
        if step % 10 == 0 {
            assert_eq!(
                check(&store, now, msg(0, "b")).verdict,
                U,
                "step {step}: b ran out since"
            );
        }
    }
}

#[test]
fn concurrent_checks_of_one_message_let_exactly_one_through() {
    let store = MemoryStore::new(WindowPolicy {
        max_interactions: 100_000,
        ..policy(false)
    });
    let threads = 8;
    let barrier = Barrier::new(threads);
    let now = Instant::now();
    let uniques: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let request = req("hot", "a", now);
                    usize::from(store.check_sync(&request).verdict == U)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(uniques, 1);
    assert_eq!(store.stats().fingerprints, 1);
}

#[test]
fn concurrent_checks_over_many_interactions_count_each_message_once() {
    let store = MemoryStore::new(WindowPolicy {
        max_interactions: 100_000,
        ..policy(false)
    });
    let ids: Vec<String> = (0..2_000).map(|i| format!("c{i}")).collect();
    let now = Instant::now();
    let uniques: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (ids, store) = (&ids, &store);
                s.spawn(move || {
                    // Each thread walks the ids from a different starting point.
                    let order = (0..ids.len()).map(|i| (i * 7 + t * 500) % ids.len());
                    order
                        .filter(|&i| store.check_sync(&req(&ids[i], "a", now)).verdict == U)
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(uniques, ids.len());
    let stats = store.stats();
    assert_eq!((stats.interactions, stats.fingerprints), (2_000, 2_000));
}
