//! `POST /rules/try`: one event evaluated dry on the live rules and on the shadow rules, with
//! both explanations. Nothing is recorded (each side decides on a throwaway copy of the rules'
//! state: empty dedup windows, a fresh breaker and cache) and nothing is queued; the live side
//! asks the inventory as a live event would (a read), the shadow side reuses that answer.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cxrules_engine::routing::source::InventorySource;
use cxrules_engine::{CompiledRules, Decision, Engine, EvalError};
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::shadow::answers::{LiveAnswer, SharedAnswers};
use crate::shadow::compare::{compare, Kind};
use crate::shadow::Side;
use crate::state::AppState;

/// What a trial answers.
#[derive(Debug, Serialize)]
pub struct Trial {
    /// The live rules' decision.
    pub live: Side,
    /// The shadow rules' decision, when shadow rules are configured.
    pub shadow: Option<Side>,
    /// How the shadow's decision differs from the live one (`None`: they agree, or no shadow).
    pub disagreement: Option<Kind>,
    /// What a trial does and does not do.
    pub note: &'static str,
}

const NOTE: &str = "dry: decided on empty dedup windows (as the first message of its \
                    interaction), nothing recorded, nothing sent to CXone";

/// `POST /rules/try`: the admin token when one is configured; the body is one JSON event.
/// 200 with both decisions; 400 for a body that is not a JSON object or an event the live rules
/// refuse (with the reason), 401 without the token.
pub async fn try_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let answer = match crate::admin::require(&state, &headers) {
        Ok(()) => match read(&state, body) {
            Ok(event) => run(&state, &event).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match answer {
        Ok(trial) => (StatusCode::OK, Json(trial)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn read(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.inner.body_limit)
        } else {
            ApiError::bad_request(
                "unreadable_body",
                format!("cannot read the request body: {}", rejection.body_text()),
                "send the whole event in one request",
            )
        }
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("body is not valid JSON: {e}"),
            "paste one event as a JSON object, e.g. {\"type\": ..., \"data\": {...}}",
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_event",
            "the event must be a JSON object",
            "paste one event as a JSON object, e.g. {\"type\": ..., \"data\": {...}}",
        ));
    }
    Ok(value)
}

/// Evaluates the event on both rule sets; what either records dies with its throwaway engine.
pub async fn run(state: &AppState, event: &Value) -> Result<Trial, ApiError> {
    let live = dry(state, state.engine().rules(), live_inventory(), event)
        .await?
        .map_err(|e| refused(state, e))?;
    let shadow = match state.shadow() {
        Some(shadow) => {
            let rules = shadow.engine().rules();
            let answer = LiveAnswer::of(&live);
            let decided = answer
                .scope(dry(state, rules, Arc::new(SharedAnswers), event))
                .await?;
            Some(decided)
        }
        None => None,
    };
    let disagreement = match &shadow {
        Some(Ok(decision)) => compare(&live, decision),
        Some(Err(_)) => Some(Kind::Refused),
        None => None,
    };
    Ok(Trial {
        live: Side::decided(live),
        shadow: shadow.map(|s| match s {
            Ok(decision) => Side::decided(decision),
            Err(e) => Side::refused(e),
        }),
        disagreement,
        note: NOTE,
    })
}

/// One dry evaluation on a throwaway engine over `rules`.
async fn dry(
    state: &AppState,
    rules: Arc<CompiledRules>,
    inventory: Arc<dyn InventorySource>,
    event: &Value,
) -> Result<Result<Decision, EvalError>, ApiError> {
    let engine = Engine::with_rules(rules)
        .inventory(inventory)
        .test_gate(false)
        .build()
        .map_err(|e| ApiError::unavailable("internal", e.to_string(), state.inner.retry_after))?;
    Ok(engine.evaluate(event).await.map(|eval| eval.commit()))
}

fn refused(state: &AppState, e: EvalError) -> ApiError {
    if e.is_client_error() {
        ApiError::bad_request(
            "invalid_event",
            format!("the live rules refuse the event: {e}"),
            "a webhook would answer 400 too; add what is missing or fix the field's type",
        )
    } else {
        ApiError::unavailable("internal", e.to_string(), state.inner.retry_after)
    }
}

/// The inventory the live side of a trial asks: one HTTP client for every trial, made on first
/// use.
fn live_inventory() -> Arc<dyn InventorySource> {
    static INVENTORY: OnceLock<Arc<dyn InventorySource>> = OnceLock::new();
    INVENTORY
        .get_or_init(|| Arc::new(cxrules_engine::routing::http::HttpInventory::new()))
        .clone()
}
