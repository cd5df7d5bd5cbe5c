//! The `dfo` profile on the shipped DFO and Studio rules, against a mock CXone (discovery,
//! token, the DFO contact API) and a mock inventory, with events shaped as CXone sends them.

use std::time::Duration;

use cxrules_server::cxone::ProfileName;
use cxrules_tests::{Harness, Options};
use serde_json::{json, Value};
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

use crate::outbound::mount_dfo;

const CONTACT: &str = "131988342510";
const INTERACTION: &str = "9a8b7c6d-1111-4222-8333-444455556666";
const STUDIO_TOKEN: &str = "studio-token-1";

/// The shipped rule files, the inventory pointed at the mock.
fn shipped_rules() -> Vec<(String, String)> {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/");
    let read = |name: &str| {
        let text = std::fs::read_to_string(format!("{repo}{name}")).expect("shipped rule file");
        let url = "${INVENTORY_API_URL:-https://inventory.example.com/api/v1/products}";
        (
            name.to_owned(),
            text.replace(url, "@INVENTORY@/products")
                .replace("${INVENTORY_TIMEOUT_MS:-2000}ms", "500ms"),
        )
    };
    ["dedup.yaml", "dfo.yaml", "studio.yaml"]
        .into_iter()
        .map(read)
        .collect()
}

async fn start() -> Harness {
    let h = Harness::with(Options {
        profile: ProfileName::Dfo,
        rules: Some(shipped_rules()),
        studio_token: Some(STUDIO_TOKEN.into()),
        ..Options::default()
    })
    .await;
    mount_dfo(&h, "").await;
    for (sku, status) in [("SKU-4711", "in_stock"), ("SKU-0815", "low_stock")] {
        Mock::given(path(format!("/products/{sku}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": status})))
            .mount(&h.inventory)
            .await;
    }
    h
}

/// A message event as CXone sends it.
fn message(event_type: &str, event_id: &str, message_id: &str, direction: &str) -> Value {
    let author = match direction {
        "inbound" => json!({"authorEndUserIdentity": {"idOnExternalPlatform": "+15550100"}}),
        _ => json!({"authorUser": {"id": 7001, "firstName": "Grace"}}),
    };
    let mut message = json!({
        "id": message_id,
        "contactNumber": CONTACT,
        "direction": direction,
        "messageContent": {"type": "TEXT", "text": "Where is my order?"},
    });
    message
        .as_object_mut()
        .unwrap()
        .extend(author.as_object().unwrap().clone());
    json!({
        "eventId": event_id,
        "eventObject": "Message",
        "eventType": event_type,
        "createdAt": "2026-11-23T10:00:00+00:00",
        "createdAtWithMilliseconds": "2026-11-23T10:00:00.123+00:00",
        "data": {
            "brand": {"id": 1386, "tenantId": "11ea5a9c-0000-4000-8000-000000000001"},
            "channel": {"id": "chat_51eafd7d-0000-4000-8000-000000000002",
                        "realExternalPlatformId": "chat", "mediaType": 3},
            "case": {"id": CONTACT, "interactionId": INTERACTION, "status": "new"},
            "message": message,
        }
    })
}

/// A case event as CXone sends it.
fn case_event(event_type: &str, event_id: &str, contact: &str, sku: &str) -> Value {
    json!({
        "eventId": event_id,
        "eventObject": "Case",
        "eventType": event_type,
        "createdAtWithMilliseconds": "2026-11-23T10:00:01.250+00:00",
        "data": {
            "brand": {"id": 1386, "tenantId": "11ea5a9c-0000-4000-8000-000000000001"},
            "channel": {"id": "chat_51eafd7d-0000-4000-8000-000000000002",
                        "realExternalPlatformId": "chat", "mediaType": 3},
            "case": {
                "id": contact, "interactionId": format!("{contact}-interaction"), "status": "new",
                "customFields": [
                    {"ident": "order-ref", "value": "A-1001"},
                    {"ident": "sku", "value": sku},
                ],
            },
            "routingQueue": {"id": "00000000-0000-4000-8000-0000000000bb", "skillId": 4101},
            "routingMode": "manual",
        }
    })
}

