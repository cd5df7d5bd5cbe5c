//! `HttpInventory`: the inventory lookup over HTTP, with reqwest.
//!
//! One GET per lookup, bounded as a whole by the request's timeout (a slow body counts),
//! with the answer's size capped and redirects refused.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, LOCATION};
use reqwest::redirect::Policy;
use reqwest::{Client, Response};
use serde_json::Value;

use super::source::{InventorySource, LookupError, LookupRequest};
use crate::dedup::store::BoxFuture;

/// The largest answer read by default: an inventory status document is tiny, and a
/// hostile or broken inventory must not be able to exhaust memory.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

const USER_AGENT: &str = concat!("cxrules/", env!("CARGO_PKG_VERSION"));

/// An [`InventorySource`] that GETs `req.url` and reads the status from the JSON answer.
///
/// | outcome                                        | result                    |
/// |------------------------------------------------|---------------------------|
/// | no complete answer within `req.timeout`        | `Timeout`                 |
/// | no connection (refused, DNS, TLS, reset)       | `Unreachable(cause)`      |
/// | 5xx                                            | `Upstream(code)`          |
/// | 4xx                                            | `Client(code)`            |
/// | 2xx with a string at `req.status_pointer`      | `Ok(status)`              |
/// | 2xx JSON without one                           | `NoStatus(why)`           |
/// | anything else (3xx, not JSON, too large, …)    | `BadResponse(why)`        |
///
/// A header in `req.headers` that is not a valid HTTP header gives `Unreachable`: no
/// request could be made. Validate headers when compiling rules to avoid that.
///
/// ```no_run
/// use std::time::Duration;
/// use cxrules_engine::routing::http::HttpInventory;
/// use cxrules_engine::routing::source::{InventorySource, LookupRequest};
///
/// # async fn run() {
/// let inventory = HttpInventory::new();
/// let headers = [("x-api-key".to_owned(), "secret".to_owned())];
/// let req = LookupRequest {
///     sku: "SKU-CHAT-567890",
///     url: "https://inventory.example.com/api/v1/products/SKU-CHAT-567890",
///     timeout: Duration::from_secs(2),
///     status_pointer: "/status",
///     headers: &headers,
/// };
/// match inventory.lookup(&req).await {
///     Ok(status) => println!("{status}"),
///     Err(error) => println!("fallback: {error}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HttpInventory {
    client: Client,
    max_body: usize,
}

impl HttpInventory {
    /// A lookup with its own client that never follows redirects.
    ///
    /// # Panics
    ///
    /// When the TLS backend cannot be initialised, as `reqwest::Client::new` does.
    pub fn new() -> Self {
        // Redirects are refused, not followed: the lookup URL is operator configuration,
        // and following a redirect would let whoever answers it send the request (API key
        // headers included; reqwest only strips the standard credential headers) to another
        // host, or to an internal address this host can reach (server-side request
        // forgery). A 3xx answer is reported as a bad response that names the target.
        let client = Client::builder()
            .redirect(Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .expect("the TLS backend should initialise");
        Self::with_client(client)
    }

    /// A lookup on a client the embedder configured (proxies, TLS roots, pooling). Its
    /// redirect policy is used as is: give it `redirect::Policy::none()` to keep
    /// [`HttpInventory::new`]'s protection.
    pub fn with_client(client: Client) -> Self {
        Self {
            client,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// Caps the answer at `bytes` instead of [`DEFAULT_MAX_BODY`].
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    async fn fetch(&self, req: &LookupRequest<'_>) -> Result<String, LookupError> {
        // The outer deadline covers the body as well as the headers whatever the client's
        // own settings are; reqwest's per-request timeout also tears the connection down.
        tokio::time::timeout(req.timeout, self.fetch_unbounded(req))
            .await
            .unwrap_or(Err(LookupError::Timeout))
    }

    async fn fetch_unbounded(&self, req: &LookupRequest<'_>) -> Result<String, LookupError> {
        let headers = request_headers(req.headers)?;
        let response = self
            .client
            .get(req.url)
            .headers(headers)
            .timeout(req.timeout)
            .send()
            .await
            .map_err(send_error)?;
        check_status(&response)?;
        let body = read_capped(response, self.max_body).await?;
        status_at(&body, req.status_pointer)
    }
}

impl Default for HttpInventory {
    fn default() -> Self {
        Self::new()
    }
}

impl InventorySource for HttpInventory {
    fn lookup<'a>(
        &'a self,
        req: &'a LookupRequest<'a>,
    ) -> BoxFuture<'a, Result<String, LookupError>> {
        Box::pin(self.fetch(req))
    }
}

/// `Accept: application/json` unless the rule sets its own, then the rule's headers.
fn request_headers(extra: &[(String, String)]) -> Result<HeaderMap, LookupError> {
    let mut headers = HeaderMap::with_capacity(extra.len() + 1);
    for (name, value) in extra {
        let invalid = || {
            LookupError::Unreachable(format!(
                "request header `{name}` is not a valid HTTP header; hint: fix it in the rule's \
                 inventory headers"
            ))
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let mut value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        // Keeps credentials out of Debug output and lets HTTP/2 avoid indexing them.
        value.set_sensitive(true);
        headers.append(name, value);
    }
    if !headers.contains_key(ACCEPT) {
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    }
    Ok(headers)
}

fn check_status(response: &Response) -> Result<(), LookupError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let code = status.as_u16();
    Err(if status.is_server_error() {
        LookupError::Upstream(code)
    } else if status.is_client_error() {
        LookupError::Client(code)
    } else if status.is_redirection() {
        let target = response
            .headers()
            .get(LOCATION)
            .and_then(|to| to.to_str().ok());
        LookupError::BadResponse(format!(
            "answered {code}, a redirect to `{}`, which is not followed; hint: point the \
             inventory url at the final address",
            target.unwrap_or("nowhere")
        ))
    } else {
        LookupError::BadResponse(format!("answered {code}, expected 2xx"))
    })
}

async fn read_capped(mut response: Response, cap: usize) -> Result<Vec<u8>, LookupError> {
    let too_large = || {
        LookupError::BadResponse(format!(
            "the answer is larger than {cap} bytes; hint: the inventory should answer with a \
             small JSON document"
        ))
    };
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(body_error)? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn status_at(body: &[u8], pointer: &str) -> Result<String, LookupError> {
    let mut document: Value = serde_json::from_slice(body)
        .map_err(|e| LookupError::BadResponse(format!("the answer is not JSON ({e})")))?;
    match document.pointer_mut(pointer).map(Value::take) {
        Some(Value::String(status)) => Ok(status),
        Some(other) => Err(LookupError::NoStatus(format!(
            "`{pointer}` holds {}, not a string; hint: point the status pointer at the status text",
            json_kind(&other)
        ))),
        None => Err(LookupError::NoStatus(format!(
            "nothing at `{pointer}`; hint: set the status pointer to where the inventory puts \
             the status"
        ))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn send_error(error: reqwest::Error) -> LookupError {
    if error.is_timeout() {
        return LookupError::Timeout;
    }
    LookupError::Unreachable(root_cause(&error))
}

fn body_error(error: reqwest::Error) -> LookupError {
    if error.is_timeout() {
        return LookupError::Timeout;
    }
    LookupError::Unreachable(format!(
        "connection lost while reading the answer: {}",
        root_cause(&error)
    ))
}

/// The innermost cause ("connection refused (os error 111)"): reqwest's own message only
/// repeats the URL, which the caller already knows.
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests;
