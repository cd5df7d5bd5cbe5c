//! What outbound traffic has run into lately, for `/rules/status` and `/healthz`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

/// One recorded problem.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// `metadata`, `routing` or `token`.
    pub endpoint: String,
    /// HTTP status, when there was one.
    pub status: Option<u16>,
    /// What happened and what to do.
    pub message: String,
}

/// What the `dfo` start-up check of custom-field definitions found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomFieldCheck {
    /// Idents the profile writes.
    pub written: Vec<String>,
    /// Of those, the ones the tenant has not defined (empty: all defined).
    pub missing: Vec<String>,
    /// Why the definitions could not be read, when they could not.
    pub error: Option<String>,
}

/// Counters and the latest problems of outbound calls.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct HealthSnapshot {
    /// Calls answered 403 (a permission problem on the CXone side).
    pub forbidden: u64,
    /// Calls answered 404 (the interaction is gone).
    pub gone: u64,
    /// Calls given up after their retries, or failed for good (a `dfo` 404 included).
    pub failed: u64,
    /// `dfo` calls answered 404: the id they addressed is wrong.
    pub not_found: u64,
    /// The latest `dfo` 404, with the path called.
    pub last_not_found: Option<Problem>,
    /// `dfo`: the start-up check of custom-field definitions, once it has run.
    pub custom_fields: Option<CustomFieldCheck>,
    /// The latest 403.
    pub last_forbidden: Option<Problem>,
    /// The latest failure of any kind.
    pub last_error: Option<Problem>,
    /// Endpoints whose latest answer was a 403: the permission is still missing. A later
    /// success on the endpoint takes it off (the counters keep the history).
    pub forbidden_now: BTreeSet<String>,
}

/// Shared record of outbound problems.
#[derive(Debug, Default)]
pub struct OutboundHealth {
    inner: Mutex<HealthSnapshot>,
    /// Whether `forbidden_now` is non-empty, so a success takes the lock only when it matters.
    any_forbidden: AtomicBool,
}

fn problem(endpoint: &str, status: Option<u16>, message: String) -> Problem {
    let at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    Problem {
        at,
        endpoint: endpoint.into(),
        status,
        message,
    }
}

impl OutboundHealth {
    fn update(&self, f: impl FnOnce(&mut HealthSnapshot)) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard);
    }

    /// Records a 403.
    pub fn forbidden(&self, endpoint: &str, message: String) {
        let p = problem(endpoint, Some(403), message);
        self.update(|h| {
            h.forbidden += 1;
            h.forbidden_now.insert(endpoint.to_owned());
            h.last_forbidden = Some(p.clone());
            h.last_error = Some(p);
        });
        self.any_forbidden.store(true, Ordering::Release);
    }

    /// Records a call CXone accepted: a 403 earlier on this endpoint is over.
    pub fn succeeded(&self, endpoint: &str) {
        if !self.any_forbidden.load(Ordering::Acquire) {
            return;
        }
        self.update(|h| {
            h.forbidden_now.remove(endpoint);
            self.any_forbidden
                .store(!h.forbidden_now.is_empty(), Ordering::Release);
        });
    }

    /// Records a 404.
    pub fn gone(&self) {
        self.update(|h| h.gone += 1);
    }

    /// Records a `dfo` 404: a failure (the call addressed a wrong id), kept with its path.
    pub fn not_found(&self, endpoint: &str, message: String) {
        let p = problem(endpoint, Some(404), message);
        self.update(|h| {
            h.failed += 1;
            h.not_found += 1;
            h.last_not_found = Some(p.clone());
            h.last_error = Some(p);
        });
    }

    /// Records what the start-up check of custom fields found.
    pub fn custom_fields(&self, check: CustomFieldCheck) {
        self.update(|h| h.custom_fields = Some(check));
    }

    /// Records a call given up.
    pub fn failed(&self, endpoint: &str, status: Option<u16>, message: String) {
        let p = problem(endpoint, status, message);
        self.update(|h| {
            h.failed += 1;
            h.last_error = Some(p);
        });
    }

    /// A copy of the current record.
    pub fn snapshot(&self) -> HealthSnapshot {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
