//! Rules edited on disk while serving: a good edit takes over, a bad one leaves the old rules.

use std::time::Duration;

use cxrules_tests::{routing_event, routing_rules, Harness, Options, DEDUP_RULES};
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

const ROUTE: &str = "/events";

async fn wait_for(h: &Harness, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let (_, status) = h.get_json("/rules/status").await;
        if check(&status) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn edits_go_live_and_a_broken_edit_keeps_the_old_rules() {
    let opts = Options {
        watch: true,
        rules: Some(vec![("dedup.yaml".into(), DEDUP_RULES.into())]),
        ..Options::default()
    };
    let h = Harness::with(opts).await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"status": "in_stock"})),
        )
        .mount(&h.inventory)
        .await;
    let (_, before) = h.get_json("/rules/status").await;
    let v1 = before["version"].as_str().unwrap().to_owned();
    let (status, body) = h.post(ROUTE, &routing_event("int-000901", "chat")).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("ignored")));

    std::fs::write(
        h.rules_dir.path().join("routing.yaml"),
        routing_rules(&h.inventory.uri()),
    )
    .unwrap();
    let after = wait_for(&h, "the new rules", |s| s["version"].as_str() != Some(&v1)).await;
    let v2 = after["version"].as_str().unwrap().to_owned();
    assert!(after["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "routing.interaction.created"));
    let (status, body) = h.post(ROUTE, &routing_event("int-000902", "chat")).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    assert_eq!(body["decision"]["rules_version"], v2.as_str());

    std::fs::write(
        h.rules_dir.path().join("routing.yaml"),
        "version: 1\nrouting: [not, a, map\n",
    )
    .unwrap();
    let broken = wait_for(&h, "the reload error", |s| !s["last_error"].is_null()).await;
    assert_eq!(broken["version"], v2.as_str(), "old rules still in force");
    assert!(
        broken["last_error"]
            .as_str()
            .unwrap()
            .contains("routing.yaml"),
        "{broken}"
    );
    let (status, body) = h.post(ROUTE, &routing_event("int-000903", "chat")).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    let metrics = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("cxrules_rules_reloads_total{result=\"failed\"}"),
        "{metrics}"
    );
}
