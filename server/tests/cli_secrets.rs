//! Secrets stay out of the logs of `cxrules serve` while it really uses them: a live `dfo`
//! host against a mocked CXone (wiremock) fetches a token with the client secret and the access
//! key secret, sends an update with the token, and its logs, at the most verbose level and in
//! both formats, are scanned for every one of them.
#![cfg(unix)]

mod cli_support;

use std::process::Child;
use std::time::Duration;

use base64::Engine as _;
use cli_support::{arg, command, free_port, workspace};
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_SECRET: &str = "client-s3cret-4b1f9e";
const ACCESS_KEY_SECRET: &str = "key-s3cret-77d0c2";
const ACCESS_TOKEN: &str = "access-tok3n-e5a8d1";
const REFRESH_TOKEN: &str = "refresh-tok3n-0c9b44";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An id_token naming the tenant (the claims are all the host reads).
fn id_token() -> String {
    let claims = json!({"tenantId": "tenant-9", "sub": "api-user"}).to_string();
    format!(
        "{}.{}.sig",
        b64(br#"{"alg":"none"}"#),
        b64(claims.as_bytes())
    )
}

/// The `dfo` flow's endpoints on `cxone`.
async fn mount_dfo(cxone: &MockServer) {
    let issuer = cxone.uri();
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"issuer": issuer, "token_endpoint": format!("{issuer}/auth/token")}),
        ))
        .mount(cxone)
        .await;
    Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": REFRESH_TOKEN, "id_token": id_token()})))
        .mount(cxone)
        .await;
    Mock::given(path("/.well-known/cxone-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"api_endpoint": issuer})))
        .mount(cxone)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("^/dfo/3.0/contacts/"))
        .respond_with(ResponseTemplate::new(202))
        .mount(cxone)
        .await;
}

/// Starts a live `dfo` host against `cxone`, logging everything at trace level to `log`.
async fn start(cxone: &MockServer, format: &str, log: &std::path::Path) -> (Server, String) {
    let port = free_port().to_string();
    let rules = workspace().join("rules");
    let argv = [
        "serve",
        "--rules",
        arg(&rules),
        "--bind",
        "127.0.0.1",
        "--port",
        &port,
    ];
    let mut cmd = command(&workspace(), &argv);
    let file = std::fs::File::create(log).unwrap();
    cmd.args([
        "--no-watch",
        "--env-file",
        "/dev/null",
        "--log-format",
        format,
    ])
    .env("RUST_LOG", "trace")
    .env("CXONE_PROFILE", "dfo")
    .env("CXONE_ISSUER", cxone.uri())
    .env("CXONE_CLIENT_ID", "client-9")
    .env("CXONE_CLIENT_SECRET", CLIENT_SECRET)
    .env("CXONE_ACCESS_KEY_ID", "key-id-9")
    .env("CXONE_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET)
    .stdout(file.try_clone().unwrap())
    .stderr(file);
    let server = Server(cmd.spawn().expect("cxrules serve starts"));
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        let ready = reqwest::get(format!("{base}/readyz")).await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return (server, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cxrules serve did not become ready");
}

/// Waits (bounded) until `cxone` has received a request matching `seen`.
async fn until_received(cxone: &MockServer, seen: impl Fn(&Request) -> bool) -> Vec<Request> {
    for _ in 0..400 {
        let requests = cxone.received_requests().await.unwrap_or_default();
        if requests.iter().any(&seen) {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("cxone never received the expected request");
}

#[tokio::test]
async fn a_live_host_that_fetched_and_used_a_token_logs_none_of_its_secrets() {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("client-9:{CLIENT_SECRET}"));
    let secrets = [
        CLIENT_SECRET,
        ACCESS_KEY_SECRET,
        ACCESS_TOKEN,
        REFRESH_TOKEN,
        &id_token(),
        &basic,
    ];
    for format in ["human", "json"] {
        let cxone = MockServer::start().await;
        mount_dfo(&cxone).await;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("serve.log");
        let (server, base) = start(&cxone, format, &log).await;
        let event = json!({"type": "conversations.messages.messageCreated",
            "data": {"message": {"interactionId": "ct-1", "senderId": "c-1",
                                 "content": "where is my order?", "sequenceNumber": 1}}});
        let sent = reqwest::Client::new()
            .post(format!("{base}/webhook/cxone/events"))
            .json(&event)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);
        let requests = until_received(&cxone, |r| r.method.as_str() == "PUT").await;
        drop(server);

        // The secrets were really sent: the token request carried both, the update the token.
        let token_request = requests
            .iter()
            .find(|r| r.url.path() == "/auth/token")
            .expect("a token request");
        let form = String::from_utf8_lossy(&token_request.body);
        assert!(form.contains(ACCESS_KEY_SECRET), "{form}");
        let authorization = |r: &Request| {
            r.headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(authorization(token_request), format!("Basic {basic}"));
        let update = requests
            .iter()
            .find(|r| r.method.as_str() == "PUT")
            .unwrap();
        assert_eq!(authorization(update), format!("Bearer {ACCESS_TOKEN}"));

        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(
            logged.contains("cxone token refreshed"),
            "{format}: {logged}"
        );
        assert!(
            logged.contains("cxone api host discovered"),
            "{format}: {logged}"
        );
        for secret in &secrets {
            assert!(
                !logged.contains(secret),
                "{format} logs contain `{secret}`:\n{logged}"
            );
        }
    }
}
