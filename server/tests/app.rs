//! The router in-process (`tower::ServiceExt::oneshot`): status pages and answers, no sockets.

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use cxrules_engine::Engine;
use cxrules_server::{app, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

const RULES: &str = "
version: 1
events:
  message_created:
    type: conversations.messages.messageCreated
    dedup: true
dedup:
  default: { window: 45s }
";

fn state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), RULES).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let config = Config {
        rules_dir: dir.path().into(),
        ..Config::default()
    };
    (AppState::new(engine, &config).unwrap(), dir)
}

async fn call(state: &AppState, request: Request<Body>) -> (StatusCode, Value, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body, content_type)
}

fn post(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn health_and_readiness() {
    let (state, _dir) = state();
    let (status, body, _) = call(&state, get("/healthz")).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ok")));
    assert_eq!(body["dry_run"], true);
    let (status, body, _) = call(&state, get("/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["rules_version"].as_str(),
        Some(state.engine().rules().version())
    );
    state.set_ready(false);
    assert_eq!(
        call(&state, get("/readyz")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn an_unknown_event_type_is_ignored_with_an_explanation() {
    let (state, _dir) = state();
    let (status, body, _) = call(&state, post("/events", &json!({"type": "agent.login"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outcome"], "ignored");
    assert_eq!(body["queued"], json!([]));
    assert!(body["explanation"]
        .as_str()
        .unwrap()
        .contains("agent.login"));
}

#[tokio::test]
async fn a_processed_message_is_queued_in_dry_run() {
    let (state, _dir) = state();
    let event = json!({"type": "conversations.messages.messageCreated",
        "data": {"message": {"interactionId": "i-1", "senderId": "s", "content": "hi", "sequenceNumber": 1}}});
    let (status, body, _) = call(&state, post("/webhook/cxone/events", &event)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["outcome"].as_str(), body["dry_run"].as_bool()),
        (Some("processed"), Some(true))
    );
    assert_eq!(body["queued"], json!(["metadata"]));
    assert_eq!(body["decision"]["interaction_id"], "i-1");
}

#[tokio::test]
async fn errors_are_json_with_a_hint() {
    let (state, _dir) = state();
    let request = Request::post("/events").body(Body::from("{}")).unwrap();
    let (status, body, content_type) = call(&state, request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(content_type.starts_with("application/json"));
    assert_eq!(body["error"], "missing content type");
    assert!(body["hint"].as_str().unwrap().contains("application/json"));
    let (status, body, _) = call(&state, get("/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["hint"].as_str().unwrap().contains("/events"));
}

#[tokio::test]
async fn metrics_and_rules_status() {
    let (state, _dir) = state();
    call(&state, post("/events", &json!({"type": "agent.login"}))).await;
    let (status, body, content_type) = call(&state, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("application/openmetrics-text"));
    let text = body.as_str().unwrap();
    assert!(text.contains(
        "cxrules_events_total{event_type=\"unmatched\",channel=\"none\",decision=\"ignored\"} 1"
    ));
    let (_, status_page, _) = call(&state, get("/rules/status")).await;
    assert_eq!(
        status_page["version"].as_str(),
        Some(state.engine().rules().version())
    );
    assert_eq!(status_page["host"]["dry_run"], true);
    assert_eq!(status_page["host"]["profile"], "seed");
    assert!(status_page["last_error"].is_null());
    assert_eq!(
        status_page["event_types"],
        json!(["conversations.messages.messageCreated"])
    );
}
