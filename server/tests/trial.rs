//! `POST /rules/try` in-process: any body gets a 200 with both decisions or a 4xx with
//! `{"error", "hint"}`, never a 5xx, and a trial records nothing (the live and shadow windows stay
//! empty, nothing is queued); with an admin token configured it is required.

use axum::body::{to_bytes, Body};
use axum::http::Request;
use cxrules_engine::Engine;
use cxrules_server::shadow::{self, Shadow};
use cxrules_server::{app, AppState, Config, Secret};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunConfig, TestCaseError, TestRunner};
use serde_json::{json, Value};
use tower::ServiceExt;

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");

/// The shipped rules, live and as the shadow.
fn state(admin_token: Option<&str>) -> AppState {
    let engine = Engine::from_dir(RULES).expect("the shipped rules load");
    let config = Config {
        rules_dir: RULES.into(),
        admin_token: admin_token.map(Secret::new),
        ..Config::default()
    };
    let state = AppState::new(engine, &config).expect("state");
    let shadow = shadow::load(RULES.as_ref()).expect("the shadow rules load");
    state.set_shadow(Shadow::start(shadow, state.metrics().clone()));
    state
}

async fn send(state: &AppState, body: Vec<u8>, token: Option<&str>) -> (u16, Value) {
    let mut request = Request::post("/rules/try").header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn nothing_recorded(state: &AppState) -> bool {
    let empty = |engine: &Engine| {
        engine
            .dedup_stats()
            .iter()
            .all(|(_, s)| s.fingerprints == 0)
    };
    empty(state.engine())
        && empty(state.shadow().expect("shadow").engine())
        && state.effects().depth() == 0
}

async fn check(state: &AppState, body: Vec<u8>) -> Result<(), TestCaseError> {
    let (status, answer) = send(state, body.clone(), None).await;
    let shown = String::from_utf8_lossy(&body);
    prop_assert!(
        status == 200 || (400..500).contains(&status),
        "{status} for {shown}: {answer}"
    );
    if status == 200 {
        prop_assert!(answer["live"]["outcome"].is_string(), "{shown}: {answer}");
        prop_assert!(answer["shadow"]["outcome"].is_string(), "{shown}: {answer}");
        prop_assert!(answer["disagreement"].is_null(), "same rules: {answer}");
    } else {
        prop_assert!(
            answer["error"].is_string() && answer["hint"].is_string(),
            "{status} without error and hint for {shown}: {answer}"
        );
    }
    prop_assert!(
        nothing_recorded(state),
        "a trial recorded something: {shown}"
    );
    Ok(())
}

/// JSON values of every kind, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A message event of the shipped rules with any value in each field.
fn message() -> impl Strategy<Value = Value> {
    (any_json(), any_json(), any_json(), any_json()).prop_map(|(id, sender, content, seq)| {
        json!({"type": "conversations.messages.messageCreated",
               "data": {"message": {"interactionId": id, "senderId": sender,
                                    "content": content, "sequenceNumber": seq}}})
    })
}

#[test]
fn any_body_gets_an_answer_or_a_4xx_and_records_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let state = rt.block_on(async { state(None) });
    let mut runner = TestRunner::new(RunConfig {
        cases: 300,
        ..RunConfig::default()
    });
    let bodies = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        any_json().prop_map(|v| v.to_string().into_bytes()),
        message().prop_map(|v| v.to_string().into_bytes()),
    ];
    runner
        .run(&bodies, |body| rt.block_on(check(&state, body)))
        .expect("every body gets a 2xx or a 4xx and nothing is recorded");
}

#[tokio::test]
async fn the_same_message_tried_twice_is_new_both_times() {
    let state = state(None);
    let event = json!({"type": "conversations.messages.messageCreated",
        "data": {"message": {"interactionId": "int-1", "senderId": "c", "content": "hi",
                             "sequenceNumber": 1}}});
    for _ in 0..2 {
        let (status, answer) = send(&state, event.to_string().into_bytes(), None).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["live"]["outcome"], "processed", "{answer}");
        assert_eq!(answer["shadow"]["outcome"], "processed", "{answer}");
        let explanation = answer["live"]["explanation"].as_str().unwrap();
        assert!(explanation.contains("new message"), "{explanation}");
    }
    assert!(nothing_recorded(&state));
}

#[tokio::test]
async fn with_an_admin_token_the_trial_requires_it() {
    let state = state(Some("s3cret"));
    let event = json!({"type": "x"}).to_string().into_bytes();
    let (status, answer) = send(&state, event.clone(), None).await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer["hint"].as_str().unwrap().contains("Bearer"));
    let (status, _) = send(&state, event.clone(), Some("wrong")).await;
    assert_eq!(status, 401);
    let (status, answer) = send(&state, event, Some("s3cret")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["live"]["outcome"], "ignored");
}
