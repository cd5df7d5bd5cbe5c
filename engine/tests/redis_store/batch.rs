//! Commits sent together: many commits at once take far fewer script runs than commits, each
//! still commits its own claims, and a cluster (which refuses keys of several slots in one
//! script) gets them one per call.

use std::sync::Arc;

use cxrules_engine::dedup::redis::RedisOptions;
use cxrules_engine::dedup::store::{DedupStore, Verdict};

use super::{cases, raw, replica, req, server, RedisServer, BASE_MS};

const N: usize = 200;

/// `evalsha` calls the server has run so far.
async fn evalsha_calls(server: &RedisServer) -> u64 {
    let mut conn = raw(server).await;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Checks `N` new messages on `a`, commits them all at once, and checks on `b` after the lease
/// ran out (the window has not): committed claims are records, so every one is a duplicate.
/// Returns the script runs the commits took.
async fn commit_all_at_once(server: &RedisServer) -> u64 {
    let policy = cases::policy(false);
    let a = Arc::new(replica(
        server,
        "batch",
        policy.clone(),
        RedisOptions::default(),
    ));
    let b = replica(server, "batch", policy, RedisOptions::default());
    a.pin_clock_for_tests(Some(BASE_MS));
    let interactions: Vec<String> = (0..N).map(|i| format!("int-{i}")).collect();
    let mut tokens = Vec::new();
    for id in &interactions {
        let outcome = a.check(req(id, "hello", None)).await.expect("check");
        assert_eq!(outcome.verdict, Verdict::Unique);
        tokens.push(outcome.rollback.expect("a claim"));
    }
    let before = evalsha_calls(server).await;
    let commits: Vec<_> = tokens
        .into_iter()
        .map(|token| tokio::spawn(a.clone().commit(token)))
        .collect();
    for commit in commits {
        commit.await.expect("task").expect("commit");
    }
    let runs = evalsha_calls(server).await - before;
    assert_eq!(a.counters().commits, N as u64);
    b.pin_clock_for_tests(Some(BASE_MS + 31_000));
    for id in &interactions {
        assert_eq!(
            b.check(req(id, "hello", None)).await.unwrap().verdict,
            Verdict::Duplicate,
            "{id}: committed, so it outlives the lease"
        );
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_share_script_runs_and_each_commits_its_claims() {
    let Some(server) = server().await else { return };
    let runs = commit_all_at_once(&server).await;
    assert!(
        (1..=(N as u64) / 4).contains(&runs),
        "{N} commits at once took {runs} script runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_gets_one_commit_per_call() {
    let Some(server) = RedisServer::start_with(&["--cluster-enabled", "yes"]).await else {
        return;
    };
    // One node holding every slot: single-key scripts run, scripts over keys of several slots
    // are refused with CROSSSLOT, as on any cluster.
    let mut conn = raw(&server).await;
    let _: () = redis::cmd("CLUSTER")
        .arg("ADDSLOTSRANGE")
        .arg(0)
        .arg(16383)
        .query_async(&mut conn)
        .await
        .expect("slots");
    for _ in 0..200 {
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut conn)
            .await
            .expect("cluster info");
        if info.contains("cluster_state:ok") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let runs = commit_all_at_once(&server).await;
    assert!(
        runs >= N as u64,
        "one call per commit after CROSSSLOT: {runs}"
    );
}
