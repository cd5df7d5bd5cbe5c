//! The two calls of a registration — list, then create — with a bearer token, one retry after a
//! 401 with a fresh token, and CXone's refusals turned into messages that say what to grant.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::cxone::{AuthError, TokenSource};
use crate::tools::Hinted;

/// The longest part of an error answer quoted back.
const MAX_QUOTED: usize = 300;

/// A registration CXone already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Existing {
    /// Its id, when the list gives one.
    pub id: Option<String>,
    /// Its event types, when the list gives them.
    pub event_types: Option<Vec<String>>,
}

/// Why CXone did not register the webhook.
#[derive(Debug)]
pub(super) enum Refusal {
    /// 403: the client lacks the permission.
    Forbidden,
    /// 401 again with a fresh token.
    Unauthorized,
    /// The token endpoint refused the credentials.
    TokenRejected(u16),
    /// 409 on create: CXone has it already.
    AlreadyExists,
    /// Another answer.
    Status {
        /// What was asked (`listing webhooks`, `registering the webhook`).
        call: &'static str,
        /// The HTTP status.
        code: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The request could not be made (network, a bad answer): exit 3.
    Failed(anyhow::Error),
}

impl Refusal {
    /// The message and the hint of a refusal.
    pub(super) fn explain(&self) -> (String, String) {
        match self {
            Refusal::Forbidden => (
                "cxone answered 403: the api client lacks the `webhooks:write` permission".into(),
                "grant the OAuth client the `webhooks:write` scope in CXone; if your tenant wants it \
                 requested, pass --cxone-scope 'webhooks:write' (or set CXONE_SCOPE)"
                    .into(),
            ),
            Refusal::Unauthorized => (
                "cxone answered 401 twice, the second time with a fresh token".into(),
                "check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET and the tenant of CXONE_BASE_URL".into(),
            ),
            Refusal::TokenRejected(code) => (
                format!("the token endpoint answered {code}"),
                "check CXONE_CLIENT_ID, CXONE_CLIENT_SECRET and --cxone-token-path".into(),
            ),
            Refusal::Status { call, code, body } => (
                format!("cxone answered {code} when {call}: {body}"),
                "check --path and --body-file against your tenant's webhook api".into(),
            ),
            Refusal::AlreadyExists => ("the registration exists".into(), String::new()),
            Refusal::Failed(e) => (format!("{e:#}"), String::new()),
        }
    }
}

/// The webhook registrations endpoint.
pub(super) struct WebhookApi {
    http: reqwest::Client,
    tokens: Arc<TokenSource>,
    endpoint: String,
    timeout: Duration,
}

impl WebhookApi {
    /// A client for `endpoint` (the full URL of the registrations).
    pub(super) fn new(
        tokens: Arc<TokenSource>,
        endpoint: String,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("cxrules/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            tokens,
            endpoint,
            timeout,
        })
    }

    /// The registration for `url`, if CXone has one.
    pub(super) async fn find(&self, url: &str) -> Result<Option<Existing>, Refusal> {
        let response = self.send(|| self.http.get(&self.endpoint)).await?;
        let status = response.status();
        if status == StatusCode::FORBIDDEN {
            return Err(Refusal::Forbidden);
        }
        if !status.is_success() {
            return Err(refused("listing webhooks", response).await);
        }
        let list: Value = response.json().await.map_err(|e| {
            Refusal::Failed(Hinted::error(
                format!("the webhook list is not JSON: {}", e.without_url()),
                "check --path: it must name the webhook registrations endpoint",
            ))
        })?;
        Ok(entries(&list)
            .into_iter()
            .find(|e| same_url(e.get("url").and_then(Value::as_str), url))
            .map(existing))
    }

    /// Registers the webhook; gives its id when the answer has one.
    pub(super) async fn create(&self, body: &Value) -> Result<Option<String>, Refusal> {
        let response = self
            .send(|| self.http.post(&self.endpoint).json(body))
            .await?;
        match response.status() {
            StatusCode::FORBIDDEN => Err(Refusal::Forbidden),
            StatusCode::CONFLICT => Err(Refusal::AlreadyExists),
            s if s.is_success() => {
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                Ok(answer.get("id").and_then(id_text))
            }
            _ => Err(refused("registering the webhook", response).await),
        }
    }

