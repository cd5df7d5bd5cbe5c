//! Rule-file types for where an interaction goes, and the labels that explain why.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::source::LookupError;

/// Where to send an interaction: the skills and queues to route it to.
///
/// Fill in the ids your CXone set-up uses. `skills` and `queues` are what the original
/// routing service sent; `skill_id` is what the CXone digital (DFO) API expects. Leaving
/// everything empty routes the interaction nowhere, so give at least one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Skill ids to add to the interaction, e.g. `skill-premium-support-id` or
    /// `${PREMIUM_SKILL_ID}` (read from the environment at load). Used by the default (seed)
    /// CXone profile.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Queue ids to add to the interaction, e.g. `queue-general-support-id` or
    /// `${GENERAL_QUEUE_ID:-queue-general-support-id}`. Used by the default (seed) CXone
    /// profile.
    #[serde(default)]
    pub queues: Vec<String>,
    /// The numeric CXone skill (routing queue) to move a digital contact to, e.g. `4512` or
    /// `${PREMIUM_SKILL_ID:-4512}` (read from the environment at load). Used by the `dfo`
    /// profile, which talks to the real CXone digital API; it is the skill's number in CXone,
    /// not its name.
    #[serde(default)]
    pub skill_id: Option<SkillId>,
}

/// A numeric skill id as written: a number, or text with `${VAR}` that becomes one at load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SkillId {
    /// The skill's number.
    Number(u64),
    /// Text that is a number once `${VAR}` / `${VAR:-default}` are substituted.
    Text(String),
}

impl SkillId {
    /// The number, once substituted (`None` for text not yet substituted).
    pub fn number(&self) -> Option<u64> {
        match self {
            SkillId::Number(n) => Some(*n),
            SkillId::Text(_) => None,
        }
    }
}

impl TargetSpec {
    /// Whether this target names no skill, queue or skill id at all.
    pub fn is_empty(&self) -> bool {
        self.skills.is_empty() && self.queues.is_empty() && self.skill_id.is_none()
    }
}

/// When to stop calling an inventory that keeps failing, and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// How many lookups in a row must fail (time out, answer 5xx or be unreachable) before
    /// cxrules stops calling the inventory and routes straight to the fallback.
    #[serde(default = "default_failures")]
    #[schemars(range(min = 1))]
    pub failures: u32,
    /// How long to stop calling it, e.g. `30s` or `2m`. After that one lookup is tried;
    /// if it works, lookups resume, otherwise the pause starts again.
    #[serde(default = "default_open_for")]
    pub open_for: String,
}

impl Default for BreakerSpec {
    fn default() -> Self {
        Self {
            failures: default_failures(),
            open_for: default_open_for(),
        }
    }
}

fn default_failures() -> u32 {
    5
}

fn default_open_for() -> String {
    "30s".to_owned()
}

/// Why an interaction went to the fallback target instead of a status-mapped one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// The inventory did not answer in time.
    Timeout,
    /// The inventory answered with a server error (5xx).
    UpstreamError,
    /// No connection to the inventory could be made.
    Unreachable,
    /// Recent lookups kept failing, so the inventory was not called.
    BreakerOpen,
    /// The inventory answered 429: it is refusing work.
    RateLimited,
    /// The inventory's answer was no usable document: a redirect (never followed), not JSON,
    /// or larger than the cap.
    BadResponse,
}

impl FallbackReason {
    /// The fallback a failed lookup leads to, if any; the failures that lead to one are the
    /// ones the breaker counts. A 4xx answer other than 429, or a JSON answer without a status,
    /// gives `None`: the inventory is working, it just has no usable status for this SKU, so the
    /// interaction is routed as `unknown` rather than as a fallback.
    pub fn for_lookup_error(error: &LookupError) -> Option<Self> {
        match error {
            LookupError::Timeout => Some(Self::Timeout),
            LookupError::Upstream(_) => Some(Self::UpstreamError),
            LookupError::Unreachable(_) => Some(Self::Unreachable),
            LookupError::Client(429) => Some(Self::RateLimited),
            LookupError::BadResponse(_) => Some(Self::BadResponse),
            LookupError::Client(_) | LookupError::NoStatus(_) => None,
        }
    }

