//! From the engine's decision to the host's work: the updates to queue, the metrics to count,
//! the one-line explanation.

use cxrules_engine::dedup::store::Verdict;
use cxrules_engine::routing::target::RouteMatch;
use cxrules_engine::{Decision, DedupDecision, Outcome};

use crate::cxone::{DedupStatus, MetadataUpdate, RoutingUpdate, Update};
use crate::metrics::Metrics;

/// The side effects a decision asks for: a metadata update for every deduplicated message
/// (processed or suppressed, as the seed did), a routing update for every routing decision but
/// a re-delivery's (the contact was routed already).
///
/// A message older than the newest one its check saw (its order key below the highest) gets no
/// metadata update: the newer message's update carries the same `lastSequence` and the newer
/// status, which the older one's would overwrite. Nor does a re-delivery (the same event or
/// message id again, such as CXone's `MessageAddedIntoCase` after `MessageCreated`): it is the
/// same message, whose update went out with its first delivery, and `suppressed` would mislabel
/// it.
pub fn updates_for(decision: &Decision) -> Vec<Update> {
    let mut updates = Vec::new();
    let wanted = |d: &&DedupDecision| !is_overtaken(d) && d.verdict != Verdict::Redelivery;
    if let Some(d) = decision.dedup.as_ref().filter(wanted) {
        let status = match decision.outcome {
            Outcome::Suppressed => DedupStatus::Suppressed,
            _ => DedupStatus::Processed,
        };
        updates.push(Update::Metadata(MetadataUpdate {
            status,
            last_sequence: d.highest_sequence,
            fingerprint: d.fingerprint.clone(),
            channel: d.channel.clone(),
            event_type: decision.event_type.clone(),
        }));
    }
    let routing = decision.routing.as_ref();
    if let Some(r) = routing.filter(|r| r.matched != RouteMatch::Redelivery) {
        updates.push(Update::Routing(RoutingUpdate {
            route: r.route.clone(),
            sku: r.sku.clone(),
            inventory_status: r.status.clone(),
            skills: r.skills.clone(),
            queues: r.queues.clone(),
            skill_id: r.skill_id,
            reason: r.reason.map(|r| r.as_str().to_owned()),
        }));
    }
    updates
}

/// True when a newer message of the interaction was checked before this one.
fn is_overtaken(d: &DedupDecision) -> bool {
    matches!((d.order, d.highest_sequence), (Some(order), Some(highest)) if order < highest)
}

/// The decision's outcome as written in logs and metrics.
pub fn outcome_str(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Processed => "processed",
        Outcome::Suppressed => "suppressed",
        Outcome::Ignored => "ignored",
    }
}

fn verdict_str(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Unique => "unique",
        Verdict::OutOfOrder => "out_of_order",
        Verdict::Duplicate => "duplicate",
        Verdict::Redelivery => "redelivery",
    }
}

/// Counts a decision. Label values come from the rules (rule, channel and route names, map
/// keys), never raw from the event, so a sender cannot grow the number of series.
pub fn count(metrics: &Metrics, decision: &Decision) {
    let rule = decision.event.as_deref().unwrap_or("unmatched");
    let channel = decision
        .dedup
        .as_ref()
        .map_or("none", |d| d.channel.as_str());
    metrics.event(rule, channel, outcome_str(decision.outcome));
    metrics.decision_latency(decision.latency_us as f64 / 1e6);
    if let Some(d) = &decision.dedup {
        if d.verdict.is_suppressed() {
            metrics.suppressed(&d.channel, verdict_str(d.verdict));
        }
        if is_overtaken(d) {
            // Its metadata update is left out (`updates_for`): counted, so every accepted event
            // is accounted for (sent, merged, or skipped with a reason).
            metrics.effect_skipped("metadata", "overtaken");
        } else if d.verdict == Verdict::Redelivery {
            metrics.effect_skipped("metadata", "redelivery");
        }
    }
    if let Some(r) = &decision.routing {
        let matched = r.matched.as_str();
        let status = match (matched, &r.status) {
            ("status", Some(s)) => s.as_str(),
            (_, Some(_)) => "other",
            (_, None) => "none",
        };
        let reason = r.reason.map_or("none", |r| r.as_str());
        metrics.routing(&r.route, status, matched, reason);
    }
}

/// One line saying why the event was decided as it was.
pub fn explain(decision: &Decision) -> String {
    use std::fmt::Write as _;
    let Some(rule) = &decision.event else {
        let t = decision.event_type.as_deref().unwrap_or("(none)");
        return format!("no event rule matches type `{t}`; ignored");
    };
    if let Some(reason) = &decision.reason {
        return format!("rule `{rule}`: {reason}; ignored");
    }
    // Built piece by piece: this runs for every event, and `write!` costs more than the text.
    let mut out = String::with_capacity(128);
    out.push_str("rule `");
    out.push_str(rule);
    out.push('`');
    if let Some(d) = &decision.dedup {
        out.push_str("; dedup channel `");
        out.push_str(&d.channel);
        out.push_str("`: ");
        match d.verdict {
            Verdict::Unique => out.push_str("new message"),
            Verdict::OutOfOrder => out.push_str("new message, older than the highest order key"),
            Verdict::Duplicate => seen_within(&mut out, "same fingerprint", d.window_ms),
            Verdict::Redelivery => seen_within(&mut out, "same event id", d.window_ms),
        }
    }
    if let Some(r) = &decision.routing {
        // Writing to a String cannot fail.
        let _ = write!(out, "; route `{}` for sku `{}`: ", r.route, r.sku);
        let _ = match (&r.status, r.reason) {
            (_, Some(reason)) => write!(out, "fallback ({})", reason.as_str()),
            (Some(s), None) => write!(out, "inventory status `{s}` ({})", r.matched.as_str()),
            (None, None) => write!(out, "{}", r.matched.as_str()),
        };
    }
    out.push_str("; ");
    out.push_str(outcome_str(decision.outcome));
    out
}

