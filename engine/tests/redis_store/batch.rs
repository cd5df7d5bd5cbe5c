//! Checks and commits sent together: many at once take far fewer script runs than calls, each
//! check still decides as it would alone and each commit still commits its own claims, and a
//! cluster (which refuses keys of several slots in one script) gets them one per call.

use std::sync::Arc;

use cxrules_engine::dedup::redis::RedisOptions;
use cxrules_engine::dedup::store::{CheckRequest, DedupStore, Verdict};

use super::{cases, raw, replica, req, server, RedisServer, RedisStore, BASE_MS};

const N: usize = 200;

/// `evalsha` calls the server has run so far.
async fn evalsha_calls(server: &RedisServer) -> u64 {
    super::calls(server, "evalsha").await
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

/// One check of the concurrent phase: `(interaction, content, event id, order key)`.
type Message = (String, &'static str, Option<String>, Option<i64>);

/// Four checks per interaction whose verdicts do not depend on the order they run in, after the
/// interaction saw `seen` (event id `ev-<i>`, order key 100): a re-send (duplicate), another text
/// with the seen event id (redelivery), an older order key (out of order), a new text (unique).
fn messages() -> Vec<Message> {
    (0..N / 4)
        .flat_map(|i| {
            let id = format!("int-{i}");
            [
                (id.clone(), "seen", None, None),
                (id.clone(), "again", Some(format!("ev-{i}")), None),
                (id.clone(), "older", None, Some(50)),
                (id, "new", None, None),
            ]
        })
        .collect()
}

fn request<'a>(m: &'a Message) -> CheckRequest<'a> {
    CheckRequest {
        order: m.3,
        ..req(&m.0, m.1, m.2.as_deref())
    }
}

/// Seeds every interaction of [`messages`] with `seen`, committed, one call at a time.
async fn seed(store: &RedisStore) {
    for i in 0..N / 4 {
        let (id, event) = (format!("int-{i}"), format!("ev-{i}"));
        let outcome = store
            .check(CheckRequest {
                order: Some(100),
                ..req(&id, "seen", Some(&event))
            })
            .await
            .expect("seed");
        assert_eq!(outcome.verdict, Verdict::Unique);
        store
            .commit(outcome.rollback.expect("a claim"))
            .await
            .expect("commit");
    }
}

/// Checks [`messages`] on a fresh prefix one at a time, then on another all at once, and
/// compares what each was answered. Returns the script runs the concurrent checks took.
async fn check_all_at_once(server: &RedisServer) -> u64 {
    let policy = cases::policy(false);
    let alone = replica(server, "alone", policy.clone(), RedisOptions::default());
    let together = Arc::new(replica(server, "together", policy, RedisOptions::default()));
    for store in [&alone, &*together] {
        store.pin_clock_for_tests(Some(BASE_MS));
        seed(store).await;
    }
    let messages = messages();
    let mut expected = Vec::new();
    for m in &messages {
        let o = alone.check(request(m)).await.expect("check");
        expected.push((o.verdict, o.highest, o.rollback.is_some()));
    }
    let before = evalsha_calls(server).await;
    let checks: Vec<_> = messages
        .iter()
        .cloned()
        .map(|m| {
            let store = together.clone();
            tokio::spawn(async move {
                let o = store.check(request(&m)).await.expect("check");
                (o.verdict, o.highest, o.rollback.is_some())
            })
        })
        .collect();
    let mut answered = Vec::new();
    for check in checks {
        answered.push(check.await.expect("task"));
    }
    let runs = evalsha_calls(server).await - before;
    for ((m, want), got) in messages.iter().zip(&expected).zip(&answered) {
        assert_eq!(got, want, "{m:?}: together as alone");
    }
    let verdicts = |v: Verdict| expected.iter().filter(|e| e.0 == v).count();
    assert_eq!(
        [
            Verdict::Duplicate,
            Verdict::Redelivery,
            Verdict::OutOfOrder,
            Verdict::Unique
        ]
        .map(verdicts),
        [N / 4; 4],
        "the cases are what they say"
    );
    assert_eq!(together.counters().checks, (N + N / 4) as u64);
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_share_script_runs_and_each_decides_as_alone() {
    let Some(server) = server().await else { return };
    let runs = check_all_at_once(&server).await;
    assert!(
        (1..=(N as u64) / 4).contains(&runs),
        "{N} checks at once took {runs} script runs"
    );
}

/// A server in cluster mode, one node holding every slot: single-key scripts run, scripts over
/// keys of several slots are refused with CROSSSLOT, as on any cluster.
pub(super) async fn cluster() -> Option<RedisServer> {
    // The cluster bus listens on TCP, by default at the port + 10000 (10000 here, port 0): one
    // free port of its own, so that cluster tests can run at the same time.
    let bus = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
        .to_string();
    let server =
        RedisServer::start_with(&["--cluster-enabled", "yes", "--cluster-port", &bus]).await?;
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
    Some(server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_gets_one_commit_per_call() {
    let Some(server) = cluster().await else {
        return;
    };
    let runs = commit_all_at_once(&server).await;
    assert!(
        runs >= N as u64,
        "one call per commit after CROSSSLOT: {runs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_gets_one_check_per_call() {
    let Some(server) = cluster().await else {
        return;
    };
    let runs = check_all_at_once(&server).await;
    assert!(
        runs >= N as u64,
        "one call per check after CROSSSLOT: {runs}"
    );
}
