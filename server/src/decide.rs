//! From the engine's decision to the host's work: the updates to queue, the metrics to count,
//! the one-line explanation.

use cxrules_engine::dedup::store::Verdict;
use cxrules_engine::{Decision, Outcome};

use crate::cxone::{DedupStatus, MetadataUpdate, RoutingUpdate, Update};
use crate::metrics::Metrics;

/// The side effects a decision asks for: a metadata update for every deduplicated message
/// (processed or suppressed, as the seed did), a routing update for every routing decision.
pub fn updates_for(decision: &Decision) -> Vec<Update> {
    let mut updates = Vec::new();
    if let Some(d) = &decision.dedup {
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
    if let Some(r) = &decision.routing {
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
    let mut out = String::with_capacity(128);
    // Writing to a String cannot fail.
    let _ = write!(out, "rule `{rule}`");
    if let Some(d) = &decision.dedup {
        let _ = write!(out, "; dedup channel `{}`: ", d.channel);
        let _ = match d.verdict {
            Verdict::Unique => write!(out, "new message"),
            Verdict::OutOfOrder => write!(out, "new message, older than the highest order key"),
            Verdict::Duplicate => write!(out, "same fingerprint seen within {} ms", d.window_ms),
            Verdict::Redelivery => write!(out, "same event id seen within {} ms", d.window_ms),
        };
    }
    if let Some(r) = &decision.routing {
        let _ = write!(out, "; route `{}` for sku `{}`: ", r.route, r.sku);
        let _ = match (&r.status, r.reason) {
            (_, Some(reason)) => write!(out, "fallback ({})", reason.as_str()),
            (Some(s), None) => write!(out, "inventory status `{s}` ({})", r.matched.as_str()),
            (None, None) => write!(out, "{}", r.matched.as_str()),
        };
    }
    let _ = write!(out, "; {}", outcome_str(decision.outcome));
    out
}
