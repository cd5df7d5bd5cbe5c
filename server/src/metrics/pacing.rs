//! The series of the CXone pacing: the tenant-wide rate in force, waits by reason, contacts
//! tracked, and the shared (Redis) limiter's errors and fallback.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WaitLabels {
    reason: String,
}

/// Pacing metrics, registered in the host's registry.
#[derive(Clone, Debug, Default)]
pub struct PacingMetrics {
    rate: Gauge<f64, AtomicU64>,
    waits: Family<WaitLabels, Counter>,
    contacts: Gauge,
    evicted: Counter,
    store_errors: Counter,
    store_fallback: Gauge,
}

impl PacingMetrics {
    /// Registers every series under `registry` (the host's, prefixed `cxrules`).
    pub(super) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "cxone_rate_limit",
            "Tenant-wide CXone calls per second in force (adapts between the minimum and the configured maximum)",
            m.rate.clone(),
        );
        registry.register(
            "cxone_pacing_waits",
            "Calls held back before going out, by reason (contact: its bucket is empty; paused: a 429 for the contact; tenant: the tenant-wide rate)",
            m.waits.clone(),
        );
        registry.register(
            "cxone_pacing_contacts",
            "Contacts whose bucket or 429 pause this replica keeps in memory",
            m.contacts.clone(),
        );
        registry.register(
            "cxone_pacing_evicted_busy",
            "Contacts with a non-full bucket forgotten to keep under --cxone-contact-max",
            m.evicted.clone(),
        );
        registry.register(
            "cxone_pacing_store_errors",
            "Failed calls to the shared (Redis) pacing limiter",
            m.store_errors.clone(),
        );
        registry.register(
            "cxone_pacing_store_fallback",
            "1 while calls are paced by this replica alone because the shared limiter fails",
            m.store_fallback.clone(),
        );
        m
    }

    /// Sets the tenant-wide rate in force.
    pub fn set_rate(&self, rate: f64) {
        self.rate.set(rate);
    }

    /// Counts a call held back for `reason` (`contact`, `paused`, `tenant`).
    pub fn wait(&self, reason: &str) {
        let labels = WaitLabels {
            reason: reason.into(),
        };
        self.waits.get_or_create(&labels).inc();
    }

    /// Sets the number of contacts tracked and brings the eviction count up to `evicted`.
    pub fn contacts(&self, tracked: usize, evicted: u64) {
        self.contacts
            .set(i64::try_from(tracked).unwrap_or(i64::MAX));
        self.evicted
            .inc_by(evicted.saturating_sub(self.evicted.get()));
    }

    /// Counts a failed shared-limiter call and sets the fallback gauge.
    pub fn store_error(&self) {
        self.store_errors.inc();
        self.store_fallback.set(1);
    }

    /// The shared limiter answered: the fallback is over.
    pub fn store_ok(&self) {
        self.store_fallback.set(0);
    }
}