    /// Sends with a token; after a 401, once more with a fresh one.
    async fn send(&self, request: impl Fn() -> RequestBuilder) -> Result<Response, Refusal> {
        let mut refreshed = false;
        loop {
            let token = match self.tokens.token().await {
                Ok(token) => token,
                Err(e) => return Err(auth_refusal(e, self.unreachable().await)),
            };
            let response = match request().bearer_auth(token.access.expose()).send().await {
                Ok(response) => response,
                Err(e) => {
                    let cause = self.unreachable().await;
                    let cause = cause.map(|u| format!(" ({u})")).unwrap_or_default();
                    return Err(Refusal::Failed(Hinted::error(
                        format!("cannot reach cxone: {}{cause}", e.without_url()),
                        "check CXONE_BASE_URL and the network",
                    )));
                }
            };
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            if refreshed {
                return Err(Refusal::Unauthorized);
            }
            refreshed = true;
            self.tokens.invalidate(&token).await;
        }
    }

    /// Why CXone's host cannot be reached, when it cannot: the HTTP client's error says only
    /// "error sending request", so the cause (no such host, connection refused, a timeout) is
    /// found by connecting to the host once more.
    async fn unreachable(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.endpoint).ok()?;
        let host = url.host_str()?.trim_matches(|c| c == '[' || c == ']');
        let addr = format!("{host}:{}", url.port_or_known_default()?);
        let connect = async {
            let mut last = None;
            for a in tokio::net::lookup_host(&addr).await? {
                match tokio::net::TcpStream::connect(a).await {
                    Ok(_) => return Ok(()),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| std::io::Error::other("the name has no address")))
        };
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("cannot connect to {addr}: {e}")),
            Err(_) => Some(format!("no answer from {addr} within {:?}", self.timeout)),
        }
    }
}

/// A token request that failed; `unreachable` is why the host cannot be reached, when known.
fn auth_refusal(e: AuthError, unreachable: Option<String>) -> Refusal {
    let cause = unreachable.map(|u| format!(" ({u})")).unwrap_or_default();
    match e {
        AuthError::Rejected(code) => Refusal::TokenRejected(code),
        other => Refusal::Failed(Hinted::error(
            format!("no token: {other}{cause}"),
            "check CXONE_BASE_URL, --cxone-token-path and the network",
        )),
    }
}

async fn refused(call: &'static str, response: Response) -> Refusal {
    let code = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let mut body: String = text.trim().chars().take(MAX_QUOTED).collect();
    if body.is_empty() {
        body = "(no body)".into();
    }
    Refusal::Status { call, code, body }
}

/// The registrations of a list answer: a bare array, or one under a usual key.
fn entries(list: &Value) -> Vec<&Value> {
    if let Some(items) = list.as_array() {
        return items.iter().collect();
    }
    ["webhooks", "data", "items", "results", "value"]
        .iter()
        .find_map(|k| list.get(k).and_then(Value::as_array))
        .map(|items| items.iter().collect())
        .unwrap_or_default()
}

fn same_url(listed: Option<&str>, wanted: &str) -> bool {
    listed.is_some_and(|l| l.trim_end_matches('/') == wanted.trim_end_matches('/'))
}

fn existing(entry: &Value) -> Existing {
    Existing {
        id: entry.get("id").and_then(id_text),
        event_types: entry
            .get("eventTypes")
            .and_then(Value::as_array)
            .map(|types| {
                types
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            }),
    }
}

fn id_text(id: &Value) -> Option<String> {
    match id {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_are_read_bare_or_wrapped() {
        let hook = json!({"id": 7, "url": "https://x.test/hook/", "eventTypes": ["a"]});
        for list in [
            json!([hook]),
            json!({"webhooks": [hook]}),
            json!({"data": [hook]}),
        ] {
            let found = entries(&list)
                .into_iter()
                .find(|e| same_url(e.get("url").and_then(Value::as_str), "https://x.test/hook"))
                .map(existing);
            assert_eq!(
                found,
                Some(Existing {
                    id: Some("7".into()),
                    event_types: Some(vec!["a".into()])
                })
            );
        }
        assert!(entries(&json!({"total": 0})).is_empty());
    }
}
