//! Shadow rules beside the live rules: the disagreements on a known run of events are counted
//! and shown exactly, the shadow never calls CXone or the inventory, and a broken shadow edit
//! keeps the shadow rules in force.

use std::time::Duration;

use cxrules_tests::{message, routing_event, routing_rules, Harness, Options, DEDUP_RULES};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const ROUTE: &str = "/events";

/// The live dedup rules with the fingerprint on the text alone: the same text from another
/// sender is a duplicate in the shadow only.
fn shadow_dedup() -> String {
    DEDUP_RULES.replace("fingerprint: [sender, content]", "fingerprint: [content]")
}

/// The live routing rules with another queue for `out_of_stock` and a breaker that opens after
/// one failure instead of three.
fn shadow_routing() -> String {
    routing_rules("@INVENTORY@")
        .replace("queue-general-support-id", "queue-other-id")
        .replace("failures: 3", "failures: 1")
}

async fn start(watch: bool) -> Harness {
    let h = Harness::with(Options {
        watch,
        rules: Some(vec![
            ("dedup.yaml".into(), DEDUP_RULES.into()),
            ("routing.yaml".into(), routing_rules("@INVENTORY@")),
        ]),
        shadow_rules: Some(vec![
            ("dedup.yaml".into(), shadow_dedup()),
            ("routing.yaml".into(), shadow_routing()),
        ]),
        ..Options::default()
    })
    .await;
    for (sku, status) in [("SKU-CHAT-000001", 200), ("SKU-CHAT-000002", 200)] {
        let body = if sku.ends_with('1') {
            "in_stock"
        } else {
            "out_of_stock"
        };
        Mock::given(method("GET"))
            .and(path(format!("/products/{sku}")))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(serde_json::json!({"status": body})),
            )
            .mount(&h.inventory)
            .await;
    }
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(10)
        .mount(&h.inventory)
        .await;
    h
}

