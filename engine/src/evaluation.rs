//! Evaluating one event on one snapshot: match the event rule, read its fields, dedup, route,
//! and the `Evaluation` that lets the host keep or undo what dedup recorded.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::decision::{Decision, DedupDecision, EvalError, Outcome};
use crate::dedup::store::{CheckRequest, DedupStore, RollbackToken};
use crate::engine::{Clock, Snapshot};
use crate::routing::source::InventorySource;

/// The evaluation of one event: its decision, and a pending dedup record to keep or undo.
#[must_use = "commit the evaluation once side effects are queued, or roll it back"]
pub struct Evaluation {
    /// What was decided.
    pub decision: Decision,
    pub(crate) pending: Option<(Arc<dyn DedupStore>, RollbackToken)>,
}

impl std::fmt::Debug for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluation")
            .field("decision", &self.decision)
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

impl Evaluation {
    /// Keeps what dedup recorded (the side effects are safely queued) and returns the decision.
    pub fn commit(self) -> Decision {
        self.decision
    }

    /// Forgets what dedup recorded for this event, so the sender's retry is not a duplicate.
    pub async fn rollback(self) -> Decision {
        if let Some((store, token)) = self.pending {
            if let Err(e) = store.rollback(token).await {
                tracing::warn!(error = %e, "dedup rollback failed");
            }
        }
        self.decision
    }
}

pub(crate) async fn evaluate_on(
    snap: &Snapshot,
    inventory: &dyn InventorySource,
    clock: &Clock,
    event: &Json,
) -> Result<Evaluation, EvalError> {
    if !event.is_object() {
        return Err(EvalError::NotAnObject);
    }
    let rules = &snap.rules;
    let mut decision = Decision {
        outcome: Outcome::Ignored,
        event: None,
        event_type: None,
        interaction_id: None,
        channel: None,
        dedup: None,
        routing: None,
        rules_version: rules.version().to_string(),
        latency_us: 0,
    };
    let Some((rule, event_type)) = rules
        .events
        .iter()
        .find_map(|r| r.matches(event).map(|t| (r, t)))
    else {
        decision.event_type = ["/type", "/event_type", "/eventType"]
            .iter()
            .find_map(|p| event.pointer(p)?.as_str().map(str::to_string));
        return Ok(Evaluation {
            decision,
            pending: None,
        });
    };
    decision.event = Some(rule.name().to_string());
    decision.event_type = Some(event_type);
    let view = rule.view(event);
    let interaction = view.required_id("interaction_id")?;
    let channel = view.id("channel")?;
    decision.interaction_id = Some(interaction.to_string());
    decision.channel = channel.as_ref().map(|c| c.to_string());
    decision.outcome = Outcome::Processed;
    // The SKU is rendered before dedup records anything, so a bad event leaves no trace.
    let route = match &rule.route {
        Some(name) => Some((
            &rules.routes[name],
            &snap.routes[name],
            rules.routes[name].sku(&view)?,
        )),
        None => None,
    };
    let mut pending = None;
    if let (true, Some(dedup)) = (rule.dedup, rules.dedup()) {
        if view.text("content")?.is_none() {
            return Err(rule.missing("content"));
        }
        view.id("sender")?;
        let event_id = view.id("event_id")?;
        let order = view.order()?;
        let ch = dedup.channel(channel.as_deref());
        let fingerprint = ch.fingerprint(&view)?;
        let (_, store) = &snap.stores[ch.name()];
        let req = CheckRequest {
            interaction: &interaction,
            fingerprint,
            event_id: event_id.as_deref(),
            order,
            now: clock(),
        };
        let out = store.check(req).await?;
        if out.verdict.is_suppressed() {
            decision.outcome = Outcome::Suppressed;
        }
        pending = out.rollback.map(|t| (store.clone(), t));
        decision.dedup = Some(DedupDecision {
            channel: ch.name().to_string(),
            window_ms: ch.policy().window.as_millis() as u64,
            sliding: ch.policy().sliding,
            fingerprint: crate::dedup::config::to_hex(&fingerprint),
            verdict: out.verdict,
            order,
            highest_sequence: out.highest,
        });
    }
    if let (Some((route, state, sku)), Outcome::Processed) = (route, decision.outcome) {
        decision.routing = Some(route.evaluate(sku, state, inventory, clock).await);
    }
    Ok(Evaluation { decision, pending })
}
