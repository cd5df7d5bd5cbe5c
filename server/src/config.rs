//! Host configuration: `serve`'s flags and environment variables (the seeds' names keep
//! working) resolved into a [`Config`]. No CXone credentials means dry-run.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use crate::cxone::{
    AuthFlow, CxoneSettings, OutboundConfig, PacingConfig, Profile, ProfileError, ProfileName,
    RetryPolicy,
};
use crate::effects::EffectsConfig;
use crate::outbox::OutboxConfig;
use crate::push::PushConfig;
use crate::secret::Secret;
use crate::signature::{decode_whsec, WebhookAuth};

mod args;
mod capture;
mod range;
#[cfg(test)]
mod tests;

pub use args::{CxoneAccessArgs, OnStoreError, ServeArgs, WebhookAuthMode};
pub use capture::{CaptureArgs, CaptureConfig};
pub use range::{parse_duration, parse_size};

/// Everything `serve` needs, resolved and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory of rule files.
    pub rules_dir: PathBuf,
    /// Directory of the shadow rules (evaluated beside the live rules, never acted on).
    pub shadow_rules: Option<PathBuf>,
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// Reload rules when their files change.
    pub watch: bool,
    /// CXone endpoint and credentials; `None` runs dry.
    pub cxone: Option<CxoneSettings>,
    /// Why the host runs dry, when it does.
    pub dry_run_reason: Option<String>,
    /// How updates become calls.
    pub profile: Profile,
    /// Retry bounds of outbound calls.
    pub retry: RetryPolicy,
    /// The side-effects queue.
    pub effects: EffectsConfig,
    /// Longest wait for the queue to drain at shutdown.
    pub drain_timeout: Duration,
    /// Inbound authentication.
    pub webhook_auth: WebhookAuth,
    /// The optional JSON push of the seeds.
    pub push: Option<PushConfig>,
    /// The Retry-After sent with a 503 when the queue is full.
    pub retry_after: Duration,
    /// The token `POST /rules/reload` requires; `None` turns the endpoint off.
    pub admin_token: Option<Secret>,
    /// The token `POST /studio/v1/decide` requires; `None` turns the endpoint off.
    pub studio_token: Option<Secret>,
    /// Not ready after this many failed reloads in a row (`None`: stay ready).
    pub unready_after_failed_reloads: Option<u32>,
    /// The shared dedup store; `None` keeps the windows in memory.
    pub dedup_store: Option<DedupStoreConfig>,
    /// Event capture for replay (`serve --capture`); `None`: off.
    pub capture: Option<CaptureConfig>,
    /// How the CXone client paces, authenticates and finds the DFO host.
    pub outbound: OutboundConfig,
    /// The durable outbox; `None` keeps queued updates in memory only. Not used in dry-run.
    pub outbox: Option<OutboxConfig>,
}

/// Where the dedup windows are shared, and what to do when that store fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupStoreConfig {
    /// The Redis URL.
    pub url: String,
    /// Prefix of every key (no `{` or `}`).
    pub key_prefix: String,
    /// The most one store call may take.
    pub timeout: Duration,
    /// What an event gets when the store fails.
    pub on_error: OnStoreError,
}

impl Default for Config {
    /// Dry-run with the seed profile, port 3000, the `rules` directory.
    fn default() -> Self {
        Self {
            rules_dir: PathBuf::from("rules"),
            shadow_rules: None,
            bind: SocketAddr::from(([0, 0, 0, 0], 3000)),
            body_limit: 1024 * 1024,
            watch: true,
            cxone: None,
            dry_run_reason: Some("no credentials configured".into()),
            profile: Profile::builtin(ProfileName::Seed),
            retry: RetryPolicy::default(),
            effects: EffectsConfig::default(),
            drain_timeout: Duration::from_secs(10),
            webhook_auth: WebhookAuth::None,
            push: None,
            retry_after: Duration::from_secs(1),
            admin_token: None,
            studio_token: None,
            unready_after_failed_reloads: None,
            dedup_store: None,
            capture: None,
            outbound: OutboundConfig::default(),
            outbox: None,
        }
    }
}

/// A configuration that cannot be used (exit code 2); [`ConfigError::hint`] says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The profile file is wrong.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Inbound authentication is on without a secret.
    #[error("--webhook-auth {0} needs a secret")]
    MissingWebhookSecret(&'static str),
    /// A Standard Webhooks secret is not `whsec_` and base64.
    #[error("the Standard Webhooks secret {0}")]
    BadWebhookSecret(&'static str),
    /// A value is out of range, or two settings contradict each other.
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// What to do.
        hint: String,
    },
}

