//! Inventory routing seen from outside: the routing update per status, fallbacks, the breaker.

use std::time::Duration;

use cxrules_tests::{routing_event, Harness};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const ROUTE: &str = "/webhook/routing-events";

async fn stock(h: &Harness, sku: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/products/{sku}")))
        .respond_with(response)
        .mount(&h.inventory)
        .await;
}

fn status(s: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"sku": "x", "status": s}))
}

async fn routing_body_for(h: &Harness, id: &str) -> Value {
    h.settle().await;
    let want = format!("/api/v2/routing/interactions/{id}");
    let calls: Vec<Value> = h
        .api_calls()
        .await
        .into_iter()
        .filter(|(_, p, _)| *p == want)
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(calls.len(), 1, "one routing update for {id}");
    calls[0].clone()
}

#[tokio::test]
async fn each_status_routes_to_its_skill_or_queue() {
    let h = Harness::start().await;
    let cases = [
        (
            "int-000001",
            "in_stock",
            json!({"skills": [{"id": "skill-premium-support-id"}], "queues": []}),
        ),
        (
            "int-000002",
            "low_stock",
            json!({"skills": [{"id": "skill-expedited-support-id"}], "queues": []}),
        ),
        (
            "int-000003",
            "out_of_stock",
            json!({"skills": [], "queues": [{"id": "queue-general-support-id"}]}),
        ),
        (
            "int-000004",
            "discontinued",
            json!({"skills": [], "queues": [{"id": "queue-unknown-id"}]}),
        ),
    ];
    for (id, s, _) in &cases {
        stock(&h, &format!("SKU-CHAT-{}", &id[4..]), status(s)).await;
    }
    for (id, s, want) in &cases {
        let (code, body) = h.post(ROUTE, &routing_event(id, "chat")).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["queued"], json!(["routing"]));
        let matched = if *s == "discontinued" {
            "unknown"
        } else {
            "status"
        };
        assert_eq!(body["decision"]["routing"]["matched"], matched, "{body}");
        assert_eq!(routing_body_for(&h, id).await["routing"], *want, "{id}");
    }
}

#[tokio::test]
async fn timeout_and_server_errors_fall_back_with_their_reason() {
    let h = Harness::start().await;
    stock(
        &h,
        "SKU-VOICE-000011",
        status("in_stock").set_delay(Duration::from_secs(2)),
    )
    .await;
    stock(&h, "SKU-VOICE-000012", ResponseTemplate::new(503)).await;
    for (id, reason) in [("int-000011", "timeout"), ("int-000012", "upstream_error")] {
        let (code, body) = h.post(ROUTE, &routing_event(id, "voice")).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["decision"]["routing"]["reason"], reason, "{body}");
        let routed = routing_body_for(&h, id).await;
        assert_eq!(
            routed["routing"]["queues"],
            json!([{"id": "queue-fallback-id"}])
        );
    }
}

#[tokio::test]
async fn the_breaker_opens_after_repeated_failures_and_spares_the_inventory() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&h.inventory)
        .await;
    let mut reasons = Vec::new();
    for n in 0..5 {
        let (code, body) = h
            .post(ROUTE, &routing_event(&format!("int-b0000{n}"), "chat"))
            .await;
        assert_eq!(code, 200);
        reasons.push(
            body["decision"]["routing"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(
        reasons[..3],
        ["upstream_error", "upstream_error", "upstream_error"]
    );
    assert_eq!(reasons[3..], ["breaker_open", "breaker_open"]);
    assert_eq!(h.inventory.received_requests().await.unwrap().len(), 3);
    h.settle().await;
    let text = h.metrics_text().await;
    assert!(text.contains("reason=\"breaker_open\"} 2"), "{text}");
}
