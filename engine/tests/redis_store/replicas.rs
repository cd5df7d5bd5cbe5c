//! Two store instances with connections of their own (two replicas) on one server: what one
//! records the other sees, a claim in flight is never processed twice, and a rollback removes
//! only its own claim.

use std::sync::Arc;
use std::time::Duration;

use cxrules_engine::dedup::redis::{RedisOptions, RedisStore};
use cxrules_engine::dedup::store::{DedupStore, Verdict};

use super::{cases, replica, req, server, RedisServer, BASE_MS};

fn pair(server: &RedisServer, options: RedisOptions) -> (RedisStore, RedisStore) {
    let policy = cases::policy(false);
    let a = replica(server, "shared", policy.clone(), options.clone());
    let b = replica(server, "shared", policy, options);
    (a, b)
}

#[tokio::test]
async fn replicas_see_each_others_fingerprints() {
    let Some(server) = server().await else { return };
    let (a, b) = pair(&server, RedisOptions::default());
    let first = a.check(req("i1", "hello", Some("e1"))).await.unwrap();
    assert_eq!(first.verdict, Verdict::Unique);
    a.commit(first.rollback.unwrap()).await.unwrap();
    let again = b.check(req("i1", "hello", None)).await.unwrap();
    assert_eq!(again.verdict, Verdict::Duplicate);
    let resent = b.check(req("i1", "other", Some("e1"))).await.unwrap();
    assert_eq!(resent.verdict, Verdict::Redelivery);
    let new = b.check(req("i1", "news", None)).await.unwrap();
    b.commit(new.rollback.unwrap()).await.unwrap();
    assert_eq!(
        a.check(req("i1", "news", None)).await.unwrap().verdict,
        Verdict::Duplicate
    );
    assert_eq!(
        (a.counters().commits, b.counters().commits),
        (1, 1),
        "each counts its own"
    );
}

#[tokio::test]
async fn a_claim_in_flight_makes_the_other_replica_answer_duplicate() {
    let Some(server) = server().await else { return };
    let (a, b) = pair(&server, RedisOptions::default());
    let claim = a.check(req("i1", "hello", Some("e1"))).await.unwrap();
    assert_eq!(claim.verdict, Verdict::Unique);
    let token = claim.rollback.unwrap();
    // Not committed yet: the other replica must not process it as new.
    let by_content = b.check(req("i1", "hello", Some("e2"))).await.unwrap();
    let by_event = b.check(req("i1", "bye", Some("e1"))).await.unwrap();
    assert_eq!(by_content.verdict, Verdict::Duplicate);
    assert_eq!(by_event.verdict, Verdict::Redelivery);
    assert_eq!(b.counters().in_flight_duplicates, 2);
    a.commit(token).await.unwrap();
    assert_eq!(
        b.check(req("i1", "hello", None)).await.unwrap().verdict,
        Verdict::Duplicate
    );
    assert_eq!(b.counters().in_flight_duplicates, 2, "committed now");
}

#[tokio::test]
async fn concurrent_deliveries_over_two_replicas_are_processed_once() {
    let Some(server) = server().await else { return };
    let (a, b) = pair(&server, RedisOptions::default());
    let stores = [Arc::new(a), Arc::new(b)];
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..20 {
        for n in 0..8 {
            let store = stores[n % 2].clone();
            let interaction = format!("hot{round}");
            tasks.spawn(async move {
                let out = store.check(req(&interaction, "a", None)).await.unwrap();
                (round, out.verdict == Verdict::Unique)
            });
        }
    }
    let mut uniques = [0; 20];
    while let Some(done) = tasks.join_next().await {
        let (round, unique) = done.unwrap();
        uniques[round] += usize::from(unique);
    }
    assert_eq!(
        uniques, [1; 20],
        "exactly one delivery of each round processed"
    );
}