fn put(path: String, body: Value) -> (String, String, Value) {
    ("PUT".to_owned(), path, body)
}

#[tokio::test]
async fn a_customer_message_writes_custom_fields_on_the_contact_once() {
    let h = start().await;
    let (code, body) = h
        .post(
            "/events",
            &message("MessageCreated", "ev-1", "msg-1", "inbound"),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "processed", "{body}");
    assert_eq!(body["decision"]["contact_id"], CONTACT);
    assert_eq!(body["decision"]["interaction_id"], INTERACTION);
    // The agent's reply: a MessageCreated too, ignored with the reason.
    let (code, body) = h
        .post(
            "/events",
            &message("MessageCreated", "ev-2", "msg-2", "outbound"),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "ignored", "{body}");
    assert_eq!(
        body["decision"]["reason"],
        "`/data/message/direction` is `outbound`, not `inbound`"
    );
    // The customer's message again, as MessageAddedIntoCase under another event id.
    let (code, body) = h
        .post(
            "/events",
            &message("MessageAddedIntoCase", "ev-3", "msg-1", "inbound"),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "suppressed", "{body}");
    assert_eq!(body["decision"]["dedup"]["verdict"], "redelivery", "{body}");
    h.settle().await;
    assert_eq!(
        h.api_calls().await,
        [put(
            format!("/dfo/3.0/contacts/{CONTACT}/custom-fields"),
            json!([
                {"ident": "deduplication-status", "value": "processed"},
                {"ident": "deduplication-last-sequence", "value": "1795428000123"},
            ])
        )]
    );
}

#[tokio::test]
async fn a_new_contact_is_routed_on_its_custom_field_and_a_queue_change_is_not() {
    let h = start().await;
    let (code, body) = h
        .post(
            "/events",
            &case_event("CaseCreated", "ev-10", "131988342511", "SKU-4711"),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["decision"]["routing"]["skill_id"], 4101, "{body}");
    // Our own PUT makes CXone announce the queue change: not routed again.
    let (code, body) = h
        .post(
            "/events",
            &case_event(
                "CaseToRoutingQueueAssignmentChanged",
                "ev-11",
                "131988342511",
                "SKU-0815",
            ),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "ignored", "{body}");
    h.settle().await;
    assert_eq!(
        h.api_calls().await,
        [put(
            "/dfo/3.0/contacts/131988342511/routing-queue".into(),
            json!({"skillId": 4101})
        )]
    );
}

async fn studio(h: &Harness, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = h.http.post(format!("{}/studio/v1/decide", h.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.json(body).send().await.expect("request");
    let code = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert!(text.len() < 32 * 1024, "Studio reads at most 32 KB");
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn studio_request(message_id: &str, sku: Option<&str>) -> Value {
    let mut body = json!({
        "contactNumber": "131988342520",
        "interactionId": "82930415-eeee-4fff-8000-111122223333",
        "messageId": message_id,
        "text": "Is SKU-4711 in stock?",
        "sender": "+15550120",
        "direction": "inbound",
        "channel": "chat",
        "time": "2026-11-23T10:00:00.000Z",
    });
    if let Some(sku) = sku {
        body["sku"] = json!(sku);
    }
    body
}

#[tokio::test]
async fn the_studio_endpoint_decides_acts_and_answers_with_the_skill() {
    let h = start().await;
    // Without the bearer, or with a wrong one: refused, nothing decided.
    let request = studio_request("m-1", Some("SKU-4711"));
    let (code, body) = studio(&h, None, &request).await;
    assert_eq!(code, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("Studio token"));
    let (code, _) = studio(&h, Some("wrong"), &request).await;
    assert_eq!(code, 401);
    // Bad input: a 400 with a hint.
    let (code, body) = studio(&h, Some(STUDIO_TOKEN), &json!(["not", "an", "object"])).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["hint"].is_string());
    let (code, body) = studio(&h, Some(STUDIO_TOKEN), &json!({"interactionId": "x"})).await;
    assert_eq!(code, 400, "{body}");
    // With the bearer: decided, and the answer names the skill.
    let (code, body) = studio(&h, Some(STUDIO_TOKEN), &request).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "processed", "{body}");
    assert_eq!(body["skillId"], 4101, "{body}");
    assert_eq!(body["skillName"], "premium-support", "{body}");
    assert_eq!(body["queueName"], Value::Null, "{body}");
    assert_eq!(body["sku"], "SKU-4711", "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("new message"),
        "{body}"
    );
    // Studio retries a call it saw fail: the same message again is a re-delivery.
    let (code, body) = studio(&h, Some(STUDIO_TOKEN), &request).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "suppressed", "{body}");
    h.settle().await;
    let mut calls = h.api_calls().await;
    calls.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        calls,
        [
            put(
                "/dfo/3.0/contacts/131988342520/custom-fields".into(),
                json!([
                    {"ident": "deduplication-status", "value": "processed"},
                    {"ident": "deduplication-last-sequence", "value": "1795428000000"},
                ])
            ),
            put(
                "/dfo/3.0/contacts/131988342520/routing-queue".into(),
                json!({"skillId": 4101})
            ),
        ]
    );
}

