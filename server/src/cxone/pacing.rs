//! Client-side pacing of CXone API calls, applied to every attempt, retries included.
//!
//! Three limits, checked in this order before each attempt:
//! 1. a 429 for a contact holds back that contact's calls (for its `Retry-After`), no other's;
//! 2. each contact has its own bucket (CXone: a burst of 250, refilling 17 per minute); a call
//!    for a contact whose bucket is empty waits without taking anything from the tenant;
//! 3. the tenant-wide rate (`--cxone-rate-limit` at most), which adapts: lowered when 429s
//!    spread over many contacts and a good share of the calls, raised again as calls succeed
//!    (see [`adaptive`]). A call takes
//!    its turn (a reservation) and sleeps until it, so waiting calls do not race.
//!
//! Waiting is a sleep of the calling task: it holds no worker and no in-flight slot, so a contact
//! that waits never delays another. With `--dedup-store redis://…` the buckets of 2 and 3 live in
//! Redis, shared by every replica ([`shared`]); 429 pauses stay with the replica that got them.
//! When Redis fails, this replica paces alone (its local buckets) until Redis answers again,
//! counted in `cxrules_cxone_pacing_store_errors_total` and shown by the fallback gauge.

mod adaptive;
mod contacts;
mod gcra;
mod shared;
#[cfg(test)]
mod tests;

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use adaptive::Adaptive;
use contacts::Contacts;
pub use gcra::Gcra;
pub use shared::{Permit, SharedLimiter};

use super::profile::PreparedCall;
use crate::metrics::PacingMetrics;

/// How long a failing shared limiter is left alone before a call tries it again.
pub const SHARED_PROBE_EVERY: Duration = Duration::from_secs(1);

/// The limits of [`Pacing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacingConfig {
    /// Most tenant-wide calls per second (`None`: no tenant limit, nothing adapts).
    pub rate_max: Option<NonZeroU32>,
    /// The least the adaptive tenant rate goes down to, calls per second.
    pub rate_min: u32,
    /// Distinct contacts answered 429 within one second that lower the tenant rate.
    pub rate_spread: u32,
    /// Calls one contact may make at once (its bucket's size); 0: no per-contact limit.
    pub contact_burst: u32,
    /// Calls one contact's bucket refills per minute.
    pub contact_per_minute: u32,
    /// Most contacts kept in memory.
    pub contact_max: usize,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            rate_max: NonZeroU32::new(15),
            rate_min: 1,
            rate_spread: 3,
            contact_burst: 250,
            contact_per_minute: 17,
            contact_max: 100_000,
        }
    }
}

impl PacingConfig {
    /// The shape of one contact's bucket (an unlimited one when `contact_burst` is 0).
    pub fn contact_gcra(&self) -> Gcra {
        if self.contact_burst == 0 || self.contact_per_minute == 0 {
            return Gcra {
                interval: Duration::ZERO,
                tolerance: Duration::ZERO,
            };
        }
        Gcra::new(
            self.contact_burst,
            self.contact_per_minute,
            Duration::from_secs(60),
        )
    }
}

/// The contact a call addresses: the path segment that fills the template's id (just after its
/// fixed prefix), so the metadata and routing calls of one contact share its bucket. A call
/// outside its prefix (never built so) is keyed by its whole path.
pub fn contact_key(call: &PreparedCall) -> &str {
    call.path
        .strip_prefix(&call.prefix)
        .and_then(|rest| rest.split('/').next())
        .filter(|id| !id.is_empty())
        .unwrap_or(&call.path)
}

struct Local {
    contacts: Contacts,
    tenant_tat: Instant,
    adaptive: Option<Adaptive>,
}

/// When the next API attempt for a contact may go.
pub struct Pacing {
    contact: Gcra,
    local: Mutex<Local>,
    shared: Option<SharedLimiter>,
    /// While the shared limiter fails: when to try it again.
    shared_down_until: Mutex<Option<Instant>>,
    metrics: PacingMetrics,
}

