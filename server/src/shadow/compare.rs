//! Where the shadow rules' decision differs from the live one: one kind per event, and the
//! digest an example shows of the event (no message text).

use cxrules_engine::{Decision, Outcome, RoutingDecision};
use serde::Serialize;

/// How a shadow decision differs from the live one. An event counts once, under the first kind
/// that applies in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The shadow rules refuse an event the live rules accepted (a field they need is missing).
    Refused,
    /// Live suppressed it, the shadow would process it.
    SuppressedToProcessed,
    /// Live processed it, the shadow would suppress it.
    ProcessedToSuppressed,
    /// One of the two ignores the event (no rule for its type), the other handles it.
    Ignored,
    /// Both route it, to another fallback reason (or one falls back and the other does not).
    FallbackReason,
    /// Another target: other skills, queues, skill id or route, or only one of the two routes.
    Target,
}

impl Kind {
    /// The kind as a metric label and a status key.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Refused => "refused",
            Kind::SuppressedToProcessed => "suppressed_to_processed",
            Kind::ProcessedToSuppressed => "processed_to_suppressed",
            Kind::Ignored => "ignored",
            Kind::FallbackReason => "fallback_reason",
            Kind::Target => "target",
        }
    }
}

/// The kind of disagreement between the live decision and the shadow's, `None` when they agree
/// on the outcome and, when routed, on the fallback reason and the target.
pub fn compare(live: &Decision, shadow: &Decision) -> Option<Kind> {
    match (live.outcome, shadow.outcome) {
        (Outcome::Suppressed, Outcome::Processed) => return Some(Kind::SuppressedToProcessed),
        (Outcome::Processed, Outcome::Suppressed) => return Some(Kind::ProcessedToSuppressed),
        (a, b) if a != b => return Some(Kind::Ignored),
        _ => {}
    }
    match (&live.routing, &shadow.routing) {
        (None, None) => None,
        (Some(l), Some(s)) if l.reason != s.reason => Some(Kind::FallbackReason),
        (Some(l), Some(s)) if target(l) != target(s) => Some(Kind::Target),
        (Some(_), Some(_)) => None,
        _ => Some(Kind::Target),
    }
}

type Target<'a> = (&'a str, &'a [String], &'a [String], Option<u64>);

fn target(r: &RoutingDecision) -> Target<'_> {
    (&r.route, &r.skills, &r.queues, r.skill_id)
}

/// What an example shows of the event: its type, interaction, the start of the live
/// fingerprint (a hash, never the text) and the SKU, as the live decision read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    /// The event's type.
    pub event_type: Option<String>,
    /// The interaction id.
    pub interaction_id: Option<String>,
    /// The first 16 hex digits of the live dedup fingerprint, when deduplicated.
    pub fingerprint: Option<String>,
    /// The SKU the live route looked up, when routed.
    pub sku: Option<String>,
}

impl Digest {
    /// The digest of the event the live rules decided.
    pub fn of(live: &Decision) -> Self {
        Self {
            event_type: live.event_type.clone(),
            interaction_id: live.interaction_id.clone(),
            fingerprint: live
                .dedup
                .as_ref()
                .map(|d| d.fingerprint.chars().take(16).collect()),
            sku: live.routing.as_ref().map(|r| r.sku.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use cxrules_engine::routing::target::{FallbackReason, RouteMatch};

    use super::*;

    fn decision(
        outcome: Outcome,
        routing: Option<(Vec<&str>, Option<FallbackReason>)>,
    ) -> Decision {
        Decision {
            outcome,
            event: Some("e".into()),
            event_type: Some("t".into()),
            interaction_id: Some("int-1".into()),
            contact_id: None,
            reason: None,
            channel: None,
            dedup: None,
            routing: routing.map(|(queues, reason)| RoutingDecision {
                route: "inventory".into(),
                sku: "SKU-1".into(),
                status: None,
                matched: if reason.is_some() {
                    RouteMatch::Fallback
                } else {
                    RouteMatch::Unknown
                },
                reason,
                skills: vec![],
                queues: queues.into_iter().map(str::to_owned).collect(),
                skill_id: None,
                lookup_ms: None,
                cached: false,
                error: None,
            }),
            rules_version: "v".into(),
            latency_us: 0,
        }
    }

    #[test]
    fn each_difference_has_its_kind() {
        use Outcome::*;
        let q = |q: &'static str| Some((vec![q], None));
        let cases = [
            (decision(Processed, None), decision(Processed, None), None),
            (
                decision(Suppressed, None),
                decision(Processed, None),
                Some(Kind::SuppressedToProcessed),
            ),
            (
                decision(Processed, None),
                decision(Suppressed, None),
                Some(Kind::ProcessedToSuppressed),
            ),
            (
                decision(Ignored, None),
                decision(Processed, None),
                Some(Kind::Ignored),
            ),
            (
                decision(Processed, q("a")),
                decision(Processed, q("a")),
                None,
            ),
            (
                decision(Processed, q("a")),
                decision(Processed, q("b")),
                Some(Kind::Target),
            ),
            (
                decision(Processed, q("a")),
                decision(Processed, None),
                Some(Kind::Target),
            ),
            (
                decision(Processed, Some((vec!["f"], Some(FallbackReason::Timeout)))),
                decision(
                    Processed,
                    Some((vec!["f"], Some(FallbackReason::BreakerOpen))),
                ),
                Some(Kind::FallbackReason),
            ),
        ];
        for (live, shadow, want) in cases {
            assert_eq!(compare(&live, &shadow), want, "{live:?} vs {shadow:?}");
        }
    }
}
