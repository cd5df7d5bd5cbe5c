//! Token single flight: one request at a time, its result (a failure too) shared by every
//! waiting caller, a failure remembered for a back-off.

use std::time::Duration;

use serde_json::json;
use tokio::task::JoinSet;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::cxone::cooldown::CooldownPolicy;

/// Callers fired at once in each test.
const CALLERS: usize = 32;

fn settings(server: &MockServer, timeout: Duration) -> CxoneSettings {
    CxoneSettings {
        base_url: server.uri(),
        issuer: server.uri(),
        api_url: None,
        tenant_id: None,
        client_id: "client-1".into(),
        client_secret: Secret::new("client-secret-1"),
        access_key_id: Some("key-id".into()),
        access_key_secret: Some(Secret::new("key-secret")),
        timeout,
        http2_prior_knowledge: false,
    }
}

fn source(server: &MockServer, timeout: Duration, flow: AuthFlow) -> Arc<TokenSource> {
    let http = reqwest::Client::builder().timeout(timeout).build().unwrap();
    let settings = Arc::new(settings(server, timeout));
    Arc::new(TokenSource::new(http, settings, flow, Metrics::new()))
}

fn client_credentials() -> AuthFlow {
    AuthFlow::ClientCredentials {
        token_path: "/oauth2/token".into(),
        scope: None,
    }
}

/// Fires `CALLERS` token requests at once; their results.
async fn all_at_once(tokens: &Arc<TokenSource>) -> Vec<Result<Arc<Token>, AuthError>> {
    let mut set = JoinSet::new();
    for _ in 0..CALLERS {
        let tokens = tokens.clone();
        set.spawn(async move { tokens.token().await });
    }
    let mut results = Vec::with_capacity(CALLERS);
    while let Some(result) = set.join_next().await {
        results.push(result.unwrap());
    }
    results
}

async fn requests_to(server: &MockServer, endpoint: &str) -> usize {
    let requests = server.received_requests().await.unwrap_or_default();
    requests.iter().filter(|r| r.url.path() == endpoint).count()
}

/// Longest the first failure is remembered under the default policy, and a margin.
fn past_the_first_back_off() -> Duration {
    CooldownPolicy::default().ceiling(1) + Duration::from_millis(100)
}

#[tokio::test]
async fn a_failed_token_request_is_every_waiters_answer_and_is_remembered() {
    // The endpoint answers 500, or hangs past the client's timeout.
    let answers = [
        ResponseTemplate::new(500),
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "late"}))
            .set_delay(Duration::from_secs(3)),
    ];
    for answer in answers {
        let server = MockServer::start().await;
        Mock::given(path("/oauth2/token"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let tokens = source(&server, Duration::from_millis(300), client_credentials());
        let results = all_at_once(&tokens).await;
        assert!(results.iter().all(Result::is_err), "{results:?}");
        assert_eq!(requests_to(&server, "/oauth2/token").await, 1);
        // Still inside the back-off: the remembered failure, no request.
        assert!(tokens.token().await.is_err());
        assert_eq!(requests_to(&server, "/oauth2/token").await, 1);
        // After it: one new request for the next burst.
        tokio::time::sleep(past_the_first_back_off()).await;
        assert!(all_at_once(&tokens).await.iter().all(Result::is_err));
        assert_eq!(requests_to(&server, "/oauth2/token").await, 2);
    }
}

#[tokio::test]
async fn a_token_after_the_back_off_is_shared_and_resets_it() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"access_token": "tok-after"})),
        )
        .mount(&server)
        .await;
    let tokens = source(&server, Duration::from_secs(5), client_credentials());
    assert_eq!(tokens.token().await.unwrap_err(), AuthError::Rejected(503));
    assert!(tokens.retry_in().is_some());
    tokio::time::sleep(past_the_first_back_off()).await;
    let results = all_at_once(&tokens).await;
    assert!(results
        .iter()
        .all(|r| r.as_ref().is_ok_and(|t| t.access.expose() == "tok-after")));
    assert_eq!(requests_to(&server, "/oauth2/token").await, 2);
    assert_eq!(tokens.retry_in(), None);
}

#[tokio::test]
async fn a_failed_openid_discovery_is_remembered_too() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let tokens = source(&server, Duration::from_secs(5), AuthFlow::Password);
    let results = all_at_once(&tokens).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(AuthError::Unavailable(why)) if why.contains("502"))),
        "{results:?}"
    );
    let discovery = "/.well-known/openid-configuration";
    assert_eq!(requests_to(&server, discovery).await, 1);
    tokio::time::sleep(past_the_first_back_off()).await;
    assert!(tokens.token().await.is_err());
    assert_eq!(requests_to(&server, discovery).await, 2);
}

#[tokio::test]
async fn a_token_not_yet_expired_is_used_while_its_refresh_fails() {
    let server = MockServer::start().await;
    // A 2 s token is refreshed after 1 s; the refresh fails.
    Mock::given(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "tok-short", "expires_in": 2})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let tokens = source(&server, Duration::from_secs(5), client_credentials());
    let first = tokens.token().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Due for refresh, the refresh fails, the token is still good: every caller gets it.
    let results = all_at_once(&tokens).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|t| Arc::ptr_eq(t, &first))),
        "{results:?}"
    );
    assert_eq!(requests_to(&server, "/oauth2/token").await, 2);
    // Expired: the failure is the answer.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(tokens.token().await.unwrap_err(), AuthError::Rejected(500));
}
