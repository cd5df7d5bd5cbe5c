//! The event routes: content type, size, signature, JSON, evaluate, queue the side effects,
//! answer with the decision. Bad input gets a 4xx, never a 5xx.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cxrules_engine::{Decision, EvalError, Outcome, ParsedEvent};
use tokio::time::Instant;
use tracing::Instrument;

pub use crate::answer::Accepted;
use crate::cxone::{check_id, Endpoint, Update};
use crate::decide;
use crate::effects::{EnqueueError, Reservation};
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /webhook/cxone/events` (the dedup seed's path).
pub async fn cxone_events(State(s): State<AppState>, request: Request) -> Response {
    handle(&s, "cxone_events", request).await
}

/// `POST /webhook/routing-events` (the routing seed's path).
pub async fn routing_events(State(s): State<AppState>, request: Request) -> Response {
    handle(&s, "routing_events", request).await
}

/// `POST /events`: any event type the rules know.
pub async fn events(State(s): State<AppState>, request: Request) -> Response {
    handle(&s, "events", request).await
}

async fn handle(state: &AppState, route: &'static str, request: Request) -> Response {
    let span = tracing::info_span!("event", route, interaction_id = tracing::field::Empty);
    let received_at = Instant::now();
    // The headers are moved out, not copied (the `HeaderMap` extractor clones them); the body
    // is read as the `Bytes` extractor reads it, under the router's body limit.
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    let body = Bytes::from_request(Request::from_parts(parts, body), state).await;
    let outcome = match span.in_scope(|| read_event(state, &headers, body)) {
        Ok((event, body)) => decide_to_the_end(state, event, body, received_at, span.clone()).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(accepted) => accepted.as_ref().into_response(),
        Err(e) => {
            state.inner.metrics.rejected(route, e.reason);
            span.in_scope(|| tracing::info!(status = e.status.as_u16(), reason = e.reason, error = %e.error, "event refused"));
            e.into_response()
        }
    }
}

/// Decides the event on a task of its own, which the sender hanging up cannot cut short: once
/// dedup has recorded the message, the decision and its updates go through (their room in the
/// queue is reserved first), so a retry that arrives meanwhile (and is suppressed) does not leave
/// the message unsent. The task is also what makes accepting events take turns with sending
/// updates on a busy core: decided inside the connection's task (polled once, spawned only if it
/// had to wait), the inbound side took the outbound lanes' share, the queue filled, and a live
/// load run accepted 26 k events/s with p99 28-30 ms against 37-39 k and 17-20 ms with the task
/// (BENCHMARKS.md).
pub(crate) async fn decide_to_the_end(
    state: &AppState,
    event: ParsedEvent,
    body: Bytes,
    received_at: Instant,
    span: tracing::Span,
) -> Result<Box<Accepted>, ApiError> {
    let task_state = state.clone();
    // Boxed: the decision's future is large, and a task moves its future and its output a few
    // times; moving a pointer is cheaper than copying the state machine.
    let work = Box::pin(
        async move {
            decide_event(&task_state, event, body, received_at)
                .await
                .map(Box::new)
        }
        .instrument(span),
    );
    tokio::spawn(work).await.unwrap_or_else(|e| {
        Err(ApiError::unavailable(
            "internal",
            format!("the event task failed: {e}"),
            state.inner.retry_after,
        ))
    })
}

pub(crate) fn is_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::unsupported_type(None));
    };
    let text = value.to_str().unwrap_or("(not text)");
    let essence = text.split(';').next().unwrap_or("").trim();
    let has_prefix = |p: &str| {
        essence
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    };
    let has_suffix = |s: &str| {
        let at = essence.len().checked_sub(s.len());
        at.and_then(|at| essence.get(at..))
            .is_some_and(|t| t.eq_ignore_ascii_case(s))
    };
    let json = essence.eq_ignore_ascii_case("application/json")
        || (has_prefix("application/") && has_suffix("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::unsupported_type(Some(text)))
    }
}

pub(crate) fn read_body(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.inner.body_limit)
        } else {
            ApiError::bad_request(
                "unreadable_body",
                format!("cannot read the request body: {}", rejection.body_text()),
                "send the whole body in one request",
            )
        }
    })
}

/// The event, parsed with its strings left in the body's text (no copy per key and string).
fn parse_json(bytes: &[u8]) -> Result<ParsedEvent, ApiError> {
    ParsedEvent::parse(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("body is not valid JSON: {e}"),
            "send one JSON object per request",
        )
    })
}

pub(crate) fn eval_error(state: &AppState, e: EvalError) -> ApiError {
    if e.is_client_error() {
        let hint = match &e {
            EvalError::NotAnObject => {
                "send the event as a JSON object, e.g. {\"type\": ..., \"data\": {...}}".to_owned()
            }
            EvalError::MissingField { field, .. } => format!(
                "add `{field}` to the event, or point the rule's `fields.{field}` at where it is"
            ),
            EvalError::WrongType {
                field, expected, ..
            } => format!("send `{field}` as {expected}"),
            EvalError::NotAnArray { field, .. } => {
                format!("send the list `{field}` is selected from as a JSON array")
            }
            _ => "send an id of printable characters, at most 256 bytes".to_owned(),
        };
        return ApiError::bad_request("invalid_event", e.to_string(), hint);
    }
    tracing::error!(error = %e, "event not decided");
    ApiError::unavailable("store", e.to_string(), state.inner.retry_after)
}

/// The checks that need the request itself: content type, size, signature, JSON. The body is
/// kept (a reference count) for the outbox, which remembers it to rebuild the dedup windows.
fn read_event(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(ParsedEvent, Bytes), ApiError> {
    is_json(headers)?;
    let bytes = read_body(state, body)?;
    state
        .inner
        .auth
        .verify(headers, &bytes, SystemTime::now())
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let event = parse_json(&bytes)?;
    if let Some(capture) = &state.inner.capture {
        capture.offer(&bytes);
    }
    Ok((event, bytes))
}

fn unavailable(state: &AppState, e: EnqueueError) -> ApiError {
    let reason = match e {
        EnqueueError::Full => "queue_full",
        EnqueueError::Closed => "shutting_down",
        EnqueueError::Unwritable => "outbox_unwritable",
    };
    ApiError::unavailable(reason, e.to_string(), state.inner.retry_after)
}

/// Evaluates the event, queues its updates and commits the evaluation (or rolls it back).
async fn decide_event(
    state: &AppState,
    event: ParsedEvent,
    body: Bytes,
    received_at: Instant,
) -> Result<Accepted, ApiError> {
    let effects = &state.inner.effects;
    // Held across the dedup check and the queueing: the order guard keeps, for as long as this
    // decision runs, what it needs to refuse this event's update if a newer one is queued first.
    let _deciding = effects.deciding();
    // Room for the first update is set aside before dedup records anything: a message once
    // recorded always has room for its update, even if its sender hung up and its retry was
    // meanwhile answered `suppressed`. Without room, an event that would queue an update is
    // refused (503) with nothing to undo; a bad event still gets its 4xx and one that needs no
    // update its decision.
    let reservation = match effects.reserve() {
        Ok(reservation) => Some(reservation),
        Err(e) => match state.inner.engine.precheck(&event) {
            Ok(true) => return Err(unavailable(state, e)),
            Ok(false) => None,
            Err(bad) => return Err(eval_error(state, bad)),
        },
    };
    let eval = state
        .inner
        .engine
        .evaluate(&event)
        .await
        .map_err(|e| eval_error(state, e))?;
    if let Some(id) = &eval.decision.interaction_id {
        tracing::Span::current().record("interaction_id", id.as_str());
    }
    let (queued, append) = match queue(state, &eval.decision, &body, reservation, received_at).await
    {
        Ok(queued) => queued,
        Err(e) => {
            eval.rollback().await;
            return Err(e);
        }
    };
    let decision = match append {
        Some(append) => commit_appending(state, eval, &append).await?,
        None => eval.commit(),
    };
    let accepted = finish(state, decision, queued, received_at)?;
    if let Some(shadow) = state.shadow() {
        // After the live decision is final, without waiting: the shadow decides it later.
        shadow.offer(event, &accepted.decision, &accepted.explanation);
    }
    Ok(accepted)
}

/// With the replicas' Redis outbox: writes the event's updates to the stream and commits its
/// dedup records in one script run; a failed write is a 503, and the evaluation is rolled back
/// (what the run may have committed stays, and its retry is then a duplicate of an event whose
/// updates are written).
async fn commit_appending(
    state: &AppState,
    eval: cxrules_engine::evaluation::Evaluation,
    append: &cxrules_engine::dedup::redis::StreamAppend,
) -> Result<Decision, ApiError> {
    let Some(crate::outbox::Outbox::Redis(outbox)) = state.inner.effects.outbox() else {
        return Ok(eval.commit());
    };
    let (conn, timeout) = outbox.writer();
    match eval.commit_appending(conn, timeout, append).await {
        Ok(decision) => {
            outbox.wrote(true);
            Ok(decision)
        }
        Err((eval, e)) => {
            outbox.wrote(false);
            eval.rollback().await;
            Err(ApiError::unavailable(
                "outbox_unwritable",
                format!("redis: {e}"),
                state.inner.retry_after,
            ))
        }
    }
}

/// Queues the decision's updates; returns the endpoints queued, or the answer for an event
/// whose updates cannot be queued (the caller rolls it back). With the outbox, the updates
/// (and the body of an event the dedup windows remember, to rebuild them at start) are written
/// durably first, in room taken for them: the event is answered 2xx only after that write, and
/// an event whose write fails is refused (503) and rolled back. With the replicas' Redis
/// outbox the stream entries are returned instead, for the caller to write with the commit.
async fn queue(
    state: &AppState,
    decision: &Decision,
    body: &Bytes,
    reservation: Option<Reservation>,
    received_at: Instant,
) -> Result<
    (
        Vec<Endpoint>,
        Option<cxrules_engine::dedup::redis::StreamAppend>,
    ),
    ApiError,
> {
    let updates = decide::updates_for(decision);
    let effects = &state.inner.effects;
    let outbox = effects.outbox();
    // Replaying a routed event at start would look its SKU up again: only events without a
    // route are remembered. A shared dedup store keeps its windows itself.
    let remember = outbox.is_some()
        && decision.dedup.is_some()
        && decision.routing.is_none()
        && state.dedup_store().is_none();
    if updates.is_empty() {
        if let (true, Some(outbox)) = (remember, outbox) {
            let id = decision.interaction_id.as_deref().unwrap_or_default();
            outbox
                .append(id, &[], Some(body))
                .await
                .map_err(|e| unwritable(state, &e))?;
        }
        return Ok((Vec::new(), None));
    }
    let effects = &state.inner.effects;
    // The calls address the interaction (seed) or the contact (dfo), as the profile says.
    let address = effects.profile().address;
    let id = address.id(decision).unwrap_or_default();
    check_id(id).map_err(|e| {
        ApiError::bad_request(
            "invalid_id",
            format!("{} cannot be used: {e}", address.as_str()),
            "send the id CXone gave the contact",
        )
    })?;
    // Fails only for an event with two updates when no room is left for the second, or when
    // the rules changed between the precheck and the decision.
    let reservation = match reservation {
        Some(reservation) => reservation,
        None => effects.reserve().map_err(|e| unavailable(state, e))?,
    };
    let room = effects
        .room(updates.len(), Some(reservation))
        .map_err(|e| unavailable(state, e))?;
    if let Some(crate::outbox::Outbox::Redis(outbox)) = outbox {
        // Written with the commit; whichever replica reads them from the stream delivers them.
        let append = outbox
            .entries(id, &updates)
            .map_err(|e| unwritable(state, &e))?;
        drop(room);
        return Ok((updates.iter().map(Update::endpoint).collect(), Some(append)));
    }
    let ids = match outbox {
        Some(outbox) => outbox
            .append(id, &updates, remember.then_some(&body[..]))
            .await
            .map_err(|e| unwritable(state, &e))?,
        None => Vec::new(),
    };
    Ok((
        effects.enqueue_in(id, updates, ids, received_at, room),
        None,
    ))
}

fn unwritable(state: &AppState, e: &crate::outbox::WriteError) -> ApiError {
    ApiError::unavailable("outbox_unwritable", e.to_string(), state.inner.retry_after)
}

fn finish(
    state: &AppState,
    decision: Decision,
    queued: Vec<Endpoint>,
    received_at: Instant,
) -> Result<Accepted, ApiError> {
    decide::count(&state.inner.metrics, &decision);
    if let (Some(_), Some(id)) = (&decision.dedup, &decision.interaction_id) {
        let status = if decision.outcome == Outcome::Suppressed {
            "dropped"
        } else {
            "processed"
        };
        state.inner.pusher.record(id, status);
    }
    let explanation = decide::explain(&decision);
    tracing::info!(outcome = decide::outcome_str(decision.outcome), latency_us = decision.latency_us, %explanation, "event decided");
    Ok(Accepted {
        outcome: decision.outcome,
        explanation,
        queued,
        dry_run: state.is_dry_run(),
        latency_ms: (received_at.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        decision,
    })
}
