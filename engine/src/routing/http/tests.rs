//! `HttpInventory` against local servers: wiremock, and raw sockets for misbehaving bodies.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

const TIMEOUT: Duration = Duration::from_millis(100);

async fn lookup_with(
    inventory: &HttpInventory,
    url: &str,
    pointer: &str,
    headers: &[(String, String)],
) -> Result<String, LookupError> {
    let req = LookupRequest {
        sku: "SKU-1",
        url,
        timeout: TIMEOUT,
        status_pointer: pointer,
        headers,
    };
    inventory.lookup(&req).await
}

async fn lookup(url: &str) -> Result<String, LookupError> {
    lookup_with(&HttpInventory::new(), url, "/status", &[]).await
}

/// A server answering every GET of `/products/SKU-1` with `response`.
async fn serve(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/products/SKU-1"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn url(server: &MockServer) -> String {
    format!("{}/products/SKU-1", server.uri())
}

fn json_answer(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn assert_no_status(result: Result<String, LookupError>, needle: &str) {
    match result {
        Err(LookupError::NoStatus(why)) => assert!(why.contains(needle), "{why}"),
        other => panic!("expected an answer without status mentioning {needle:?}, got {other:?}"),
    }
}

fn assert_bad_response(result: Result<String, LookupError>, needle: &str) {
    match result {
        Err(LookupError::BadResponse(why)) => assert!(why.contains(needle), "{why}"),
        other => panic!("expected a bad response mentioning {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn ok_with_status() {
    let server = serve(json_answer(json!({"sku": "SKU-1", "status": "in_stock"}))).await;
    assert_eq!(lookup(&url(&server)).await, Ok("in_stock".to_owned()));
}

#[tokio::test]
async fn ok_without_status() {
    let server = serve(json_answer(json!({"sku": "SKU-1"}))).await;
    assert_no_status(lookup(&url(&server)).await, "nothing at `/status`");
}

#[tokio::test]
async fn status_that_is_not_a_string() {
    let server = serve(json_answer(json!({"status": 3}))).await;
    assert_no_status(lookup(&url(&server)).await, "a number, not a string");
}

#[tokio::test]
async fn answer_that_is_not_json() {
    let server = serve(ResponseTemplate::new(200).set_body_string("<html>in stock</html>")).await;
    assert_bad_response(lookup(&url(&server)).await, "not JSON");
}

#[tokio::test]
async fn custom_status_pointer() {
    let body = json!({"data": {"availability": {"state": "low_stock"}, "status": "ignored"}});
    let server = serve(json_answer(body)).await;
    let got = lookup_with(
        &HttpInventory::new(),
        &url(&server),
        "/data/availability/state",
        &[],
    )
    .await;
    assert_eq!(got, Ok("low_stock".to_owned()));
}

#[tokio::test]
async fn client_and_server_errors_keep_their_code() {
    for (code, want) in [
        (404, LookupError::Client(404)),
        (429, LookupError::Client(429)),
        (500, LookupError::Upstream(500)),
        (503, LookupError::Upstream(503)),
    ] {
        let server = serve(ResponseTemplate::new(code)).await;
        assert_eq!(lookup(&url(&server)).await, Err(want), "{code}");
    }
}

#[tokio::test]
async fn slow_answer_times_out() {
    let slow = json_answer(json!({"status": "in_stock"})).set_delay(Duration::from_secs(5));
    let server = serve(slow).await;
    let started = Instant::now();
    assert_eq!(lookup(&url(&server)).await, Err(LookupError::Timeout));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn connection_refused_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    match lookup(&format!("http://127.0.0.1:{port}/products/SKU-1")).await {
        Err(LookupError::Unreachable(why)) => assert!(why.contains("refused"), "{why}"),
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn sends_accept_and_rule_headers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("accept", "application/json"))
        .and(header("x-api-key", "k-123"))
        .and(header("x-tenant", "acme"))
        .respond_with(json_answer(json!({"status": "in_stock"})))
        .expect(1)
        .mount(&server)
        .await;
    let headers = [
        ("x-api-key".to_owned(), "k-123".to_owned()),
        ("X-Tenant".to_owned(), "acme".to_owned()),
    ];
    let got = lookup_with(&HttpInventory::new(), &url(&server), "/status", &headers).await;
    assert_eq!(got, Ok("in_stock".to_owned()));
}

#[tokio::test]
async fn rule_accept_header_replaces_the_default() {
    let server = MockServer::start().await;
    Mock::given(header("accept", "application/vnd.inventory+json"))
        .respond_with(json_answer(json!({"status": "in_stock"})))
        .expect(1)
        .mount(&server)
        .await;
    let headers = [(
        "Accept".to_owned(),
        "application/vnd.inventory+json".to_owned(),
    )];
    let got = lookup_with(&HttpInventory::new(), &url(&server), "/status", &headers).await;
    assert_eq!(got, Ok("in_stock".to_owned()));
    let received = server.received_requests().await.unwrap();
    assert_eq!(received[0].headers.get_all("accept").iter().count(), 1);
}

#[tokio::test]
async fn invalid_rule_header_is_reported_without_a_request() {
    let server = serve(json_answer(json!({"status": "in_stock"}))).await;
    let headers = [("bad header".to_owned(), "x".to_owned())];
    match lookup_with(&HttpInventory::new(), &url(&server), "/status", &headers).await {
        Err(LookupError::Unreachable(why)) => assert!(why.contains("`bad header`"), "{why}"),
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn body_over_the_cap_is_refused() {
    let padding = "x".repeat(2 * 1024);
    let server = serve(json_answer(
        json!({"status": "in_stock", "padding": padding}),
    ))
    .await;
    let small = HttpInventory::new().with_max_body(1024);
    assert_bad_response(
        lookup_with(&small, &url(&server), "/status", &[]).await,
        "larger than 1024 bytes",
    );
    let roomy = HttpInventory::new().with_max_body(4 * 1024);
    assert_eq!(
        lookup_with(&roomy, &url(&server), "/status", &[]).await,
        Ok("in_stock".to_owned())
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_answer(json!({"status": "in_stock"})))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let target = format!("{}/internal", elsewhere.uri());
    let server = serve(ResponseTemplate::new(302).insert_header("location", target.as_str())).await;
    assert_bad_response(lookup(&url(&server)).await, &target);
}

#[tokio::test]
async fn with_client_uses_that_client() {
    let server = MockServer::start().await;
    Mock::given(header("user-agent", "embedder/1.0"))
        .respond_with(json_answer(json!({"status": "in_stock"})))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder()
        .user_agent("embedder/1.0")
        .build()
        .unwrap();
    let got = lookup_with(
        &HttpInventory::with_client(client),
        &url(&server),
        "/status",
        &[],
    )
    .await;
    assert_eq!(got, Ok("in_stock".to_owned()));
}

/// Accepts one connection, reads the request head, writes `head`, then runs `body`.
async fn raw_server<F, Fut>(head: &'static str, body: F) -> SocketAddr
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0; 4096];
        let _ = socket.read(&mut request).await;
        if socket.write_all(head.as_bytes()).await.is_ok() {
            body(socket).await;
        }
    });
    addr
}

#[tokio::test]
async fn slow_body_counts_toward_the_timeout() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n{\"status\":";
    let addr = raw_server(head, |socket| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(socket);
    })
    .await;
    let started = Instant::now();
    assert_eq!(
        lookup(&format!("http://{addr}/products/SKU-1")).await,
        Err(LookupError::Timeout)
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn chunked_body_over_the_cap_is_refused_while_streaming() {
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    let addr = raw_server(head, |mut socket| async move {
        let chunk = format!("{:x}\r\n{}\r\n", 8192, " ".repeat(8192));
        for _ in 0..32 {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    })
    .await;
    let inventory = HttpInventory::new();
    let req_url = format!("http://{addr}/products/SKU-1");
    let req = LookupRequest {
        sku: "SKU-1",
        url: &req_url,
        timeout: Duration::from_secs(5),
        status_pointer: "/status",
        headers: &[],
    };
    assert_bad_response(
        inventory.lookup(&req).await,
        &format!("larger than {DEFAULT_MAX_BODY} bytes"),
    );
}
