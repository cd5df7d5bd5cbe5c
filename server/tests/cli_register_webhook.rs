//! `cxrules register-webhook` through the real binary against a mocked CXone (wiremock): create
//! once, leave an existing registration alone, name the missing permission on 403, dry-run.

mod cli_support;

use cli_support::{arg, command, dir_with, finish, Run};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HOOK: &str = "https://rules.example.com/webhook/cxone/events";
const WEBHOOKS: &str = "/api/v2/events/webhooks";

const RULES: &str = "
version: 1
events:
  message: { type: conversations.messages.messageCreated }
  routed: { type: routing.interaction.created }
";

/// The body the seed profile sends for [`RULES`].
fn seed_body() -> Value {
    json!({
        "name": "cxrules",
        "url": HOOK,
        "eventTypes": ["conversations.messages.messageCreated", "routing.interaction.created"],
        "isActive": true,
        "headers": {},
    })
}

async fn token(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(body_string_contains("client_id=id-1"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "tok", "expires_in": 3600})),
        )
        .expect(times)
        .mount(server)
        .await;
}

async fn listing(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(WEBHOOKS))
        .and(header("authorization", "Bearer tok"))
        .respond_with(answer)
        .expect(1)
        .mount(server)
        .await;
}

/// Runs the binary with the rules of [`RULES`] and CXone at `server`.
async fn register(server: &MockServer, extra: &[&str], env: &[(&str, &str)]) -> Run {
    register_with(RULES, server, extra, env).await
}

/// Runs the binary with `rules` as the rule file and CXone at `server`.
async fn register_with(
    rules: &str,
    server: &MockServer,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let rules = dir_with(&[("rules.yaml", rules)]);
    let mut args = vec![
        "register-webhook",
        "--url",
        HOOK,
        "--rules",
        arg(rules.path()),
    ];
    args.extend_from_slice(extra);
    let mut cmd = command(rules.path(), &args);
    cmd.env("CXONE_BASE_URL", server.uri());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = tokio::task::spawn_blocking(move || finish(cmd))
        .await
        .unwrap();
    drop(rules);
    run
}

const CREDENTIALS: &[(&str, &str)] = &[
    ("CXONE_CLIENT_ID", "id-1"),
    ("CXONE_CLIENT_SECRET", "secret-1"),
];

#[tokio::test]
async fn registers_the_rules_event_types_once() {
    let server = MockServer::start().await;
    token(&server, 1).await;
    listing(&server, ResponseTemplate::new(200).set_body_json(json!([]))).await;
    Mock::given(method("POST"))
        .and(path(WEBHOOKS))
        .and(header("authorization", "Bearer tok"))
        .and(body_json(seed_body()))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "wh-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let run = register(&server, &[], CREDENTIALS).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("ok: registered the webhook (id wh-1) for {HOOK}")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("secret-1") && !run.stderr.contains("secret-1"));
}

#[tokio::test]
async fn an_existing_registration_is_left_alone() {
    let server = MockServer::start().await;
    token(&server, 1).await;
    let list = json!({"webhooks": [
        {"id": "wh-0", "url": "https://other.example.com/hook", "eventTypes": []},
        {"id": "wh-9", "url": format!("{HOOK}/"), "eventTypes": ["conversations.messages.messageCreated"]},
    ]});
    listing(&server, ResponseTemplate::new(200).set_body_json(list)).await;
    Mock::given(method("POST"))
        .and(path(WEBHOOKS))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&server)
        .await;
    let run = register(&server, &[], CREDENTIALS).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "ok: a webhook for {HOOK} is already registered (id wh-9); nothing changed"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("note: it does not subscribe to routing.interaction.created"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn forbidden_names_the_missing_permission() {
    let server = MockServer::start().await;
    token(&server, 1).await;
    listing(&server, ResponseTemplate::new(200).set_body_json(json!([]))).await;
    Mock::given(method("POST"))
        .and(path(WEBHOOKS))
        .respond_with(ResponseTemplate::new(403))
        .expect(1)
        .mount(&server)
        .await;
    let run = register(&server, &[], CREDENTIALS).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "error: cxone answered 403: the api client lacks the `webhooks:write` permission"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("= hint: grant the OAuth client the `webhooks:write` scope"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn forbidden_listing_stops_before_creating() {
    let server = MockServer::start().await;
    token(&server, 1).await;
    listing(&server, ResponseTemplate::new(403)).await;
    Mock::given(method("POST"))
        .and(path(WEBHOOKS))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&server)
        .await;
    let run = register(&server, &[], CREDENTIALS).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("webhooks:write"), "{}", run.stderr);
}

#[tokio::test]
async fn a_401_is_retried_once_with_a_fresh_token() {
    let server = MockServer::start().await;
    token(&server, 2).await;
    Mock::given(method("GET"))
        .and(path(WEBHOOKS))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(WEBHOOKS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(WEBHOOKS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 42})))
        .expect(1)
        .mount(&server)
        .await;
    let run = register(&server, &[], CREDENTIALS).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("(id 42)"), "{}", run.stdout);
}

