//! Access tokens: fetched on demand, cached until 60 s before expiry, refreshed by one caller
//! while the others wait (single flight), and never logged. A failed request (the token or
//! the OpenID discovery before it) is every waiting caller's answer, and stays the answer for
//! a short back-off, so an endpoint that is down gets one request per back-off.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::cooldown::{Cooldown, CooldownPolicy};
use super::profile::AuthFlow;
use super::CxoneSettings;
use crate::metrics::Metrics;
use crate::secret::Secret;

/// How long before expiry a token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A cached access token.
#[derive(Debug)]
pub struct Token {
    /// The bearer token.
    pub access: Secret,
    /// The OpenID id_token, when the issuer sent one (it names the tenant).
    pub id_token: Option<Secret>,
    refresh_at: Instant,
    /// When the token stops being valid: until then it serves while its refresh fails.
    expires_at: Instant,
    generation: u64,
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint refused the credentials.
    #[error("token endpoint answered {0}; check the client id/secret (and access key for dfo)")]
    Rejected(u16),
    /// The token endpoint failed or could not be reached; worth retrying.
    #[error("token endpoint unavailable: {0}")]
    Unavailable(String),
    /// The answer was not a token.
    #[error("token endpoint sent an unusable answer: {0}")]
    BadResponse(String),
}

impl AuthError {
    /// True when trying again later may help.
    pub fn is_transient(&self) -> bool {
        match self {
            AuthError::Unavailable(_) => true,
            AuthError::Rejected(status) => *status == 429 || *status >= 500,
            AuthError::BadResponse(_) => false,
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct OpenIdConfiguration {
    token_endpoint: String,
}

#[derive(Default)]
struct State {
    token: Option<Arc<Token>>,
    generation: u64,
    token_endpoint: Option<String>,
}

/// How the `dfo` password grant authenticates the registered application at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ClientAuth {
    /// The client id and secret in an HTTP Basic header (what most registrations use).
    #[default]
    #[value(name = "client_secret_basic")]
    ClientSecretBasic,
    /// The client id and secret as `client_id` / `client_secret` fields of the form body.
    #[value(name = "client_secret_post")]
    ClientSecretPost,
}

impl ClientAuth {
    /// The OAuth name of the method.
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::ClientSecretBasic => "client_secret_basic",
            ClientAuth::ClientSecretPost => "client_secret_post",
        }
    }
}

/// Hands out access tokens.
pub struct TokenSource {
    http: reqwest::Client,
    settings: Arc<CxoneSettings>,
    flow: AuthFlow,
    /// `dfo`: how the application authenticates (the seed flow always posts it in the form).
    pub(super) client_auth: ClientAuth,
    /// Held across a request, so one is in flight at a time (single flight).
    state: Mutex<State>,
    /// The last failed request, while its back-off lasts.
    failure: Cooldown<AuthError>,
    metrics: Metrics,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("flow", &self.flow)
            .finish_non_exhaustive()
    }
}

fn transport(e: reqwest::Error) -> AuthError {
    // Without the URL: a token endpoint URL carries no secret, but keep errors short and uniform.
    AuthError::Unavailable(e.without_url().to_string())
}

impl TokenSource {
    /// A token source for one flow.
    pub fn new(
        http: reqwest::Client,
        settings: Arc<CxoneSettings>,
        flow: AuthFlow,
        metrics: Metrics,
    ) -> Self {
        Self {
            http,
            settings,
            flow,
            client_auth: ClientAuth::default(),
            state: Mutex::new(State::default()),
            failure: Cooldown::new(CooldownPolicy::default()),
            metrics,
        }
    }

