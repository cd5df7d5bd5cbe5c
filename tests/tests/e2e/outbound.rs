//! The CXone client under failure: token refresh, rate limits, retries, gone and forbidden.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use cxrules_server::cxone::ProfileName;
use cxrules_tests::{message, routing_event, Harness, Options};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path, path_regex, query_param};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const ROUTE: &str = "/webhook/cxone/events";

async fn api_answers(h: &Harness, response: ResponseTemplate, times: Option<u64>) {
    let mock = Mock::given(method("PATCH"))
        .and(path_regex("^/api/v2/"))
        .respond_with(response)
        .with_priority(1);
    match times {
        Some(n) => mock.up_to_n_times(n).mount(&h.cxone).await,
        None => mock.mount(&h.cxone).await,
    }
}

async fn metrics(h: &Harness) -> String {
    h.metrics_text().await
}

/// Answers API calls from a script (then 200) and writes down when each arrived: delays are
/// measured between arrivals at the mock, not from when a polling loop noticed them.
#[derive(Clone)]
struct Stamped {
    script: Arc<Mutex<std::collections::VecDeque<ResponseTemplate>>>,
    arrivals: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Respond for Stamped {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let now = Instant::now();
        let path = request.url.path().to_owned();
        self.arrivals.lock().unwrap().push((path, now));
        let next = self.script.lock().unwrap().pop_front();
        next.unwrap_or_else(|| ResponseTemplate::new(200).set_body_json(json!({})))
    }
}

impl Stamped {
    /// Mounts the script for every API call on `h`'s CXone.
    async fn mount(h: &Harness, script: impl IntoIterator<Item = ResponseTemplate>) -> Self {
        let stamped = Self {
            script: Arc::new(Mutex::new(script.into_iter().collect())),
            arrivals: Arc::default(),
        };
        Mock::given(path_regex("^/api/v2/"))
            .respond_with(stamped.clone())
            .with_priority(1)
            .mount(&h.cxone)
            .await;
        stamped
    }

    /// When each call arrived, in order, with its path.
    fn arrivals(&self) -> Vec<(String, Instant)> {
        self.arrivals.lock().unwrap().clone()
    }

