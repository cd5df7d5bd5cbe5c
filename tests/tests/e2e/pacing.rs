//! Pacing per contact and the `dfo` client's failure reporting and token authentication: a 429
//! holds back only its contact, a `dfo` 404 is a visible failure, `client_secret_post` sends
//! the application's credentials in the form. Every wait is bounded; no assertion is on time.

use std::time::Duration;

use base64::Engine as _;
use cxrules_server::cxone::{ClientAuth, OutboundConfig, ProfileName, RetryPolicy};
use cxrules_tests::{message, Harness, Options};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path, path_regex, query_param};
use wiremock::{Mock, ResponseTemplate};

const ROUTE: &str = "/webhook/cxone/events";

/// Polls `until` every 10 ms for at most 20 s: it orders the steps, it measures nothing.
async fn wait_for<F, Fut>(what: &str, mut until: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !until().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn calls_to(h: &Harness, id: &str) -> usize {
    h.api_calls()
        .await
        .iter()
        .filter(|(_, p, _)| p.ends_with(id))
        .count()
}

#[tokio::test]
async fn a_429_holds_back_only_its_contact() {
    let h = Harness::with(Options {
        // Honour a long Retry-After: the limited contact's retry stays far behind the others.
        retry: RetryPolicy {
            max_retry_after: Duration::from_secs(120),
            ..Options::default().retry
        },
        ..Options::default()
    })
    .await;
    Mock::given(path("/api/v2/interactions/int-limited"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "60"))
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    assert_eq!(
        h.post(ROUTE, &message("int-limited", "c", "hi", 1)).await.0,
        200
    );
    wait_for("the limited contact's first call", || async {
        calls_to(&h, "int-limited").await == 1
    })
    .await;
    // Other contacts' calls go out while the limited one waits out its Retry-After.
    for i in 0..5 {
        let id = format!("int-free-{i}");
        assert_eq!(h.post(ROUTE, &message(&id, "c", "hi", 1)).await.0, 200);
    }
    wait_for("every other contact's call", || async {
        let mut all = true;
        for i in 0..5 {
            all &= calls_to(&h, &format!("int-free-{i}")).await == 1;
        }
        all
    })
    .await;
    assert_eq!(
        calls_to(&h, "int-limited").await,
        1,
        "the limited contact was not retried before its Retry-After"
    );
    let text = h.metrics_text().await;
    assert!(
        text.contains(
            "cxrules_outbound_retries_total{endpoint=\"metadata\",reason=\"rate_limited\"} 1"
        ),
        "{text}"
    );
}

fn id_token(tenant: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = b64.encode(json!({"tenantId": tenant}).to_string());
    format!("{}.{claims}.sig", b64.encode(r#"{"alg":"none"}"#))
}

/// The DFO flow on `h`'s mock CXone: OpenID discovery, a token (for any client
/// authentication), API discovery naming the mock as the host, and 202 for contact calls.
async fn mount_dfo(h: &Harness) {
    let issuer = h.cxone.uri();
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": issuer, "token_endpoint": format!("{issuer}/auth/token")})))
        .mount(&h.cxone)
        .await;
    Mock::given(method("POST"))
        .and(path("/auth/token"))
        .and(body_string_contains("grant_type=password"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "dfo-tok", "token_type": "Bearer", "expires_in": 3600,
            "id_token": id_token("tenant-42")})))
        .mount(&h.cxone)
        .await;
    Mock::given(path("/.well-known/cxone-configuration"))
        .and(query_param("tenantId", "tenant-42"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"api_endpoint": issuer.clone()})),
        )
        .mount(&h.cxone)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("^/dfo/3.0/contacts/"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&h.cxone)
        .await;
}

fn dfo(outbound: OutboundConfig) -> Options {
    let outbound = OutboundConfig {
        check_custom_fields: false,
        ..outbound
    };
    Options {
        profile: ProfileName::Dfo,
        rules: Some(vec![(
            "dedup.yaml".into(),
            cxrules_tests::DEDUP_RULES.into(),
        )]),
        outbound,
        ..Options::default()
    }
}