    /// A valid token. Holding the lock across the refresh makes concurrent callers wait for the
    /// one request in flight and then find the fresh token, or its failure: a failure is
    /// remembered for a back-off, so the callers that waited get it at once instead of each
    /// sending a request of its own. While a refresh fails, a token not yet expired still
    /// serves.
    pub async fn token(&self) -> Result<Arc<Token>, AuthError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(token) = &state.token {
            if now < token.refresh_at {
                return Ok(token.clone());
            }
        }
        let still_valid = state.token.clone().filter(|t| now < t.expires_at);
        if let Some(error) = self.failure.current() {
            return still_valid.ok_or(error);
        }
        let result = self.fetch(&mut state).await;
        self.metrics
            .token_refresh(if result.is_ok() { "ok" } else { "error" });
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                let delay = self.failure.failed(error.clone());
                let retry_in_ms = delay.as_millis() as u64;
                tracing::warn!(%error, retry_in_ms, "cxone token request failed");
                return still_valid.ok_or(error);
            }
        };
        self.failure.succeeded();
        state.generation += 1;
        let lifetime = Duration::from_secs(response.expires_in.unwrap_or(3600));
        // A short-lived token is refreshed half-way instead of 60 s early, so it is ever used.
        let usable = lifetime.saturating_sub(REFRESH_MARGIN).max(lifetime / 2);
        let now = Instant::now();
        let token = Arc::new(Token {
            access: Secret::new(response.access_token),
            id_token: response.id_token.map(Secret::new),
            refresh_at: now + usable,
            expires_at: now + lifetime,
            generation: state.generation,
        });
        state.token = Some(token.clone());
        tracing::info!(expires_in_s = lifetime.as_secs(), "cxone token refreshed");
        Ok(token)
    }

    /// How long a failed token request still stands: no new request goes before then.
    pub fn retry_in(&self) -> Option<Duration> {
        self.failure.remaining()
    }

    /// Drops `stale` after a 401, unless a newer token already replaced it (so a burst of 401s
    /// causes one refresh, not one each).
    pub async fn invalidate(&self, stale: &Token) {
        let mut state = self.state.lock().await;
        if state
            .token
            .as_ref()
            .is_some_and(|t| t.generation == stale.generation)
        {
            state.token = None;
        }
    }

    async fn fetch(&self, state: &mut State) -> Result<TokenResponse, AuthError> {
        let s = &self.settings;
        let request = match &self.flow {
            AuthFlow::ClientCredentials { token_path, scope } => {
                let url = format!("{}{}", s.base_url.trim_end_matches('/'), token_path);
                let mut form = vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", s.client_id.as_str()),
                    ("client_secret", s.client_secret.expose()),
                ];
                if let Some(scope) = scope {
                    form.push(("scope", scope.as_str()));
                }
                self.http.post(url).form(&form)
            }
            AuthFlow::Password => {
                let endpoint = self.token_endpoint(state).await?;
                let mut form = vec![
                    ("grant_type", "password"),
                    ("username", s.access_key_id.as_deref().unwrap_or_default()),
                    (
                        "password",
                        s.access_key_secret
                            .as_ref()
                            .map(Secret::expose)
                            .unwrap_or(""),
                    ),
                ];
                let secret = s.client_secret.expose();
                match self.client_auth {
                    ClientAuth::ClientSecretBasic => self
                        .http
                        .post(endpoint)
                        .basic_auth(&s.client_id, Some(secret))
                        .form(&form),
                    ClientAuth::ClientSecretPost => {
                        form.push(("client_id", s.client_id.as_str()));
                        form.push(("client_secret", secret));
                        self.http.post(endpoint).form(&form)
                    }
                }
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(AuthError::Rejected(status.as_u16()));
        }
        response
            .json()
            .await
            .map_err(|e| AuthError::BadResponse(e.without_url().to_string()))
    }

    async fn token_endpoint(&self, state: &mut State) -> Result<String, AuthError> {
        if let Some(endpoint) = &state.token_endpoint {
            return Ok(endpoint.clone());
        }
        let issuer = self.settings.issuer.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let response = self.http.get(url).send().await.map_err(transport)?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            return Err(AuthError::Unavailable(format!(
                "openid discovery answered {status}"
            )));
        }
        let config: OpenIdConfiguration = response.json().await.map_err(|e| {
            AuthError::BadResponse(format!("openid discovery: {}", e.without_url()))
        })?;
        state.token_endpoint = Some(config.token_endpoint.clone());
        Ok(config.token_endpoint)
    }
}

#[cfg(test)]
mod tests;
