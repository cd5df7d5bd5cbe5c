//! `serve`'s flags; each also reads an environment variable (shown by `cxrules serve --help`).
//! Numeric and duration flags accept the ranges in `range.rs`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::range;
use crate::cxone::{ClientAuth, ProfileName, DFO_HOST_PREFIX};
use crate::signature::SignatureEncoding;
use crate::Secret;

/// Where CXone is and how to get a token with client credentials: the flags `serve` and
/// `register-webhook` share.
#[derive(Debug, Clone, clap::Args)]
pub struct CxoneAccessArgs {
    /// API base URL for client-credentials calls (`serve`: the `seed` profile's), also where
    /// the token endpoint is.
    #[arg(
        long,
        env = "CXONE_BASE_URL",
        default_value = "https://platform.nicecxone.com"
    )]
    pub cxone_base_url: String,
    /// Token endpoint path for client credentials (default `/oauth2/token`; the routing seed used
    /// `/oauth/token`).
    #[arg(long, env = "CXONE_TOKEN_PATH")]
    pub cxone_token_path: Option<String>,
    /// Scope sent with a client-credentials token request (the dedup seed sent
    /// `webhooks:write interactions:write oauth2:read`).
    #[arg(long, env = "CXONE_SCOPE")]
    pub cxone_scope: Option<String>,
    /// OAuth client id (the seeds' `CONE_CLIENT_ID` also works).
    #[arg(long, env = "CXONE_CLIENT_ID", hide_env_values = true)]
    pub cxone_client_id: Option<String>,
    /// OAuth client secret (the seeds' `CONE_CLIENT_SECRET` also works).
    #[arg(long, env = "CXONE_CLIENT_SECRET", hide_env_values = true)]
    pub cxone_client_secret: Option<Secret>,
    /// Timeout of one CXone request.
    #[arg(long, env = "CXONE_TIMEOUT", default_value = "10s", value_parser = range::cxone_timeout)]
    pub cxone_timeout: Duration,
}

impl CxoneAccessArgs {
    /// The client id and secret, from the flags or `CXONE_*`, else the seeds' `CONE_*`
    /// variables; blank values count as missing.
    pub fn client_credentials(&self) -> (Option<String>, Option<Secret>) {
        let pick = |flag: Option<String>, seed: &str| {
            [flag, std::env::var(seed).ok()]
                .into_iter()
                .flatten()
                .find(|v| !v.trim().is_empty())
        };
        let secret = self
            .cxone_client_secret
            .as_ref()
            .map(|s| s.expose().to_owned());
        (
            pick(self.cxone_client_id.clone(), "CONE_CLIENT_ID"),
            pick(secret, "CONE_CLIENT_SECRET").map(Secret::new),
        )
    }
}

/// Which inbound check requests must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WebhookAuthMode {
    /// No check.
    #[default]
    None,
    /// HMAC-SHA256 of the raw body in a header.
    Hmac,
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    Standard,
    /// `Authorization: Bearer <secret>`.
    Bearer,
}

impl WebhookAuthMode {
    /// The flag value.
    pub fn name(self) -> &'static str {
        match self {
            WebhookAuthMode::None => "none",
            WebhookAuthMode::Hmac => "hmac",
            WebhookAuthMode::Standard => "standard",
            WebhookAuthMode::Bearer => "bearer",
        }
    }
}

/// What `serve` does with an event when the shared dedup store fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnStoreError {
    /// Answer 503 with `Retry-After`, recording nothing: the sender retries.
    #[default]
    Reject,
    /// Decide on this replica's own in-memory windows until the store answers again.
    Local,
}

impl OnStoreError {
    /// The flag value.
    pub fn name(self) -> &'static str {
        match self {
            OnStoreError::Reject => "reject",
            OnStoreError::Local => "local",
        }
    }
}

