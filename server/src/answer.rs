//! The answer to an accepted event, `200 OK` with the outcome, the explanation, the queued
//! updates and the engine's full decision as JSON.
//!
//! The JSON is written with its keys as fixed text and each value through serde_json (strings
//! escaped by it, numbers and enums by their `Serialize`): byte for byte what
//! `serde_json::to_vec(&accepted)` gives, which a test checks on every kind of decision, for
//! about half the work, since serde_json escapes every key of every struct on every answer.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use cxrules_engine::decision::DedupDecision;
use cxrules_engine::{Decision, Outcome};
use serde::Serialize;

use crate::cxone::Endpoint;

/// The answer to an accepted event.
#[derive(Debug, Serialize)]
pub struct Accepted {
    /// processed, suppressed or ignored.
    pub outcome: Outcome,
    /// Why, in one line.
    pub explanation: String,
    /// The side effects queued.
    pub queued: Vec<Endpoint>,
    /// True when queued calls are only logged.
    pub dry_run: bool,
    /// Time from receiving the event to answering, in milliseconds (to the microsecond).
    pub latency_ms: f64,
    /// The engine's full decision.
    pub decision: Decision,
}

impl IntoResponse for &Accepted {
    fn into_response(self) -> Response {
        let body = to_json(self);
        let json = [(header::CONTENT_TYPE, "application/json")];
        (StatusCode::OK, json, body).into_response()
    }
}

/// The answer as JSON text, the same bytes as `serde_json::to_vec(accepted)`.
pub fn to_json(accepted: &Accepted) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    let w = &mut out;
    w.extend_from_slice(br#"{"outcome":"#);
    value(w, &accepted.outcome);
    w.extend_from_slice(br#","explanation":"#);
    value(w, &accepted.explanation);
    w.extend_from_slice(br#","queued":"#);
    value(w, &accepted.queued);
    w.extend_from_slice(br#","dry_run":"#);
    value(w, &accepted.dry_run);
    w.extend_from_slice(br#","latency_ms":"#);
    value(w, &accepted.latency_ms);
    w.extend_from_slice(br#","decision":"#);
    decision(w, &accepted.decision);
    w.push(b'}');
    out
}

fn decision(w: &mut Vec<u8>, d: &Decision) {
    w.extend_from_slice(br#"{"outcome":"#);
    value(w, &d.outcome);
    w.extend_from_slice(br#","event":"#);
    value(w, &d.event);
    w.extend_from_slice(br#","event_type":"#);
    value(w, &d.event_type);
    w.extend_from_slice(br#","interaction_id":"#);
    value(w, &d.interaction_id);
    w.extend_from_slice(br#","channel":"#);
    value(w, &d.channel);
    w.extend_from_slice(br#","dedup":"#);
    match &d.dedup {
        Some(dedup) => dedup_decision(w, dedup),
        None => w.extend_from_slice(b"null"),
    }
    // Routing decisions wait for the inventory anyway; serde writes them whole.
    w.extend_from_slice(br#","routing":"#);
    value(w, &d.routing);
    w.extend_from_slice(br#","rules_version":"#);
    value(w, &d.rules_version);
    w.extend_from_slice(br#","latency_us":"#);
    value(w, &d.latency_us);
    w.push(b'}');
}

fn dedup_decision(w: &mut Vec<u8>, d: &DedupDecision) {
    w.extend_from_slice(br#"{"channel":"#);
    value(w, &d.channel);
    w.extend_from_slice(br#","window_ms":"#);
    value(w, &d.window_ms);
    w.extend_from_slice(br#","sliding":"#);
    value(w, &d.sliding);
    w.extend_from_slice(br#","fingerprint":"#);
    value(w, &d.fingerprint);
    w.extend_from_slice(br#","verdict":"#);
    value(w, &d.verdict);
    w.extend_from_slice(br#","order":"#);
    value(w, &d.order);
    w.extend_from_slice(br#","highest_sequence":"#);
    value(w, &d.highest_sequence);
    w.push(b'}');
}

fn value<T: Serialize + ?Sized>(w: &mut Vec<u8>, v: &T) {
    // Cannot fail: writing into a Vec does no I/O, and these values are strings, numbers,
    // booleans, enums, options and lists (no maps with keys that are not strings).
    let _ = serde_json::to_writer(w, v);
}

#[cfg(test)]
mod tests;
