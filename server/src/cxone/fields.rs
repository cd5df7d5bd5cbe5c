//! The `dfo` start-up check of custom fields: CXone accepts a custom-field value only for an
//! `ident` already defined in Digital admin, so the idents the profile writes are compared with
//! `GET /dfo/3.0/contacts/custom-field-definitions` once at start, and the missing ones are named
//! (in the log and on `/healthz`, which says `degraded` while any is missing).
//!
//! A missing definition does not stop the host: the definitions can be added while it runs,
//! other calls (routing) still work, and a start-up failure on a CXone hiccup would only make
//! replicas restart in a loop.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::client::CxoneClient;
use super::health::CustomFieldCheck;
use super::profile::Profile;
use super::send_error::SendError;
use super::update::{DedupStatus, MetadataUpdate, Update};

/// The path of the definitions under the API host.
pub const DEFINITIONS_PATH: &str = "/dfo/3.0/contacts/custom-field-definitions";

/// Every `ident` the profile's metadata call writes (its body rendered for a sample update).
pub fn written_idents(profile: &Profile) -> Vec<String> {
    let sample = Update::Metadata(MetadataUpdate {
        status: DedupStatus::Processed,
        last_sequence: Some(1),
        fingerprint: "0".into(),
        channel: "chat".into(),
        event_type: None,
    });
    let Ok(call) = profile.prepare("1", &sample) else {
        return Vec::new();
    };
    let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
    idents(&body).into_iter().collect()
}

/// Every string under an `ident` key anywhere in `value` (the definitions' answer is read
/// whatever its envelope: a bare array or one inside an object).
pub fn idents(value: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect(value, &mut found);
    found
}

fn collect(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("ident", Value::String(s)) => {
                        found.insert(s.clone());
                    }
                    _ => collect(v, found),
                }
            }
        }
        _ => {}
    }
}

/// Reads the tenant's definitions and names the `written` idents it lacks.
pub async fn check(client: &CxoneClient, written: &[String]) -> Result<Vec<String>, SendError> {
    let answer = client.get_json(DEFINITIONS_PATH).await?;
    let defined = idents(&answer);
    Ok(written
        .iter()
        .filter(|i| !defined.contains(*i))
        .cloned()
        .collect())
}

/// Runs the check with a few retries (1, 2, 4, 8 s apart) when CXone fails, and says what it
/// found: an error naming the missing idents, or why it could not check.
pub async fn check_at_start(client: &CxoneClient, written: Vec<String>) -> CustomFieldCheck {
    let mut delay = Duration::from_secs(1);
    let mut last = None;
    for attempt in 1..=5 {
        match check(client, &written).await {
            Ok(missing) => {
                if missing.is_empty() {
                    tracing::info!(idents = ?written, "cxone custom fields: every ident the profile writes is defined");
                } else {
                    tracing::error!(
                        missing = ?missing,
                        "cxone custom fields: the tenant has not defined these idents, so CXone refuses \
                         the dedup status updates; define them in Digital admin (custom fields of contacts)"
                    );
                }
                return CustomFieldCheck {
                    written,
                    missing,
                    error: None,
                };
            }
            Err(e) => {
                tracing::warn!(attempt, error = %e, "cxone custom fields: cannot read the definitions");
                last = Some(e.to_string());
                if attempt < 5 {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }
    CustomFieldCheck {
        written,
        missing: Vec::new(),
        error: last,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cxone::ProfileName;

    #[test]
    fn the_dfo_profile_writes_its_two_idents() {
        let written = written_idents(&Profile::builtin(ProfileName::Dfo));
        assert_eq!(
            written,
            ["deduplication-last-sequence", "deduplication-status"]
        );
        assert!(written_idents(&Profile::builtin(ProfileName::Seed)).is_empty());
    }

    #[test]
    fn idents_are_found_in_any_envelope() {
        let bare = json!([{"ident": "a", "label": "A"}, {"ident": "b"}]);
        let wrapped =
            json!({"definitions": [{"ident": "a"}, {"nested": {"ident": "b"}}], "ident": 3});
        for answer in [bare, wrapped] {
            assert_eq!(idents(&answer), BTreeSet::from(["a".into(), "b".into()]));
        }
    }

    proptest::proptest! {
        /// Definitions with any idents, bare or inside an envelope, give back exactly those.
        #[test]
        fn every_defined_ident_is_found(
            names in proptest::collection::btree_set("\\PC{0,20}", 0..20),
            wrapped in proptest::bool::ANY,
        ) {
            let defs: Vec<Value> = names
                .iter()
                .map(|n| json!({"ident": n, "label": "x", "type": "text"}))
                .collect();
            let answer = if wrapped { json!({"definitions": defs, "total": 1}) } else { json!(defs) };
            proptest::prop_assert_eq!(idents(&answer), names);
        }
    }
}
