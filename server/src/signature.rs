//! Inbound request authentication: HMAC-SHA256 of the raw body, the Standard Webhooks scheme, or
//! a bearer token. Every comparison is constant-time, and the body's MAC is computed once per
//! secret, however many signatures a header carries (at most [`MAX_SIGNATURES`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Most signatures one header may carry (a sender rotating keys sends two); a header with more
/// is refused.
pub const MAX_SIGNATURES: usize = 8;

/// How the HMAC signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SignatureEncoding {
    /// Lowercase or uppercase hex (the seed's `X-Webhook-Signature: sha256`).
    #[default]
    Hex,
    /// Standard base64.
    Base64,
}

/// Which check inbound requests must pass.
#[derive(Debug, Clone, Default)]
pub enum WebhookAuth {
    /// No check (the default in dry-run).
    #[default]
    None,
    /// HMAC-SHA256 of the raw body in `header`, optionally prefixed `sha256=`.
    Hmac {
        /// Header carrying the signature.
        header: String,
        /// Hex or base64.
        encoding: SignatureEncoding,
        /// Accepted secrets (the current one and, while rotating, the previous one).
        secrets: Vec<Secret>,
    },
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
    Standard {
        /// Decoded signing keys (from `whsec_...`).
        keys: Vec<Vec<u8>>,
        /// Largest accepted distance between the timestamp and now.
        tolerance: Duration,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// Accepted tokens.
        tokens: Vec<Secret>,
    },
}

/// Why a request was not accepted (answered 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required header is absent.
    #[error("missing `{0}` header")]
    Missing(String),
    /// A header is present but not in the expected format.
    #[error("malformed `{0}` header")]
    Malformed(String),
    /// The header carries more than [`MAX_SIGNATURES`] signatures.
    #[error("`{0}` carries more than {MAX_SIGNATURES} signatures; send at most {MAX_SIGNATURES}")]
    TooMany(String),
    /// No signature matched.
    #[error("signature does not match the body")]
    Mismatch,
    /// The timestamp is outside the tolerance.
    #[error("timestamp is {0} s away from now, outside the tolerance")]
    Expired(u64),
}

/// A `whsec_...` (or bare base64) Standard Webhooks secret that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook secret is not base64 after its `whsec_` prefix")]
pub struct BadSecret;

/// Decodes a Standard Webhooks secret.
pub fn decode_whsec(secret: &Secret) -> Result<Vec<u8>, BadSecret> {
    let s = secret.expose();
    B64.decode(s.strip_prefix("whsec_").unwrap_or(s))
        .map_err(|_| BadSecret)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, SignatureError> {
    let value = headers
        .get(name)
        .ok_or_else(|| SignatureError::Missing(name.into()))?;
    value
        .to_str()
        .map_err(|_| SignatureError::Malformed(name.into()))
}

fn mac(key: &[u8]) -> HmacSha256 {
    #[cfg(test)]
    tests::count_mac();
    // HMAC takes keys of any length.
    HmacSha256::new_from_slice(key).expect("hmac accepts any key length")
}

impl WebhookAuth {
    /// True when requests are checked.
    pub fn is_enabled(&self) -> bool {
        !matches!(self, WebhookAuth::None)
    }

    /// A short name for logs and the status page.
    pub fn mode(&self) -> &'static str {
        match self {
            WebhookAuth::None => "none",
            WebhookAuth::Hmac { .. } => "hmac",
            WebhookAuth::Standard { .. } => "standard-webhooks",
            WebhookAuth::Bearer { .. } => "bearer",
        }
    }

    /// Checks one request against its raw body.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), SignatureError> {
        match self {
            WebhookAuth::None => Ok(()),
            WebhookAuth::Hmac {
                header: name,
                encoding,
                secrets,
            } => verify_hmac(header(headers, name)?, name, *encoding, secrets, body),
            WebhookAuth::Standard { keys, tolerance } => {
                verify_standard(headers, body, keys, *tolerance, now)
            }
            WebhookAuth::Bearer { tokens } => verify_bearer(headers, tokens),
        }
    }
}

fn decode_signature(value: &str, encoding: SignatureEncoding) -> Option<Vec<u8>> {
    let value = value.trim();
    let value = value.strip_prefix("sha256=").unwrap_or(value);
    match encoding {
        SignatureEncoding::Hex => hex::decode(value).ok(),
        SignatureEncoding::Base64 => B64.decode(value).ok(),
    }
}