#[tokio::test]
async fn a_dfo_404_is_a_failure_shown_on_healthz_and_the_status_page() {
    let h = Harness::with(dfo(OutboundConfig::default())).await;
    Mock::given(path("/dfo/3.0/contacts/ct-wrong/custom-fields"))
        .respond_with(ResponseTemplate::new(404))
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    mount_dfo(&h).await;
    assert_eq!(
        h.post(ROUTE, &message("ct-wrong", "c", "hi", 1)).await.0,
        200
    );
    h.settle().await;
    assert_eq!(
        calls_to(&h, "ct-wrong/custom-fields").await,
        1,
        "not retried"
    );
    let (_, health) = h.get_json("/healthz").await;
    assert_eq!(health["not_found"], 1, "{health}");
    let message = health["last_not_found"]["message"].as_str().unwrap();
    assert!(
        message.contains("/dfo/3.0/contacts/ct-wrong/custom-fields"),
        "{message}"
    );
    let (_, status) = h.get_json("/rules/status").await;
    assert_eq!(status["outbound"]["not_found"], 1);
    assert_eq!(status["outbound"]["failed"], 1);
    assert_eq!(status["outbound"]["gone"], 0);
    let text = h.metrics_text().await;
    assert!(
        text.contains("cxrules_effects_failed_total{endpoint=\"metadata\",reason=\"not_found\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn client_secret_post_sends_the_application_in_the_form() {
    let h = Harness::with(dfo(OutboundConfig {
        client_auth: ClientAuth::ClientSecretPost,
        ..OutboundConfig::default()
    }))
    .await;
    mount_dfo(&h).await;
    assert_eq!(
        h.post(ROUTE, &message("ct-post", "c", "hi", 1)).await.0,
        200
    );
    h.settle().await;
    assert_eq!(calls_to(&h, "ct-post/custom-fields").await, 1);
    let requests = h.cxone_requests().await;
    let token = requests
        .iter()
        .find(|r| r.url.path() == "/auth/token")
        .expect("a token request");
    let form = String::from_utf8_lossy(&token.body);
    assert!(
        form.contains("client_id=client-1") && form.contains("client_secret=client-secret-1"),
        "{form}"
    );
    assert!(form.contains("username=key-id"), "{form}");
    assert!(
        !token.headers.contains_key("authorization"),
        "no Basic header with client_secret_post"
    );
}

#[tokio::test]
async fn client_secret_basic_is_the_default() {
    let h = Harness::with(dfo(OutboundConfig::default())).await;
    mount_dfo(&h).await;
    h.post(ROUTE, &message("ct-basic", "c", "hi", 1)).await;
    h.settle().await;
    let requests = h.cxone_requests().await;
    let token = requests
        .iter()
        .find(|r| r.url.path() == "/auth/token")
        .expect("a token request");
    let basic = base64::engine::general_purpose::STANDARD.encode("client-1:client-secret-1");
    assert_eq!(
        token.headers.get("authorization").unwrap(),
        format!("Basic {basic}").as_str()
    );
    assert!(!String::from_utf8_lossy(&token.body).contains("client_secret"));
}

#[tokio::test]
async fn a_custom_field_the_tenant_lacks_is_named_on_healthz() {
    let h = Harness::with(Options {
        outbound: OutboundConfig::default(),
        ..dfo(OutboundConfig::default())
    })
    .await;
    // The tenant defines the status field, not the sequence one.
    Mock::given(method("GET"))
        .and(path("/dfo/3.0/contacts/custom-field-definitions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"ident": "deduplication-status", "label": "Dedup status"},
            {"ident": "sku", "label": "SKU"}])))
        .mount(&h.cxone)
        .await;
    mount_dfo(&h).await;
    wait_for("the custom-field check", || async {
        !h.get_json("/healthz").await.1["custom_fields"].is_null()
    })
    .await;
    let (_, health) = h.get_json("/healthz").await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(
        health["custom_fields"]["missing"],
        json!(["deduplication-last-sequence"])
    );
    assert_eq!(health["custom_fields"]["error"], json!(null));
}

#[tokio::test]
async fn a_second_401_is_one_more_attempt_not_a_lost_update() {
    let h = Harness::start().await;
    Mock::given(path("/api/v2/interactions/int-401"))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    assert_eq!(
        h.post(ROUTE, &message("int-401", "c", "hi", 1)).await.0,
        200
    );
    h.settle().await;
    assert_eq!(calls_to(&h, "int-401").await, 3, "two 401s, then accepted");
    assert_eq!(h.token_calls().await, 3, "a fresh token after each 401");
    let text = h.metrics_text().await;
    assert!(!text.contains("cxrules_effects_failed_total{"), "{text}");
}