#[tokio::test]
async fn the_studio_endpoint_is_off_without_a_token() {
    let h = Harness::with(Options {
        profile: ProfileName::Dfo,
        rules: Some(shipped_rules()),
        ..Options::default()
    })
    .await;
    let (code, body) = studio(&h, Some("anything"), &studio_request("m-1", None)).await;
    assert_eq!(code, 404, "{body}");
    assert!(body["hint"]
        .as_str()
        .unwrap()
        .contains("CXRULES_STUDIO_TOKEN"));
}

const NO_SKILL_ID: &str = r#"
version: 1
events:
  dfo_case_created:
    type: CaseCreated
    fields:
      interaction_id: /data/case/interactionId
      contact_id: /data/case/id
      extra: { sku: "/data/case/customFields[ident=sku]/value" }
    route: r
routing:
  r:
    sku: { field: sku }
    inventory: { url: "@INVENTORY@/products/{sku}", timeout: 300ms }
    statuses:
      in_stock: { skill_id: 4101 }
    unknown: { queues: [general] }
    fallback: { skill_id: 4100 }
"#;

#[tokio::test]
async fn under_dfo_a_target_without_a_skill_id_is_refused_on_reload_and_the_rules_stay() {
    let h = Harness::with(Options {
        profile: ProfileName::Dfo,
        rules: Some(shipped_rules()),
        admin_token: Some("admin".into()),
        ..Options::default()
    })
    .await;
    let version = h.state.engine().rules().version().to_owned();
    let bad = NO_SKILL_ID.replace("@INVENTORY@", &h.inventory.uri());
    std::fs::write(h.rules_dir.path().join("dfo.yaml"), bad).unwrap();
    let response = h
        .http
        .post(format!("{}/rules/reload", h.base))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: Value = response.json().await.unwrap();
    let text = body.to_string();
    assert!(text.contains("has no `skill_id`"), "{text}");
    assert!(text.contains("routing.r.unknown"), "{text}");
    assert_eq!(h.state.engine().rules().version(), version);
}

#[tokio::test]
async fn under_dfo_a_target_without_a_skill_id_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dfo.yaml"), NO_SKILL_ID).unwrap();
    let config = cxrules_server::Config {
        rules_dir: dir.path().to_path_buf(),
        profile: cxrules_server::cxone::Profile::builtin(ProfileName::Dfo),
        drain_timeout: Duration::from_secs(1),
        ..cxrules_server::Config::default()
    };
    let Err(err) = cxrules_server::AppState::from_config(&config).await else {
        panic!("the start is refused");
    };
    assert!(err.to_string().contains("has no `skill_id`"), "{err}");
}
