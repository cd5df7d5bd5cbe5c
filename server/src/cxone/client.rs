//! Sends prepared calls to CXone: bearer token, bounded retries, 401/429/404/403 handling, and
//! a last check that no request leaves the configured API path. Each attempt waits for its
//! contact's and the tenant's pacing first, holding nothing meanwhile; only the request itself
//! takes one of the in-flight slots.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::{StatusCode, Url};

use super::auth::{ClientAuth, Token, TokenSource};
use super::cooldown::CooldownPolicy;
use super::discovery::{ApiBase, Discovery};
use super::health::OutboundHealth;
use super::pacing::{contact_key, Pacing, PacingConfig, SharedLimiter};
use super::profile::{AuthFlow, PreparedCall};
use super::retry::{parse_retry_after, RetryPolicy};
pub use super::send_error::SendError;
use super::CxoneSettings;
use crate::metrics::Metrics;

/// Requests in flight at once unless [`CxoneClient::with_max_in_flight`] says otherwise.
pub const DEFAULT_IN_FLIGHT: usize = 32;

/// A call CXone accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// The final HTTP status.
    pub status: u16,
    /// Attempts made (a 401 refresh-and-retry not counted).
    pub attempts: u32,
}

enum Step {
    Done(u16),
    Unauthorized(Arc<Token>),
    Retry {
        label: &'static str,
        why: String,
        delay: Duration,
    },
    Fatal(SendError),
}

/// The CXone HTTP client.
pub struct CxoneClient {
    http: reqwest::Client,
    settings: Arc<CxoneSettings>,
    auth: TokenSource,
    api: ApiBase,
    /// The API base last used, parsed, so a call parses only its own path.
    parsed_base: std::sync::Mutex<Option<(String, Url)>>,
    policy: RetryPolicy,
    /// Per-contact buckets, 429 pauses and the tenant-wide rate, applied to every API attempt.
    pacing: Pacing,
    /// Requests in flight at once (taken only around the request, never while pacing waits).
    in_flight: tokio::sync::Semaphore,
    /// `dfo`: a 404 means the call addressed a wrong id, a failure to show, not a gone contact.
    not_found_fails: bool,
    metrics: Metrics,
    health: Arc<OutboundHealth>,
}

