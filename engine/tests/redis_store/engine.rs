//! Two engines (two replicas) on one Redis: what `Evaluation::commit` keeps outlives the claim's
//! lease, and what `rollback` undoes is processed again by the other replica.

use std::sync::Arc;

use cxrules_engine::dedup::redis::{connect, RedisOptions, RedisStore};
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

fn message(text: &str) -> serde_json::Value {
    json!({"type": "message.created",
           "data": {"message": {"interactionId": "i-1", "senderId": "s", "content": text}}})
}

#[tokio::test]
async fn a_committed_evaluation_outlives_its_claim_and_a_rolled_back_one_is_new_elsewhere() {
    let Some(server) = server().await else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), RULES).unwrap();
    let options = RedisOptions {
        lease: Duration::from_millis(300),
        ..RedisOptions::default()
    };
    let (a, b) = (
        engine(&server, dir.path(), options.clone()),
        engine(&server, dir.path(), options),
    );
    let first = a.evaluate(&message("hello")).await.unwrap().commit();
    assert_eq!(first.outcome, Outcome::Processed);
    let undone = a.evaluate(&message("undone")).await.unwrap();
    assert_eq!(undone.decision.outcome, Outcome::Processed);
    undone.rollback().await;
    // Past the lease: only a committed record still holds.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = b.evaluate(&message("hello")).await.unwrap().commit();
    assert_eq!(
        again.outcome,
        Outcome::Suppressed,
        "the commit reached Redis"
    );
    let retry = b.evaluate(&message("undone")).await.unwrap().commit();
    assert_eq!(
        retry.outcome,
        Outcome::Processed,
        "the rollback reached Redis"
    );
}
