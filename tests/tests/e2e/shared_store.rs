//! `--dedup-store`: replicas sharing their dedup windows in a real `redis-server`, and what each
//! `--on-store-error` policy answers while it is down.

use std::time::Duration;

use cxrules_server::config::{DedupStoreConfig, OnStoreError};
use cxrules_tests::redis::RedisServer;
use cxrules_tests::{message, Harness, Options};
use serde_json::Value;

const ROUTE: &str = "/webhook/cxone/events";

fn options(redis: &RedisServer, on_error: OnStoreError) -> Options {
    Options {
        dedup_store: Some(DedupStoreConfig {
            url: redis.url(),
            key_prefix: "cxrules:e2e".into(),
            timeout: Duration::from_millis(200),
            on_error,
        }),
        ..Options::default()
    }
}

/// Posts `event` until it is answered 200 (the connection manager reconnects in the background
/// after a restart), at most for 5 s; returns the answer.
async fn post_until_ok(h: &Harness, event: &Value) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = h.post(ROUTE, event).await;
        if status == 200 {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {status} 5 s after redis came back: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_message_processed_by_one_host_is_suppressed_by_another() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let a = Harness::with(options(&redis, OnStoreError::Reject)).await;
    let b = Harness::with(options(&redis, OnStoreError::Reject)).await;
    let event = message("int-shared-1", "cust-1", "Where is my order?", 1);
    let (status, body) = a.post(ROUTE, &event).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("processed")));
    let (status, body) = b.post(ROUTE, &event).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("suppressed")),
        "{body}"
    );
    let other = message("int-shared-1", "cust-1", "And my refund?", 2);
    let (_, body) = b.post(ROUTE, &other).await;
    assert_eq!(body["outcome"], "processed", "{body}");
    assert!(a
        .metrics_text()
        .await
        .contains("cxrules_dedup_store_check_seconds_count 1"));
    let (_, status) = a.get_json("/rules/status").await;
    assert_eq!(status["dedup_store"]["kind"], "redis");
    assert_eq!(status["dedup_store"]["fallback"], false);
}

#[tokio::test]
async fn reject_answers_503_while_redis_is_down_and_records_nothing() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    // Down before the host starts: the start does not need it.
    redis.kill();
    let h = Harness::with(options(&redis, OnStoreError::Reject)).await;
    let event = message("int-reject-1", "cust-1", "Where is my order?", 1);
    let response = h
        .post_raw(
            ROUTE,
            serde_json::to_vec(&event).unwrap(),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers().get("retry-after").unwrap(), "1");
    h.settle().await;
    assert!(
        h.api_calls().await.is_empty(),
        "nothing sent for a rejected event"
    );
    let (_, health) = h.get_json("/healthz").await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["dedup_store"]["fallback"], false, "{health}");
    let metrics = h.metrics_text().await;
    assert!(
        metrics.contains("cxrules_dedup_store_errors_total{kind=\"unavailable\"}")
            || metrics.contains("cxrules_dedup_store_errors_total{kind=\"timeout\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cxrules_dedup_store_fallback 0"),
        "{metrics}"
    );

    redis.restart().await;
    let body = post_until_ok(&h, &event).await;
    assert_eq!(
        body["outcome"], "processed",
        "the retry is not a duplicate: {body}"
    );
    let (status, body) = h.post(ROUTE, &event).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("suppressed"))
    );
    let (_, health) = h.get_json("/healthz").await;
    assert_eq!(health["status"], "ok", "{health}");
}

#[tokio::test]
async fn local_decides_in_memory_while_redis_is_down_and_recovers() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    let h = Harness::with(options(&redis, OnStoreError::Local)).await;
    let first = message("int-local-1", "cust-1", "hello", 1);
    assert_eq!(h.post(ROUTE, &first).await.1["outcome"], "processed");

    redis.kill();
    let event = message("int-local-1", "cust-1", "Where is my order?", 2);
    let (status, body) = h.post(ROUTE, &event).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    let (status, body) = h.post(ROUTE, &event).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("suppressed")),
        "the local windows suppress meanwhile: {body}"
    );
    let (_, health) = h.get_json("/healthz").await;
    assert_eq!(health["status"], "degraded", "{health}");
    let (_, status) = h.get_json("/rules/status").await;
    assert_eq!(status["dedup_store"]["kind"], "redis");
    assert_eq!(status["dedup_store"]["fallback"], true, "{status}");
    assert!(h
        .metrics_text()
        .await
        .contains("cxrules_dedup_store_fallback 1"));

    redis.restart().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    let mut seq = 3;
    loop {
        let next = message("int-local-1", "cust-1", &format!("message {seq}"), seq);
        let (status, body) = h.post(ROUTE, &next).await;
        assert_eq!((status, body["outcome"].as_str()), (200, Some("processed")));
        let (_, health) = h.get_json("/healthz").await;
        if health["status"] == "ok" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still degraded 6 s after redis came back: {health}"
        );
        seq += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, status) = h.get_json("/rules/status").await;
    assert_eq!(status["dedup_store"]["fallback"], false, "{status}");
    assert!(h
        .metrics_text()
        .await
        .contains("cxrules_dedup_store_fallback 0"));
}