impl std::fmt::Debug for CxoneClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CxoneClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl CxoneClient {
    /// A client for one profile's auth flow, its attempts (retries included) paced by `pacing`;
    /// a 429 holds back only the contact it answered. At most [`DEFAULT_IN_FLIGHT`] requests in
    /// flight (see [`CxoneClient::with_max_in_flight`]).
    pub fn new(
        settings: CxoneSettings,
        flow: AuthFlow,
        policy: RetryPolicy,
        pacing: &PacingConfig,
        metrics: Metrics,
        health: Arc<OutboundHealth>,
    ) -> Result<Self, reqwest::Error> {
        let mut http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("cxrules/", env!("CARGO_PKG_VERSION")));
        if settings.http2_prior_knowledge {
            http = http.http2_prior_knowledge();
        }
        let http = http.build()?;
        let api = match (&flow, &settings.api_url) {
            (AuthFlow::ClientCredentials { .. }, _) => ApiBase::Fixed(settings.base_url.clone()),
            (AuthFlow::Password, Some(url)) => ApiBase::Fixed(url.clone()),
            (AuthFlow::Password, None) => {
                ApiBase::Discover(Discovery::new(CooldownPolicy::default()))
            }
        };
        let not_found_fails = matches!(flow, AuthFlow::Password);
        let settings = Arc::new(settings);
        let auth = TokenSource::new(http.clone(), settings.clone(), flow, metrics.clone());
        Ok(Self {
            http,
            settings,
            auth,
            api,
            parsed_base: std::sync::Mutex::new(None),
            policy,
            pacing: Pacing::new(pacing, metrics.pacing().clone()),
            in_flight: tokio::sync::Semaphore::new(DEFAULT_IN_FLIGHT),
            not_found_fails,
            metrics,
            health,
        })
    }

    /// How the `dfo` token request authenticates the application (default: HTTP Basic).
    pub fn with_client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.auth.client_auth = client_auth;
        self
    }

    /// `dfo`: the host prefix of the API base built from discovery's `area` and `domain`
    /// (`https://{prefix}{area}.{domain}`; default `api-de-`).
    pub fn with_api_host_prefix(mut self, prefix: &str) -> Self {
        if let ApiBase::Discover(discovery) = &mut self.api {
            discovery.host_prefix = prefix.to_owned();
        }
        self
    }

    /// At most `n` (at least 1) requests in flight at once.
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.in_flight = tokio::sync::Semaphore::new(n.max(1));
        self
    }

    /// Paces through `shared` (Redis), so that every replica together stays under the limits.
    pub fn with_shared_limiter(mut self, shared: SharedLimiter) -> Self {
        self.pacing = self.pacing.with_shared(shared);
        self
    }

    /// The tenant-wide rate in force, calls per second (`None`: no tenant limit).
    pub fn rate(&self) -> Option<f64> {
        self.pacing.rate()
    }

    /// The token source (shared by every call).
    pub fn tokens(&self) -> &TokenSource {
        &self.auth
    }

    /// Sends one call, retrying as the policy allows. Failures are also recorded in the health.
    pub async fn send(&self, call: &PreparedCall) -> Result<Delivered, SendError> {
        let result = self.send_inner(call).await;
        if result.is_ok() {
            self.health.succeeded(call.endpoint.as_str());
        }
        if let Err(e) = &result {
            let ep = call.endpoint.as_str();
            match e {
                SendError::Gone => self.health.gone(),
                SendError::NotFound { .. } => self.health.not_found(ep, e.to_string()),
                SendError::Forbidden => self
                    .health
                    .forbidden(ep, format!("{} {}: {e}", call.method, call.path)),
                other => self.health.failed(ep, None, other.to_string()),
            }
        }
        result
    }

    async fn send_inner(&self, call: &PreparedCall) -> Result<Delivered, SendError> {
        let ep = call.endpoint.as_str();
        let mut attempts = 0u32;
        let mut refreshed = false;
        loop {
            attempts += 1;
            let (label, why, delay) = match self.attempt(call, attempts).await {
                Step::Done(status) => return Ok(Delivered { status, attempts }),
                Step::Unauthorized(token) if !refreshed => {
                    refreshed = true;
                    attempts -= 1;
                    self.auth.invalidate(&token).await;
                    self.metrics.retry(ep, "unauthorized");
                    continue;
                }
                // A 401 again with a fresh token: most likely the credentials, but a platform
                // that refuses a valid token now and then must not lose the update, so it is
                // one more attempt (refreshing again), bounded like any retry.
                Step::Unauthorized(token) => {
                    self.auth.invalidate(&token).await;
                    (
                        "unauthorized",
                        SendError::Unauthorized.to_string(),
                        self.policy.backoff(attempts),
                    )
                }
                Step::Fatal(e) => return Err(e),
                Step::Retry { label, why, delay } => (label, why, delay),
            };
            if attempts >= self.policy.max_attempts {
                return Err(SendError::Exhausted {
                    attempts,
                    last: why,
                });
            }
            self.metrics.retry(ep, label);
            tracing::debug!(endpoint = ep, attempt = attempts, delay_ms = delay.as_millis() as u64, %why, "retrying cxone call");
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(&self, call: &PreparedCall, attempt: u32) -> Step {
        let backoff = || self.policy.backoff(attempt);
        let token = match self.auth.token().await {
            Ok(t) => t,
            Err(e) if e.is_transient() => {
                // No new token request goes before the failed one's back-off ends.
                let cooling = self.auth.retry_in().unwrap_or_default();
                return Step::Retry {
                    label: "token",
                    why: e.to_string(),
                    delay: backoff().max(cooling),
                };
            }
            Err(e) => return Step::Fatal(e.into()),
        };
        let url = match self.url(call, &token).await {
            Ok(url) => url,
            Err(SendError::Exhausted { last, .. }) => {
                let cooling = self.api.retry_in().unwrap_or_default();
                return Step::Retry {
                    label: "discovery",
                    why: last,
                    delay: backoff().max(cooling),
                };
            }
            Err(e) => return Step::Fatal(e),
        };
        let contact = contact_key(call);
        self.pacing.ready(contact).await;
        let Ok(_slot) = self.in_flight.acquire().await else {
            return Step::Fatal(SendError::UnsafePath("the client is closed".into()));
        };
        let sent = self
            .http
            .request(call.method.clone(), url)
            .bearer_auth(token.access.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(call.body.clone())
            .send()
            .await;
        let ep = call.endpoint.as_str();
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                self.metrics.outbound(ep, "transport");
                let why = e.without_url().to_string();
                return Step::Retry {
                    label: "transport",
                    why,
                    delay: backoff(),
                };
            }
        };
        let status = response.status();
        self.metrics.outbound(ep, status.as_str());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        drop(_slot);
        self.classify(call, status, retry_after, token, attempt)
    }

    fn classify(
        &self,
        call: &PreparedCall,
        status: StatusCode,
        retry_after: Option<Duration>,
        token: Arc<Token>,
        attempt: u32,
    ) -> Step {
        let why = format!("cxone answered {}", status.as_u16());
        match status.as_u16() {
            200..=299 => {
                self.pacing.succeeded();
                Step::Done(status.as_u16())
            }
            401 => Step::Unauthorized(token),
            429 => {
                let delay = self.policy.after_429(retry_after, attempt);
                // This contact is over its limit: its calls wait, no other contact's (the
                // tenant-wide rate goes down when 429s spread over many contacts).
                self.pacing.rate_limited(contact_key(call), delay);
                Step::Retry {
                    label: "rate_limited",
                    why,
                    delay,
                }
            }
            404 if self.not_found_fails => Step::Fatal(SendError::NotFound {
                path: call.path.clone(),
            }),
            404 => Step::Fatal(SendError::Gone),
            403 => Step::Fatal(SendError::Forbidden),
            408 | 500..=599 => Step::Retry {
                label: "server_error",
                why,
                delay: self.policy.backoff(attempt),
            },
            other => Step::Fatal(SendError::Rejected(other)),
        }
    }

    /// `GET` of a fixed API path (no id in it), as JSON: one attempt, plus one with a fresh token
    /// after a 401. For reads at start-up, outside the pacing of updates.
    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value, SendError> {
        let mut refreshed = false;
        loop {
            let token = self.auth.token().await?;
            let base = self.api.get(&self.http, &self.settings, &token).await?;
            let mut url = self
                .base_url(&base)
                .map_err(|e| SendError::UnsafePath(format!("{base}: {e}")))?;
            let full = format!("{}{path}", url.path().trim_end_matches('/'));
            url.set_path(&full);
            let response = self
                .http
                .get(url)
                .bearer_auth(token.access.expose())
                .send()
                .await
                .map_err(|e| SendError::Exhausted {
                    attempts: 1,
                    last: e.without_url().to_string(),
                })?;
            let status = response.status().as_u16();
            match status {
                200..=299 => {
                    return response.json().await.map_err(|e| SendError::Exhausted {
                        attempts: 1,
                        last: format!("{path}: not JSON: {}", e.without_url()),
                    })
                }
                401 if !refreshed => {
                    refreshed = true;
                    self.auth.invalidate(&token).await;
                }
                401 => return Err(SendError::Unauthorized),
                403 => return Err(SendError::Forbidden),
                408 | 429 | 500..=599 => {
                    return Err(SendError::Exhausted {
                        attempts: 1,
                        last: format!("cxone answered {status}"),
                    })
                }
                other => return Err(SendError::Rejected(other)),
            }
        }
    }

    async fn url(&self, call: &PreparedCall, token: &Token) -> Result<Url, SendError> {
        let base = self.api.get(&self.http, &self.settings, token).await?;
        let full = || format!("{}{}", base.trim_end_matches('/'), call.path);
        let mut url = self
            .base_url(&base)
            .map_err(|e| SendError::UnsafePath(format!("{}: {e}", full())))?;
        let path = format!("{}{}", url.path().trim_end_matches('/'), call.path);
        url.set_path(&path);
        // Parsing must not have changed where the request goes: no dot-segment resolution, no
        // query or fragment, the path ending exactly in the encoded call path.
        let intact = url.query().is_none()
            && url.fragment().is_none()
            && url.path().ends_with(&call.path)
            && call.path.starts_with(&call.prefix);
        if !intact {
            return Err(SendError::UnsafePath(format!(
                "{} does not stay under {}",
                full(),
                call.prefix
            )));
        }
        Ok(url)
    }

    /// The API base as a URL without query or fragment, parsed once per base.
    fn base_url(&self, base: &str) -> Result<Url, String> {
        let mut cached = self.parsed_base.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, url)) = cached.as_ref().filter(|(text, _)| text == base) {
            return Ok(url.clone());
        }
        let url = Url::parse(base).map_err(|e| e.to_string())?;
        if url.cannot_be_a_base() || url.query().is_some() || url.fragment().is_some() {
            return Err("the API base must be a plain http(s) URL".to_owned());
        }
        *cached = Some((base.to_owned(), url.clone()));
        Ok(url)
    }
}

#[cfg(test)]
mod tests;
