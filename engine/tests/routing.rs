//! Routing through the engine against a local mock inventory: statuses, fallbacks, breaker, cache.

use std::time::Duration;

use cxrules_engine::routing::target::{FallbackReason, RouteMatch};
use cxrules_engine::{Engine, RoutingDecision};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn rules(base: &str, extra: &str) -> String {
    format!(
        r#"version: 1
events:
  routing:
    type: routing.interaction.created
    route: inventory
routing:
  inventory:
    sku: {{ template: "SKU-{{media_type|upper}}-{{interaction_id|last:6}}" }}
    inventory:
      url: "{base}/products/{{sku}}"
      timeout: 300ms
{extra}
    statuses:
      in_stock: {{ skills: [premium] }}
      low_stock: {{ skills: [expedited] }}
      out_of_stock: {{ queues: [general] }}
    unknown: {{ queues: [general] }}
    fallback: {{ queues: [general-fallback] }}
"#
    )
}

async fn engine(server: &MockServer, extra: &str) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules(&server.uri(), extra)).unwrap();
    (Engine::from_dir(dir.path()).unwrap(), dir)
}

async fn route(engine: &Engine, id: &str) -> RoutingDecision {
    let event = json!({"event_type": "routing.interaction.created", "data": {"interactionId": id, "mediaType": "voice"}});
    engine
        .evaluate(&event)
        .await
        .unwrap()
        .commit()
        .routing
        .unwrap()
}

async fn answer(server: &MockServer, sku: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/products/{sku}")))
        .respond_with(response)
        .mount(server)
        .await;
}

#[tokio::test]
async fn statuses_map_to_their_targets() {
    let server = MockServer::start().await;
    for (sku, status) in [
        ("SKU-VOICE-000001", "in_stock"),
        ("SKU-VOICE-000002", "low_stock"),
        ("SKU-VOICE-000003", "out_of_stock"),
        ("SKU-VOICE-000004", "recalled"),
    ] {
        answer(
            &server,
            sku,
            ResponseTemplate::new(200).set_body_json(json!({"status": status})),
        )
        .await;
    }
    let (engine, _dir) = engine(&server, "").await;
    let d = route(&engine, "i-000001").await;
    assert_eq!(
        (d.matched, d.skills.clone(), d.status.as_deref()),
        (
            RouteMatch::Status,
            vec!["premium".to_string()],
            Some("in_stock")
        )
    );
    assert!(d.lookup_ms.is_some());
    assert_eq!(route(&engine, "i-000002").await.skills, vec!["expedited"]);
    assert_eq!(route(&engine, "i-000003").await.queues, vec!["general"]);
    let unknown = route(&engine, "i-000004").await;
    assert_eq!(
        (unknown.matched, unknown.status.as_deref()),
        (RouteMatch::Unknown, Some("recalled"))
    );
}

#[tokio::test]
async fn failures_fall_back_with_their_reason() {
    let server = MockServer::start().await;
    answer(
        &server,
        "SKU-VOICE-000001",
        ResponseTemplate::new(200)
            .set_delay(Duration::from_secs(2))
            .set_body_json(json!({"status": "in_stock"})),
    )
    .await;
    answer(&server, "SKU-VOICE-000002", ResponseTemplate::new(503)).await;
    answer(&server, "SKU-VOICE-000003", ResponseTemplate::new(404)).await;
    answer(
        &server,
        "SKU-VOICE-000004",
        ResponseTemplate::new(200).set_body_json(json!({"stock": 3})),
    )
    .await;
    let (engine, _dir) = engine(&server, "").await;
    let timeout = route(&engine, "i-000001").await;
    assert_eq!(
        (timeout.matched, timeout.reason),
        (RouteMatch::Fallback, Some(FallbackReason::Timeout))
    );
    assert_eq!(timeout.queues, vec!["general-fallback"]);
    let upstream = route(&engine, "i-000002").await;
    assert_eq!(upstream.reason, Some(FallbackReason::UpstreamError));
    let client = route(&engine, "i-000003").await;
    assert_eq!((client.matched, client.reason), (RouteMatch::Unknown, None));
    let no_status = route(&engine, "i-000004").await;
    assert_eq!(no_status.matched, RouteMatch::Unknown);
}

/// An inventory that answers 429, a redirect or a text that is not JSON is not working: each
/// falls back with a reason of its own and counts towards the breaker (they were routed as
/// `unknown`, so a broken inventory never opened it).
#[tokio::test]
async fn a_rate_limited_redirecting_or_garbled_inventory_falls_back_and_opens_the_breaker() {
    let server = MockServer::start().await;
    answer(&server, "SKU-VOICE-000001", ResponseTemplate::new(429)).await;
    answer(
        &server,
        "SKU-VOICE-000002",
        ResponseTemplate::new(302).insert_header("location", "http://127.0.0.1:1/elsewhere"),
    )
    .await;
    answer(
        &server,
        "SKU-VOICE-000003",
        ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
    )
    .await;
    let (engine, _dir) = engine(&server, "      breaker: { failures: 3, open_for: 30s }").await;
    let limited = route(&engine, "i-000001").await;
    assert_eq!(
        (limited.matched, limited.reason),
        (RouteMatch::Fallback, Some(FallbackReason::RateLimited))
    );
    assert_eq!(limited.queues, vec!["general-fallback"]);
    let redirected = route(&engine, "i-000002").await;
    assert_eq!(
        (redirected.matched, redirected.reason),
        (RouteMatch::Fallback, Some(FallbackReason::BadResponse))
    );
    assert!(redirected.error.unwrap().contains("redirect"));
    let garbled = route(&engine, "i-000003").await;
    assert_eq!(garbled.reason, Some(FallbackReason::BadResponse));
    assert!(garbled.error.unwrap().contains("not JSON"));
    let open = route(&engine, "i-000001").await;
    assert_eq!(open.reason, Some(FallbackReason::BreakerOpen));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_unreachable_inventory_falls_back() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yaml"),
        rules(&format!("http://127.0.0.1:{port}"), ""),
    )
    .unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    assert_eq!(
        route(&engine, "i-000001").await.reason,
        Some(FallbackReason::Unreachable)
    );
}

