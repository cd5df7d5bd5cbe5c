//! The side effects a decision asks for, before a profile turns them into HTTP calls.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Which CXone call an update becomes; also the `endpoint` label of the outbound metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// The interaction's dedup attributes.
    Metadata,
    /// The interaction's routing (skills, queues).
    Routing,
}

impl Endpoint {
    /// The label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Metadata => "metadata",
            Endpoint::Routing => "routing",
        }
    }
}

/// The dedup status written on an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupStatus {
    /// The latest message was new.
    Processed,
    /// The latest message was a duplicate.
    Suppressed,
}

impl DedupStatus {
    /// The value written into the attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            DedupStatus::Processed => "processed",
            DedupStatus::Suppressed => "suppressed",
        }
    }
}

/// Placeholders a metadata body may use.
pub const METADATA_VARS: &[&str] = &[
    "id",
    "status",
    "last_sequence",
    "fingerprint",
    "channel",
    "event_type",
];

/// Placeholders a routing body may use.
pub const ROUTING_VARS: &[&str] = &[
    "id",
    "route",
    "sku",
    "inventory_status",
    "skills",
    "queues",
    "skill_refs",
    "queue_refs",
    "skill_id",
    "reason",
];

/// The dedup attributes of one interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataUpdate {
    /// Status of the latest message.
    pub status: DedupStatus,
    /// Highest order key seen for the interaction.
    pub last_sequence: Option<i64>,
    /// Fingerprint of the latest message (hex).
    pub fingerprint: String,
    /// Dedup channel.
    pub channel: String,
    /// Event type, when known.
    pub event_type: Option<String>,
}

impl MetadataUpdate {
    /// Folds a later update into this one: the later status and fingerprint win, the sequence
    /// never goes backwards.
    pub fn merge(&mut self, later: MetadataUpdate) {
        let last_sequence = self.last_sequence.max(later.last_sequence);
        *self = later;
        self.last_sequence = last_sequence;
    }
}

/// The routing of one interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingUpdate {
    /// The rule route that decided.
    pub route: String,
    /// The SKU looked up.
    pub sku: String,
    /// The inventory status, when one came back.
    pub inventory_status: Option<String>,
    /// Skill ids.
    pub skills: Vec<String>,
    /// Queue ids.
    pub queues: Vec<String>,
    /// A numeric skill for profiles that need one.
    pub skill_id: Option<u64>,
    /// Why a fallback was taken.
    pub reason: Option<String>,
}

/// One side effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Update {
    /// Dedup attributes.
    Metadata(MetadataUpdate),
    /// Routing.
    Routing(RoutingUpdate),
}

fn refs(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({ "id": id })).collect())
}