fn seen_within(out: &mut String, what: &str, window_ms: u64) {
    use std::fmt::Write as _;
    out.push_str(what);
    // Writing to a String cannot fail.
    let _ = write!(out, " seen within {window_ms} ms");
}

#[cfg(test)]
mod tests {
    use cxrules_engine::routing::target::{FallbackReason, RouteMatch};
    use cxrules_engine::{DedupDecision, RoutingDecision};

    use super::*;

    fn decision(dedup: Option<Verdict>, routing: Option<(Option<&str>, RouteMatch)>) -> Decision {
        let suppressed = dedup.is_some_and(|v| v.is_suppressed());
        Decision {
            outcome: if suppressed {
                Outcome::Suppressed
            } else {
                Outcome::Processed
            },
            event: Some("message_created".into()),
            event_type: Some("conversations.messages.messageCreated".into()),
            interaction_id: Some("int-1".into()),
            contact_id: Some("int-1".into()),
            reason: None,
            channel: None,
            dedup: dedup.map(|verdict| DedupDecision {
                channel: "default".into(),
                window_ms: 45_000,
                sliding: true,
                fingerprint: "ab".into(),
                verdict,
                order: Some(1),
                highest_sequence: Some(1),
            }),
            routing: routing.map(|(status, matched)| RoutingDecision {
                route: "inventory".into(),
                sku: "SKU-1".into(),
                status: status.map(str::to_owned),
                matched,
                reason: (matched == RouteMatch::Fallback).then_some(FallbackReason::Timeout),
                skills: vec![],
                queues: vec![],
                skill_id: None,
                lookup_ms: None,
                cached: false,
                error: None,
            }),
            rules_version: "v".into(),
            latency_us: 1,
        }
    }

    #[test]
    fn a_message_overtaken_before_its_check_gets_no_metadata_update() {
        let mut late = decision(Some(Verdict::OutOfOrder), None);
        let dedup = late.dedup.as_mut().unwrap();
        (dedup.order, dedup.highest_sequence) = (Some(3), Some(5));
        assert!(updates_for(&late).is_empty());
        let dedup = late.dedup.as_mut().unwrap();
        (dedup.order, dedup.highest_sequence) = (None, Some(5));
        assert_eq!(
            updates_for(&late).len(),
            1,
            "no order key: nothing to compare"
        );
        let newest = decision(Some(Verdict::Duplicate), None);
        assert_eq!(updates_for(&newest).len(), 1);
    }

    #[test]
    fn a_routing_redelivery_gets_no_update() {
        let mut redelivered = decision(None, Some((None, RouteMatch::Redelivery)));
        redelivered.outcome = Outcome::Suppressed;
        assert!(updates_for(&redelivered).is_empty());
        assert_eq!(
            explain(&redelivered),
            "rule `message_created`; route `inventory` for sku `SKU-1`: redelivery; suppressed"
        );
        let routed = decision(None, Some((Some("in_stock"), RouteMatch::Status)));
        assert_eq!(updates_for(&routed).len(), 1);
    }

    #[test]
    fn every_decision_explains_itself_in_one_line() {
        let dedup = "rule `message_created`; dedup channel `default`: ";
        let route = "rule `message_created`; route `inventory` for sku `SKU-1`: ";
        let cases = [
            (
                decision(Some(Verdict::Unique), None),
                format!("{dedup}new message; processed"),
            ),
            (
                decision(Some(Verdict::OutOfOrder), None),
                format!("{dedup}new message, older than the highest order key; processed"),
            ),
            (
                decision(Some(Verdict::Duplicate), None),
                format!("{dedup}same fingerprint seen within 45000 ms; suppressed"),
            ),
            (
                decision(Some(Verdict::Redelivery), None),
                format!("{dedup}same event id seen within 45000 ms; suppressed"),
            ),
            (
                decision(None, Some((Some("in_stock"), RouteMatch::Status))),
                format!("{route}inventory status `in_stock` (status); processed"),
            ),
            (
                decision(None, Some((None, RouteMatch::Unknown))),
                format!("{route}unknown; processed"),
            ),
            (
                decision(None, Some((None, RouteMatch::Fallback))),
                format!("{route}fallback (timeout); processed"),
            ),
        ];
        for (decision, want) in cases {
            assert_eq!(explain(&decision), want);
        }
        let mut ignored = decision(None, None);
        ignored.event = None;
        ignored.outcome = Outcome::Ignored;
        assert_eq!(
            explain(&ignored),
            "no event rule matches type `conversations.messages.messageCreated`; ignored"
        );
    }
}
