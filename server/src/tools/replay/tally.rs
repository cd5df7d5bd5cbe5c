//! Counting decisions: outcomes, dedup verdicts, routing by target and reason, rejections.

use std::collections::BTreeMap;

use cxrules_engine::dedup::store::Verdict;
use cxrules_engine::routing::target::{FallbackReason, RouteMatch};
use cxrules_engine::{Decision, Outcome, RoutingDecision};
use serde::Serialize;

/// Distinct rejection messages kept; the rest are counted under one line.
const MAX_REJECTION_KINDS: usize = 50;

/// The counts of one replay through one rule set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Events evaluated (broken lines excluded).
    pub events: u64,
    /// Processed: apply their side effects.
    pub processed: u64,
    /// Suppressed as duplicates or re-deliveries.
    pub suppressed: u64,
    /// No rule applies.
    pub ignored: u64,
    /// The event could not be evaluated (a missing field, say).
    pub rejected: u64,
    /// Dedup verdicts: `unique`, `out_of_order`, `duplicate`, `redelivery`.
    pub verdicts: BTreeMap<&'static str, u64>,
    /// Routing decisions by target and reason.
    pub routing: Vec<RouteCount>,
    /// Rejections by message.
    pub rejections: BTreeMap<String, u64>,
    #[serde(skip)]
    routes: BTreeMap<(String, String), u64>,
}

/// How many events went to one target for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteCount {
    /// `skill:…`, `queue:…`, `skill_id:…`, comma-separated.
    pub target: String,
    /// `status in_stock`, `unknown (discontinued)`, `fallback (timeout)`.
    pub reason: String,
    /// How many.
    pub count: u64,
}

impl Tally {
    /// Counts one evaluation.
    pub fn record(&mut self, result: &Result<Decision, String>) {
        self.events += 1;
        let d = match result {
            Ok(d) => d,
            Err(message) => {
                self.rejected += 1;
                let key = if self.rejections.len() < MAX_REJECTION_KINDS
                    || self.rejections.contains_key(message)
                {
                    message.clone()
                } else {
                    "(other reasons)".to_string()
                };
                *self.rejections.entry(key).or_default() += 1;
                return;
            }
        };
        match d.outcome {
            Outcome::Processed => self.processed += 1,
            Outcome::Suppressed => self.suppressed += 1,
            Outcome::Ignored => self.ignored += 1,
        }
        if let Some(dd) = &d.dedup {
            *self.verdicts.entry(verdict_name(dd.verdict)).or_default() += 1;
        }
        if let Some(r) = &d.routing {
            *self.routes.entry((target(r), reason(r))).or_default() += 1;
        }
    }

    /// Settles the routing counts (largest first) once every event is recorded.
    pub fn finish(&mut self) {
        let mut rows: Vec<RouteCount> = std::mem::take(&mut self.routes)
            .into_iter()
            .map(|((target, reason), count)| RouteCount {
                target,
                reason,
                count,
            })
            .collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.target.cmp(&b.target)));
        self.routing = rows;
    }

    /// The count of one verdict.
    pub fn verdict(&self, name: &str) -> u64 {
        self.verdicts.get(name).copied().unwrap_or(0)
    }
}

/// The serialized name of a verdict.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Unique => "unique",
        Verdict::OutOfOrder => "out_of_order",
        Verdict::Duplicate => "duplicate",
        Verdict::Redelivery => "redelivery",
    }
}

/// Where a routing decision sends the interaction.
pub fn target(r: &RoutingDecision) -> String {
    let parts: Vec<String> = r
        .skills
        .iter()
        .map(|s| format!("skill:{s}"))
        .chain(r.queues.iter().map(|q| format!("queue:{q}")))
        .chain(r.skill_id.iter().map(|id| format!("skill_id:{id}")))
        .collect();
    if parts.is_empty() {
        "(no target)".into()
    } else {
        parts.join(", ")
    }
}

/// Why a routing decision chose its target.
pub fn reason(r: &RoutingDecision) -> String {
    let status = r.status.as_deref();
    match r.matched {
        RouteMatch::Status => format!("status {}", status.unwrap_or("?")),
        RouteMatch::Unknown => format!("unknown ({})", status.unwrap_or("no status")),
        RouteMatch::Redelivery => "redelivery (routed already)".to_string(),
        RouteMatch::Fallback => {
            let why = match r.reason {
                Some(FallbackReason::Timeout) => "timeout",
                Some(FallbackReason::UpstreamError) => "upstream error",
                Some(FallbackReason::Unreachable) => "unreachable",
                Some(FallbackReason::BreakerOpen) => "breaker open",
                Some(FallbackReason::RateLimited) => "rate limited",
                Some(FallbackReason::BadResponse) => "bad response",
                None => "no reason",
            };
            format!("fallback ({why})")
        }
    }
}