impl std::fmt::Debug for Pacing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacing")
            .field("contact", &self.contact)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Pacing {
    /// Pacing by `config` on this replica alone, its series in `metrics`.
    pub fn new(config: &PacingConfig, metrics: PacingMetrics) -> Self {
        let now = Instant::now();
        let adaptive = config.rate_max.map(|max| {
            let max = f64::from(max.get());
            Adaptive::new(
                max,
                f64::from(config.rate_min),
                config.rate_spread as usize,
                now,
            )
        });
        if let Some(a) = &adaptive {
            metrics.set_rate(a.rate());
        }
        let contact = config.contact_gcra();
        Self {
            contact,
            local: Mutex::new(Local {
                contacts: Contacts::new(contact, config.contact_max),
                tenant_tat: now,
                adaptive,
            }),
            shared: None,
            shared_down_until: Mutex::new(None),
            metrics,
        }
    }

    /// The same, with the buckets shared through Redis by every replica.
    pub fn with_shared(mut self, shared: SharedLimiter) -> Self {
        self.shared = Some(shared);
        self
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tenant-wide rate in force, calls per second (`None`: no tenant limit).
    pub fn rate(&self) -> Option<f64> {
        self.local().adaptive.as_ref().map(Adaptive::rate)
    }

    fn tenant(&self) -> Option<Gcra> {
        self.rate().map(Gcra::per_second)
    }

    /// Waits until a call for `contact` may go: out any 429 pause of the contact, for a call in
    /// its bucket, then for its turn in the tenant-wide rate.
    pub async fn ready(&self, contact: &str) {
        loop {
            let now = Instant::now();
            let paused = self.local().contacts.paused(contact, now);
            if let Some(wait) = paused {
                self.metrics.wait("paused");
                tokio::time::sleep(wait).await;
                continue;
            }
            let permit = match self.shared_permit(contact).await {
                Some(permit) => permit,
                None => self.local_permit(contact, now),
            };
            match permit {
                Permit::Go(wait) => {
                    if !wait.is_zero() {
                        self.metrics.wait("tenant");
                        tokio::time::sleep(wait).await;
                    }
                    return;
                }
                Permit::ContactWait(wait) => {
                    self.metrics.wait("contact");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn local_permit(&self, contact: &str, now: Instant) -> Permit {
        let tenant = self.tenant();
        let mut local = self.local();
        if let Some(wait) = local.contacts.wait(contact, now) {
            return Permit::ContactWait(wait);
        }
        local.contacts.take(contact, now);
        self.metrics
            .contacts(local.contacts.len(), local.contacts.evicted_busy);
        let Some(tenant) = tenant else {
            return Permit::Go(Duration::ZERO);
        };
        let (tat, wait) = tenant.reserve(local.tenant_tat, now);
        local.tenant_tat = tat;
        Permit::Go(wait)
    }

    /// The shared limiter's answer, or `None` when there is none or it fails (then this
    /// replica's own buckets decide, and the limiter is tried again after a while).
    async fn shared_permit(&self, contact: &str) -> Option<Permit> {
        let shared = self.shared.as_ref()?;
        let down = self
            .shared_down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .filter(|until| *until > Instant::now());
        if down.is_some() {
            return None;
        }
        match shared.permit(contact, self.contact, self.tenant()).await {
            Ok(permit) => {
                let was_down = self
                    .shared_down_until
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                if was_down.is_some() {
                    tracing::warn!("cxone pacing: redis answers again; limits are shared again");
                    self.metrics.store_ok();
                }
                Some(permit)
            }
            Err(error) => {
                self.metrics.store_error();
                let mut down = self
                    .shared_down_until
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if down.is_none() {
                    tracing::error!(%error, "cxone pacing: redis fails; this replica paces its calls alone until it answers");
                }
                *down = Some(Instant::now() + SHARED_PROBE_EVERY);
                None
            }
        }
    }

    /// CXone answered 429 for `contact`: its calls wait `delay`, no other contact's; when 429s
    /// spread over many contacts and calls, the tenant-wide rate goes down.
    pub fn rate_limited(&self, contact: &str, delay: Duration) {
        let now = Instant::now();
        let mut local = self.local();
        local.contacts.pause(contact, now + delay, now);
        let changed = local
            .adaptive
            .as_mut()
            .and_then(|a| a.rate_limited(contact, now));
        self.metrics
            .contacts(local.contacts.len(), local.contacts.evicted_busy);
        drop(local);
        self.rate_changed(changed);
    }

    /// CXone accepted a call: the tenant-wide rate may go up again.
    pub fn succeeded(&self) {
        let now = Instant::now();
        let changed = self
            .local()
            .adaptive
            .as_mut()
            .and_then(|a| a.succeeded(now));
        self.rate_changed(changed);
    }

    fn rate_changed(&self, changed: Option<f64>) {
        if let Some(rate) = changed {
            tracing::info!(rate, "cxone pacing: tenant-wide rate changed");
            self.metrics.set_rate(rate);
        }
    }
}
