//! The host's shared store on a real `redis-server`: where tokens go, and the fallback's end.

use cxrules_engine::{Engine, Outcome};
use serde_json::{json, Value};

use super::redis_server;
use super::*;

fn message(content: &str, sequence: i64) -> Value {
    json!({"type": "conversations.messages.messageCreated",
           "data": {"message": {"interactionId": "int-guarded", "senderId": "cust-1",
                                "content": content, "sequenceNumber": sequence}}})
}

fn engine(shared: &SharedStore) -> Engine {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");
    Engine::builder(rules)
        .stores(shared.factory())
        .build()
        .unwrap()
}

async fn outcome(engine: &Engine, event: &Value, commit: bool) -> Outcome {
    let eval = engine.evaluate(event).await.unwrap();
    let decision = if commit {
        eval.commit()
    } else {
        eval.rollback().await
    };
    decision.outcome
}

/// A token the local store made goes back to it: rolled back there, its message is new again
/// (had the rollback gone to the Redis that is down, the local window would still hold it).
#[tokio::test]
async fn local_tokens_go_back_to_the_local_store_and_redis_is_tried_again() {
    let Some(mut redis) = redis_server::RedisServer::start().await else {
        return;
    };
    let shared = SharedStore::connect(&DedupStoreConfig {
        url: redis.url(),
        key_prefix: "cxrules:unit".into(),
        timeout: Duration::from_millis(200),
        on_error: OnStoreError::Local,
    })
    .unwrap();
    let engine = engine(&shared);
    let health = shared.health();
    let hello = message("hello", 1);
    assert_eq!(outcome(&engine, &hello, true).await, Outcome::Processed);

    redis.kill();
    let event = message("where is my order", 2);
    assert_eq!(outcome(&engine, &event, false).await, Outcome::Processed);
    assert!(health.is_fallback());
    assert_eq!(outcome(&engine, &event, true).await, Outcome::Processed);
    assert_eq!(outcome(&engine, &event, true).await, Outcome::Suppressed);
    assert!(
        health.errors(StoreErrorKind::Unavailable) + health.errors(StoreErrorKind::Timeout) >= 1
    );

    redis.restart().await;
    tokio::time::sleep(PROBE_EVERY + Duration::from_millis(100)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seq = 3;
    while health.is_fallback() {
        assert!(Instant::now() < deadline, "still in fallback: {health:?}");
        let next = message(&format!("message {seq}"), seq);
        assert_eq!(outcome(&engine, &next, true).await, Outcome::Processed);
        seq += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!health.is_failing());
}
