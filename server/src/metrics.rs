//! Prometheus metrics of the host: one registry, typed label sets, text encoding for `/metrics`.

mod handles;
mod pacing;

use std::sync::Arc;

use handles::Handles;
pub use pacing::PacingMetrics;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of an evaluated event. Every value is bounded by the rules, never taken raw from a sender.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event_type: String,
    channel: String,
    decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SuppressedLabels {
    channel: String,
    verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoutingLabels {
    route: String,
    status: String,
    matched: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboundLabels {
    endpoint: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    endpoint: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CaptureDropLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 50 µs .. ~100 s covers an in-memory decision as well as a retried CXone call.
    Histogram::new(exponential_buckets(0.000_05, 2.5, 16))
}

struct Inner {
    registry: Registry,
    events: Family<EventLabels, Counter>,
    suppressed: Family<SuppressedLabels, Counter>,
    routing: Family<RoutingLabels, Counter>,
    rejected: Family<ReasonLabels, Counter>,
    outbound: Family<OutboundLabels, Counter>,
    retries: Family<ReasonLabels, Counter>,
    failed: Family<ReasonLabels, Counter>,
    skipped: Family<ReasonLabels, Counter>,
    coalesced: Counter,
    token_refreshes: Family<ResultLabels, Counter>,
    reloads: Family<ResultLabels, Counter>,
    push: Family<ResultLabels, Counter>,
    queue_depth: Gauge,
    store_errors: Family<KindLabels, Counter>,
    store_fallback: Gauge,
    store_latency: Histogram,
    decision_latency: Histogram,
    ack_latency: HistogramFamily<EndpointLabels>,
    shadow_events: Family<ResultLabels, Counter>,
    shadow_disagreements: Family<KindLabels, Counter>,
    capture: CaptureCounters,
    pacing: PacingMetrics,
    // The series every event or call records into, found without allocating their labels.
    event_handles: Handles<Counter>,
    suppressed_handles: Handles<Counter>,
    routing_handles: Handles<Counter>,
    outbound_handles: Handles<Counter>,
    ack_handles: Handles<Histogram>,
    outbox: OutboxMetrics,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

/// The durable outbox's series (`cxrules_outbox_*`).
#[derive(Clone)]
pub struct OutboxMetrics {
    depth: Gauge,
    oldest_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    dead_letters: Gauge,
    fsyncs: Counter,
    events_per_commit: Histogram,
    deliveries: Family<OutcomeLabels, Counter>,
    write_errors: Counter,
    unwritable: Gauge,
}

impl OutboxMetrics {
    fn register(r: &mut Registry) -> Self {
        Self {
            depth: reg(
                r,
                "outbox_depth",
                "Updates written to the outbox and not yet delivered or given up",
                Gauge::default(),
            ),
            oldest_age: reg(
                r,
                "outbox_oldest_pending_age_seconds",
                "Age of the oldest update pending in the outbox",
                Gauge::default(),
            ),
            dead_letters: reg(
                r,
                "outbox_dead_letters",
                "Updates given up and kept as dead letters",
                Gauge::default(),
            ),
            fsyncs: reg(
                r,
                "outbox_fsyncs",
                "fsync calls of the outbox file (each commit is two-phase: two)",
                Counter::default(),
            ),
            events_per_commit: reg(
                r,
                "outbox_events_per_commit",
                "Events whose records one outbox commit wrote",
                Histogram::new(exponential_buckets(1.0, 2.0, 13)),
            ),
            deliveries: reg(
                r,
                "outbox_deliveries",
                "Deliveries of outbox updates by outcome (delivered, dead_letter, skipped)",
                Family::default(),
            ),
            write_errors: reg(
                r,
                "outbox_write_errors",
                "Outbox commits that failed (disk full, file unwritable)",
                Counter::default(),
            ),
            unwritable: reg(
                r,
                "outbox_unwritable",
                "1 while the outbox cannot be written (events that queue updates get 503)",
                Gauge::default(),
            ),
        }
    }

    /// Sets the number of pending updates.
    pub fn set_depth(&self, n: u64) {
        self.depth.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Sets the age of the oldest pending update.
    pub fn set_oldest_age(&self, seconds: f64) {
        self.oldest_age.set(seconds);
    }

    /// Sets the number of dead letters.
    pub fn set_dead_letters(&self, n: u64) {
        self.dead_letters.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts one durable (two-phase) commit carrying `events` events' records.
    pub fn fsync(&self, events: usize) {
        self.fsyncs.inc_by(2);
        if events > 0 {
            self.events_per_commit.observe(events as f64);
        }
    }

    /// Counts one delivery by outcome.
    pub fn delivery(&self, outcome: &str) {
        let labels = OutcomeLabels {
            outcome: outcome.into(),
        };
        self.deliveries.get_or_create(&labels).inc();
    }

    /// Counts one failed commit.
    pub fn write_error(&self) {
        self.write_errors.inc();
    }

    /// Sets whether the outbox is unwritable now.
    pub fn set_unwritable(&self, on: bool) {
        self.unwritable.set(i64::from(on));
    }
}

fn inc(counter: &Counter) {
    counter.inc();
}

/// The host's metrics. Cheap to clone; every clone records into the same registry.
///
/// ```
/// let m = cxrules_server::Metrics::new();
/// m.event("message_created", "chat", "processed");
/// assert!(m.encode().contains("cxrules_events_total{event_type=\"message_created\""));
/// ```
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn reg<M: prometheus_client::registry::Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Metrics {
    /// A fresh registry with every family registered under the `cxrules_` prefix.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("cxrules");
        let ack: HistogramFamily<EndpointLabels> = Family::new_with_constructor(latency_histogram);
        let inner = Inner {
            events: reg(
                &mut r,
                "events",
                "Events evaluated, by type, channel and decision",
                Family::default(),
            ),
            suppressed: reg(
                &mut r,
                "duplicates_suppressed",
                "Messages suppressed as duplicates",
                Family::default(),
            ),
            routing: reg(
                &mut r,
                "routing_decisions",
                "Routing decisions by route, inventory status and fallback reason",
                Family::default(),
            ),
            rejected: reg(
                &mut r,
                "requests_rejected",
                "Inbound requests answered with an error, by route and reason",
                Family::default(),
            ),
            outbound: reg(
                &mut r,
                "outbound_calls",
                "Calls to CXone by endpoint and HTTP status",
                Family::default(),
            ),
            retries: reg(
                &mut r,
                "outbound_retries",
                "Retried calls to CXone by endpoint and reason",
                Family::default(),
            ),
            failed: reg(
                &mut r,
                "effects_failed",
                "Side effects given up, by endpoint and reason",
                Family::default(),
            ),
            skipped: reg(
                &mut r,
                "effects_skipped",
                "Side effects with no call to make (profile has none, value missing)",
                Family::default(),
            ),
            coalesced: reg(
                &mut r,
                "effects_coalesced",
                "Metadata updates merged into an earlier one",
                Counter::default(),
            ),
            token_refreshes: reg(
                &mut r,
                "token_refreshes",
                "Token requests by result",
                Family::default(),
            ),
            reloads: reg(
                &mut r,
                "rules_reloads",
                "Rule reloads by result",
                Family::default(),
            ),
            push: reg(
                &mut r,
                "metrics_push_batches",
                "Batches pushed to METRICS_ENDPOINT by result",
                Family::default(),
            ),
            queue_depth: reg(
                &mut r,
                "effects_queue_depth",
                "Side effects queued or in flight, plus room reserved for events being decided",
                Gauge::default(),
            ),
            store_errors: reg(
                &mut r,
                "dedup_store_errors",
                "Failed calls to the shared dedup store, by kind",
                Family::default(),
            ),
            store_fallback: reg(
                &mut r,
                "dedup_store_fallback",
                "1 while events are decided on this replica's memory because the shared dedup store fails",
                Gauge::default(),
            ),
            store_latency: reg(
                &mut r,
                "dedup_store_check_seconds",
                "Round trip of one check to the shared dedup store, failed ones included",
                latency_histogram(),
            ),
            decision_latency: reg(
                &mut r,
                "decision_latency_seconds",
                "Time to evaluate an event",
                latency_histogram(),
            ),
            ack_latency: reg(
                &mut r,
                "ack_latency_seconds",
                "From receiving an event to CXone acknowledging its update",
                ack,
            ),
            shadow_events: reg(
                &mut r,
                "shadow_events",
                "Live events the shadow rules were given, by result (agreed, disagreed, refused: \
                 the shadow rules refuse the event, dropped: the shadow's queue was full)",
                Family::default(),
            ),
            shadow_disagreements: reg(
                &mut r,
                "shadow_disagreements",
                "Events the shadow rules decide otherwise than the live rules, by kind",
                Family::default(),
            ),
            capture: CaptureCounters::register(&mut r),
            pacing: PacingMetrics::register(&mut r),
            outbox: OutboxMetrics::register(&mut r),
            registry: r,
            event_handles: Handles::default(),
            suppressed_handles: Handles::default(),
            routing_handles: Handles::default(),
            outbound_handles: Handles::default(),
            ack_handles: Handles::default(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Counts one evaluated event.
    pub fn event(&self, event_type: &str, channel: &str, decision: &str) {
        let create = || {
            let labels = EventLabels {
                event_type: event_type.into(),
                channel: channel.into(),
                decision: decision.into(),
            };
            self.inner.events.get_or_create(&labels).clone()
        };
        let values = [event_type, channel, decision];
        self.inner.event_handles.with(&values, create, inc);
    }

    /// Counts one suppressed duplicate.
    pub fn suppressed(&self, channel: &str, verdict: &str) {
        let create = || {
            let labels = SuppressedLabels {
                channel: channel.into(),
                verdict: verdict.into(),
            };
            self.inner.suppressed.get_or_create(&labels).clone()
        };
        let values = [channel, verdict];
        self.inner.suppressed_handles.with(&values, create, inc);
    }

    /// Counts one routing decision.
    pub fn routing(&self, route: &str, status: &str, matched: &str, reason: &str) {
        let create = || {
            let labels = RoutingLabels {
                route: route.into(),
                status: status.into(),
                matched: matched.into(),
                reason: reason.into(),
            };
            self.inner.routing.get_or_create(&labels).clone()
        };
        let values = [route, status, matched, reason];
        self.inner.routing_handles.with(&values, create, inc);
    }

    /// Counts one inbound request answered with an error.
    pub fn rejected(&self, route: &str, reason: &str) {
        let labels = ReasonLabels {
            endpoint: route.into(),
            reason: reason.into(),
        };
        self.inner.rejected.get_or_create(&labels).inc();
    }

    /// Counts one outbound call; `status` is the HTTP status or `transport`/`dry_run`.
    pub fn outbound(&self, endpoint: &str, status: &str) {
        let create = || {
            let labels = OutboundLabels {
                endpoint: endpoint.into(),
                status: status.into(),
            };
            self.inner.outbound.get_or_create(&labels).clone()
        };
        let values = [endpoint, status];
        self.inner.outbound_handles.with(&values, create, inc);
    }

    /// Counts one retry of an outbound call.
    pub fn retry(&self, endpoint: &str, reason: &str) {
        let labels = ReasonLabels {
            endpoint: endpoint.into(),
            reason: reason.into(),
        };
        self.inner.retries.get_or_create(&labels).inc();
    }

    /// Counts one side effect given up (`gone`, `forbidden`, `rejected`, `exhausted`, `shutdown`).
    pub fn effect_failed(&self, endpoint: &str, reason: &str) {
        let labels = ReasonLabels {
            endpoint: endpoint.into(),
            reason: reason.into(),
        };
        self.inner.failed.get_or_create(&labels).inc();
    }

    /// Counts one side effect that needed no call.
    pub fn effect_skipped(&self, endpoint: &str, reason: &str) {
        let labels = ReasonLabels {
            endpoint: endpoint.into(),
            reason: reason.into(),
        };
        self.inner.skipped.get_or_create(&labels).inc();
    }

    /// Counts one metadata update merged into another.
    pub fn coalesced(&self) {
        self.inner.coalesced.inc();
    }

    /// Counts one token request (`ok` or `error`).
    pub fn token_refresh(&self, result: &str) {
        let labels = ResultLabels {
            result: result.into(),
        };
        self.inner.token_refreshes.get_or_create(&labels).inc();
    }

    /// Counts one rules reload (`loaded`, `unchanged` or `failed`).
    pub fn reload(&self, result: &str) {
        self.reloads(result, 1);
    }

    /// Counts `n` reload attempts with one result (creating the series even for 0).
    pub fn reloads(&self, result: &str, n: u64) {
        let labels = ResultLabels {
            result: result.into(),
        };
        self.inner.reloads.get_or_create(&labels).inc_by(n);
    }

    /// Counts one batch pushed to `METRICS_ENDPOINT` (`ok`, `error`, `dropped`).
    pub fn push(&self, result: &str) {
        let labels = ResultLabels {
            result: result.into(),
        };
        self.inner.push.get_or_create(&labels).inc();
    }

    /// Sets the number of side effects queued or in flight.
    pub fn set_queue_depth(&self, depth: usize) {
        self.inner
            .queue_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Brings the shared dedup store's series up to its running totals of errors by kind, and
    /// sets the fallback gauge.
    pub fn dedup_store<'a>(&self, errors: impl Iterator<Item = (&'a str, u64)>, fallback: bool) {
        for (kind, total) in errors {
            let labels = KindLabels { kind: kind.into() };
            let counter = self.inner.store_errors.get_or_create(&labels);
            counter.inc_by(total.saturating_sub(counter.get()));
        }
        self.inner.store_fallback.set(i64::from(fallback));
    }

    /// The histogram of the shared dedup store's check round trips, for the store to record into.
    pub fn dedup_store_latency(&self) -> Histogram {
        self.inner.store_latency.clone()
    }

    /// The CXone pacing's series.
    pub fn pacing(&self) -> &PacingMetrics {
        &self.inner.pacing
    }

    /// Records the time one evaluation took.
    pub fn decision_latency(&self, seconds: f64) {
        self.inner.decision_latency.observe(seconds);
    }

    /// Records the time from receiving an event to CXone acknowledging its update.
    pub fn ack_latency(&self, endpoint: &str, seconds: f64) {
        let create = || {
            let labels = EndpointLabels {
                endpoint: endpoint.into(),
            };
            self.inner.ack_latency.get_or_create(&labels).clone()
        };
        let observe = |h: &Histogram| h.observe(seconds);
        self.inner.ack_handles.with(&[endpoint], create, observe);
    }

    /// Counts one live event given to the shadow rules, by `result`: `agreed`, `disagreed`,
    /// `refused` or `dropped`.
    pub fn shadow_event(&self, result: &str) {
        let labels = ResultLabels {
            result: result.into(),
        };
        self.inner.shadow_events.get_or_create(&labels).inc();
    }

    /// Counts one disagreement of the shadow rules with the live rules, by kind.
    pub fn shadow_disagreement(&self, kind: &str) {
        let labels = KindLabels { kind: kind.into() };
        self.inner.shadow_disagreements.get_or_create(&labels).inc();
    }

    /// The series event capture records into (`serve --capture`).
    pub fn capture(&self) -> CaptureCounters {
        self.inner.capture.clone()
    }

    /// The durable outbox's series.
    pub fn outbox(&self) -> &OutboxMetrics {
        &self.inner.outbox
    }

    /// The registry in the Prometheus/OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.inner.registry);
        out
    }
}

/// Event capture's series (`cxrules_capture_*`); cheap to clone, every clone counts into the
/// same registry.
#[derive(Clone, Debug)]
pub struct CaptureCounters {
    written: Counter,
    bytes: Counter,
    dropped: Family<CaptureDropLabels, Counter>,
    writing: Gauge,
    files_removed: Counter,
    redaction_unstable: Counter,
}

impl CaptureCounters {
    fn register(r: &mut Registry) -> Self {
        Self {
            written: reg(r, "capture_events_written", "Events written to capture files", Counter::default()),
            bytes: reg(r, "capture_bytes_written", "Bytes written to capture files", Counter::default()),
            dropped: reg(
                r,
                "capture_events_dropped",
                "Accepted events not captured, by reason (queue_full, write_error, too_large, not_an_object); the events themselves were decided",
                Family::default(),
            ),
            writing: reg(
                r,
                "capture_writing",
                "1 while capture writes, 0 while it pauses after a failed write (or capture is off)",
                Gauge::default(),
            ),
            files_removed: reg(
                r,
                "capture_files_removed",
                "Capture files removed by the count and age bounds",
                Counter::default(),
            ),
            redaction_unstable: reg(
                r,
                "capture_redaction_unstable",
                "Redacted events whose replacement text the channel's normalizer changes (a regex step matching letters)",
                Counter::default(),
            ),
        }
    }

    /// Counts `events` lines of `bytes` written.
    pub fn written(&self, events: u64, bytes: u64) {
        self.written.inc_by(events);
        self.bytes.inc_by(bytes);
    }

    /// Counts events not captured.
    pub fn dropped(&self, reason: &str, events: u64) {
        let labels = CaptureDropLabels {
            reason: reason.into(),
        };
        self.dropped.get_or_create(&labels).inc_by(events);
    }

    /// Sets whether capture is writing.
    pub fn set_writing(&self, writing: bool) {
        self.writing.set(i64::from(writing));
    }

    /// Counts files removed by the bounds.
    pub fn files_removed(&self, n: u64) {
        self.files_removed.inc_by(n);
    }

    /// Counts one redacted event whose replacement the normalizer does not keep as it is.
    pub fn redaction_unstable(&self) {
        self.redaction_unstable.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_appear_in_the_text() {
        let m = Metrics::new();
        m.outbound("metadata", "200");
        m.outbound("metadata", "200");
        m.ack_latency("routing", 0.02);
        m.set_queue_depth(3);
        let text = m.encode();
        assert!(
            text.contains("cxrules_outbound_calls_total{endpoint=\"metadata\",status=\"200\"} 2")
        );
        assert!(text.contains("cxrules_ack_latency_seconds_count{endpoint=\"routing\"} 1"));
        assert!(text.contains("cxrules_effects_queue_depth 3"));
        assert!(text.ends_with("# EOF\n"));
    }
}
