//! The `routing:` section as written in rule files: SKU, inventory call, status map.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::target::{BreakerSpec, TargetSpec};
use crate::duration::DurationStr;

/// How to build the SKU from the event: a field, or a template over fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SkuSpec {
    /// Take the SKU from this field as it is (a field name such as `media_type`, an `extra`
    /// field, or a JSON pointer such as `/data/product/sku`).
    #[serde(default)]
    pub field: Option<String>,
    /// Build the SKU from fields: `SKU-{media_type|upper}-{interaction_id|last:6}`. Filters:
    /// `upper`, `lower`, `trim`, `first:N`, `last:N`; `{/json/pointer}` reads any value.
    #[serde(default)]
    pub template: Option<String>,
    /// Templates for particular values of a field, tried in order before `template`.
    #[serde(default)]
    pub cases: Vec<SkuCase>,
}

/// A template used when a field has one of the listed values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SkuCase {
    /// The field compared (e.g. `media_type`).
    pub field: String,
    /// The values that select this case.
    pub equals: Vec<String>,
    /// The template used for them.
    pub template: String,
}

/// The inventory lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventorySpec {
    /// URL template: `${ENV}` and `${ENV:-default}` are taken from the environment at load time,
    /// `{sku}` is the SKU (percent-encoded). Example: `${INVENTORY_API_URL}/{sku}`.
    pub url: String,
    /// The strict deadline for one lookup; `${ENV}` allowed. Default: `2000ms`.
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// JSON pointer to the status in the response. Default: `/status`.
    #[serde(default = "default_status_at")]
    pub status_at: String,
    /// Extra request headers; values may use `${ENV}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Cache statuses per SKU for this long (off when absent).
    #[serde(default)]
    pub cache_ttl: Option<DurationStr>,
    /// Most SKUs cached. Default: 10000; from 1 to 100000.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100_000))]
    pub cache_max_entries: Option<usize>,
    /// Circuit breaker; on by default with 5 failures and `30s`.
    #[serde(default)]
    pub breaker: BreakerSpec,
}

fn default_timeout() -> String {
    "2000ms".to_string()
}

fn default_status_at() -> String {
    "/status".to_string()
}

/// A routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// How to get the SKU.
    pub sku: SkuSpec,
    /// The inventory call.
    pub inventory: InventorySpec,
    /// Inventory status → where the interaction goes (`in_stock`, `low_stock`, …).
    pub statuses: BTreeMap<String, TargetSpec>,
    /// Where it goes when the status is not in `statuses`, the inventory answers 4xx (429
    /// aside), or its JSON answer has no status.
    pub unknown: TargetSpec,
    /// Where it goes when the inventory times out, answers 5xx or 429, is unreachable, answers
    /// with a redirect or not with JSON, or the breaker is open.
    pub fallback: TargetSpec,
    /// Recognise re-delivered routing events so a contact is not routed twice: the same event
    /// id again within this long, or, for events without an id, another event of the same
    /// interaction within this long, is answered `suppressed` (matched `redelivery`) with no
    /// lookup and no update. Off when absent.
    #[serde(default)]
    pub redelivery_window: Option<DurationStr>,
}
