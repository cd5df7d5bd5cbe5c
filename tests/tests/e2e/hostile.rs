//! Hostile input: every answer is a 4xx or a harmless 2xx, and no request leaves the API paths.

use cxrules_tests::{message, Harness, Options};
use percent_decode::decode;

const ROUTE: &str = "/webhook/cxone/events";
const JSON: (&str, &str) = ("content-type", "application/json");

mod percent_decode {
    /// Decodes %XX escapes (test-side, to compare a path segment with the id sent).
    pub fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 3 <= bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}

#[tokio::test]
async fn malformed_bodies_get_a_400_that_says_what_is_wrong() {
    let h = Harness::start().await;
    let cases: &[(&[u8], &str)] = &[
        (b"{\"type\": ", "not valid JSON"),
        (b"null", "JSON object"),
        (b"[1, 2]", "JSON object"),
        (b"\"text\"", "JSON object"),
        (b"42", "JSON object"),
        (b"", "not valid JSON"),
        (br#"{"type": "conversations.messages.messageCreated", "data": {}}"#, "missing field"),
        (br#"{"type": "conversations.messages.messageCreated", "data": {"message": {"interactionId": "i", "senderId": "s", "content": 5, "sequenceNumber": 1}}}"#, "content"),
        (br#"{"type": "conversations.messages.messageCreated", "data": {"message": {"interactionId": ["i"], "senderId": "s", "content": "x", "sequenceNumber": 1}}}"#, "interaction_id"),
    ];
    for (body, says) in cases {
        let response = h.post_raw(ROUTE, body.to_vec(), &[JSON]).await;
        let status = response.status().as_u16();
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{}: {answer}", String::from_utf8_lossy(body));
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(says), "{error} should mention {says}");
        assert!(answer["hint"].as_str().is_some_and(|h| !h.is_empty()));
    }
    assert!(h.cxone_requests().await.is_empty());
}

#[tokio::test]
async fn wrong_content_types_and_huge_bodies_are_refused() {
    let h = Harness::with(Options {
        body_limit: 64 * 1024,
        ..Options::default()
    })
    .await;
    let event = serde_json::to_vec(&message("i-1", "c", "hi", 1)).unwrap();
    assert_eq!(
        h.post_raw(ROUTE, event.clone(), &[])
            .await
            .status()
            .as_u16(),
        415
    );
    assert_eq!(
        h.post_raw(ROUTE, event.clone(), &[("content-type", "text/plain")])
            .await
            .status()
            .as_u16(),
        415
    );
    let ok = h
        .post_raw(
            ROUTE,
            event,
            &[("content-type", "application/json; charset=utf-8")],
        )
        .await;
    assert_eq!(ok.status().as_u16(), 200);
    let huge = serde_json::to_vec(&message("i-2", "c", &"x".repeat(200 * 1024), 1)).unwrap();
    let response = h.post_raw(ROUTE, huge, &[JSON]).await;
    assert_eq!(response.status().as_u16(), 413);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(answer["error"].as_str().unwrap().contains("65536"));
    assert_eq!(
        h.post_raw("/nowhere", vec![], &[]).await.status().as_u16(),
        404
    );
    let get = h
        .http
        .get(format!("{}{ROUTE}", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
}

#[tokio::test]
async fn hostile_ids_never_leave_the_api_path() {
    let h = Harness::start().await;
    let ids = [
        "../../admin",
        "a?b=c",
        "a#b",
        "x%2F..",
        "..",
        ".",
        "a/b",
        "é/ü ✓",
        "a\r\nHost: evil",
        "a\u{0}b",
        "%2e%2e",
        "\\..\\",
        "a b",
        &"x".repeat(300),
    ];
    for (n, id) in ids.iter().enumerate() {
        let (status, body) = h.post(ROUTE, &message(id, "c", &format!("m{n}"), 1)).await;
        assert!(status == 200 || status == 400, "{id:?}: {status} {body}");
    }
    h.settle().await;
    for request in h.cxone_requests().await {
        let path = request.url.path();
        if path == "/oauth2/token" {
            continue;
        }
        assert!(request.url.query().is_none(), "{}", request.url);
        let segment = path
            .strip_prefix("/api/v2/interactions/")
            .unwrap_or_else(|| panic!("left the api path: {path}"));
        assert!(!segment.contains('/'), "more than one segment: {path}");
        let sent = decode(segment);
        assert!(
            ids.contains(&sent.as_str()),
            "{path} decodes to {sent:?}, not an id that was sent"
        );
        assert!(sent != "." && sent != "..");
    }
    let (status, _) = h.post(ROUTE, &message("ok-id", "c", "fine", 1)).await;
    assert_eq!(status, 200, "the server still works");
}