    /// When the calls to a path ending in `id` arrived.
    fn arrivals_for(&self, id: &str) -> Vec<Instant> {
        let all = self.arrivals();
        all.into_iter()
            .filter(|(p, _)| p.ends_with(id))
            .map(|(_, at)| at)
            .collect()
    }
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_then_succeeds() {
    let h = Harness::start().await;
    Mock::given(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "tok-old", "expires_in": 3600})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    Mock::given(header("authorization", "Bearer tok-old"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    assert_eq!(
        h.post(ROUTE, &message("int-401", "c", "hi", 1)).await.0,
        200
    );
    h.settle().await;
    assert_eq!(h.token_calls().await, 2);
    let requests = h.cxone_requests().await;
    let api: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path().starts_with("/api/"))
        .collect();
    assert_eq!(api.len(), 2);
    assert_eq!(api[1].headers.get("authorization").unwrap(), "Bearer tok-1");
    let token_form = String::from_utf8_lossy(&requests[0].body).to_string();
    assert!(
        token_form.contains("grant_type=client_credentials")
            && token_form.contains("client_id=client-1")
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let h = Harness::start().await;
    let calls = Stamped::mount(
        &h,
        [ResponseTemplate::new(429).insert_header("retry-after", "1")],
    )
    .await;
    assert_eq!(
        h.post(ROUTE, &message("int-429", "c", "hi", 1)).await.0,
        200
    );
    h.settle().await;
    let at = calls.arrivals_for("int-429");
    assert_eq!(at.len(), 2, "the 429, then the retry");
    // The retry leaves a second after the 429 was answered, which is after it arrived.
    let waited = at[1] - at[0];
    assert!(waited >= Duration::from_millis(1000), "waited {waited:?}");
    assert!(metrics(&h).await.contains(
        "cxrules_outbound_retries_total{endpoint=\"metadata\",reason=\"rate_limited\"} 1"
    ));
}

#[tokio::test]
async fn a_429_without_retry_after_backs_off_and_retries() {
    let h = Harness::start().await;
    api_answers(&h, ResponseTemplate::new(429), Some(2)).await;
    assert_eq!(
        h.post(ROUTE, &message("int-429-bare", "c", "hi", 1))
            .await
            .0,
        200
    );
    h.settle().await;
    assert_eq!(h.api_calls().await.len(), 3, "two 429s, then success");
    let text = metrics(&h).await;
    assert!(
        text.contains(
            "cxrules_outbound_retries_total{endpoint=\"metadata\",reason=\"rate_limited\"} 2"
        ),
        "{text}"
    );
    assert!(text.contains("cxrules_outbound_calls_total{endpoint=\"metadata\",status=\"200\"} 1"));
}

#[tokio::test]
async fn a_call_that_times_out_is_retried_as_a_transport_error() {
    let h = Harness::with(Options {
        cxone_timeout: Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    // The first call hangs past the client's timeout; the retry is answered at once.
    api_answers(
        &h,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(2)),
        Some(1),
    )
    .await;
    assert_eq!(
        h.post(ROUTE, &message("int-slow", "c", "hi", 1)).await.0,
        200
    );
    h.settle().await;
    assert_eq!(h.api_calls().await.len(), 2);
    let text = metrics(&h).await;
    assert!(
        text.contains(
            "cxrules_outbound_retries_total{endpoint=\"metadata\",reason=\"transport\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("cxrules_outbound_calls_total{endpoint=\"metadata\",status=\"transport\"} 1")
    );
    assert!(!text.contains("cxrules_effects_failed_total{"), "{text}");
}

#[tokio::test]
async fn retries_count_against_the_rate_limit() {
    let h = Harness::with(Options {
        rate_limit: std::num::NonZeroU32::new(2),
        ..Options::default()
    })
    .await;
    // Three failures, then success: four attempts, whose backoffs alone (at most 20, 40 and
    // 80 ms) would fit in well under half a second.
    let calls = Stamped::mount(&h, vec![ResponseTemplate::new(503); 3]).await;
    assert_eq!(
        h.post(ROUTE, &message("int-paced", "c", "hi", 1)).await.0,
        200
    );
    h.settle().await;
    let at = calls.arrivals_for("int-paced");
    assert_eq!(at.len(), 4);
    // Two attempts per second with a burst of two: the third and fourth wait 0.5 s each, so
    // the fourth arrives a second after the first was let go (the margin: the first's way
    // from the limiter to the mock).
    let spread = at[3] - at[0];
    assert!(
        spread >= Duration::from_millis(900),
        "four attempts in {spread:?}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let h = Harness::start().await;
    api_answers(&h, ResponseTemplate::new(503), Some(2)).await;
    assert_eq!(
        h.post(ROUTE, &message("int-5xx", "c", "hi", 1)).await.0,
        200
    );
    h.settle().await;
    assert_eq!(h.api_calls().await.len(), 3, "two failures, then success");

    api_answers(&h, ResponseTemplate::new(500), None).await;
    assert_eq!(
        h.post(ROUTE, &message("int-5xx-2", "c", "hi", 1)).await.0,
        200
    );
    h.settle().await;
    let to_second = h
        .api_calls()
        .await
        .into_iter()
        .filter(|(_, p, _)| p.ends_with("int-5xx-2"))
        .count();
    assert_eq!(to_second, 4, "max_attempts");
    assert!(metrics(&h)
        .await
        .contains("cxrules_effects_failed_total{endpoint=\"metadata\",reason=\"exhausted\"} 1"));
}

#[tokio::test]
async fn a_404_is_not_retried_and_a_403_shows_on_the_status_page() {
    let h = Harness::start().await;
    Mock::given(path("/api/v2/interactions/int-gone"))
        .respond_with(ResponseTemplate::new(404))
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    Mock::given(path("/api/v2/interactions/int-denied"))
        .respond_with(ResponseTemplate::new(403))
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    h.post(ROUTE, &message("int-gone", "c", "hi", 1)).await;
    h.post(ROUTE, &message("int-denied", "c", "hi", 1)).await;
    h.settle().await;
    assert_eq!(h.api_calls().await.len(), 2, "one call each, no retry");
    let text = metrics(&h).await;
    assert!(
        text.contains("reason=\"gone\"} 1") && text.contains("reason=\"forbidden\"} 1"),
        "{text}"
    );
    let (_, status) = h.get_json("/rules/status").await;
    assert_eq!(status["outbound"]["forbidden"], 1);
    assert_eq!(status["outbound"]["gone"], 1);
    assert!(status["outbound"]["last_forbidden"]["message"]
        .as_str()
        .unwrap()
        .contains("int-denied"));
    let (_, health) = h.get_json("/healthz").await;
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["forbidden_now"], json!(["metadata"]));

    // The permission is granted: the next accepted call on the endpoint ends the degraded state;
    // the counters keep the history.
    h.post(ROUTE, &message("int-allowed", "c", "hi", 1)).await;
    h.settle().await;
    let (_, health) = h.get_json("/healthz").await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["forbidden"], 1);
    let (_, status) = h.get_json("/rules/status").await;
    assert_eq!(status["outbound"]["forbidden_now"], json!([]));
}

#[tokio::test]
async fn concurrent_events_during_a_token_refresh_make_one_token_call() {
    let h = Harness::start().await;
    Mock::given(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "tok-slow", "expires_in": 3600}))
                .set_delay(Duration::from_millis(300)),
        )
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let (http, url) = (h.http.clone(), format!("{}{ROUTE}", h.base));
            let event = message(&format!("int-c{n}"), "c", "hi", 1);
            tokio::spawn(async move {
                http.post(url)
                    .json(&event)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    h.settle().await;
    assert_eq!(h.token_calls().await, 1);
    let calls = h.api_calls().await;
    assert_eq!(calls.len(), 20);
    let requests = h.cxone_requests().await;
    assert!(requests
        .iter()
        .filter(|r| r.url.path().starts_with("/api/"))
        .all(|r| r.headers.get("authorization").unwrap() == "Bearer tok-slow"));
}

/// Posts one message each for `ids`, all at once; every answer must be 200.
async fn post_all_at_once(h: &Harness, ids: impl Iterator<Item = String>) {
    let tasks: Vec<_> = ids
        .map(|id| {
            let (http, url) = (h.http.clone(), format!("{}{ROUTE}", h.base));
            let event = message(&id, "c", "hi", 1);
            tokio::spawn(async move { http.post(url).json(&event).send().await.unwrap().status() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().as_u16(), 200);
    }
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_once_for_many_waiting_calls() {
    let h = Harness::start().await;
    // A 2 s token is refreshed half-way, after 1 s; the refresh takes 300 ms.
    Mock::given(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "tok-short", "expires_in": 2})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    Mock::given(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "tok-next", "expires_in": 3600}))
                .set_delay(Duration::from_millis(300)),
        )
        .with_priority(2)
        .mount(&h.cxone)
        .await;
    post_all_at_once(&h, std::iter::once("int-first".to_owned())).await;
    h.settle().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    post_all_at_once(&h, (0..20).map(|n| format!("int-r{n}"))).await;
    h.settle().await;
    assert_eq!(h.token_calls().await, 2, "one fetch, then one refresh");
    let requests = h.cxone_requests().await;
    let bearer = |id: &str| {
        requests
            .iter()
            .find(|r| r.url.path().ends_with(id))
            .map(|r| {
                r.headers
                    .get("authorization")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
    };
    assert_eq!(bearer("int-first").as_deref(), Some("Bearer tok-short"));
    for n in 0..20 {
        assert_eq!(
            bearer(&format!("int-r{n}")).as_deref(),
            Some("Bearer tok-next")
        );
    }
}

#[tokio::test]
async fn a_burst_of_401s_causes_one_refresh() {
    let h = Harness::start().await;
    Mock::given(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "tok-revoked", "expires_in": 3600})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    Mock::given(path_regex("^/api/"))
        .and(header("authorization", "Bearer tok-revoked"))
        .respond_with(ResponseTemplate::new(401).set_delay(Duration::from_millis(100)))
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    post_all_at_once(&h, (0..20).map(|n| format!("int-u{n}"))).await;
    h.settle().await;
    // The first token, then one refresh however many calls were told 401 with the old one.
    assert_eq!(h.token_calls().await, 2);
    let api = h.api_calls().await;
    let delivered = h
        .cxone_requests()
        .await
        .into_iter()
        .filter(|r| r.url.path().starts_with("/api/"))
        .filter(|r| r.headers.get("authorization").unwrap() == "Bearer tok-1")
        .count();
    assert_eq!(
        delivered, 20,
        "every update went out again with the new token"
    );
    // Up to the in-flight limit (16) went out with the old token before the refresh.
    let refused = api.len() - delivered;
    assert!((2..=20).contains(&refused), "{refused} calls told 401");
}

fn id_token(tenant: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = b64.encode(json!({"tenantId": tenant, "iss": "test"}).to_string());
    format!("{}.{claims}.sig", b64.encode(r#"{"alg":"none"}"#))
}

const DFO_RULES: &str = r#"
version: 1
events:
  routing_interaction_created:
    type: routing.interaction.created
    route: inventory
routing:
  inventory:
    sku:
      template: "SKU-{media_type|upper}-{interaction_id|last:6}"
    inventory:
      url: "@INVENTORY@/products/{sku}"
      timeout: 300ms
      status_at: /status
    statuses:
      in_stock: { skill_id: 42 }
    unknown: { skill_id: 7 }
    fallback: { skill_id: 7 }
"#;

#[tokio::test]
async fn the_dfo_profile_discovers_authenticates_and_puts_the_skill() {
    let opts = Options {
        profile: ProfileName::Dfo,
        rules: Some(vec![("routing.yaml".into(), DFO_RULES.into())]),
        ..Options::default()
    };
    let h = Harness::with(opts).await;
    Mock::given(path("/products/SKU-CHAT-000123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "in_stock"})))
        .mount(&h.inventory)
        .await;
    mount_dfo(&h, "").await;
    let (code, body) = h.post("/events", &routing_event("ct-000123", "chat")).await;
    assert_eq!(code, 200, "{body}");
    h.settle().await;
    let calls = h.api_calls().await;
    assert_eq!(
        calls,
        [(
            "PUT".to_owned(),
            "/dfo/3.0/contacts/ct-000123/routing-queue".to_owned(),
            json!({"skillId": 42})
        )]
    );
    let paths: Vec<String> = h
        .cxone_requests()
        .await
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "/.well-known/openid-configuration",
            "/auth/token",
            "/.well-known/cxone-configuration",
            "/dfo/3.0/contacts/ct-000123/routing-queue"
        ]
    );
}

#[tokio::test]
async fn the_dfo_profile_puts_the_dedup_status_as_custom_fields() {
    let opts = Options {
        profile: ProfileName::Dfo,
        rules: Some(vec![(
            "dedup.yaml".into(),
            cxrules_tests::DEDUP_RULES.into(),
        )]),
        ..Options::default()
    };
    let h = Harness::with(opts).await;
    mount_dfo(&h, "").await;
    for (text, sequence) in [("Where is my order?", 7), ("  where is my ORDER? ", 8)] {
        let (code, body) = h
            .post(ROUTE, &message("ct-555", "c-1", text, sequence))
            .await;
        assert_eq!(code, 200, "{body}");
    }
    h.settle().await;
    let field = |status: &str, sequence: &str| {
        json!([
            {"ident": "deduplication-status", "value": status},
            {"ident": "deduplication-last-sequence", "value": sequence},
        ])
    };
    let put = |body| {
        (
            "PUT".to_owned(),
            "/dfo/3.0/contacts/ct-555/custom-fields".to_owned(),
            body,
        )
    };
    assert_eq!(
        h.api_calls().await,
        [put(field("processed", "7")), put(field("suppressed", "8"))]
    );
}

#[tokio::test]
async fn an_api_host_with_a_path_keeps_it_and_the_id_stays_one_segment() {
    let opts = Options {
        profile: ProfileName::Dfo,
        rules: Some(vec![("routing.yaml".into(), DFO_RULES.into())]),
        ..Options::default()
    };
    let h = Harness::with(opts).await;
    Mock::given(path_regex("^/products/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "in_stock"})))
        .mount(&h.inventory)
        .await;
    mount_dfo(&h, "/gateway/v1/").await;
    for id in ["ct-000123", "ct-9 ?x=1"] {
        let (code, body) = h.post("/events", &routing_event(id, "chat")).await;
        assert_eq!(code, 200, "{body}");
    }
    h.settle().await;
    let mut paths: Vec<String> = h
        .cxone_requests()
        .await
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| r.url.path().to_owned())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/gateway/v1/dfo/3.0/contacts/ct-000123/routing-queue",
            "/gateway/v1/dfo/3.0/contacts/ct-9%20%3Fx%3D1/routing-queue"
        ]
    );
}

#[tokio::test]
async fn updates_can_travel_over_http2_without_negotiation() {
    for http2 in [false, true] {
        let h = Harness::with(Options {
            http2_prior_knowledge: http2,
            ..Options::default()
        })
        .await;
        let (code, body) = h
            .post(ROUTE, &message("int-h2", "cust-1", "hello", 1))
            .await;
        assert_eq!(code, 200, "{body}");
        h.settle().await;
        let requests = h.cxone_requests().await;
        let patches: Vec<_> = requests
            .iter()
            .filter(|r| r.method.as_str() == "PATCH")
            .collect();
        assert_eq!(patches.len(), 1, "http2: {http2}");
        assert_eq!(patches[0].url.path(), "/api/v2/interactions/int-h2");
        // HTTP/2 carries the host in the `:authority` pseudo-header, HTTP/1.1 in `Host`.
        for r in &requests {
            assert_eq!(
                r.headers.contains_key("host"),
                !http2,
                "http2: {http2}, {} {}",
                r.method,
                r.url.path()
            );
        }
    }
}

/// The DFO flow's endpoints; the discovered API host is the mock's address plus `prefix`.
pub(crate) async fn mount_dfo(h: &Harness, prefix: &str) {
    let issuer = h.cxone.uri();
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": issuer, "token_endpoint": format!("{issuer}/auth/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_basic"]})))
        .mount(&h.cxone)
        .await;
    let basic = base64::engine::general_purpose::STANDARD.encode("client-1:client-secret-1");
    Mock::given(method("POST"))
        .and(path("/auth/token"))
        .and(header("authorization", format!("Basic {basic}").as_str()))
        .and(body_string_contains("grant_type=password"))
        .and(body_string_contains("username=key-id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "dfo-tok", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "r", "id_token": id_token("tenant-42")})))
        .mount(&h.cxone)
        .await;
    Mock::given(path("/.well-known/cxone-configuration"))
        .and(query_param("tenantId", "tenant-42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            // No area/domain: with them the DFO host would be https://api-de-{area}.{domain};
            // without, discovery's api_endpoint (here the mock) is the host.
            "api_endpoint": format!("{issuer}{prefix}")})))
        .mount(&h.cxone)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(format!(
            "^{}/dfo/3.0/contacts/",
            prefix.trim_end_matches('/')
        )))
        .and(header("authorization", "Bearer dfo-tok"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&h.cxone)
        .await;
}
