//! The client's API discovery (`dfo`): one request at a time, its failure shared by every
//! waiting call and remembered for a back-off.

use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use tokio::task::JoinSet;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::cxone::cooldown::CooldownPolicy;
use crate::cxone::{DedupStatus, MetadataUpdate, Profile, ProfileName, Update};
use crate::secret::Secret;

const DISCOVERY: &str = "/.well-known/cxone-configuration";

fn id_token(tenant: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = b64.encode(json!({ "tenantId": tenant }).to_string());
    format!("{}.{claims}.sig", b64.encode(r#"{"alg":"none"}"#))
}

/// A `dfo` client of `server` that tries each call once.
async fn dfo_client(server: &MockServer) -> Arc<CxoneClient> {
    let issuer = server.uri();
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"issuer": issuer, "token_endpoint": format!("{issuer}/auth/token")}),
        ))
        .mount(server)
        .await;
    Mock::given(path("/auth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "dfo-tok", "expires_in": 3600, "id_token": id_token("t-1")})))
        .mount(server)
        .await;
    let settings = CxoneSettings {
        base_url: issuer.clone(),
        issuer,
        api_url: None,
        tenant_id: None,
        client_id: "client-1".into(),
        client_secret: Secret::new("client-secret-1"),
        access_key_id: Some("key-id".into()),
        access_key_secret: Some(Secret::new("key-secret")),
        timeout: Duration::from_millis(300),
        http2_prior_knowledge: false,
    };
    let policy = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let (metrics, health) = (Metrics::new(), Arc::new(OutboundHealth::default()));
    let pacing = crate::cxone::PacingConfig {
        rate_max: None,
        ..Default::default()
    };
    let client = CxoneClient::new(
        settings,
        AuthFlow::Password,
        policy,
        &pacing,
        metrics,
        health,
    );
    Arc::new(client.unwrap())
}

fn call() -> PreparedCall {
    let update = Update::Metadata(MetadataUpdate {
        status: DedupStatus::Processed,
        last_sequence: Some(1),
        fingerprint: "ab".into(),
        channel: "chat".into(),
        event_type: None,
    });
    Profile::builtin(ProfileName::Dfo)
        .prepare("ct-1", &update)
        .unwrap()
}

/// Sends `n` calls at once; their results.
async fn send_all(client: &Arc<CxoneClient>, n: usize) -> Vec<Result<Delivered, SendError>> {
    let mut set = JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        set.spawn(async move { client.send(&call()).await });
    }
    let mut results = Vec::with_capacity(n);
    while let Some(result) = set.join_next().await {
        results.push(result.unwrap());
    }
    results
}

async fn discoveries(server: &MockServer) -> usize {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| r.url.path() == DISCOVERY)
        .count()
}

#[tokio::test]
async fn a_failed_api_discovery_is_every_waiting_calls_answer_and_is_remembered() {
    // Discovery answers 500, or hangs past the client's timeout.
    let answers = [
        ResponseTemplate::new(500),
        ResponseTemplate::new(200)
            .set_body_json(json!({"api_endpoint": "http://127.0.0.1:9"}))
            .set_delay(Duration::from_secs(3)),
    ];
    for answer in answers {
        let server = MockServer::start().await;
        Mock::given(path(DISCOVERY))
            .respond_with(answer)
            .mount(&server)
            .await;
        let client = dfo_client(&server).await;
        let results = send_all(&client, 32).await;
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(SendError::Exhausted { last, .. }) if last.contains("api discovery"))),
            "{results:?}"
        );
        assert_eq!(discoveries(&server).await, 1);
        assert!(client.api.retry_in().is_some());
        // After the back-off: one new request for the next burst.
        tokio::time::sleep(CooldownPolicy::default().ceiling(1) + Duration::from_millis(100)).await;
        assert!(send_all(&client, 8).await.iter().all(Result::is_err));
        assert_eq!(discoveries(&server).await, 2);
    }
}