fn verify_hmac(
    value: &str,
    name: &str,
    encoding: SignatureEncoding,
    secrets: &[Secret],
    body: &[u8],
) -> Result<(), SignatureError> {
    let signatures = candidates(value.split(','), |v| decode_signature(v, encoding))
        .ok_or_else(|| SignatureError::TooMany(name.into()))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed(name.into()));
    }
    let matches = secrets
        .iter()
        .any(|secret| matches_any(&body_mac(secret.expose().as_bytes(), &[body]), &signatures));
    matches.then_some(()).ok_or(SignatureError::Mismatch)
}

/// The decodable signatures among a header's `pieces`; `None` when there are more than
/// [`MAX_SIGNATURES`], so a header cannot make the check compare without end.
fn candidates<'v>(
    pieces: impl Iterator<Item = &'v str>,
    decode: impl Fn(&str) -> Option<Vec<u8>>,
) -> Option<Vec<Vec<u8>>> {
    let mut found = Vec::new();
    for (n, piece) in pieces.enumerate() {
        if n == MAX_SIGNATURES {
            return None;
        }
        found.extend(decode(piece));
    }
    Some(found)
}

/// The HMAC-SHA256 of `parts` (the whole body, up to the body limit): computed once per key,
/// however many signatures the header carries.
fn body_mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = mac(key);
    for part in parts {
        m.update(part);
    }
    m.finalize().into_bytes().into()
}

/// True when one of `signatures` is `expected`; each is compared in constant time, and every
/// one is compared, so the time does not tell which matched.
fn matches_any(expected: &[u8; 32], signatures: &[Vec<u8>]) -> bool {
    let matched = signatures.iter().fold(subtle::Choice::from(0), |any, sig| {
        any | expected.as_slice().ct_eq(sig)
    });
    matched.into()
}

fn verify_standard(
    headers: &HeaderMap,
    body: &[u8],
    keys: &[Vec<u8>],
    tolerance: Duration,
    now: SystemTime,
) -> Result<(), SignatureError> {
    let id = header(headers, "webhook-id")?;
    let ts_text = header(headers, "webhook-timestamp")?;
    let signatures = header(headers, "webhook-signature")?;
    let ts: u64 = ts_text
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed("webhook-timestamp".into()))?;
    let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let skew = now_s.abs_diff(ts);
    if skew > tolerance.as_secs() {
        return Err(SignatureError::Expired(skew));
    }
    let decode = |s: &str| s.strip_prefix("v1,").and_then(|s| B64.decode(s).ok());
    let signatures = candidates(signatures.split_whitespace(), decode)
        .ok_or_else(|| SignatureError::TooMany("webhook-signature".into()))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("webhook-signature".into()));
    }
    let signed = [id.as_bytes(), b".", ts_text.as_bytes(), b".", body];
    let matches = keys
        .iter()
        .any(|key| matches_any(&body_mac(key, &signed), &signatures));
    matches.then_some(()).ok_or(SignatureError::Mismatch)
}

fn verify_bearer(headers: &HeaderMap, tokens: &[Secret]) -> Result<(), SignatureError> {
    let value = header(headers, "authorization")?;
    let (scheme, given) = value
        .split_once(' ')
        .ok_or_else(|| SignatureError::Malformed("authorization".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(SignatureError::Malformed("authorization".into()));
    }
    // Comparing digests keeps the comparison constant-time whatever the lengths.
    let given = Sha256::digest(given.trim().as_bytes());
    let matches = tokens
        .iter()
        .any(|t| bool::from(Sha256::digest(t.expose().as_bytes()).ct_eq(&given)));
    matches.then_some(()).ok_or(SignatureError::Mismatch)
}

/// Signs a body the way [`WebhookAuth::Hmac`] expects (hex), for senders and tests.
///
/// ```
/// use cxrules_server::signature::sign_hmac_hex;
/// assert_eq!(sign_hmac_hex(b"key", b"body").len(), 64);
/// ```
pub fn sign_hmac_hex(secret: &[u8], body: &[u8]) -> String {
    hex::encode(body_mac(secret, &[body]))
}

/// Signs a body the Standard Webhooks way, returning the `v1,<base64>` value.
pub fn sign_standard(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let prefix = format!("{id}.{timestamp}.");
    format!(
        "v1,{}",
        B64.encode(body_mac(key, &[prefix.as_bytes(), body]))
    )
}

#[cfg(test)]
mod tests;
