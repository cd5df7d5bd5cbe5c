//! Placeholder for the routing target types (replaced by the routing module's own).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where an interaction goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Skill ids.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Queue ids.
    #[serde(default)]
    pub queues: Vec<String>,
    /// Numeric skill.
    #[serde(default)]
    pub skill_id: Option<u64>,
}

/// Why the fallback applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// Timeout.
    Timeout,
    /// 5xx.
    UpstreamError,
    /// Connection failed.
    Unreachable,
    /// Breaker open.
    BreakerOpen,
}

/// Which map entry applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteMatch {
    /// A status entry.
    Status,
    /// The unknown entry.
    Unknown,
    /// The fallback entry.
    Fallback,
}