    /// The snake_case label, as serialized (for logs and metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::UpstreamError => "upstream_error",
            Self::Unreachable => "unreachable",
            Self::BreakerOpen => "breaker_open",
            Self::RateLimited => "rate_limited",
            Self::BadResponse => "bad_response",
        }
    }
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which entry of the status map chose the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteMatch {
    /// The inventory's status has its own entry.
    Status,
    /// The inventory answered, but with a status that has no entry (or no status at all):
    /// the `unknown` entry applies.
    Unknown,
    /// The inventory could not be asked or did not answer: the `fallback` entry applies.
    Fallback,
    /// The interaction was routed already (the same event id, or the same interaction within
    /// the route's `redelivery_window`): not looked up, not routed again.
    Redelivery,
}

impl RouteMatch {
    /// The snake_case label, as serialized (for logs and metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Unknown => "unknown",
            Self::Fallback => "fallback",
            Self::Redelivery => "redelivery",
        }
    }
}

impl fmt::Display for RouteMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_reads_seed_and_dfo_shapes() {
        let seed: TargetSpec = crate::yaml::from_str("skills: [skill-premium-support-id]").unwrap();
        assert_eq!(seed.skills, ["skill-premium-support-id"]);
        assert!(seed.queues.is_empty() && seed.skill_id.is_none());
        let dfo: TargetSpec = crate::yaml::from_str("skill_id: 4512").unwrap();
        assert_eq!(dfo.skill_id, Some(SkillId::Number(4512)));
        assert!(!dfo.is_empty());
        assert!(crate::yaml::from_str::<TargetSpec>("{}")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn target_rejects_unknown_keys() {
        let err = crate::yaml::from_str::<TargetSpec>("skill: [a]").unwrap_err();
        assert!(err.to_string().contains("unknown field `skill`"), "{err}");
        assert!(crate::yaml::from_str::<TargetSpec>("skill_id: -1").is_err());
    }

    #[test]
    fn breaker_defaults() {
        let spec: BreakerSpec = crate::yaml::from_str("{}").unwrap();
        assert_eq!(spec, BreakerSpec::default());
        assert_eq!((spec.failures, spec.open_for.as_str()), (5, "30s"));
        let spec: BreakerSpec = crate::yaml::from_str("failures: 2\nopen_for: 1m").unwrap();
        assert_eq!((spec.failures, spec.open_for.as_str()), (2, "1m"));
    }

    #[test]
    fn schema_carries_docs_and_bounds() {
        let schema = serde_json::to_value(schemars::schema_for!(BreakerSpec)).unwrap();
        assert_eq!(schema["properties"]["failures"]["minimum"], 1);
        assert_eq!(schema["additionalProperties"], false);
        let schema = serde_json::to_value(schemars::schema_for!(TargetSpec)).unwrap();
        let doc = schema["properties"]["skill_id"]["description"]
            .as_str()
            .unwrap();
        assert!(doc.contains("digital"), "{doc}");
    }

    #[test]
    fn labels_match_serialization() {
        let reasons = [
            FallbackReason::Timeout,
            FallbackReason::UpstreamError,
            FallbackReason::Unreachable,
            FallbackReason::BreakerOpen,
        ];
        for reason in reasons {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.to_string());
        }
        for matched in [
            RouteMatch::Status,
            RouteMatch::Unknown,
            RouteMatch::Fallback,
        ] {
            assert_eq!(serde_json::to_value(matched).unwrap(), matched.to_string());
        }
        assert_eq!(FallbackReason::UpstreamError.to_string(), "upstream_error");
    }

    #[test]
    fn lookup_errors_map_to_fallbacks() {
        let cases = [
            (LookupError::Timeout, Some(FallbackReason::Timeout)),
            (
                LookupError::Upstream(503),
                Some(FallbackReason::UpstreamError),
            ),
            (
                LookupError::Unreachable("refused".into()),
                Some(FallbackReason::Unreachable),
            ),
            (LookupError::Client(404), None),
            (LookupError::Client(429), Some(FallbackReason::RateLimited)),
            (
                LookupError::BadResponse("not JSON".into()),
                Some(FallbackReason::BadResponse),
            ),
            (LookupError::NoStatus("nothing at /status".into()), None),
        ];
        for (error, want) in cases {
            assert_eq!(FallbackReason::for_lookup_error(&error), want, "{error}");
        }
    }
}
