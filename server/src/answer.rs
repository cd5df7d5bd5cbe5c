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
    entry(w, br#"{"outcome":"#, &accepted.outcome);
    entry(w, br#","explanation":"#, &accepted.explanation);
    entry(w, br#","queued":"#, &accepted.queued);
    entry(w, br#","dry_run":"#, &accepted.dry_run);
    entry(w, br#","latency_ms":"#, &accepted.latency_ms);
    w.extend_from_slice(br#","decision":"#);
    decision(w, &accepted.decision);
    w.push(b'}');
    out
}

fn decision(w: &mut Vec<u8>, d: &Decision) {
    entry(w, br#"{"outcome":"#, &d.outcome);
    entry(w, br#","event":"#, &d.event);
    entry(w, br#","event_type":"#, &d.event_type);
    entry(w, br#","interaction_id":"#, &d.interaction_id);
    if let Some(contact) = &d.contact_id {
        entry(w, br#","contact_id":"#, contact);
    }
    if let Some(reason) = &d.reason {
        entry(w, br#","reason":"#, reason);
    }
    entry(w, br#","channel":"#, &d.channel);
    w.extend_from_slice(br#","dedup":"#);
    match &d.dedup {
        Some(dedup) => dedup_decision(w, dedup),
        None => w.extend_from_slice(b"null"),
    }
    // Routing decisions wait for the inventory anyway; serde writes them whole.
    entry(w, br#","routing":"#, &d.routing);
    entry(w, br#","rules_version":"#, &d.rules_version);
    entry(w, br#","latency_us":"#, &d.latency_us);
    w.push(b'}');
}

fn dedup_decision(w: &mut Vec<u8>, d: &DedupDecision) {
    entry(w, br#"{"channel":"#, &d.channel);
    entry(w, br#","window_ms":"#, &d.window_ms);
    entry(w, br#","sliding":"#, &d.sliding);
    entry(w, br#","fingerprint":"#, &d.fingerprint);
    entry(w, br#","verdict":"#, &d.verdict);
    entry(w, br#","order":"#, &d.order);
    entry(w, br#","highest_sequence":"#, &d.highest_sequence);
    w.push(b'}');
}

/// A key (with what comes before it: `{` or `,`, and the `:`) and its value.
fn entry<T: Serialize + ?Sized>(w: &mut Vec<u8>, key: &[u8], v: &T) {
    w.extend_from_slice(key);
    value(w, v);
}

fn value<T: Serialize + ?Sized>(w: &mut Vec<u8>, v: &T) {
    // Cannot fail: writing into a Vec does no I/O, and these values are strings, numbers,
    // booleans, enums, options and lists (no maps with keys that are not strings).
    let _ = serde_json::to_writer(w, v);
}

#[cfg(test)]
mod tests;
