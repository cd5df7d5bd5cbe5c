//! Evaluating one event on one snapshot: match the event rule, read its fields, dedup, route,
//! and the `Evaluation` that lets the host keep or undo what dedup recorded.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Waker};

use crate::clock::Clock;
use crate::decision::{Decision, DedupDecision, EvalError, Outcome};
use crate::dedup::config::Channel;
use crate::dedup::store::{CheckRequest, DedupStore, Fingerprint, RollbackToken};
use crate::document::{Document, Field};
use crate::routing::route::{routed_key, Route, RouteState};
use crate::routing::source::InventorySource;
use crate::snapshot::Snapshot;

/// The evaluation of one event: its decision, and what it recorded (the message for dedup, the
/// routed interaction for a route that recognises re-deliveries), to keep or undo.
///
/// Dropping an evaluation without [`commit`](Evaluation::commit) rolls the record back, as does
/// dropping the `evaluate` future after dedup recorded the message (say, a caller cancelled while
/// the inventory is looked up): a message is only remembered once its host said so.
#[must_use = "commit the evaluation once side effects are queued, or roll it back"]
pub struct Evaluation {
    /// What was decided.
    pub decision: Decision,
    pub(crate) pending: Option<PendingRecord>,
    /// What the route recorded, when it recognises re-deliveries.
    pub(crate) routed: Option<PendingRecord>,
}

/// What dedup recorded for one event, rolled back on drop unless kept.
pub(crate) struct PendingRecord {
    store: Arc<dyn DedupStore>,
    token: Option<RollbackToken>,
}

impl PendingRecord {
    pub(crate) fn new(store: Arc<dyn DedupStore>, token: RollbackToken) -> Self {
        Self {
            store,
            token: Some(token),
        }
    }

    /// Commits the record when the store needs it (a store that claims fingerprints for a lease,
    /// such as Redis, turns the claim into a record for the window; the memory store needs
    /// nothing): at once when the store answers at once, else on the runtime, so a caller never
    /// waits for it.
    fn keep(mut self) {
        let Some(token) = self.token.take() else {
            return;
        };
        if !self.store.commits() {
            return;
        }
        let mut commit = self.store.clone().commit(token);
        let mut cx = Context::from_waker(Waker::noop());
        match commit.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(Ok(())) => {}
            std::task::Poll::Ready(Err(e)) => tracing::warn!(error = %e, "dedup commit failed"),
            std::task::Poll::Pending => match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move {
                        if let Err(e) = commit.await {
                            tracing::warn!(error = %e, "dedup commit failed");
                        }
                    });
                }
                Err(_) => tracing::warn!("dedup commit dropped: no runtime to finish it on"),
            },
        }
    }

    async fn roll_back(mut self) {
        // Once issued, the rollback runs to its end even if this future is dropped: it is
        // handed to the runtime when the store has to wait, never issued twice.
        if let Some(rollback) = self.start_rollback() {
            if let Err(e) = rollback.await {
                tracing::warn!(error = %e, "dedup rollback task failed");
            }
        }
    }

    /// Issues the rollback, if still armed: done at once when the store does not have to wait
    /// (the memory store), else spawned on the runtime and its handle returned.
    fn start_rollback(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        let token = self.token.take()?;
        let store = self.store.clone();
        let mut rollback = Box::pin(async move {
            if let Err(e) = store.rollback(token).await {
                tracing::warn!(error = %e, "dedup rollback failed");
            }
        });
        let mut cx = Context::from_waker(Waker::noop());
        if rollback.as_mut().poll(&mut cx).is_ready() {
            return None;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => Some(runtime.spawn(rollback)),
            Err(_) => {
                tracing::warn!("dedup rollback dropped: no runtime to finish it on");
                None
            }
        }
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        // Not awaited: a rollback that has to wait finishes on the runtime by itself.
        drop(self.start_rollback());
    }
}

impl std::fmt::Debug for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluation")
            .field("decision", &self.decision)
            .field("pending", &self.pending.is_some())
            .field("routed", &self.routed.is_some())
            .finish()
    }
}

impl Evaluation {
    /// Keeps what dedup recorded (the side effects are safely queued) and returns the decision.
    pub fn commit(self) -> Decision {
        for pending in [self.pending, self.routed].into_iter().flatten() {
            pending.keep();
        }
        self.decision
    }