#[tokio::test]
async fn a_rollback_leaves_another_replicas_claim() {
    let Some(server) = server().await else { return };
    let lease = RedisOptions {
        lease: Duration::from_secs(30),
        ..RedisOptions::default()
    };
    let (a, b) = pair(&server, lease);
    let at = |ms: u64| {
        a.pin_clock_for_tests(Some(BASE_MS + ms));
        b.pin_clock_for_tests(Some(BASE_MS + ms));
    };
    at(0);
    let stale = a.check(req("i1", "hello", None)).await.unwrap();
    let stale = stale.rollback.unwrap();
    // A's claim outlives its lease (say A hung): it counts as gone, and B claims the message.
    at(30_000);
    let fresh = b.check(req("i1", "hello", None)).await.unwrap();
    assert_eq!(fresh.verdict, Verdict::Unique);
    a.rollback(stale).await.unwrap();
    assert_eq!(
        a.check(req("i1", "hello", None)).await.unwrap().verdict,
        Verdict::Duplicate,
        "B's claim stays"
    );
    b.commit(fresh.rollback.unwrap()).await.unwrap();
    at(70_000);
    assert_eq!(
        a.check(req("i1", "hello", None)).await.unwrap().verdict,
        Verdict::Duplicate,
        "committed at 30 s for 45 s"
    );
}

#[tokio::test]
async fn a_rollback_removes_its_own_claim_for_every_replica() {
    let Some(server) = server().await else { return };
    let (a, b) = pair(&server, RedisOptions::default());
    let mine = a.check(req("i1", "hello", Some("e1"))).await.unwrap();
    let other = b.check(req("i1", "other", None)).await.unwrap();
    a.rollback(mine.rollback.unwrap()).await.unwrap();
    let retry = b.check(req("i1", "hello", Some("e1"))).await.unwrap();
    assert_eq!(retry.verdict, Verdict::Unique, "the retry is processed");
    assert_eq!(
        a.check(req("i1", "other", None)).await.unwrap().verdict,
        Verdict::Duplicate,
        "B's claim was not A's to remove"
    );
    drop(other);
}

#[tokio::test]
async fn a_commit_after_the_lease_records_the_message_anew() {
    let Some(server) = server().await else { return };
    let (a, b) = pair(&server, RedisOptions::default());
    a.pin_clock_for_tests(Some(BASE_MS));
    let late = a.check(req("i1", "hello", None)).await.unwrap();
    b.pin_clock_for_tests(Some(BASE_MS + 31_000));
    // The lease ran out: another check sweeps the claim away.
    b.check(req("i1", "other", None)).await.unwrap();
    a.pin_clock_for_tests(Some(BASE_MS + 31_000));
    a.commit(late.rollback.unwrap()).await.unwrap();
    assert_eq!(a.counters().lapsed_commits, 1);
    b.pin_clock_for_tests(Some(BASE_MS + 75_000));
    assert_eq!(
        b.check(req("i1", "hello", None)).await.unwrap().verdict,
        Verdict::Duplicate,
        "remembered for a window from the commit"
    );
}

#[tokio::test]
async fn a_duplicate_slides_a_claim_and_the_commit_keeps_the_slid_window() {
    let Some(server) = server().await else { return };
    let policy = cases::policy(true);
    let a = replica(&server, "slide", policy.clone(), RedisOptions::default());
    let b = replica(&server, "slide", policy, RedisOptions::default());
    a.pin_clock_for_tests(Some(BASE_MS));
    let claim = a.check(req("i1", "hello", None)).await.unwrap();
    b.pin_clock_for_tests(Some(BASE_MS + 20_000));
    let dup = b.check(req("i1", "hello", None)).await.unwrap();
    assert_eq!(dup.verdict, Verdict::Duplicate);
    a.pin_clock_for_tests(Some(BASE_MS + 21_000));
    a.commit(claim.rollback.unwrap()).await.unwrap();
    b.pin_clock_for_tests(Some(BASE_MS + 60_000));
    assert_eq!(
        b.check(req("i1", "hello", None)).await.unwrap().verdict,
        Verdict::Duplicate,
        "the window runs from the hit at 20 s"
    );
    b.pin_clock_for_tests(Some(BASE_MS + 106_000));
    assert_eq!(
        b.check(req("i1", "hello", None)).await.unwrap().verdict,
        Verdict::Unique,
        "and from the hit at 60 s: 105 s"
    );
}