impl ConfigError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            ConfigError::Profile(_) => {
                "fix the file given as --cxone-profile-file (CXONE_PROFILE_FILE)".into()
            }
            ConfigError::MissingWebhookSecret(_) => {
                "set CXRULES_WEBHOOK_SECRET (or --webhook-secret)".into()
            }
            ConfigError::BadWebhookSecret(_) => {
                "set CXRULES_WEBHOOK_SECRET to the secret as the sender shows it: `whsec_` \
                 followed by base64"
                    .into()
            }
            ConfigError::Invalid { hint, .. } => hint.clone(),
        }
    }

    fn invalid(message: impl Into<String>, hint: impl Into<String>) -> Self {
        ConfigError::Invalid {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl Config {
    /// Resolves `serve`'s arguments (already merged with the environment by clap).
    pub fn from_args(args: ServeArgs) -> Result<Self, ConfigError> {
        let mut profile = match &args.cxone_profile_file {
            Some(path) => Profile::from_file(path)?,
            None => Profile::builtin(args.cxone_profile),
        };
        if let AuthFlow::ClientCredentials { token_path, scope } = &mut profile.auth {
            if let Some(path) = args.cxone.cxone_token_path.clone() {
                if !path.starts_with('/') {
                    return Err(ConfigError::invalid(
                        format!("--cxone-token-path `{path}` must start with `/`"),
                        "write a path such as /oauth2/token",
                    ));
                }
                *token_path = path;
            }
            if args.cxone.cxone_scope.is_some() {
                scope.clone_from(&args.cxone.cxone_scope);
            }
        }
        if args.cxone_backoff_max < args.cxone_backoff {
            return Err(ConfigError::invalid(
                "--cxone-backoff-max is below --cxone-backoff",
                "give a ceiling at least as long as the first backoff",
            ));
        }
        let dedup_store = dedup_store(&args)?;
        let capture = CaptureConfig::from_args(&args.capture)
            .map_err(|(message, hint)| ConfigError::invalid(message, hint))?;
        let (cxone, dry_run_reason) = credentials(&args, profile.base);
        let webhook_auth = webhook_auth(&args)?;
        if cxone.is_some() && !webhook_auth.is_enabled() {
            open_to_anyone(args.bind, args.allow_unauthenticated)?;
        }
        Ok(Self {
            rules_dir: args.rules.clone(),
            // Empty (an unset ConfigMap key, say): no shadow.
            shadow_rules: args
                .shadow_rules
                .clone()
                .filter(|dir| !dir.as_os_str().is_empty()),
            bind: SocketAddr::new(args.bind, args.port),
            body_limit: args.body_limit,
            watch: !args.no_watch,
            cxone,
            dry_run_reason,
            profile,
            retry: RetryPolicy {
                max_attempts: args.cxone_max_attempts,
                base: args.cxone_backoff,
                max_backoff: args.cxone_backoff_max,
                max_retry_after: args.cxone_max_retry_after,
            },
            effects: EffectsConfig {
                capacity: args.effects_capacity,
                coalesce_window: args.coalesce_window,
                rate_limit: NonZeroU32::new(args.cxone_rate_limit),
                max_in_flight: args.cxone_max_in_flight,
            },
            drain_timeout: args.drain_timeout,
            webhook_auth,
            push: args
                .metrics_endpoint
                .clone()
                .filter(|e| !e.trim().is_empty())
                .map(|endpoint| PushConfig {
                    endpoint,
                    batch_size: args.metrics_batch_size,
                    interval: args.metrics_interval,
                    buffer: 10_000,
                    environment: args.environment.clone(),
                }),
            retry_after: args.retry_after,
            admin_token: args.admin_token.clone().filter(|t| !t.expose().is_empty()),
            studio_token: args.studio_token.clone().filter(|t| !t.expose().is_empty()),
            unready_after_failed_reloads: args.unready_after_failed_reloads,
            dedup_store,
            capture,
            outbound: outbound(&args),
            outbox: (!args.no_outbox).then(|| OutboxConfig {
                data_dir: args.data_dir.clone(),
                commit_window: args.outbox_commit_window,
                lease: args.outbox_lease,
            }),
        })
    }

    /// True when no call leaves the host.
    pub fn is_dry_run(&self) -> bool {
        self.cxone.is_none()
    }
}

fn outbound(args: &ServeArgs) -> OutboundConfig {
    OutboundConfig {
        pacing: PacingConfig {
            rate_max: NonZeroU32::new(args.cxone_rate_limit),
            rate_min: args.cxone_rate_min,
            rate_spread: args.cxone_rate_spread,
            contact_burst: args.cxone_contact_burst,
            contact_per_minute: args.cxone_contact_per_minute,
            contact_max: args.cxone_contact_max,
        },
        client_auth: args.cxone_client_auth,
        api_host_prefix: args.cxone_api_host_prefix.clone(),
        check_custom_fields: !args.cxone_no_custom_field_check,
    }
}

fn dedup_store(args: &ServeArgs) -> Result<Option<DedupStoreConfig>, ConfigError> {
    let Some(url) = args.dedup_store.clone().filter(|u| !u.trim().is_empty()) else {
        return Ok(None);
    };
    let prefix = args.dedup_key_prefix.trim();
    if prefix.is_empty() || prefix.contains(['{', '}']) {
        return Err(ConfigError::invalid(
            format!("--dedup-key-prefix `{prefix}` must be non-empty and without `{{` or `}}`"),
            "give a prefix such as cxrules:dedup:prod",
        ));
    }
    Ok(Some(DedupStoreConfig {
        url,
        key_prefix: prefix.to_owned(),
        timeout: args.dedup_store_timeout,
        on_error: args.on_store_error,
    }))
}

fn credentials(args: &ServeArgs, base: ProfileName) -> (Option<CxoneSettings>, Option<String>) {
    if args.dry_run {
        return (None, Some("--dry-run given".into()));
    }
    let (client_id, client_secret) = args.cxone.client_credentials();
    let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
        let reason =
            "no CXONE_CLIENT_ID / CXONE_CLIENT_SECRET (or CONE_CLIENT_ID / CONE_CLIENT_SECRET)";
        return (None, Some(reason.into()));
    };
    if base == ProfileName::Dfo
        && (args.cxone_access_key_id.is_none() || args.cxone_access_key_secret.is_none())
    {
        let reason = "the dfo profile needs CXONE_ACCESS_KEY_ID and CXONE_ACCESS_KEY_SECRET";
        return (None, Some(reason.into()));
    }
    let settings = CxoneSettings {
        base_url: args.cxone.cxone_base_url.clone(),
        issuer: args.cxone_issuer.clone(),
        api_url: args.cxone_api_url.clone(),
        tenant_id: args.cxone_tenant_id.clone(),
        client_id,
        client_secret,
        access_key_id: args.cxone_access_key_id.clone(),
        access_key_secret: args.cxone_access_key_secret.clone(),
        timeout: args.cxone.cxone_timeout,
        http2_prior_knowledge: args.cxone_http2_prior_knowledge,
    };
    (Some(settings), None)
}

/// A live host without inbound authentication takes events from whoever reaches its port, and
/// acts on them in CXone: allowed on loopback (a proxy in front checks the senders), elsewhere
/// only when asked for by name.
fn open_to_anyone(bind: IpAddr, allowed: bool) -> Result<(), ConfigError> {
    if allowed || bind.is_loopback() {
        return Ok(());
    }
    Err(ConfigError::invalid(
        format!(
            "refusing to go live on {bind} without inbound authentication: anyone who reaches \
             the port could move contacts"
        ),
        "set --webhook-auth (CXRULES_WEBHOOK_AUTH) and CXRULES_WEBHOOK_SECRET, bind to \
         127.0.0.1 behind a proxy that checks the senders, or pass --allow-unauthenticated \
         (CXRULES_ALLOW_UNAUTHENTICATED=true) if the network does",
    ))
}

/// A Standard Webhooks secret as senders show it: `whsec_` and base64.
fn whsec(secret: &Secret) -> Result<Vec<u8>, ConfigError> {
    if !secret.expose().starts_with("whsec_") {
        return Err(ConfigError::BadWebhookSecret(
            "does not start with `whsec_`",
        ));
    }
    decode_whsec(secret).map_err(|_| ConfigError::BadWebhookSecret("is not base64 after `whsec_`"))
}

fn webhook_auth(args: &ServeArgs) -> Result<WebhookAuth, ConfigError> {
    let secrets: Vec<Secret> = [&args.webhook_secret, &args.webhook_secret_previous]
        .into_iter()
        .flatten()
        .filter(|s| !s.expose().is_empty())
        .cloned()
        .collect();
    let mode = args.webhook_auth;
    if mode != WebhookAuthMode::None && secrets.is_empty() {
        return Err(ConfigError::MissingWebhookSecret(mode.name()));
    }
    Ok(match mode {
        WebhookAuthMode::None => WebhookAuth::None,
        WebhookAuthMode::Hmac => WebhookAuth::Hmac {
            header: args.webhook_signature_header.to_ascii_lowercase(),
            encoding: args.webhook_signature_encoding,
            secrets,
        },
        WebhookAuthMode::Standard => WebhookAuth::Standard {
            keys: secrets.iter().map(whsec).collect::<Result<_, _>>()?,
            tolerance: args.webhook_tolerance,
        },
        WebhookAuthMode::Bearer => WebhookAuth::Bearer { tokens: secrets },
    })
}

/// The bind address default: every interface, as a webhook receiver needs.
pub const DEFAULT_BIND: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