impl Update {
    /// Which call this becomes.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Update::Metadata(_) => Endpoint::Metadata,
            Update::Routing(_) => Endpoint::Routing,
        }
    }

    /// The names [`Update::var`] answers for this kind of update.
    pub fn var_names(&self) -> &'static [&'static str] {
        match self {
            Update::Metadata(_) => METADATA_VARS,
            Update::Routing(_) => ROUTING_VARS,
        }
    }

    /// True when [`Update::var`] gives a value for `name`, found without building it.
    pub fn has(&self, name: &str) -> bool {
        match (self, name) {
            (Update::Routing(r), "skill_id") => r.skill_id.is_some(),
            _ => self.var_names().contains(&name),
        }
    }

    /// One template value of this update (`None`: this update has no such value).
    pub fn var(&self, id: &str, name: &str) -> Option<Value> {
        if name == "id" {
            return Some(json!(id));
        }
        Some(match self {
            Update::Metadata(m) => match name {
                "status" => json!(m.status.as_str()),
                "last_sequence" => json!(m.last_sequence),
                "fingerprint" => json!(m.fingerprint),
                "channel" => json!(m.channel),
                "event_type" => json!(m.event_type),
                _ => return None,
            },
            Update::Routing(r) => match name {
                "route" => json!(r.route),
                "sku" => json!(r.sku),
                "inventory_status" => json!(r.inventory_status),
                "skills" => json!(r.skills),
                "queues" => json!(r.queues),
                "skill_refs" => refs(&r.skills),
                "queue_refs" => refs(&r.queues),
                "reason" => json!(r.reason),
                "skill_id" => json!(r.skill_id?),
                _ => return None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(status: DedupStatus, seq: Option<i64>, fp: &str) -> MetadataUpdate {
        MetadataUpdate {
            status,
            last_sequence: seq,
            fingerprint: fp.into(),
            channel: "chat".into(),
            event_type: None,
        }
    }

    #[test]
    fn has_answers_as_var_does() {
        let routing = |skill_id| {
            Update::Routing(RoutingUpdate {
                route: "inventory".into(),
                sku: "SKU-1".into(),
                inventory_status: None,
                skills: vec!["s".into()],
                queues: vec![],
                skill_id,
                reason: Some("timeout".into()),
            })
        };
        let updates = [
            Update::Metadata(meta(DedupStatus::Processed, None, "f")),
            Update::Metadata(meta(DedupStatus::Suppressed, Some(3), "f")),
            routing(None),
            routing(Some(7)),
        ];
        for update in &updates {
            for name in METADATA_VARS
                .iter()
                .chain(ROUTING_VARS)
                .chain(&["nope", ""])
            {
                let var = update.var("id-1", name).is_some();
                assert_eq!(update.has(name), var, "{name} of {update:?}");
            }
        }
    }

    #[test]
    fn merge_keeps_the_highest_sequence_and_the_latest_status() {
        let mut a = meta(DedupStatus::Processed, Some(5), "a");
        a.merge(meta(DedupStatus::Suppressed, Some(3), "b"));
        assert_eq!(a, meta(DedupStatus::Suppressed, Some(5), "b"));
        a.merge(meta(DedupStatus::Processed, None, "c"));
        assert_eq!(a.last_sequence, Some(5));
        a.merge(meta(DedupStatus::Processed, Some(9), "d"));
        assert_eq!(a.last_sequence, Some(9));
    }

    #[test]
    fn routing_vars_leave_out_a_missing_skill_id() {
        let r = RoutingUpdate {
            route: "inventory".into(),
            sku: "SKU-1".into(),
            inventory_status: Some("in_stock".into()),
            skills: vec!["s1".into()],
            queues: vec![],
            skill_id: None,
            reason: None,
        };
        let update = Update::Routing(r);
        assert_eq!(update.var("i-1", "skill_id"), None);
        assert_eq!(update.var("i-1", "skill_refs"), Some(json!([{"id": "s1"}])));
    }

    #[test]
    fn each_offered_placeholder_has_its_value() {
        let metadata = Update::Metadata(meta(DedupStatus::Suppressed, Some(3), "fp"));
        let routing = Update::Routing(RoutingUpdate {
            route: "inventory".into(),
            sku: "SKU-1".into(),
            inventory_status: Some("in_stock".into()),
            skills: vec!["premium".into()],
            queues: vec![],
            skill_id: Some(42),
            reason: None,
        });
        for update in [&metadata, &routing] {
            for name in update.var_names() {
                assert!(update.var("int-1", name).is_some(), "{name}: {update:?}");
            }
            assert_eq!(update.var("int-1", "nope"), None);
        }
        assert_eq!(metadata.var("int-1", "id"), Some(json!("int-1")));
        assert_eq!(metadata.var("int-1", "status"), Some(json!("suppressed")));
        assert_eq!(metadata.var("int-1", "last_sequence"), Some(json!(3)));
        assert_eq!(routing.var("int-1", "skill_id"), Some(json!(42)));
        assert_eq!(routing.var("int-1", "skills"), Some(json!(["premium"])));
        assert_eq!(routing.var("int-1", "queue_refs"), Some(json!([])));
    }
}
