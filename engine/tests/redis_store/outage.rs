//! The server's clock, the server going away and coming back, a key the store cannot read, and
//! (ignored, run by hand) the memory a fingerprint costs.

use std::sync::Arc;
use std::time::Duration;

use cxrules_engine::dedup::redis::RedisOptions;
use cxrules_engine::dedup::store::{DedupStore, StoreErrorKind, Verdict, WindowPolicy};
use redis::AsyncCommands;

use super::{cases, raw, replica, req, server, CheckRequest};

fn short(window_ms: u64) -> WindowPolicy {
    WindowPolicy {
        window: Duration::from_millis(window_ms),
        ..cases::policy(false)
    }
}

#[tokio::test]
async fn windows_and_leases_run_out_by_the_servers_clock() {
    let Some(server) = server().await else { return };
    let options = RedisOptions {
        lease: Duration::from_millis(200),
        ..RedisOptions::default()
    };
    let store = replica(&server, "clock", short(1000), options);
    let first = store.check(req("i1", "a", None)).await.unwrap();
    store.commit(first.rollback.unwrap()).await.unwrap();
    let claimed = store.check(req("i1", "b", None)).await.unwrap();
    assert!(claimed.rollback.is_some(), "b claimed, never committed");
    let mut conn = raw(&server).await;
    let ttl: i64 = conn.pttl(store.key("i1")).await.unwrap();
    assert!(
        (1..=1000).contains(&ttl),
        "the hash lives as long as its last key: {ttl} ms"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let verdicts = [
        store.check(req("i1", "a", None)).await.unwrap().verdict,
        store.check(req("i1", "b", None)).await.unwrap().verdict,
    ];
    assert_eq!(
        verdicts,
        [Verdict::Duplicate, Verdict::Unique],
        "b's lease ran out"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let exists: bool = conn.exists(store.key("i1")).await.unwrap();
    assert!(!exists, "Redis dropped the idle hash by itself");
    assert_eq!(
        store.check(req("i1", "a", None)).await.unwrap().verdict,
        Verdict::Unique
    );
}

#[tokio::test]
async fn a_killed_server_fails_every_call_in_bounded_time_and_recovery_is_automatic() {
    let Some(mut server) = server().await else {
        return;
    };
    let options = RedisOptions {
        timeout: Duration::from_millis(300),
        ..RedisOptions::default()
    };
    let store = Arc::new(replica(&server, "outage", cases::policy(false), options));
    let held = store
        .check(req("i1", "a", None))
        .await
        .unwrap()
        .rollback
        .unwrap();
    server.kill();
    let started = tokio::time::Instant::now();
    for round in 0..3 {
        let check = store.check(req("i1", "b", None)).await.unwrap_err();
        let commit = (*store).commit(held.clone()).await.unwrap_err();
        let rollback = store.rollback(held.clone()).await.unwrap_err();
        for e in [&check, &commit, &rollback] {
            assert!(
                matches!(
                    e.kind(),
                    StoreErrorKind::Unavailable | StoreErrorKind::Timeout
                ),
                "round {round}: {e} ({:?})",
                e.kind()
            );
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(9 * 300 / 1000 + 2),
        "each call bounded by the timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(store.counters().errors, 9);

    // Same socket, empty server (no script loaded): the store finds it again by itself.
    server.restart().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let out = loop {
        match store.check(req("i1", "b", None)).await {
            Ok(out) => break out,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "not recovered within 10 s: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        out.verdict,
        Verdict::Unique,
        "the restarted server is empty"
    );
    (*store).commit(out.rollback.unwrap()).await.unwrap();
    assert_eq!(
        store.check(req("i1", "b", None)).await.unwrap().verdict,
        Verdict::Duplicate
    );
}

/// Keeps the server busy for `ms` (a script that spins), as a slow server would be; under the
/// plain connection's own 500 ms response timeout.
async fn stall(server: &super::RedisServer, ms: u64) -> tokio::task::JoinHandle<()> {
    let mut conn = raw(server).await;
    let spin = "local t0 = redis.call('TIME') local start = t0[1] * 1e6 + t0[2] \
                while true do local t = redis.call('TIME') \
                if t[1] * 1e6 + t[2] - start > tonumber(ARGV[1]) * 1000 then return 0 end end";
    let task = tokio::spawn(async move {
        let _: i64 = redis::cmd("EVAL")
            .arg(spin)
            .arg(0)
            .arg(ms)
            .query_async(&mut conn)
            .await
            .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    task
}

#[tokio::test]
async fn a_check_that_timed_out_releases_its_claim() {
    let Some(server) = server().await else { return };
    let options = RedisOptions {
        timeout: Duration::from_millis(150),
        ..RedisOptions::default()
    };
    let store = replica(&server, "slow", cases::policy(false), options);
    let highest = CheckRequest {
        order: Some(7),
        ..req("i1", "a", None)
    };
    store.check(highest).await.unwrap();
    let stalled = stall(&server, 400).await;
    let late = CheckRequest {
        order: Some(9),
        ..req("i1", "b", None)
    };
    let e = store.check(late.clone()).await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Timeout, "{e}");
    stalled.await.unwrap();
    // The release may need the script loaded first (this server has not run a rollback yet).
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The check ran once the server was free, then its release: the retry is new, not a
    // duplicate of a claim nobody will commit; the highest it answered nobody with stays.
    let retry = store.check(late).await.unwrap();
    assert_eq!((retry.verdict, retry.highest), (Verdict::Unique, Some(9)));
}

#[tokio::test]
async fn a_key_of_another_type_is_a_script_error_not_a_panic() {
    let Some(server) = server().await else { return };
    let store = replica(
        &server,
        "typed",
        cases::policy(false),
        RedisOptions::default(),
    );
    let mut conn = raw(&server).await;
    let () = conn.set(store.key("i1"), "not a hash").await.unwrap();
    let e = store.check(req("i1", "a", None)).await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Script, "{e}");
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
    assert_eq!(store.counters().errors, 1);
}

/// Memory per remembered fingerprint: 20,000 interactions (36-character ids) × 5 committed
/// fingerprints, the `used_memory` delta divided by 100,000, under a short key prefix and under
/// the one `channel_prefix` makes. Run by hand:
/// `cargo test -p cxrules-engine --features redis --test redis_store -- --ignored --nocapture bytes_per_fingerprint`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints bytes per fingerprint"]
async fn bytes_per_fingerprint() {
    let Some(server) = server().await else { return };
    let long = "cxrules:dedup:default:0123456789ab";
    for (prefix, ordered) in [("d", false), (long, false), (&format!("{long}:seq"), true)] {
        let per_fingerprint = fill(&server, prefix, 20_000, 5, ordered).await;
        let order = if ordered {
            "sequence numbers"
        } else {
            "no order key"
        };
        println!("prefix `{prefix}`, {order}: {per_fingerprint:.1} bytes per fingerprint");
        assert!(
            per_fingerprint <= 100.0,
            "{per_fingerprint:.1} bytes per fingerprint"
        );
    }
}

/// Records `per` fingerprints in each of `interactions` interactions (with sequence numbers when
/// `ordered`); returns the server's memory growth per fingerprint.
async fn fill(
    server: &super::RedisServer,
    prefix: &str,
    interactions: u32,
    per: u32,
    ordered: bool,
) -> f64 {
    let store = Arc::new(replica(
        server,
        prefix,
        cases::policy(true),
        RedisOptions::default(),
    ));
    let mut conn = raw(server).await;
    let before = used_memory(&mut conn).await;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..32 {
        let store = store.clone();
        tasks.spawn(async move {
            for i in (worker..interactions).step_by(32) {
                let id = format!("{i:08x}-e5f6-7890-abcd-ef1234567890");
                for n in 0..per {
                    let content = format!("message {n}");
                    let order = ordered.then_some(i64::from(n) + 1);
                    let req = CheckRequest {
                        order,
                        ..req(&id, &content, None)
                    };
                    let out = store.check(req).await.unwrap();
                    (*store).commit(out.rollback.unwrap()).await.unwrap();
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let after = used_memory(&mut conn).await;
    (after - before) as f64 / f64::from(interactions * per)
}

async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .unwrap();
    let line = info
        .lines()
        .find(|l| l.starts_with("used_memory:"))
        .unwrap();
    line["used_memory:".len()..].trim().parse().unwrap()
}