/// Flags of `cxrules serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Directory of rule files (*.yaml, *.yml).
    #[arg(long, env = "CXRULES_RULES", default_value = "rules")]
    pub rules: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "CXRULES_BIND", default_value_t = super::DEFAULT_BIND)]
    pub bind: IpAddr,
    /// Port to listen on.
    #[arg(long, short, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Largest accepted request body (larger: 413).
    #[arg(long, env = "CXRULES_BODY_LIMIT", default_value = "1MiB", value_parser = range::body_limit)]
    pub body_limit: usize,
    /// Directory of candidate rule files, evaluated on every live event beside the live rules
    /// and never acted on; disagreements show on `/rules/status`, `/metrics` and the status page.
    #[arg(long, env = "CXRULES_SHADOW_RULES")]
    pub shadow_rules: Option<PathBuf>,
    /// Do not reload rules when their files change.
    #[arg(long, env = "CXRULES_NO_WATCH")]
    pub no_watch: bool,
    /// Make no call to CXone even when credentials are set.
    #[arg(long, env = "CXRULES_DRY_RUN")]
    pub dry_run: bool,
    /// Go live with `--webhook-auth none` on an address other than loopback (anyone who can
    /// reach the port can then move contacts); without it such a start is refused.
    #[arg(long, env = "CXRULES_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,

    /// Built-in call profile: `seed` (the seeds' API) or `dfo` (the real digital API).
    #[arg(long, env = "CXONE_PROFILE", value_enum, default_value_t = ProfileName::Seed)]
    pub cxone_profile: ProfileName,
    /// YAML file overriding the profile's calls (`extends`, `token_path`, `metadata`, `routing`).
    #[arg(long, env = "CXONE_PROFILE_FILE")]
    pub cxone_profile_file: Option<PathBuf>,
    /// Where CXone is and the client credentials.
    #[command(flatten)]
    pub cxone: CxoneAccessArgs,
    /// OpenID issuer of the `dfo` profile.
    #[arg(
        long,
        env = "CXONE_ISSUER",
        default_value = "https://cxone.niceincontact.com"
    )]
    pub cxone_issuer: String,
    /// `dfo`: the API user's access key id.
    #[arg(long, env = "CXONE_ACCESS_KEY_ID", hide_env_values = true)]
    pub cxone_access_key_id: Option<String>,
    /// `dfo`: the API user's access key secret.
    #[arg(long, env = "CXONE_ACCESS_KEY_SECRET", hide_env_values = true)]
    pub cxone_access_key_secret: Option<Secret>,
    /// `dfo`: API base URL; skips API discovery.
    #[arg(long, env = "CXONE_API_URL")]
    pub cxone_api_url: Option<String>,
    /// `dfo`: tenant id for API discovery when the id_token carries none.
    #[arg(long, env = "CXONE_TENANT_ID")]
    pub cxone_tenant_id: Option<String>,
    /// Speak HTTP/2 to CXone without negotiating it first, on every CXone call (token,
    /// discovery, API): for hosts known to speak it, also over plain http (h2c, e.g. a local
    /// proxy). Without it, HTTP/2 is used when an https host offers it, else HTTP/1.1.
    #[arg(long, env = "CXONE_HTTP2_PRIOR_KNOWLEDGE")]
    pub cxone_http2_prior_knowledge: bool,
    /// Most CXone calls per second (0: unlimited).
    #[arg(long, env = "CXONE_RATE_LIMIT", default_value_t = 15, value_parser = range::cxone_rate_limit)]
    pub cxone_rate_limit: u32,
    /// Least tenant-wide CXone calls per second the adaptive rate goes down to when 429s spread
    /// over many contacts.
    #[arg(long, env = "CXONE_RATE_MIN", default_value_t = 1, value_parser = range::cxone_rate_min)]
    pub cxone_rate_min: u32,
    /// Distinct contacts answered 429 within one second that lower the tenant-wide rate (fewer:
    /// only those contacts wait).
    #[arg(long, env = "CXONE_RATE_SPREAD", default_value_t = 3, value_parser = range::cxone_rate_spread)]
    pub cxone_rate_spread: u32,
    /// Calls one contact may make at once: the size of its bucket (0: no per-contact limit).
    #[arg(long, env = "CXONE_CONTACT_BURST", default_value_t = 250, value_parser = range::cxone_contact_burst)]
    pub cxone_contact_burst: u32,
    /// Calls one contact's bucket refills per minute.
    #[arg(long, env = "CXONE_CONTACT_PER_MINUTE", default_value_t = 17, value_parser = range::cxone_contact_per_minute)]
    pub cxone_contact_per_minute: u32,
    /// Most contacts whose bucket or 429 pause is kept in memory (idle ones are dropped first).
    #[arg(long, env = "CXONE_CONTACT_MAX", default_value_t = 100_000, value_parser = range::cxone_contact_max)]
    pub cxone_contact_max: usize,
    /// `dfo`: how the token request authenticates the application: `client_secret_basic` (HTTP
    /// Basic header) or `client_secret_post` (in the form body).
    #[arg(long, env = "CXONE_CLIENT_AUTH", value_enum, default_value_t = ClientAuth::ClientSecretBasic)]
    pub cxone_client_auth: ClientAuth,
    /// `dfo`: host prefix of the API base built from discovery's area and domain
    /// (`https://{prefix}{area}.{domain}`).
    #[arg(long, env = "CXONE_API_HOST_PREFIX", default_value = DFO_HOST_PREFIX, value_parser = range::api_host_prefix)]
    pub cxone_api_host_prefix: String,
    /// `dfo`: do not compare the custom-field idents the profile writes with the tenant's
    /// definitions at start.
    #[arg(long, env = "CXONE_NO_CUSTOM_FIELD_CHECK")]
    pub cxone_no_custom_field_check: bool,
    /// Most CXone calls in flight at once.
    #[arg(long, env = "CXONE_MAX_IN_FLIGHT", default_value_t = 32, value_parser = range::cxone_max_in_flight)]
    pub cxone_max_in_flight: usize,
    /// Attempts per call on 429, 5xx and transport errors.
    #[arg(long, env = "CXONE_MAX_ATTEMPTS", default_value_t = 5, value_parser = range::cxone_max_attempts)]
    pub cxone_max_attempts: u32,
    /// Backoff ceiling of the first retry (doubles, full jitter).
    #[arg(long, env = "CXONE_BACKOFF", default_value = "250ms", value_parser = range::cxone_backoff)]
    pub cxone_backoff: Duration,
    /// Largest backoff ceiling.
    #[arg(long, env = "CXONE_BACKOFF_MAX", default_value = "30s", value_parser = range::cxone_backoff_max)]
    pub cxone_backoff_max: Duration,
    /// Longest Retry-After honoured.
    #[arg(long, env = "CXONE_MAX_RETRY_AFTER", default_value = "2m", value_parser = range::cxone_max_retry_after)]
    pub cxone_max_retry_after: Duration,

    /// Token that `POST /rules/reload` requires (`Authorization: Bearer ...`); without one the
    /// endpoint is off.
    #[arg(long, env = "CXRULES_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// Token a Studio script's REST API action sends to `POST /studio/v1/decide`
    /// (`Authorization: Bearer ...`); without one the endpoint is off.
    #[arg(long, env = "CXRULES_STUDIO_TOKEN", hide_env_values = true)]
    pub studio_token: Option<Secret>,
    /// Report not ready on `/readyz` once this many rule reloads in a row have failed (off when
    /// unset: stale but valid rules keep serving).
    #[arg(long, env = "CXRULES_UNREADY_AFTER_FAILED_RELOADS", value_parser = range::unready_after_failed_reloads)]
    pub unready_after_failed_reloads: Option<u32>,

    /// Shared dedup store (`redis://host:6379/0`, `rediss://…`, `redis+unix:///path`), so
    /// replicas share windows; in memory per replica when unset.
    #[arg(long, env = "CXRULES_DEDUP_STORE", value_parser = range::dedup_store_url)]
    pub dedup_store: Option<String>,
    /// Prefix of every dedup key in the shared store (deployments sharing one Redis each need
    /// their own).
    #[arg(
        long,
        env = "CXRULES_DEDUP_KEY_PREFIX",
        default_value = "cxrules:dedup"
    )]
    pub dedup_key_prefix: String,
    /// The most one call to the shared dedup store may take, reconnecting included.
    #[arg(long, env = "CXRULES_DEDUP_STORE_TIMEOUT", default_value = "500ms", value_parser = range::dedup_store_timeout)]
    pub dedup_store_timeout: Duration,
    /// When the shared dedup store fails: `reject` (503 with Retry-After, nothing recorded) or
    /// `local` (decide on this replica's in-memory windows until it is back).
    #[arg(long, env = "CXRULES_ON_STORE_ERROR", value_enum, default_value_t = OnStoreError::Reject)]
    pub on_store_error: OnStoreError,

    /// Most side effects queued or in flight (beyond: 503).
    #[arg(long, env = "CXRULES_QUEUE_CAPACITY", default_value_t = 10_000, value_parser = range::effects_capacity)]
    pub effects_capacity: usize,
    /// Metadata updates of one interaction this close together are sent as one.
    #[arg(long, env = "CXRULES_COALESCE_WINDOW", default_value = "100ms", value_parser = range::coalesce_window)]
    pub coalesce_window: Duration,
    /// Longest wait for queued updates at shutdown.
    #[arg(long, env = "CXRULES_DRAIN_TIMEOUT", default_value = "10s", value_parser = range::drain_timeout)]
    pub drain_timeout: Duration,
    /// Directory of the durable outbox (created on start; one `serve` per directory).
    #[arg(long, env = "CXRULES_DATA_DIR", default_value = "data")]
    pub data_dir: std::path::PathBuf,
    /// Keep queued updates in memory only (a crash loses them); no data dir is used.
    #[arg(long, env = "CXRULES_NO_OUTBOX")]
    pub no_outbox: bool,
    /// How long the outbox writer gathers events into one commit (one fsync) after the first.
    #[arg(long, env = "CXRULES_OUTBOX_COMMIT_WINDOW", default_value = "2ms", value_parser = range::commit_window)]
    pub outbox_commit_window: Duration,
    /// With the Redis outbox (`--dedup-store` set): how long an update read by a replica may
    /// sit unconfirmed before another replica takes it over (a live replica renews its own).
    #[arg(long, env = "CXRULES_OUTBOX_LEASE", default_value = "30s", value_parser = range::outbox_lease)]
    pub outbox_lease: Duration,
    /// Retry-After sent with a 503 when the queue is full.
    #[arg(long, env = "CXRULES_RETRY_AFTER", default_value = "1s", value_parser = range::retry_after)]
    pub retry_after: Duration,

    /// Event capture for replay.
    #[command(flatten)]
    pub capture: super::CaptureArgs,

    /// Inbound check: none, hmac, standard (Standard Webhooks) or bearer.
    #[arg(long, env = "CXRULES_WEBHOOK_AUTH", value_enum, default_value_t = WebhookAuthMode::None)]
    pub webhook_auth: WebhookAuthMode,
    /// Shared secret (hmac), `whsec_...` key (standard) or token (bearer).
    #[arg(long, env = "CXRULES_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,
    /// The previous secret, also accepted while senders rotate.
    #[arg(long, env = "CXRULES_WEBHOOK_SECRET_PREVIOUS", hide_env_values = true)]
    pub webhook_secret_previous: Option<Secret>,
    /// Header carrying the HMAC signature.
    #[arg(
        long,
        env = "CXRULES_SIGNATURE_HEADER",
        default_value = "X-Webhook-Signature"
    )]
    pub webhook_signature_header: String,
    /// How the HMAC signature is encoded.
    #[arg(long, env = "CXRULES_SIGNATURE_ENCODING", value_enum, default_value_t = SignatureEncoding::Hex)]
    pub webhook_signature_encoding: SignatureEncoding,
    /// Standard Webhooks timestamp tolerance.
    #[arg(long, env = "CXRULES_WEBHOOK_TOLERANCE", default_value = "5m", value_parser = range::webhook_tolerance)]
    pub webhook_tolerance: Duration,

    /// Where to push the seeds' JSON dedup metrics (off when unset).
    #[arg(long, env = "METRICS_ENDPOINT")]
    pub metrics_endpoint: Option<String>,
    /// Records per push.
    #[arg(long, env = "METRICS_BATCH_SIZE", default_value_t = 100, value_parser = range::metrics_batch_size)]
    pub metrics_batch_size: usize,
    /// Longest a record waits before it is pushed.
    #[arg(long, env = "METRICS_INTERVAL", default_value = "5s", value_parser = range::metrics_interval)]
    pub metrics_interval: Duration,
    /// The `environment` tag of pushed metrics.
    #[arg(long, env = "NODE_ENV", default_value = "production")]
    pub environment: String,
}
