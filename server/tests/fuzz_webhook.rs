//! Property test of the webhook routes in process (`tower::ServiceExt::oneshot`, dry-run, the
//! shipped rules, an inventory answered from a map): hostile bodies of every shipped event shape,
//! any JSON, any text, with JSON and other content types. Bad input never gets a 5xx: every
//! answer is 200 with a decision, or 400/413/415 with `{"error", "hint"}`.

#[path = "../../engine/tests/hostile/mod.rs"]
mod hostile;

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use cxrules_engine::replay::MapInventory;
use cxrules_engine::Engine;
use cxrules_server::{app, AppState, Config};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;
use tower::ServiceExt;

fn state() -> AppState {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");
    let engine = Engine::builder(rules)
        .inventory(Arc::new(MapInventory::default()))
        .build()
        .expect("the shipped rules load");
    let config = Config {
        rules_dir: rules.into(),
        watch: false,
        ..Config::default()
    };
    AppState::new(engine, &config).expect("a dry-run state")
}

/// Posts each body to `path` and checks the answer.
async fn post_all(
    state: &AppState,
    path: &str,
    content_type: &str,
    bodies: &[Bytes],
) -> Result<(), TestCaseError> {
    for Bytes(body) in bodies {
        let request = Request::post(path)
            .header("content-type", content_type)
            .body(Body::from(body.clone()))
            .unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let shown = String::from_utf8_lossy(body);
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| {
            TestCaseError::fail(format!(
                "{status}: {e}: {:?}\n{shown}",
                String::from_utf8_lossy(&bytes)
            ))
        })?;
        prop_assert!(
            !status.is_server_error(),
            "{} {}\n{}",
            status,
            answer,
            shown
        );
        match status {
            StatusCode::OK => prop_assert!(answer["outcome"].is_string(), "{}\n{}", answer, shown),
            StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                prop_assert!(
                    answer["error"].is_string(),
                    "{} {}\n{}",
                    status,
                    answer,
                    shown
                );
            }
            other => prop_assert!(false, "{} {}\n{}", other, answer, shown),
        }
    }
    Ok(())
}

/// A request body; shown as text when a case fails.
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

fn body() -> impl Strategy<Value = Bytes> {
    let body = prop_oneof![
        8 => hostile::event().prop_map(String::into_bytes),
        2 => hostile::value().prop_map(String::into_bytes),
        1 => "\\PC{0,64}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    body.prop_map(Bytes)
}

proptest! {
    #![proptest_config(hostile::cases(128))]

    #[test]
    fn bad_input_never_gets_a_5xx(
        bodies in prop::collection::vec(body(), 1..6),
        path in prop::sample::select(vec!["/webhook/cxone/events", "/webhook/routing-events", "/events"]),
        content_type in prop::sample::select(vec![
            "application/json", "application/json; charset=utf-8", "text/plain", "application/cloudevents+json",
        ]),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let state = state();
            post_all(&state, path, content_type, &bodies).await
        })?;
    }
}

/// The engine's known crash (`engine/src/timestamp.rs` slicing a time by byte offsets) as the
/// host meets it: a CXone digital event whose time has a multi-byte character where the offset
/// goes must get a 400 naming the field, not a 5xx or a dropped connection.
#[test]
fn a_multibyte_time_gets_a_400() {
    let body = r#"{"eventType":"MessageCreated","eventId":"e-1","createdAtWithMilliseconds":"2026-11-23T10:00:00€:00","data":{"case":{"id":"131988342510","interactionId":"int-1"},"message":{"id":"m-1","direction":"inbound","messageContent":{"text":"hi"},"authorEndUserIdentity":{"idOnExternalPlatform":"u-1"}}}}"#;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let request = Request::post("/webhook/cxone/events")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = app(state()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains("timestamp"), "{text}");
    });
}
