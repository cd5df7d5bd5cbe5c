//! Where the CXone API is: a fixed base URL, or (`dfo`) the host discovered once from the
//! tenant named by the id_token. One discovery request at a time; its failure is every waiting
//! call's answer and is remembered for a short back-off.
//!
//! The digital (DFO) API is not at discovery's `api_endpoint` (`https://api-{area}.{domain}`)
//! but at `https://api-de-{area}.{domain}`, the host NICE's own agent SDK builds from the same
//! discovery document's `area` and `domain`; FedRAMP tenants get theirs the same way (e.g.
//! `api-de-na2.nicecxone-gov.com`). The prefix is configurable; `api_endpoint` is used only when
//! the document has no `area`/`domain`.

use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::auth::Token;
use super::cooldown::{Cooldown, CooldownPolicy};
use super::send_error::SendError;
use super::CxoneSettings;

/// The API base of a client.
pub(super) enum ApiBase {
    /// Configured, or the seed profile's base URL.
    Fixed(String),
    /// Discovered on first use.
    Discover(Discovery),
}

/// The discovered API base, once found, and the last failed discovery.
/// The host prefix of the DFO API in front of `{area}.{domain}`.
pub const DFO_HOST_PREFIX: &str = "api-de-";

pub(super) struct Discovery {
    /// Put in front of `{area}.{domain}`.
    pub(super) host_prefix: String,
    /// Held across the request, so one is in flight at a time.
    found: Mutex<Option<String>>,
    failure: Cooldown<SendError>,
}

impl Discovery {
    /// Nothing discovered yet; failures remembered for `policy`'s back-off.
    pub(super) fn new(policy: CooldownPolicy) -> Self {
        Self {
            host_prefix: DFO_HOST_PREFIX.to_owned(),
            found: Mutex::new(None),
            failure: Cooldown::new(policy),
        }
    }
}

#[derive(Deserialize)]
struct CxoneConfiguration {
    api_endpoint: Option<String>,
    area: Option<String>,
    domain: Option<String>,
}

/// A DNS label or a dotted domain: letters, digits, `-` and (for the domain) `.`, so that what
/// discovery says cannot change the URL's shape.
fn host_part(part: &str, dots: bool) -> bool {
    !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || (dots && c == '.'))
}

impl CxoneConfiguration {
    /// The DFO API base: `https://{prefix}{area}.{domain}`, else `api_endpoint`.
    fn dfo_base(&self, prefix: &str) -> Result<String, SendError> {
        match (&self.area, &self.domain) {
            (Some(area), Some(domain)) if host_part(area, false) && host_part(domain, true) => {
                Ok(format!("https://{prefix}{area}.{domain}"))
            }
            (Some(area), Some(domain)) => Err(SendError::Discovery(format!(
                "api discovery gave an unusable area `{area}` or domain `{domain}`; set CXONE_API_URL"
            ))),
            _ => self.api_endpoint.clone().ok_or_else(|| {
                SendError::Discovery(
                    "api discovery gave neither area/domain nor api_endpoint; set CXONE_API_URL"
                        .into(),
                )
            }),
        }
    }
}

/// Reads the `tenantId` claim of an id_token without checking its signature: it only picks
/// which public discovery document to read.
pub(super) fn tenant_from_id_token(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("tenantId")?.as_str().map(str::to_owned)
}

impl ApiBase {
    /// The API base; discovers it on first use.
    pub(super) async fn get(
        &self,
        http: &reqwest::Client,
        settings: &CxoneSettings,
        token: &Token,
    ) -> Result<String, SendError> {
        let discovery = match self {
            ApiBase::Fixed(base) => return Ok(base.clone()),
            ApiBase::Discover(discovery) => discovery,
        };
        let mut found = discovery.found.lock().await;
        if let Some(base) = found.as_ref() {
            return Ok(base.clone());
        }
        if let Some(error) = discovery.failure.current() {
            return Err(error);
        }
        let tenant = settings
            .tenant_id
            .clone()
            .or_else(|| {
                token
                    .id_token
                    .as_ref()
                    .and_then(|t| tenant_from_id_token(t.expose()))
            })
            .ok_or_else(|| {
                SendError::Discovery(
                    "the id_token names no tenant; set CXONE_TENANT_ID or CXONE_API_URL".into(),
                )
            })?;
        match discover(http, settings, &tenant, &discovery.host_prefix).await {
            Ok(base) => {
                tracing::info!(api = %base, "cxone api host discovered");
                discovery.failure.succeeded();
                *found = Some(base.clone());
                Ok(base)
            }
            Err(error) => {
                let delay = discovery.failure.failed(error.clone());
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "cxone api discovery failed");
                Err(error)
            }
        }
    }

    /// How long a failed discovery still stands: no new request goes before then.
    pub(super) fn retry_in(&self) -> Option<Duration> {
        match self {
            ApiBase::Fixed(_) => None,
            ApiBase::Discover(discovery) => discovery.failure.remaining(),
        }
    }
}

