//! Behaviour of the memory store: verdicts, windows, order keys, bounds, rollback, concurrency.

use std::time::Duration;

use tokio::time::Instant;

use super::MemoryStore;
mod bounds;
/// The table every store is held to, shared with the Redis store's tests.
#[path = "../../../tests/support/dedup_cases.rs"]
mod cases;
mod model;

use self::cases::{fp, msg, policy, Msg};
use crate::dedup::store::{
    CheckOutcome, CheckRequest, DedupStore, RollbackToken, StoreStats, Verdict, WindowPolicy,
};

fn check(store: &MemoryStore, t0: Instant, m: Msg) -> CheckOutcome {
    store.check_sync(&CheckRequest {
        interaction: m.interaction,
        fingerprint: fp(m.content),
        event_id: m.event_id,
        order: m.order,
        now: t0 + Duration::from_secs(m.at_secs),
    })
}

fn verdicts(store: &MemoryStore, t0: Instant, msgs: &[Msg]) -> Vec<Verdict> {
    msgs.iter().map(|&m| check(store, t0, m).verdict).collect()
}

use Verdict::{Duplicate as D, OutOfOrder as O, Redelivery as R, Unique as U};

#[tokio::test(start_paused = true)]
async fn the_shared_table_gives_the_expected_verdicts_and_highest() {
    for case in cases::cases() {
        let store: std::sync::Arc<dyn DedupStore> =
            std::sync::Arc::new(MemoryStore::new(case.policy()));
        let t0 = Instant::now();
        cases::run(&case, &store, &|ms| t0 + Duration::from_millis(ms)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn rollback_makes_the_retry_new_and_restores_highest() {
    let store = MemoryStore::new(policy(false));
    let t0 = Instant::now();
    check(&store, t0, msg(0, "a").order(5));
    let out = check(&store, t0, msg(1, "b").order(7).event("e2"));
    let token = out.rollback.expect("a new message gets a token");
    assert_eq!(
        (token.previous_highest, token.set_highest),
        (Some(5), Some(7))
    );
    store.rollback(token.clone()).await.unwrap();
    assert_eq!(
        check(&store, t0, msg(2, "c").order(6)).verdict,
        U,
        "highest is back to 5"
    );
    store.rollback_sync(&token);
    let retry = check(&store, t0, msg(3, "b").order(7).event("e2"));
    assert_eq!((retry.verdict, retry.highest), (U, Some(7)));
    assert_eq!(store.stats().fingerprints, 4, "a, c, b and its event id");
}

#[tokio::test(start_paused = true)]
async fn rollback_keeps_a_highest_raised_since() {
    let store = MemoryStore::new(policy(false));
    let t0 = Instant::now();
    let token = check(&store, t0, msg(0, "a").order(5)).rollback.unwrap();
    check(&store, t0, msg(1, "b").order(9));
    store.rollback_sync(&token);
    let retry = check(&store, t0, msg(2, "a").order(5));
    assert_eq!((retry.verdict, retry.highest), (O, Some(9)));
}

/// A check made after another one answered with the highest that check set (and its update
/// may carry it as `lastSequence`): rolling the first back must not lower the highest again.
#[tokio::test(start_paused = true)]
async fn rollback_keeps_a_highest_a_later_check_answered_with() {
    let store = MemoryStore::new(policy(false));
    let t0 = Instant::now();
    check(&store, t0, msg(0, "a").order(5));
    let token = check(&store, t0, msg(1, "b").order(7)).rollback.unwrap();
    let seen = check(&store, t0, msg(2, "c").order(6));
    assert_eq!((seen.verdict, seen.highest), (O, Some(7)));
    store.rollback_sync(&token);
    let next = check(&store, t0, msg(3, "d").order(6));
    assert_eq!(next.highest, Some(7), "7 was answered to c: it stays");
    let retry = check(&store, t0, msg(4, "b").order(7));
    assert_eq!((retry.verdict, retry.highest), (U, Some(7)));
}

/// With room for one key, a message's key replaces the one before it; rolling the message back
/// must not take the interaction's highest with it.
#[tokio::test(start_paused = true)]
async fn rollback_of_the_only_key_keeps_the_highest_before_it() {
    let store = MemoryStore::new(WindowPolicy {
        max_fingerprints: 1,
        ..policy(false)
    });
    let t0 = Instant::now();
    check(&store, t0, msg(0, "a").order(5));
    let token = check(&store, t0, msg(1, "b").order(7)).rollback.unwrap();
    store.rollback_sync(&token);
    let next = check(&store, t0, msg(2, "c").order(3));
    assert_eq!((next.verdict, next.highest), (O, Some(5)));
    let fresh = check(&store, t0, msg(3, "x").order(3).on("i9"));
    let token = fresh.rollback.unwrap();
    store.rollback_sync(&token);
    assert_eq!(
        store.stats().interactions,
        1,
        "nothing to keep for i9: it is gone"
    );
}

#[tokio::test(start_paused = true)]
async fn rollback_twice_or_after_expiry_is_harmless() {
    let store = MemoryStore::new(policy(false));
    let t0 = Instant::now();
    let only = check(&store, t0, msg(0, "a").order(1).on("i2"))
        .rollback
        .unwrap();
    store.rollback_sync(&only);
    store.rollback_sync(&only);
    assert_eq!(
        store.stats(),
        StoreStats::default(),
        "the emptied interaction is gone"
    );
    let token = check(&store, t0, msg(0, "a").event("e1")).rollback.unwrap();
    check(&store, t0, msg(1, "b"));
    store.rollback_sync(&token);
    store.rollback_sync(&token);
    assert_eq!(
        verdicts(&store, t0, &[msg(2, "b"), msg(3, "a").event("e1")]),
        [D, U]
    );
    let late = check(&store, t0, msg(4, "z")).rollback.unwrap();
    check(&store, t0, msg(60, "q").on("i3"));
    store.rollback_sync(&late);
    store.rollback_sync(&late);
    let stats = store.stats();
    assert_eq!((stats.interactions, stats.fingerprints), (1, 1));
    assert_eq!(check(&store, t0, msg(61, "a").event("e1")).verdict, U);
}

#[tokio::test(start_paused = true)]
async fn works_behind_the_trait_object() {
    let store: Box<dyn DedupStore> = Box::new(MemoryStore::new(policy(false)));
    let req = CheckRequest {
        interaction: "i1",
        fingerprint: fp("a"),
        event_id: Some("e1"),
        order: Some(2),
        now: Instant::now(),
    };
    let first = store.check(req.clone()).await.unwrap();
    assert_eq!(first.verdict, U);
    assert_eq!(store.check(req.clone()).await.unwrap().verdict, R);
    store.rollback(first.rollback.unwrap()).await.unwrap();
    assert_eq!(store.check(req).await.unwrap().verdict, U);
    // The redelivery answered with highest 2, so the rolled-back last key stayed (matching
    // nothing) to keep it: three keys held.
    assert_eq!(store.stats().fingerprints, 3);
}