#[tokio::test]
async fn the_seeds_variable_names_work_and_flags_set_types_path_and_body() {
    let server = MockServer::start().await;
    token(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/v9/hooks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .expect(1)
        .mount(&server)
        .await;
    let body = json!({"target": HOOK, "types": ["a.b"], "label": "svc cxrules", "active": true});
    Mock::given(method("POST"))
        .and(path("/v9/hooks"))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let files = dir_with(&[(
        "body.json",
        r#"{"target": "{url}", "types": "{event_types}", "label": "svc {name}", "active": true}"#,
    )]);
    let body_file = files.path().join("body.json");
    let seed_env = [
        ("CONE_CLIENT_ID", "id-1"),
        ("CONE_CLIENT_SECRET", "secret-1"),
    ];
    let extra = [
        "--event-type",
        "a.b",
        "--path",
        "/v9/hooks",
        "--body-file",
        arg(&body_file),
    ];
    let run = register(&server, &extra, &seed_env).await;
    assert_eq!(run.code, 0, "{run:?}");
}

#[tokio::test]
async fn dry_run_prints_the_request_and_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let run = register(&server, &["--dry-run"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.starts_with("dry run: nothing sent\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("3. POST {}{WEBHOOKS}\n", server.uri())),
        "{}",
        run.stdout
    );
    let json_start = run.stdout.find("\n{").unwrap();
    let body: Value = serde_json::from_str(&run.stdout[json_start..]).unwrap();
    assert_eq!(body, seed_body());
}

#[tokio::test]
async fn missing_credentials_and_invalid_rules_are_reported() {
    let server = MockServer::start().await;
    let run = register(&server, &[], &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("error: no cxone credentials"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("CONE_CLIENT_ID"), "{}", run.stderr);

    let bad = "version: 1\nevents: { e: { type: 5 } }\n";
    let run = register_with(bad, &server, &["--dry-run"], &[]).await;
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("name the types with --event-type"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn the_registration_says_where_its_event_types_come_from() {
    let server = MockServer::start().await;
    let run = register(&server, &["--dry-run"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("event types from the rules in ")
            && run.stdout.contains("(rules.yaml): conversations.messages.messageCreated, routing.interaction.created\n"),
        "{}",
        run.stdout
    );
    let flags = register(&server, &["--dry-run", "--event-type", "a.b"], &[]).await;
    assert!(
        flags
            .stdout
            .contains("event types from --event-type: a.b\n"),
        "{}",
        flags.stdout
    );
}

#[tokio::test]
async fn a_bearer_inbound_auth_is_registered_as_the_header_cxone_sends() {
    let server = MockServer::start().await;
    token(&server, 1).await;
    listing(&server, ResponseTemplate::new(200).set_body_json(json!([]))).await;
    let mut body = seed_body();
    body["headers"] = json!({"Authorization": "Bearer inbound-7"});
    Mock::given(method("POST"))
        .and(path(WEBHOOKS))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let bearer = [
        ("CXRULES_WEBHOOK_AUTH", "bearer"),
        ("CXRULES_WEBHOOK_SECRET", "inbound-7"),
    ];
    let env: Vec<(&str, &str)> = [CREDENTIALS, &bearer].concat();
    let run = register(&server, &[], &env).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("inbound auth: bearer"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("inbound-7"),
        "the secret is not printed: {}",
        run.stdout
    );

    let dry = register(&server, &["--dry-run"], &bearer).await;
    assert!(
        dry.stdout
            .contains("\"Authorization\": \"Bearer <CXRULES_WEBHOOK_SECRET>\""),
        "{}",
        dry.stdout
    );
    assert!(!dry.stdout.contains("inbound-7"), "{}", dry.stdout);
}

#[tokio::test]
async fn a_signature_the_registration_cannot_ask_for_is_said_plainly() {
    let server = MockServer::start().await;
    let hmac = [
        ("CXRULES_WEBHOOK_AUTH", "hmac"),
        ("CXRULES_WEBHOOK_SECRET", "k"),
    ];
    let run = register(&server, &["--dry-run"], &hmac).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("warning: the registration cannot ask cxone to sign")
            && run.stderr.contains("X-Webhook-Signature"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("sha256"),
        "no fixed signature header: {}",
        run.stdout
    );
}

#[tokio::test]
async fn under_dfo_it_refuses_and_says_how_events_reach_cxrules() {
    let server = MockServer::start().await;
    let mut env = CREDENTIALS.to_vec();
    env.push(("CXONE_PROFILE", "dfo"));
    let run = register(&server, &[], &env).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("no API to register a webhook"),
        "{run:?}"
    );
    assert!(run.stderr.contains("/studio/v1/decide"), "{run:?}");
    assert!(run.stderr.contains("Connecting CXone"), "{run:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}
