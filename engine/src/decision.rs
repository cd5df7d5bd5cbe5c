//! The decision `evaluate` returns: what happened to an event and why, ready to serialize.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::dedup::store::{StoreError, Verdict};
use crate::routing::target::{FallbackReason, RouteMatch};

/// What the host should do with the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new message (or a routing decision): apply its side effects.
    Processed,
    /// A duplicate or re-delivery: record the suppression, nothing else.
    Suppressed,
    /// No rule applies to this event type.
    Ignored,
}

/// The dedup part of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DedupDecision {
    /// The dedup channel whose window applied (`default` or a channel name).
    pub channel: String,
    /// The window length in milliseconds.
    pub window_ms: u64,
    /// Whether a hit extends the window.
    pub sliding: bool,
    /// The SHA-256 fingerprint, hex.
    pub fingerprint: String,
    /// Unique, out-of-order, duplicate or re-delivery.
    pub verdict: Verdict,
    /// This message's order key (sequence number or timestamp ms), when it has one.
    pub order: Option<i64>,
    /// The highest order key seen for the interaction: metadata never goes below it.
    pub highest_sequence: Option<i64>,
}

/// The routing part of a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingDecision {
    /// The routing rule applied.
    pub route: String,
    /// The SKU looked up.
    pub sku: String,
    /// The inventory status, when the lookup returned one.
    pub status: Option<String>,
    /// Which entry of the map applied: a status, `unknown` or `fallback`.
    pub matched: RouteMatch,
    /// Why the fallback applied.
    pub reason: Option<FallbackReason>,
    /// Target skills (seed profile ids).
    pub skills: Vec<String>,
    /// Target queues (seed profile ids).
    pub queues: Vec<String>,
    /// Target numeric skill (CXone digital profile).
    pub skill_id: Option<u64>,
    /// How long the lookup took, in milliseconds (absent when cached or skipped).
    pub lookup_ms: Option<f64>,
    /// True when the status came from the cache.
    pub cached: bool,
    /// What went wrong with the lookup, when something did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything `evaluate` decided about one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Processed, suppressed or ignored.
    pub outcome: Outcome,
    /// The event rule that matched.
    pub event: Option<String>,
    /// The event's type string.
    pub event_type: Option<String>,
    /// The interaction id.
    pub interaction_id: Option<String>,
    /// The id outbound calls address (the contact number for CXone digital), when the rule
    /// reads one (`fields.contact_id`); absent, calls address the interaction id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// Why a matched event was ignored (a condition it does not meet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The channel, when the event names one.
    pub channel: Option<String>,
    /// The dedup decision, when dedup applies to this event type.
    pub dedup: Option<DedupDecision>,
    /// The routing decision, when a route applies to this event type.
    pub routing: Option<RoutingDecision>,
    /// The content hash of the rule set that decided.
    pub rules_version: String,
    /// Time spent deciding, in microseconds.
    pub latency_us: u64,
}

/// Why an event could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The body is JSON but not an object.
    #[error("the event must be a JSON object")]
    NotAnObject,
    /// A field the rule needs is absent.
    #[error("missing field `{field}` (looked at {})", pointers.join(", "))]
    MissingField {
        /// The field.
        field: String,
        /// Where it was looked for.
        pointers: Vec<String>,
    },
    /// A keyed selection of a field's pointer met a value that is not an array.
    #[error("field `{field}`: {reason}")]
    NotAnArray {
        /// The field (or the condition's subject).
        field: String,
        /// Which pointer, and where the array should have been.
        reason: String,
    },
    /// A field has the wrong JSON type.
    #[error("field `{field}` at {pointer} must be {expected}")]
    WrongType {
        /// The field.
        field: String,
        /// Where it was found.
        pointer: String,
        /// What it should be.
        expected: &'static str,
    },
    /// An id that must never reach a URL or a log line as it is.
    #[error("field `{field}` is not a usable id: {reason}")]
    InvalidId {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The dedup store failed; the event was not decided.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EvalError {
    /// True when the sender's event is at fault (HTTP 400), false for the engine's own failures.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, EvalError::Store(_))
    }
}
