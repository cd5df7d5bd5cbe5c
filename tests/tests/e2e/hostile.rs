//! Hostile input: every answer is a 4xx or a harmless 2xx, and no request leaves the API paths.

use cxrules_tests::{message, routing_event, Harness, Options};
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
    let long = "x".repeat(300);
    // Ids that can be carried safely are accepted and encoded into one path segment; ids with
    // control characters, dot segments or over the length limit are refused at ingest.
    let ids: &[(&str, u16)] = &[
        ("../../admin", 200),
        ("a?b=c", 200),
        ("a#b", 200),
        ("x%2F..", 200),
        ("a/b", 200),
        ("é/ü ✓", 200),
        ("%2e%2e", 200),
        ("\\..\\", 200),
        ("a b", 200),
        ("..", 400),
        (".", 400),
        ("a\r\nHost: evil", 400),
        ("a\nb", 400),
        ("a\u{0}b", 400),
        ("a\u{7f}b", 400),
        (&long, 400),
    ];
    for (n, &(id, expected)) in ids.iter().enumerate() {
        let (status, body) = h.post(ROUTE, &message(id, "c", &format!("m{n}"), 1)).await;
        assert_eq!(status, expected, "dedup {id:?}: {body}");
        if expected == 400 {
            assert!(body["error"].as_str().is_some(), "{body}");
        }
        let (status, body) = h
            .post("/webhook/routing-events", &routing_event(id, "chat"))
            .await;
        assert_eq!(status, expected, "routing {id:?}: {body}");
    }
    // A hostile media type ends up inside the SKU, and so inside the inventory URL.
    let (status, body) = h
        .post(
            "/webhook/routing-events",
            &routing_event("int-media", "../x?y#z"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    h.settle().await;

    let accepted: Vec<&str> = ids
        .iter()
        .filter(|(_, expected)| *expected == 200)
        .map(|(id, _)| *id)
        .chain(["int-media"])
        .collect();
    let mut api_calls = 0;
    for request in h.cxone_requests().await {
        let path = request.url.path();
        if path == "/oauth2/token" {
            continue;
        }
        api_calls += 1;
        assert!(request.url.query().is_none(), "{}", request.url);
        let segment = path
            .strip_prefix("/api/v2/interactions/")
            .or_else(|| path.strip_prefix("/api/v2/routing/interactions/"))
            .unwrap_or_else(|| panic!("left the api paths: {path}"));
        assert!(!segment.contains('/'), "more than one segment: {path}");
        let sent = decode(segment);
        assert!(
            accepted.contains(&sent.as_str()),
            "{path} decodes to {sent:?}, not an accepted id"
        );
    }
    // One metadata update per accepted message, one routing update per accepted routing event.
    assert_eq!(api_calls, 2 * (accepted.len() - 1) + 1);
    let lookups = h.inventory.received_requests().await.unwrap_or_default();
    assert_eq!(lookups.len(), accepted.len(), "one lookup per routed event");
    for request in lookups {
        let path = request.url.path();
        assert!(request.url.query().is_none(), "{}", request.url);
        let segment = path
            .strip_prefix("/products/")
            .unwrap_or_else(|| panic!("left the inventory path: {path}"));
        assert!(!segment.contains('/'), "more than one segment: {path}");
        assert!(decode(segment).starts_with("SKU-"), "{path}");
    }
    let (status, _) = h.post(ROUTE, &message("ok-id", "c", "fine", 1)).await;
    assert_eq!(status, 200, "the server still works");
}