    /// Adds `append`'s entries to a Redis stream and keeps what dedup recorded, in one script
    /// run when the records are in Redis (the same server as `conn`): the entries (say, the
    /// event's updates in an outbox stream) and the dedup records are written together or not
    /// at all, so no crash can leave the message recorded without its updates, or the reverse.
    /// Records kept elsewhere (a memory store) are kept as [`Evaluation::commit`] does, after
    /// the entries are added; on a Redis Cluster the entries are added and then the records
    /// committed, in two steps (see `dedup::redis`). `timeout` bounds a call without records.
    ///
    /// On an error the outcome is unknown (a timeout may hide a run that succeeded): the
    /// evaluation comes back with its records still armed, and the caller rolls it back, which
    /// removes claims not committed and leaves committed records.
    ///
    /// ```no_run
    /// # async fn example(
    /// #     eval: cxrules_engine::evaluation::Evaluation,
    /// #     conn: redis::aio::ConnectionManager,
    /// # ) {
    /// use cxrules_engine::dedup::redis::StreamAppend;
    /// let append = StreamAppend {
    ///     stream: "cxrules:{outbox}:stream".into(),
    ///     field: "p".into(),
    ///     values: vec![br#"{"update":"..."}"#.to_vec()],
    /// };
    /// let timeout = std::time::Duration::from_millis(500);
    /// match eval.commit_appending(&conn, timeout, &append).await {
    ///     Ok(decision) => println!("answered 2xx: {:?}", decision.outcome),
    ///     Err((eval, e)) => {
    ///         eprintln!("answered 503: {e}");
    ///         eval.rollback().await;
    ///     }
    /// }
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    pub async fn commit_appending(
        mut self,
        conn: &redis::aio::ConnectionManager,
        timeout: std::time::Duration,
        append: &crate::dedup::redis::StreamAppend,
    ) -> Result<Decision, (Self, crate::dedup::store::StoreError)> {
        use crate::dedup::redis::{commit_appending, Appended};
        fn part_of(r: &Option<PendingRecord>) -> Option<crate::dedup::redis::CommitPart<'_>> {
            let r = r.as_ref()?;
            r.store.commit_part(r.token.as_ref()?)
        }
        let (pending, routed) = (part_of(&self.pending), part_of(&self.routed));
        let in_parts = (pending.is_some(), routed.is_some());
        let parts: Vec<_> = [pending, routed].into_iter().flatten().collect();
        let result = commit_appending(&parts, conn, timeout, append).await;
        drop(parts);
        match result {
            Ok(Appended::Together) => {
                // Committed in the script: disarm those records; keep the others.
                for (record, done) in [
                    (&mut self.pending, in_parts.0),
                    (&mut self.routed, in_parts.1),
                ] {
                    if done {
                        if let Some(r) = record.as_mut() {
                            r.token = None;
                        }
                    }
                }
                Ok(self.commit())
            }
            Ok(Appended::EntriesOnly) => Ok(self.commit()),
            Err(e) => Err((self, e)),
        }
    }

    /// Forgets what dedup recorded for this event, so the sender's retry is not a duplicate.
    pub async fn rollback(self) -> Decision {
        for pending in [self.pending, self.routed].into_iter().flatten() {
            pending.roll_back().await;
        }
        self.decision
    }
}

/// An event that matched a rule and passed every check, ready for dedup and routing.
struct Checked<'s, 'e> {
    decision: Decision,
    interaction: Cow<'e, str>,
    route: Option<(&'s Route, &'s Arc<RouteState>, String)>,
    /// The event id, read when the route recognises re-deliveries.
    route_event_id: Option<Cow<'e, str>>,
    dedup: Option<DedupInput<'s, 'e>>,
}

/// What the dedup store is asked about.
struct DedupInput<'s, 'e> {
    channel: &'s Channel,
    fingerprint: Fingerprint,
    event_id: Option<Cow<'e, str>>,
    order: Option<i64>,
}

/// Where an ignored event's type is looked for, to name it in the decision: the default
/// `type_at` pointers.
static TYPE_AT: std::sync::LazyLock<Vec<crate::pointer::Pointer>> =
    std::sync::LazyLock::new(|| {
        let defaults = crate::events::defaults("type").iter();
        defaults
            .filter_map(|p| crate::pointer::Pointer::parse(p))
            .collect()
    });

