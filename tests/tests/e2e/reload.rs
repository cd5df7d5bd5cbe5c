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
    let metrics = h.metrics_text().await;
    assert!(
        !metrics.contains("cxrules_rules_reloads_total{result=\"failed\"} 0\n"),
        "the failed reload is counted: {metrics}"
    );
}

#[tokio::test]
async fn every_reload_is_counted_however_rarely_metrics_are_read() {
    let h = Harness::start().await;
    let engine = h.state.engine().clone();
    // More attempts between two reads than the status page's history keeps (20); a reload
    // asked for directly loads the files even when they have not changed.
    for _ in 0..25 {
        engine.reload().expect("the rules still load");
    }
    let metrics = h.metrics_text().await;
    assert!(
        metrics.contains("cxrules_rules_reloads_total{result=\"loaded\"} 25\n"),
        "{metrics}"
    );
    engine.reload().expect("the rules still load");
    let (_, status) = h.get_json("/rules/status").await;
    assert_eq!(status["totals"]["loaded"], 26, "{status}");
    assert_eq!(status["history"].as_array().map(Vec::len), Some(20));
    assert!(h
        .metrics_text()
        .await
        .contains("cxrules_rules_reloads_total{result=\"loaded\"} 26\n"));
}

async fn post_reload(h: &Harness, token: Option<&str>) -> (u16, Value) {
    let mut req = h.http.post(format!("{}/rules/reload", h.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_reload_endpoint_is_off_without_an_admin_token() {
    let h = Harness::start().await;
    let (status, body) = post_reload(&h, Some("anything")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["hint"]
        .as_str()
        .unwrap()
        .contains("CXRULES_ADMIN_TOKEN"));
}

#[tokio::test]
async fn the_reload_endpoint_needs_the_token_and_keeps_good_rules_on_a_failed_test() {
    let opts = Options {
        admin_token: Some("s3cret".into()),
        unready_after_failed_reloads: Some(1),
        rules: Some(vec![("dedup.yaml".into(), DEDUP_RULES.into())]),
        ..Options::default()
    };
    let h = Harness::with(opts).await;
    assert_eq!(post_reload(&h, None).await.0, 401);
    assert_eq!(post_reload(&h, Some("wrong")).await.0, 401);
    let (status, body) = post_reload(&h, Some("s3cret")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reloaded"]["result"], "loaded");

    // A rule test case that fails keeps the rules in force, names the case, and (with the
    // readiness option) takes the host out of rotation until the files are fixed.
    let failing = "version: 1\ntests:\n  - name: hello is suppressed at once\n    steps:\n      - event: {type: conversations.messages.messageCreated, data: {message: {interactionId: t, senderId: s, content: hello}}}\n        expect: {outcome: suppressed}\n";
    std::fs::write(h.rules_dir.path().join("tests.yaml"), failing).unwrap();
    let (_, before) = h.get_json("/rules/status").await;
    let (status, body) = post_reload(&h, Some("s3cret")).await;
    assert_eq!(status, 422, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("hello is suppressed at once")
            && error.contains("- outcome: suppressed\n")
            && error.contains("+ outcome: processed\n"),
        "{error}"
    );
    let (_, after) = h.get_json("/rules/status").await;
    assert_eq!(after["version"], before["version"]);
    assert_eq!(after["stale"], true);
    assert!(after["last_error"]
        .as_str()
        .unwrap()
        .contains("hello is suppressed at once"));
    assert_eq!(h.get_json("/readyz").await.0, 503);

    std::fs::remove_file(h.rules_dir.path().join("tests.yaml")).unwrap();
    assert_eq!(post_reload(&h, Some("s3cret")).await.0, 200);
    assert_eq!(h.get_json("/readyz").await.0, 200);
}
