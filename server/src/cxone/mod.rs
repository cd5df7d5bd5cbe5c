//! The CXone client: profiles of calls, tokens, retries, and the health of outbound traffic.

mod auth;
mod client;
mod cooldown;
mod discovery;
mod fields;
mod health;
mod pacing;
mod path;
mod profile;
mod retry;
mod send_error;
mod template;
mod update;

use std::time::Duration;

use crate::secret::Secret;

pub use auth::{AuthError, ClientAuth, Token, TokenSource};
pub use client::{CxoneClient, Delivered, SendError, DEFAULT_IN_FLIGHT};
pub use discovery::DFO_HOST_PREFIX;
pub use fields::{check_at_start, written_idents, DEFINITIONS_PATH};
pub use health::{CustomFieldCheck, HealthSnapshot, OutboundHealth, Problem};
pub use pacing::{contact_key, Gcra, Pacing, PacingConfig, Permit, SharedLimiter};
pub use path::{check_id, encode_segment, IdError, MAX_ID_LEN};
pub use profile::{
    AuthFlow, CallAddress, CallTemplate, PrepareError, PreparedCall, Profile, ProfileError,
    ProfileName, SEED_TOKEN_PATH,
};
pub use retry::{parse_retry_after, RetryPolicy};
pub use template::{BodyTemplate, MissingValue, PathTemplate, TemplateError, Vars};
pub use update::{DedupStatus, Endpoint, MetadataUpdate, RoutingUpdate, Update};

/// Where CXone is and who we are to it. Present only when credentials are configured.
#[derive(Debug, Clone)]
pub struct CxoneSettings {
    /// API base URL for the `seed` profile (also its token host).
    pub base_url: String,
    /// OpenID issuer for the `dfo` profile.
    pub issuer: String,
    /// API base URL for `dfo`, skipping API discovery when set.
    pub api_url: Option<String>,
    /// Tenant id for `dfo` API discovery, when the id_token does not carry one.
    pub tenant_id: Option<String>,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: Secret,
    /// `dfo`: the API user's access key id (the password grant's username).
    pub access_key_id: Option<String>,
    /// `dfo`: the access key secret (the password grant's password).
    pub access_key_secret: Option<Secret>,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Speak HTTP/2 from the first byte, without negotiating it, on every call of this client
    /// (token, discovery, API): for hosts known to speak it, also over plain http (h2c), such
    /// as a local proxy. Off: HTTP/2 when the server offers it during the TLS handshake
    /// (ALPN), HTTP/1.1 otherwise.
    pub http2_prior_knowledge: bool,
}

/// How the CXone client paces, authenticates and finds the DFO host; every field has a default
/// matching the real platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundConfig {
    /// Per-contact buckets and the adaptive tenant-wide rate.
    pub pacing: PacingConfig,
    /// `dfo`: how the token request authenticates the application.
    pub client_auth: ClientAuth,
    /// `dfo`: host prefix of the API base built from discovery's `area`/`domain`.
    pub api_host_prefix: String,
    /// `dfo`: compare the custom-field idents the profile writes with the tenant's definitions
    /// at start.
    pub check_custom_fields: bool,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            pacing: PacingConfig::default(),
            client_auth: ClientAuth::default(),
            api_host_prefix: DFO_HOST_PREFIX.to_owned(),
            check_custom_fields: true,
        }
    }
}