/// Matches the event to a rule and checks every field the decision needs, recording nothing and
/// asking nothing of the inventory: `Err` for a bad event, `Ok(Err(decision))` for an event no
/// rule handles (ignored).
fn check_event<'s, 'e, D: Document + ?Sized>(
    snap: &'s Snapshot,
    event: &'e D,
) -> Result<Result<Checked<'s, 'e>, Decision>, EvalError> {
    if !event.is_object() {
        return Err(EvalError::NotAnObject);
    }
    let rules = &snap.rules;
    let mut decision = Decision {
        outcome: Outcome::Ignored,
        event: None,
        event_type: None,
        interaction_id: None,
        contact_id: None,
        reason: None,
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
        decision.event_type = TYPE_AT.iter().find_map(|p| match event.get(p)? {
            Field::Str(t) => Some(t.to_string()),
            _ => None,
        });
        return Ok(Err(decision));
    };
    decision.event = Some(rule.name().to_string());
    decision.event_type = Some(event_type);
    // The ids first: an event of the rule's type without them is malformed, whatever else
    // it is.
    let view = rule.view(event);
    let interaction = view.required_id("interaction_id")?;
    decision.interaction_id = Some(interaction.to_string());
    if rule.contact_set {
        decision.contact_id = Some(view.required_id("contact_id")?.to_string());
    }
    if let Some(reason) = rule.unmet(event)? {
        // Of the rule's type but not for it (an agent's message, say): nothing to do.
        decision.reason = Some(reason);
        return Ok(Err(decision));
    }
    let channel = view.id("channel")?;
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
    let route_event_id = match route {
        Some((route, ..)) if route.recognises_redeliveries() => view.id("event_id")?,
        _ => None,
    };
    let dedup = match (rule.dedup, rules.dedup()) {
        (true, Some(dedup)) => {
            if view.text("content")?.is_none() {
                return Err(rule.missing("content"));
            }
            view.id("sender")?;
            let event_id = view.id("event_id")?;
            let order = view.order()?;
            let channel = dedup.channel(channel.as_deref());
            let fingerprint = channel.fingerprint(&view)?;
            Some(DedupInput {
                channel,
                fingerprint,
                event_id,
                order,
            })
        }
        _ => None,
    };
    Ok(Ok(Checked {
        decision,
        interaction,
        route,
        route_event_id,
        dedup,
    }))
}

/// Whether deciding `event` would record a message or route it (and so queue an update); `Err`
/// for an event that would be refused. Records nothing and asks nothing of the inventory.
pub(crate) fn precheck_on<D: Document + ?Sized>(
    snap: &Snapshot,
    event: &D,
) -> Result<bool, EvalError> {
    Ok(match check_event(snap, event)? {
        Ok(checked) => checked.dedup.is_some() || checked.route.is_some(),
        Err(_ignored) => false,
    })
}

/// Evaluates one event on one snapshot: dedup records the message (undone on drop unless
/// committed), then the route looks the SKU up. `Engine::evaluate` and the rule test runner
/// both come here.
pub(crate) async fn evaluate_on<D: Document + ?Sized>(
    snap: &Snapshot,
    inventory: &dyn InventorySource,
    clock: &Clock,
    event: &D,
) -> Result<Evaluation, EvalError> {
    let checked = match check_event(snap, event)? {
        Ok(checked) => checked,
        Err(decision) => {
            return Ok(Evaluation {
                decision,
                pending: None,
                routed: None,
            })
        }
    };
    let Checked {
        mut decision,
        interaction,
        route,
        route_event_id,
        dedup,
    } = checked;
    let mut pending = None;
    if let Some(input) = dedup {
        let ch = input.channel;
        let (_, store) = &snap.stores[ch.name()];
        let req = CheckRequest {
            interaction: &interaction,
            fingerprint: input.fingerprint,
            event_id: input.event_id.as_deref(),
            order: input.order,
            now: clock(),
        };
        let out = store.check(req).await?;
        if out.verdict.is_suppressed() {
            decision.outcome = Outcome::Suppressed;
        }
        pending = out.rollback.map(|t| PendingRecord::new(store.clone(), t));
        decision.dedup = Some(DedupDecision {
            channel: ch.name().to_string(),
            window_ms: ch.policy().window.as_millis() as u64,
            sliding: ch.policy().sliding,
            fingerprint: crate::dedup::config::to_hex(&input.fingerprint),
            verdict: out.verdict,
            order: input.order,
            highest_sequence: out.highest,
        });
    }
    let mut routed = None;
    if let (Some((route, state, sku)), Outcome::Processed) = (route, decision.outcome) {
        if let Some(store) = state.routed() {
            let req = CheckRequest {
                interaction: &interaction,
                fingerprint: routed_key(route_event_id.as_deref()),
                event_id: None,
                order: None,
                now: clock(),
            };
            let out = store.check(req).await?;
            if out.verdict.is_suppressed() {
                decision.outcome = Outcome::Suppressed;
                decision.routing = Some(route.redelivered(sku));
                return Ok(Evaluation {
                    decision,
                    pending,
                    routed: None,
                });
            }
            let store: Arc<dyn DedupStore> = store.clone();
            routed = out.rollback.map(|t| PendingRecord::new(store, t));
        }
        decision.routing = Some(route.evaluate(sku, state, inventory, clock).await);
    }
    Ok(Evaluation {
        decision,
        pending,
        routed,
    })
}