#[tokio::test]
async fn the_breaker_opens_then_lets_one_trial_through() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "in_stock"})))
        .mount(&server)
        .await;
    let (engine, _dir) = engine(&server, "      breaker: { failures: 2, open_for: 300ms }").await;
    assert_eq!(
        route(&engine, "i-000001").await.reason,
        Some(FallbackReason::UpstreamError)
    );
    assert_eq!(
        route(&engine, "i-000001").await.reason,
        Some(FallbackReason::UpstreamError)
    );
    let open = route(&engine, "i-000001").await;
    assert_eq!(open.reason, Some(FallbackReason::BreakerOpen));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "an open breaker makes no call"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let trial = route(&engine, "i-000001").await;
    assert_eq!(
        (trial.matched, trial.skills),
        (RouteMatch::Status, vec!["premium".to_string()])
    );
    assert_eq!(route(&engine, "i-000001").await.matched, RouteMatch::Status);
}

#[tokio::test]
async fn the_cache_answers_repeat_lookups() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "low_stock"})))
        .expect(1)
        .mount(&server)
        .await;
    let (engine, _dir) = engine(&server, "      cache_ttl: 1m").await;
    assert!(!route(&engine, "i-000001").await.cached);
    let again = route(&engine, "i-000001").await;
    assert!(again.cached);
    assert_eq!(again.skills, vec!["expedited"]);
}

#[tokio::test]
async fn hostile_ids_stay_inside_one_path_segment() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let text = rules(&server.uri(), "").replace(
        "SKU-{media_type|upper}-{interaction_id|last:6}",
        "{interaction_id}",
    );
    std::fs::write(dir.path().join("rules.yaml"), text).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    for id in ["../../admin", "a?b=c", "a#frag", "x/y", "%2e%2e", "ü ñ"] {
        route(&engine, id).await;
    }
    for req in server.received_requests().await.unwrap() {
        let p = req.url.path();
        assert!(
            p.starts_with("/products/") && !p["/products/".len()..].contains('/'),
            "{p}"
        );
        assert!(req.url.query().is_none(), "{}", req.url);
    }
    let bad = json!({"event_type": "routing.interaction.created", "data": {"interactionId": "a\r\nHost: evil", "mediaType": "voice"}});
    let err = engine.evaluate(&bad).await.unwrap_err();
    assert!(
        err.is_client_error() && err.to_string().contains("control characters"),
        "{err}"
    );
    let looked_up = server.received_requests().await.unwrap().len();
    for step in [".", ".."] {
        let dot = json!({"event_type": "routing.interaction.created", "data": {"interactionId": step, "mediaType": "voice"}});
        let err = engine.evaluate(&dot).await.unwrap_err();
        assert!(
            err.is_client_error() && err.to_string().contains("relative path step"),
            "{err}"
        );
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        looked_up,
        "a refused id is never looked up"
    );
}

#[tokio::test]
async fn the_default_rules_pass_their_own_tests() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let rules = std::sync::Arc::new(cxrules_engine::compile::load_dir(&dir).unwrap());
    let report = cxrules_engine::testrun::run_tests(&rules);
    assert!(report.cases.len() >= 10);
    for case in &report.cases {
        assert!(case.passed(), "{}: {:#?}", case.name, case.failures);
    }
}

#[tokio::test]
async fn a_reload_that_changes_where_the_status_is_read_starts_a_fresh_cache() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "in_stock", "state": "low_stock"})),
        )
        .mount(&server)
        .await;
    let (engine, dir) = engine(&server, "      cache_ttl: 1m").await;
    assert_eq!(route(&engine, "i-000001").await.skills, vec!["premium"]);
    assert!(route(&engine, "i-000001").await.cached);
    let text = rules(
        &server.uri(),
        "      cache_ttl: 1m\n      status_at: /state",
    );
    std::fs::write(dir.path().join("rules.yaml"), text).unwrap();
    engine.reload().unwrap();
    let after = route(&engine, "i-000001").await;
    assert!(
        !after.cached,
        "a status read with the old pointer must not be served"
    );
    assert_eq!(after.skills, vec!["expedited"]);
}

#[tokio::test]
async fn skill_and_queue_ids_may_come_from_the_environment() {
    let server = MockServer::start().await;
    answer(
        &server,
        "SKU-VOICE-000007",
        ResponseTemplate::new(200).set_body_json(json!({"status": "in_stock"})),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let text = rules(&server.uri(), "")
        .replace(
            "skills: [premium]",
            r#"skills: ["${CXRULES_TEST_UNSET_PREMIUM_SKILL:-skill-premium-from-default}"]"#,
        )
        .replace(
            "queues: [general-fallback]",
            r#"queues: ["queue-${CXRULES_TEST_UNSET_REGION:-eu}-fallback"]"#,
        );
    std::fs::write(dir.path().join("rules.yaml"), text).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let d = route(&engine, "i-000007").await;
    assert_eq!(d.skills, ["skill-premium-from-default"]);
    answer(&server, "SKU-VOICE-000008", ResponseTemplate::new(503)).await;
    let d = route(&engine, "i-000008").await;
    assert_eq!(
        (d.reason, d.queues),
        (
            Some(FallbackReason::UpstreamError),
            vec!["queue-eu-fallback".to_owned()]
        )
    );
}