async fn shadow_status(h: &Harness, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let (_, status) = h.get_json("/rules/status").await;
        if check(&status["shadow"]) {
            return status["shadow"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn disagreements_are_counted_by_kind_with_their_examples_and_the_shadow_never_acts() {
    let h = start(false).await;
    let events = [
        // Both: new.
        message("int-1", "alice", "hello", 1),
        // Live: another sender, new. Shadow: the same text, a duplicate.
        message("int-1", "bob", "hello", 2),
        // Both: a duplicate of the first.
        message("int-1", "alice", "hello", 3),
        // Both: in stock.
        routing_event("int-000001", "chat"),
        // Out of stock: another queue in the shadow.
        routing_event("int-000002", "chat"),
        // A 500: both fall back; the shadow's breaker opens.
        routing_event("int-000003", "chat"),
        // A 500 again: live falls back on the error, the shadow on its open breaker.
        routing_event("int-000004", "chat"),
    ];
    let mut queued = 0;
    for event in &events {
        let (status, body) = h.post(ROUTE, event).await;
        assert_eq!(status, 200, "{body}");
        queued += body["queued"].as_array().map_or(0, Vec::len);
    }
    let shadow = shadow_status(&h, "7 events compared", |s| s["evaluated"] == 7).await;
    assert_eq!(
        (&shadow["agreed"], &shadow["disagreed"], &shadow["dropped"]),
        (&Value::from(4), &Value::from(3), &Value::from(0)),
        "{shadow:#}"
    );
    assert_eq!(
        shadow["disagreements"],
        serde_json::json!({"processed_to_suppressed": 1, "target": 1, "fallback_reason": 1})
    );
    let examples = shadow["examples"].as_array().expect("examples");
    let kinds: Vec<&str> = examples
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["processed_to_suppressed", "target", "fallback_reason"]
    );
    let ids: Vec<&str> = examples
        .iter()
        .map(|e| e["event"]["interaction_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["int-1", "int-000002", "int-000004"]);
    let dedup = "rule `message_created`; dedup channel `default`: ";
    assert_eq!(
        examples[0]["live"]["explanation"],
        format!("{dedup}new message; processed")
    );
    assert_eq!(
        examples[0]["shadow"]["explanation"],
        format!("{dedup}same fingerprint seen within 45000 ms; suppressed")
    );
    assert!(examples[0]["event"]["fingerprint"].is_string());
    assert_eq!(
        examples[1]["live"]["decision"]["routing"]["queues"],
        serde_json::json!(["queue-general-support-id"])
    );
    assert_eq!(
        examples[1]["shadow"]["decision"]["routing"]["queues"],
        serde_json::json!(["queue-other-id"])
    );
    let route = "rule `routing_interaction_created`; route `inventory` for sku `SKU-CHAT-000004`: ";
    assert_eq!(
        examples[2]["live"]["explanation"],
        format!("{route}fallback (upstream_error); processed")
    );
    assert_eq!(
        examples[2]["shadow"]["explanation"],
        format!("{route}fallback (breaker_open); processed")
    );
    let (_, live) = h.get_json("/rules/status").await;
    assert!(shadow["version"].is_string());
    assert_ne!(
        shadow["version"], live["version"],
        "the shadow has rules of its own"
    );

    let metrics = h.metrics_text().await;
    for line in [
        "cxrules_shadow_events_total{result=\"agreed\"} 4",
        "cxrules_shadow_events_total{result=\"disagreed\"} 3",
        "cxrules_shadow_disagreements_total{kind=\"processed_to_suppressed\"} 1",
        "cxrules_shadow_disagreements_total{kind=\"target\"} 1",
        "cxrules_shadow_disagreements_total{kind=\"fallback_reason\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }

    // Only live decisions reached CXone: one call per update the live answers queued, and the
    // second message's update says processed (the shadow would have suppressed it).
    h.settle().await;
    let calls = h.api_calls().await;
    assert_eq!(calls.len(), queued, "{calls:#?}");
    assert!(
        !calls
            .iter()
            .any(|(_, _, body)| body.to_string().contains("queue-other-id")),
        "{calls:#?}"
    );
    // One inventory lookup per live routing event: the shadow asked none of its own.
    let lookups = h.inventory.received_requests().await.unwrap_or_default();
    assert_eq!(lookups.len(), 4, "{lookups:#?}");
}

#[tokio::test]
async fn a_broken_shadow_edit_keeps_the_shadow_rules_in_force() {
    let h = start(true).await;
    let dir = h
        .shadow_dir
        .as_ref()
        .expect("shadow dir")
        .path()
        .to_path_buf();
    let before = shadow_status(&h, "the shadow", |s| s["version"].is_string()).await;
    let v1 = before["version"].as_str().unwrap().to_owned();

    std::fs::write(dir.join("dedup.yaml"), "version: 1\ndedup: [not, a, map\n").unwrap();
    let broken = shadow_status(&h, "the shadow reload error", |s| {
        !s["last_error"].is_null()
    })
    .await;
    assert_eq!(broken["version"], v1.as_str(), "old shadow rules in force");
    assert_eq!(broken["stale"], true);
    assert!(
        broken["last_error"]
            .as_str()
            .unwrap()
            .contains("dedup.yaml"),
        "{broken:#}"
    );
    let (_, status) = h.get_json("/rules/status").await;
    assert!(
        status["last_error"].is_null(),
        "the live rules are not touched: {status:#}"
    );

    // The shadow in force still decides: the same text from another sender is its duplicate.
    for event in [
        message("int-9", "alice", "hi", 1),
        message("int-9", "bob", "hi", 2),
    ] {
        let (code, body) = h.post(ROUTE, &event).await;
        assert_eq!(code, 200, "{body}");
    }
    let after = shadow_status(&h, "2 events compared", |s| s["evaluated"] == 2).await;
    assert_eq!(
        after["disagreements"]["processed_to_suppressed"], 1,
        "{after:#}"
    );

    // A good edit goes live in the shadow.
    std::fs::write(dir.join("dedup.yaml"), DEDUP_RULES).unwrap();
    let fixed = shadow_status(&h, "the fixed shadow", |s| {
        s["last_error"].is_null() && s["version"].as_str() != Some(&v1)
    })
    .await;
    assert_eq!(fixed["stale"], false);
}
