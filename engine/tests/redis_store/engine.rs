//! Two engines (two replicas) on one Redis: what `Evaluation::commit` keeps outlives the claim's
//! lease, and what `rollback` undoes is processed again by the other replica.

use std::sync::Arc;

use cxrules_engine::dedup::redis::{connect, RedisOptions, RedisStore, StreamAppend};
use cxrules_engine::dedup::store::DedupStore;
use cxrules_engine::{Engine, Outcome};
use serde_json::json;

use super::*;

const RULES: &str = "version: 1
events:
  message:
    type: message.created
    dedup: true
dedup:
  default: { window: 45s }
";

fn engine(server: &RedisServer, dir: &std::path::Path, options: RedisOptions) -> Engine {
    let conn = connect(&server.url(), Duration::from_secs(2)).expect("a connection manager");
    Engine::builder(dir)
        .stores(Arc::new(move |ch| {
            let store = RedisStore::for_channel(conn.clone(), "engine", ch, options.clone())
                .expect("a store");
            Arc::new(store) as Arc<dyn DedupStore>
        }))
        .build()
        .expect("the rules load")
}

/// Two engines (two replicas) on `server`, on one rules directory (kept while it lives), whose
/// claims last `lease`.
fn pair(server: &RedisServer, lease: Duration) -> (tempfile::TempDir, Engine, Engine) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), RULES).unwrap();
    let options = RedisOptions {
        lease,
        ..RedisOptions::default()
    };
    let a = engine(server, dir.path(), options.clone());
    let b = engine(server, dir.path(), options);
    (dir, a, b)
}

/// Past a 300 ms lease only a committed record still holds: each of `texts` is suppressed.
async fn suppressed_past_the_lease(engine: &Engine, texts: &[&str]) {
    tokio::time::sleep(Duration::from_millis(600)).await;
    for text in texts {
        let again = engine.evaluate(&message(text)).await.unwrap().commit();
        assert_eq!(
            again.outcome,
            Outcome::Suppressed,
            "{text}: the commit reached Redis"
        );
    }
}

fn message(text: &str) -> serde_json::Value {
    json!({"type": "message.created",
           "data": {"message": {"interactionId": "i-1", "senderId": "s", "content": text}}})
}

#[tokio::test]
async fn a_committed_evaluation_outlives_its_claim_and_a_rolled_back_one_is_new_elsewhere() {
    let Some(server) = server().await else { return };
    let (_dir, a, b) = pair(&server, Duration::from_millis(300));
    let first = a.evaluate(&message("hello")).await.unwrap().commit();
    assert_eq!(first.outcome, Outcome::Processed);
    let undone = a.evaluate(&message("undone")).await.unwrap();
    assert_eq!(undone.decision.outcome, Outcome::Processed);
    undone.rollback().await;
    suppressed_past_the_lease(&b, &["hello"]).await;
    let retry = b.evaluate(&message("undone")).await.unwrap().commit();
    assert_eq!(
        retry.outcome,
        Outcome::Processed,
        "the rollback reached Redis"
    );
}

const STREAM: &str = "engine:{outbox}:stream";

fn entries(values: &[&str]) -> StreamAppend {
    StreamAppend {
        stream: STREAM.into(),
        field: "p".into(),
        values: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
    }
}

async fn stream_len(server: &RedisServer) -> u64 {
    let mut conn = raw(server).await;
    redis::cmd("XLEN")
        .arg(STREAM)
        .query_async(&mut conn)
        .await
        .unwrap_or(0)
}

#[tokio::test]
async fn entries_and_the_commit_are_written_in_one_script_run() {
    let Some(server) = server().await else { return };
    let (_dir, a, b) = pair(&server, Duration::from_millis(300));
    let conn = connect(&server.url(), Duration::from_secs(2)).unwrap();
    // The first run loads the script (a NOSCRIPT answer, then the script).
    let warm = a.evaluate(&message("warm")).await.unwrap();
    let _ = warm
        .commit_appending(&conn, Duration::from_secs(2), &entries(&["u0"]))
        .await
        .map_err(|(_, e)| e)
        .expect("written");
    let eval = a.evaluate(&message("hello")).await.unwrap();
    let (runs, execs) = (
        calls(&server, "evalsha").await,
        calls(&server, "exec").await,
    );
    let decision = eval
        .commit_appending(&conn, Duration::from_secs(2), &entries(&["u1", "u2"]))
        .await
        .map_err(|(_, e)| e)
        .expect("written");
    assert_eq!(decision.outcome, Outcome::Processed);
    assert_eq!(calls(&server, "evalsha").await - runs, 1, "one script run");
    assert_eq!(calls(&server, "exec").await, execs, "no MULTI of its own");
    assert_eq!(stream_len(&server).await, 3);
    suppressed_past_the_lease(&b, &["hello"]).await;
}

#[tokio::test]
async fn a_failed_write_adds_no_entry_commits_nothing_and_rolls_back() {
    let Some(server) = server().await else { return };
    let (_dir, a, b) = pair(&server, RedisOptions::default().lease);
    // A stream key of another type: the script's first write fails, before anything is written.
    let mut plain = raw(&server).await;
    let () = redis::cmd("SET")
        .arg(STREAM)
        .arg("not a stream")
        .query_async(&mut plain)
        .await
        .unwrap();
    let conn = connect(&server.url(), Duration::from_secs(2)).unwrap();
    let eval = a.evaluate(&message("hello")).await.unwrap();
    let (eval, e) = eval
        .commit_appending(&conn, Duration::from_secs(2), &entries(&["u1"]))
        .await
        .expect_err("a write into a string fails");
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
    eval.rollback().await;
    let retry = b.evaluate(&message("hello")).await.unwrap().commit();
    assert_eq!(
        retry.outcome,
        Outcome::Processed,
        "nothing was committed and the claim is gone: the retry is processed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_entries_are_added_then_the_commit_follows() {
    let Some(server) = super::batch::cluster().await else {
        return;
    };
    let (_dir, a, b) = pair(&server, Duration::from_millis(300));
    let conn = connect(&server.url(), Duration::from_secs(2)).unwrap();
    for text in ["one", "two"] {
        let eval = a.evaluate(&message(text)).await.unwrap();
        let decision = eval
            .commit_appending(&conn, Duration::from_secs(2), &entries(&[text]))
            .await
            .map_err(|(_, e)| e)
            .expect("written in two steps");
        assert_eq!(decision.outcome, Outcome::Processed);
    }
    assert_eq!(stream_len(&server).await, 2);
    suppressed_past_the_lease(&b, &["one", "two"]).await;
}
