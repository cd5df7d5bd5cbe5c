//! Pacing on tokio's paused clock (every wait is exact), and the shared limiter on a real
//! `redis-server`.

use std::num::NonZeroU32;
use std::time::Duration;

use tokio::time::Instant;

use super::adaptive::{Adaptive, DECREASE};
use super::contacts::Contacts;
use super::*;
use crate::metrics::Metrics;

// The engine's harness, as the store's tests also include it (each test module its own copy).
#[allow(clippy::duplicate_mod)]
#[path = "../../../../engine/tests/support/redis.rs"]
mod redis_server;

fn config(rate: Option<u32>, burst: u32, per_minute: u32) -> PacingConfig {
    PacingConfig {
        rate_max: rate.and_then(NonZeroU32::new),
        rate_min: 1,
        rate_spread: 3,
        contact_burst: burst,
        contact_per_minute: per_minute,
        contact_max: 1000,
    }
}

fn pacing(config: &PacingConfig) -> Pacing {
    Pacing::new(config, Metrics::new().pacing().clone())
}

async fn timed(pacing: &Pacing, contact: &str) -> Duration {
    let started = Instant::now();
    pacing.ready(contact).await;
    started.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_contact_has_its_burst_then_its_refill_and_others_are_not_delayed() {
    let pacing = pacing(&config(None, 250, 17));
    for _ in 0..250 {
        assert_eq!(timed(&pacing, "131988342510").await, Duration::ZERO);
    }
    // Empty: the next call waits for one refill (60 s / 17; the timer has millisecond steps),
    // the one after for another.
    let refill = Duration::from_secs(60) / 17;
    let about = |d: Duration| d.abs_diff(refill) <= Duration::from_millis(1);
    assert!(about(timed(&pacing, "131988342510").await));
    // Meanwhile another contact goes at once.
    assert_eq!(timed(&pacing, "131988342511").await, Duration::ZERO);
    assert!(about(timed(&pacing, "131988342510").await));
}

#[tokio::test(start_paused = true)]
async fn a_429_holds_back_only_its_contact() {
    let pacing = pacing(&config(Some(1000), 250, 17));
    pacing.ready("a").await;
    pacing.rate_limited("a", Duration::from_secs(1));
    assert_eq!(timed(&pacing, "b").await, Duration::ZERO);
    assert_eq!(timed(&pacing, "a").await, Duration::from_secs(1));
    // Over: no wait.
    assert_eq!(timed(&pacing, "a").await, Duration::ZERO);
    // A shorter pause does not shorten a longer one.
    pacing.rate_limited("a", Duration::from_secs(3));
    pacing.rate_limited("a", Duration::from_secs(1));
    assert_eq!(timed(&pacing, "a").await, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn waiting_calls_take_turns_at_the_tenant_rate() {
    let pacing = std::sync::Arc::new(pacing(&config(Some(10), 0, 17)));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30 {
        let pacing = pacing.clone();
        tasks.spawn(async move {
            pacing.ready(&format!("contact-{i}")).await;
            Instant::now()
        });
    }
    let mut done: Vec<Duration> = tasks
        .join_all()
        .await
        .iter()
        .map(|t| *t - started)
        .collect();
    done.sort();
    // A burst of 10 (one second's worth), then one every 100 ms.
    assert!(done[..10].iter().all(|d| d.is_zero()), "{done:?}");
    assert_eq!(done[10], Duration::from_millis(100));
    assert_eq!(done[29], Duration::from_millis(2000));
}

#[tokio::test(start_paused = true)]
async fn a_contact_waiting_on_its_bucket_takes_no_tenant_turn() {
    let pacing = std::sync::Arc::new(pacing(&config(Some(10), 1, 1)));
    pacing.ready("busy").await;
    let waiting = {
        let pacing = pacing.clone();
        tokio::spawn(async move { timed(&pacing, "busy").await })
    };
    tokio::task::yield_now().await;
    // The tenant's second's worth is still there for others.
    for i in 0..9 {
        assert_eq!(timed(&pacing, &format!("other-{i}")).await, Duration::ZERO);
    }
    assert_eq!(waiting.await.unwrap(), Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn the_rate_drops_when_429s_spread_and_comes_back_with_successes() {
    let mut now = Instant::now();
    let mut a = Adaptive::new(100.0, 10.0, 3, now);
    let next_period = |now: &mut Instant| *now += adaptive::PERIOD;
    // Many 429s on one contact: not the tenant's problem.
    for _ in 0..50 {
        a.rate_limited("same", now);
    }
    next_period(&mut now);
    a.succeeded(now);
    assert_eq!(a.rate(), 100.0);
    // A few scattered 429s among many successes (5 %): not the tenant's either.
    for i in 0..100 {
        if i % 20 == 0 {
            a.rate_limited(&format!("c-{i}"), now);
        } else {
            a.succeeded(now);
        }
    }
    next_period(&mut now);
    a.succeeded(now);
    assert_eq!(a.rate(), 100.0);
    // Most calls refused, on many contacts: lowered once when the period closes.
    for c in ["x", "y", "z", "w"] {
        a.rate_limited(c, now);
    }
    a.succeeded(now);
    next_period(&mut now);
    assert_eq!(a.succeeded(now), Some(100.0 * DECREASE));
    // Never below the minimum.
    for _ in 0..100 {
        for c in ["p", "q", "r"] {
            a.rate_limited(c, now);
        }
        next_period(&mut now);
    }
    a.succeeded(now);
    assert_eq!(a.rate(), 10.0);
    // Successes over whole periods raise it back step by step, up to the maximum.
    let mut steps = 0;
    while a.rate() < 100.0 && steps < 100 {
        next_period(&mut now);
        a.succeeded(now);
        steps += 1;
    }
    assert_eq!(a.rate(), 100.0);
    assert_eq!(steps, 18, "10 → 100 by 5 a period");
}

#[tokio::test(start_paused = true)]
async fn spread_429s_slow_the_whole_tenant() {
    let pacing = pacing(&config(Some(100), 0, 17));
    for c in ["a", "b", "c"] {
        pacing.rate_limited(c, Duration::from_millis(1));
    }
    tokio::time::advance(adaptive::PERIOD).await;
    pacing.succeeded();
    assert_eq!(pacing.rate(), Some(75.0));
}

#[test]
fn the_contact_map_drops_idle_contacts_first_and_stays_under_its_cap() {
    let now = Instant::now();
    let gcra = Gcra::new(2, 1, Duration::from_secs(60));
    let mut contacts = Contacts::new(gcra, 8);
    // Four busy contacts (a call taken), four idle ones (a pause that is over).
    for i in 0..4 {
        contacts.take(&format!("busy-{i}"), now);
        contacts.pause(&format!("idle-{i}"), now, now);
    }
    assert_eq!(contacts.len(), 8);
    contacts.take("new", now);
    // The idle ones went, the busy ones stayed.
    assert_eq!(contacts.len(), 5);
    assert_eq!(contacts.evicted_busy, 0);
    for i in 0..4 {
        assert!(contacts.wait(&format!("busy-{i}"), now).is_none());
        contacts.take(&format!("busy-{i}"), now);
        assert!(contacts.wait(&format!("busy-{i}"), now).is_some());
    }
    // Only busy contacts: some are dropped, counted, and the map stays bounded.
    for i in 0..20 {
        contacts.take(&format!("more-{i}"), now);
        assert!(contacts.len() <= 8);
    }
    assert!(contacts.evicted_busy > 0);
}

#[test]
fn the_contact_key_is_the_id_segment() {
    use crate::cxone::{Endpoint, PreparedCall};
    let call = |prefix: &str, path: &str| PreparedCall {
        endpoint: Endpoint::Metadata,
        method: reqwest::Method::PUT,
        path: path.into(),
        prefix: prefix.into(),
        body: String::new(),
    };
    let meta = call(
        "/dfo/3.0/contacts/",
        "/dfo/3.0/contacts/131988342510/custom-fields",
    );
    let routing = call(
        "/dfo/3.0/contacts/",
        "/dfo/3.0/contacts/131988342510/routing-queue",
    );
    assert_eq!(contact_key(&meta), "131988342510");
    assert_eq!(contact_key(&routing), "131988342510");
    let seed = call("/api/v2/interactions/", "/api/v2/interactions/int-1");
    assert_eq!(contact_key(&seed), "int-1");
    let odd = call("/elsewhere/", "/api/v2/interactions/int-1");
    assert_eq!(contact_key(&odd), "/api/v2/interactions/int-1");
}

proptest::proptest! {
    /// Whatever the order of calls on any contacts, no contact is granted more than its burst
    /// plus its refill over the time that passed.
    #[test]
    fn no_contact_exceeds_its_bucket(
        calls in proptest::collection::vec((0u8..4, 0u64..5_000), 1..200),
    ) {
        let gcra = Gcra::new(5, 17, Duration::from_secs(60));
        let mut contacts = Contacts::new(gcra, 3);
        let start = Instant::now();
        let mut now = start;
        let mut granted = [0u64; 4];
        for (contact, step_ms) in calls {
            now += Duration::from_millis(step_ms);
            let key = contact.to_string();
            if contacts.wait(&key, now).is_none() {
                contacts.take(&key, now);
                granted[contact as usize] += 1;
            }
        }
        let elapsed = now - start;
        // Evicted contacts start over with a full bucket, so bound by burst per eviction too.
        let evictions = contacts.evicted_busy;
        for g in granted {
            let refill = (elapsed.as_secs_f64() * 17.0 / 60.0).floor() as u64;
            proptest::prop_assert!(g <= 5 + refill + 5 * evictions);
        }
    }
}

/// Two limiters on one Redis: together they are granted exactly the burst at once, whichever
/// asks; the clock is Redis's, and the refill (one per hour) cannot add a grant during the test.
#[tokio::test]
async fn two_replicas_share_the_burst_through_redis() {
    let Some(server) = redis_server::RedisServer::start().await else {
        return;
    };
    let limiter = || {
        let conn = cxrules_engine::dedup::redis::connect(&server.url(), Duration::from_secs(2))
            .expect("a connection");
        SharedLimiter::new(conn, "test:pacing", Duration::from_secs(2))
    };
    let (a, b) = (limiter(), limiter());
    let hourly = |burst| Gcra::new(burst, 1, Duration::from_secs(3600));
    let unlimited = Gcra {
        interval: Duration::ZERO,
        tolerance: Duration::ZERO,
    };

    // One contact, burst 5: five grants in all, then both are told to wait.
    let mut granted = 0;
    for i in 0..20 {
        let replica = if i % 2 == 0 { &a } else { &b };
        match replica
            .permit("131988342510", hourly(5), None)
            .await
            .unwrap()
        {
            Permit::Go(wait) if wait.is_zero() => granted += 1,
            Permit::Go(wait) => panic!("no tenant limit, yet a wait of {wait:?}"),
            Permit::ContactWait(wait) => assert!(wait > Duration::from_secs(3000)),
        }
    }
    assert_eq!(granted, 5);

    // The tenant, burst 4, over many contacts: four at once, the others get later turns.
    let mut immediate = 0;
    for i in 0..12 {
        let replica = if i % 2 == 0 { &a } else { &b };
        match replica
            .permit(&format!("c-{i}"), unlimited, Some(hourly(4)))
            .await
            .unwrap()
        {
            Permit::Go(wait) if wait.is_zero() => immediate += 1,
            Permit::Go(_) => {}
            Permit::ContactWait(_) => panic!("no contact limit"),
        }
    }
    assert_eq!(immediate, 4);
}

/// A Redis that is gone: calls still go, paced by the replica alone.
#[tokio::test]
async fn a_failing_redis_falls_back_to_the_local_limits() {
    // Nothing listens on this socket.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis+unix://{}", dir.path().join("none.sock").display());
    let conn = cxrules_engine::dedup::redis::connect(&url, Duration::from_millis(50)).unwrap();
    let metrics = Metrics::new();
    let pacing = Pacing::new(&config(None, 2, 1), metrics.pacing().clone()).with_shared(
        SharedLimiter::new(conn, "test:pacing", Duration::from_millis(50)),
    );
    pacing.ready("a").await;
    pacing.ready("a").await;
    // The local bucket (burst 2, one a minute) took both calls, and now holds the third back.
    assert!(matches!(
        pacing.local_permit("a", Instant::now()),
        Permit::ContactWait(wait) if wait > Duration::from_secs(50)
    ));
    let text = metrics.encode();
    assert!(
        text.contains("cxrules_cxone_pacing_store_fallback 1"),
        "{text}"
    );
    assert!(
        !text.contains("cxrules_cxone_pacing_store_errors_total 0"),
        "{text}"
    );
}
