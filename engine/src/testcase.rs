//! Test cases that rule files carry under `tests:`: events in, expected decisions out.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decision::Outcome;
use crate::dedup::store::Verdict;
use crate::duration::DurationStr;
use crate::routing::target::{FallbackReason, RouteMatch};

/// A test case: a sequence of events with the decisions they must get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCaseSpec {
    /// What the case checks; shown in reports and in reload errors.
    pub name: String,
    /// Inventory answers per SKU: a status (`in_stock`), `timeout`, `unreachable`, or `{error: 503}`.
    #[serde(default)]
    pub inventory: BTreeMap<String, MockAnswer>,
    /// The events, in order.
    pub steps: Vec<TestStep>,
}

/// What the mock inventory answers for one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MockAnswer {
    /// A status string; the words `timeout` and `unreachable` simulate those failures.
    Status(String),
    /// An HTTP error status such as `{error: 503}`.
    Error {
        /// The HTTP status code.
        error: u16,
    },
    /// A status that is literally `timeout` or `unreachable`: `{status: timeout}`.
    Literal {
        /// The status string.
        status: String,
    },
}

/// One event and what must come of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestStep {
    /// When the event arrives, counted from the start of the case (`0s`, `44s`, `2m`). Default:
    /// the same time as the step before.
    #[serde(default)]
    pub at: Option<DurationStr>,
    /// The event, as the webhook would receive it.
    pub event: serde_json::Value,
    /// The expected decision; only the fields given are compared.
    #[serde(default)]
    pub expect: Expect,
}

/// The parts of a decision a step checks. Fields left out are not compared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `processed`, `suppressed` or `ignored`.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// `unique`, `out_of_order`, `duplicate` or `redelivery`.
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// The highest sequence carried in the decision.
    #[serde(default)]
    pub highest_sequence: Option<i64>,
    /// The dedup channel used.
    #[serde(default)]
    pub channel: Option<String>,
    /// The SKU looked up.
    #[serde(default)]
    pub sku: Option<String>,
    /// The inventory status.
    #[serde(default)]
    pub status: Option<String>,
    /// `status`, `unknown` or `fallback`.
    #[serde(default)]
    pub matched: Option<RouteMatch>,
    /// `timeout`, `upstream_error`, `unreachable`, `rate_limited`, `bad_response` or `breaker_open`.
    #[serde(default)]
    pub reason: Option<FallbackReason>,
    /// The target skills.
    #[serde(default)]
    pub skills: Option<Vec<String>>,
    /// The target queues.
    #[serde(default)]
    pub queues: Option<Vec<String>>,
    /// The target's numeric CXone skill (`dfo` profile).
    #[serde(default)]
    pub skill_id: Option<u64>,
    /// The id outbound calls address (the contact number for CXone digital events).
    #[serde(default)]
    pub contact_id: Option<String>,
    /// Why the event was ignored: the condition it did not meet, as the decision says it
    /// (e.g. `` `/data/message/direction` is `outbound`, not `inbound` ``).
    #[serde(default)]
    pub because: Option<String>,
    /// The event is rejected with an error whose text contains this.
    #[serde(default)]
    pub error: Option<String>,
}
