//! What a registration asks CXone to send with each delivery, so deliveries pass the inbound
//! authentication `serve` is configured with; and what a registration cannot ask for.

use serde_json::{json, Value};

use crate::config::WebhookAuthMode;
use crate::secret::Secret;
use crate::tools::Hinted;

/// The inbound authentication flags, read from the same variables as `serve`'s.
#[derive(Debug, Clone, clap::Args)]
pub struct InboundArgs {
    /// The inbound check `serve` runs (none, hmac, standard, bearer): the registration asks
    /// CXone for what passes it, where a registration can.
    #[arg(long, env = "CXRULES_WEBHOOK_AUTH", value_enum, default_value_t = WebhookAuthMode::None)]
    pub webhook_auth: WebhookAuthMode,
    /// The inbound secret (bearer: the token CXone is asked to send).
    #[arg(long, env = "CXRULES_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,
    /// hmac: the header `serve` reads the signature from.
    #[arg(
        long,
        env = "CXRULES_SIGNATURE_HEADER",
        default_value = "X-Webhook-Signature"
    )]
    pub webhook_signature_header: String,
}

/// The headers a registration asks for, as sent and as shown (secrets replaced by their
/// variable's name), a line describing them, and a warning when the mode needs more than a
/// registration can ask for.
#[derive(Debug)]
pub(super) struct Inbound {
    pub headers: Value,
    pub shown_headers: Value,
    pub summary: String,
    pub warning: Option<String>,
}

impl InboundArgs {
    /// What to register for the configured mode.
    pub(super) fn inbound(&self) -> anyhow::Result<Inbound> {
        let none = |summary: String, warning: Option<String>| Inbound {
            headers: json!({}),
            shown_headers: json!({}),
            summary,
            warning,
        };
        Ok(match self.webhook_auth {
            WebhookAuthMode::None => none(
                "inbound auth: none (--webhook-auth none); the registration asks for no header"
                    .into(),
                None,
            ),
            WebhookAuthMode::Bearer => {
                let secret = self
                    .webhook_secret
                    .as_ref()
                    .filter(|s| !s.expose().is_empty());
                let Some(secret) = secret else {
                    return Err(Hinted::usage(
                        "--webhook-auth bearer needs the secret CXone is to send",
                        "set CXRULES_WEBHOOK_SECRET (or --webhook-secret) as for `serve`",
                    ));
                };
                Inbound {
                    headers: json!({"Authorization": format!("Bearer {}", secret.expose())}),
                    shown_headers: json!({"Authorization": "Bearer <CXRULES_WEBHOOK_SECRET>"}),
                    summary: "inbound auth: bearer; the registration asks cxone to send \
                              `Authorization: Bearer` with CXRULES_WEBHOOK_SECRET"
                        .into(),
                    warning: None,
                }
            }
            WebhookAuthMode::Hmac => none(
                "inbound auth: hmac; the registration asks for no header".into(),
                Some(format!(
                    "the registration cannot ask cxone to sign deliveries: `hmac` needs the \
                     HMAC-SHA256 of each body in {}, and a registration sets fixed headers \
                     only; set up signing in cxone with the same secret, or add your tenant's \
                     signing field with --body-file",
                    self.webhook_signature_header
                )),
            ),
            WebhookAuthMode::Standard => none(
                "inbound auth: standard; the registration asks for no header".into(),
                Some(
                    "the registration cannot ask cxone to sign deliveries: `standard` needs \
                     webhook-id, webhook-timestamp and webhook-signature on each delivery, and \
                     a registration sets fixed headers only; set up Standard Webhooks signing \
                     in cxone with the same whsec_ secret, or add your tenant's signing field \
                     with --body-file"
                        .into(),
                ),
            ),
        })
    }
}
