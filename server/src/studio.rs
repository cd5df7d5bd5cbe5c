//! `POST /studio/v1/decide`: what a CXone Studio script's REST API action calls, synchronously,
//! for a customer's message. The real platform has no webhook registration for digital events;
//! a Studio script is how they reach cxrules there.
//!
//! The request is the compact JSON a script can build (`contactNumber`, `interactionId`,
//! `messageId`, `text`, `sender`, `direction`, `channel`, `time`, optional `sku`). It is decided
//! as two events, both read by the shipped rule file `rules/studio.yaml` (so operators can change
//! where each field is and what counts): `studio.message` (dedup) and `studio.contact` (routing,
//! when a SKU is given). Their updates are queued as the webhook's are, and the answer is the
//! compact JSON the script routes with: `outcome`, `skillId`, `skillName`, `queueName`, `sku`,
//! `reason` (a few hundred bytes; Studio reads at most 32 KB). The inventory is never waited on
//! longer than the route's own timeout: past it the route's fallback answers.
//!
//! Authentication: the static header the REST action sends, `Authorization: Bearer <token>`,
//! compared in constant time with `--studio-token` (`CXRULES_STUDIO_TOKEN`). Without a token
//! the endpoint is off (404 saying how to turn it on).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cxrules_engine::{Outcome, ParsedEvent};
use serde::Serialize;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::answer::Accepted;
use crate::decide::outcome_str;
use crate::error::ApiError;
use crate::routes::{decide_to_the_end, is_json, read_body};
use crate::state::AppState;

/// The event type a Studio request's message is decided as (`rules/studio.yaml`).
pub const MESSAGE_TYPE: &str = "studio.message";
/// The event type a Studio request's contact is routed as (`rules/studio.yaml`).
pub const CONTACT_TYPE: &str = "studio.contact";

/// The label of this route in metrics and logs.
const ROUTE: &str = "studio";

/// The answer a Studio script routes with.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StudioAnswer {
    /// `processed` (new message, or a contact routed), `suppressed` (a duplicate or a
    /// re-delivery) or `ignored` (nothing for cxrules to do, e.g. an agent's message).
    pub outcome: &'static str,
    /// The CXone skill to route the contact to, when the rules chose one.
    pub skill_id: Option<u64>,
    /// The skill's name, as the rules name it.
    pub skill_name: Option<String>,
    /// The queue's name, as the rules name it.
    pub queue_name: Option<String>,
    /// The SKU the route looked up.
    pub sku: Option<String>,
    /// Why, in one line per event decided.
    pub reason: String,
    /// The rules that decided.
    pub rules_version: String,
}

/// Folds the decisions of the message and the contact into one answer.
pub fn answer(message: &Accepted, contact: &Accepted) -> StudioAnswer {
    let outcomes = [message.outcome, contact.outcome];
    let outcome = if message.outcome == Outcome::Suppressed {
        Outcome::Suppressed
    } else if outcomes.contains(&Outcome::Processed) {
        Outcome::Processed
    } else if outcomes.contains(&Outcome::Suppressed) {
        Outcome::Suppressed
    } else {
        Outcome::Ignored
    };
    let routing = contact.decision.routing.as_ref();
    StudioAnswer {
        outcome: outcome_str(outcome),
        skill_id: routing.and_then(|r| r.skill_id),
        skill_name: routing.and_then(|r| r.skills.first().cloned()),
        queue_name: routing.and_then(|r| r.queues.first().cloned()),
        sku: routing.map(|r| r.sku.clone()),
        reason: format!(
            "message: {}. contact: {}",
            message.explanation, contact.explanation
        ),
        rules_version: contact.decision.rules_version.clone(),
    }
}

/// `POST /studio/v1/decide`.
pub async fn decide(State(state): State<AppState>, request: Request) -> Response {
    let received_at = Instant::now();
    let span = tracing::info_span!("studio", route = ROUTE);
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    let body = Bytes::from_request(Request::from_parts(parts, body), &state).await;
    let result = async {
        authorize(&state, &headers)?;
        is_json(&headers)?;
        let bytes = read_body(&state, body)?;
        let (message, contact) = events(&bytes)?;
        // Both are checked before either records anything: a request one of them refuses
        // leaves no trace, and the script's retry is decided afresh.
        for (event, _) in [&message, &contact] {
            state
                .engine()
                .precheck(event)
                .map_err(|e| crate::routes::eval_error(&state, e))?;
        }
        let ((message, message_text), (contact, contact_text)) = (message, contact);
        let message =
            decide_to_the_end(&state, message, message_text, received_at, span.clone()).await?;
        let contact =
            decide_to_the_end(&state, contact, contact_text, received_at, span.clone()).await?;
        Ok::<_, ApiError>(answer(&message, &contact))
    }
    .await;
    match result {
        Ok(answer) => (StatusCode::OK, Json(answer)).into_response(),
        Err(e) => {
            state.inner.metrics.rejected(ROUTE, e.reason);
            span.in_scope(|| tracing::info!(status = e.status.as_u16(), reason = e.reason, error = %e.error, "studio request refused"));
            e.into_response()
        }
    }
}

/// The bearer token check; 404 when the endpoint is off.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.inner.studio_token else {
        return Err(ApiError::not_found(
            "the Studio endpoint is off",
            "set CXRULES_STUDIO_TOKEN (--studio-token) and send it as `Authorization: Bearer <token>`",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(
            "missing or wrong Studio token (send `Authorization: Bearer <token>`)",
        ))
    }
}

/// An event with the text it was parsed from.
pub type EventText = (ParsedEvent, Bytes);

/// The request as the two events the rules decide: `{"type": <type>, "data": <request>}`, each
/// with its text (what the outbox remembers to rebuild the dedup windows after a restart).
pub fn events(body: &[u8]) -> Result<(EventText, EventText), ApiError> {
    let bad = |error: String| {
        ApiError::bad_request(
            "invalid_json",
            error,
            "send one JSON object such as {\"contactNumber\": \"...\", \"interactionId\": \"...\", \
             \"text\": \"...\", \"direction\": \"inbound\"}",
        )
    };
    // Checked on its own first, so a JSON error's line and column are the request's.
    let request =
        ParsedEvent::parse(body).map_err(|e| bad(format!("body is not valid JSON: {e}")))?;
    if !cxrules_engine::document::Document::is_object(&request) {
        return Err(bad("the request must be a JSON object".into()));
    }
    let text = std::str::from_utf8(body).map_err(|e| bad(e.to_string()))?;
    let wrap = |kind: &str| {
        let wrapped = Bytes::from(format!(r#"{{"type":"{kind}","data":{text}}}"#));
        let event = ParsedEvent::parse(&wrapped).map_err(|e| bad(e.to_string()))?;
        Ok((event, wrapped))
    };
    Ok((wrap(MESSAGE_TYPE)?, wrap(CONTACT_TYPE)?))
}

#[cfg(test)]
mod tests;