async fn discover(
    http: &reqwest::Client,
    settings: &CxoneSettings,
    tenant: &str,
    prefix: &str,
) -> Result<String, SendError> {
    let issuer = settings.issuer.trim_end_matches('/');
    let url = format!("{issuer}/.well-known/cxone-configuration");
    let retryable = |last: String| SendError::Exhausted { attempts: 0, last };
    let response = http
        .get(url)
        .query(&[("tenantId", tenant)])
        .send()
        .await
        .map_err(|e| retryable(format!("api discovery: {}", e.without_url())))?;
    if !response.status().is_success() {
        return Err(retryable(format!(
            "api discovery answered {}",
            response.status().as_u16()
        )));
    }
    let config: CxoneConfiguration = response
        .json()
        .await
        .map_err(|e| SendError::Discovery(format!("api discovery answer: {}", e.without_url())))?;
    config.dfo_base(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(area: Option<&str>, domain: Option<&str>) -> CxoneConfiguration {
        CxoneConfiguration {
            api_endpoint: Some("https://api-na1.niceincontact.com".into()),
            area: area.map(Into::into),
            domain: domain.map(Into::into),
        }
    }

    #[test]
    fn the_dfo_base_is_built_from_area_and_domain() {
        let c = config(Some("na1"), Some("niceincontact.com"));
        assert_eq!(
            c.dfo_base(DFO_HOST_PREFIX).unwrap(),
            "https://api-de-na1.niceincontact.com"
        );
        let gov = config(Some("na2"), Some("nicecxone-gov.com"));
        assert_eq!(
            gov.dfo_base(DFO_HOST_PREFIX).unwrap(),
            "https://api-de-na2.nicecxone-gov.com"
        );
        assert_eq!(
            c.dfo_base("api-").unwrap(),
            "https://api-na1.niceincontact.com"
        );
        // Without area/domain: the api_endpoint.
        assert_eq!(
            config(None, None).dfo_base(DFO_HOST_PREFIX).unwrap(),
            "https://api-na1.niceincontact.com"
        );
        // What would change the URL's shape is refused.
        for (area, domain) in [
            ("na1/x", "niceincontact.com"),
            ("na1", "evil.com/x"),
            ("", "a.b"),
        ] {
            let bad = config(Some(area), Some(domain)).dfo_base(DFO_HOST_PREFIX);
            assert!(
                matches!(bad, Err(SendError::Discovery(_))),
                "{area} {domain}"
            );
        }
    }

    proptest::proptest! {
        /// Whatever discovery says, the DFO base is refused or is a plain https URL whose host
        /// is exactly the prefix, the area, a dot and the domain: the answer cannot add a path,
        /// a port, credentials or another host.
        #[test]
        fn discovery_cannot_change_the_urls_shape(area in "\\PC{0,12}", domain in "\\PC{0,24}") {
            let c = config(Some(&area), Some(&domain));
            if let Ok(base) = c.dfo_base(DFO_HOST_PREFIX) {
                let url = reqwest::Url::parse(&base).unwrap();
                proptest::prop_assert_eq!(url.scheme(), "https");
                proptest::prop_assert_eq!(url.path(), "/");
                proptest::prop_assert!(url.username().is_empty() && url.port().is_none());
                let host = format!("{DFO_HOST_PREFIX}{area}.{domain}").to_ascii_lowercase();
                proptest::prop_assert_eq!(url.host_str(), Some(host.as_str()));
            }
        }
    }

    #[test]
    fn tenant_claim_is_read_from_the_id_token() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"tenantId":"11e7-abc","name":"api user"}"#);
        assert_eq!(
            tenant_from_id_token(&format!("h.{payload}.s")),
            Some("11e7-abc".into())
        );
        assert_eq!(tenant_from_id_token("not-a-jwt"), None);
    }
}
