//! Overload and shutdown: a full queue answers 503 and forgets the event; shutdown drains.

use std::time::Duration;

use cxrules_tests::{message, Harness, Options};
use wiremock::matchers::path_regex;
use wiremock::{Mock, ResponseTemplate};

const ROUTE: &str = "/webhook/cxone/events";

/// A server whose queue has one place, taken (for 500 ms) by the update of a first event.
async fn full_queue() -> Harness {
    let h = Harness::with(Options {
        capacity: 1,
        ..Options::default()
    })
    .await;
    Mock::given(path_regex("^/api/v2/interactions/int-slow$"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(500)))
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    let (status, body) = h.post(ROUTE, &message("int-slow", "c", "first", 1)).await;
    assert_eq!(status, 200, "{body}");
    h
}

#[tokio::test]
async fn a_full_queue_answers_503_and_the_retry_is_processed() {
    let h = full_queue().await;
    let event = message("int-next", "c", "second", 1);
    let response = h
        .http
        .post(format!("{}{ROUTE}", h.base))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers().get("retry-after").unwrap(), "1");
    h.settle().await;
    let (status, body) = h.post(ROUTE, &event).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    h.settle().await;
    let to_next: Vec<_> = h
        .api_calls()
        .await
        .into_iter()
        .filter(|(_, p, _)| p.ends_with("int-next"))
        .collect();
    assert_eq!(to_next.len(), 1);
    assert_eq!(
        to_next[0].2["attributes"]["deduplication:status"],
        "processed"
    );
}

#[tokio::test]
async fn shutdown_drains_the_queue() {
    let mut h = Harness::start().await;
    Mock::given(path_regex("^/api/v2/"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(150)))
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    for n in 0..5 {
        let id = format!("int-drain-{n}");
        assert_eq!(h.post(ROUTE, &message(&id, "c", "bye", n)).await.0, 200);
    }
    assert!(
        h.state.effects().depth() > 0,
        "still queued when the stop begins"
    );
    h.stop().await;
    assert_eq!(h.state.effects().depth(), 0);
    assert_eq!(
        h.api_calls().await.len(),
        5,
        "every queued update was delivered before exit"
    );
    let refused = h
        .state
        .effects()
        .try_enqueue("late", vec![], tokio::time::Instant::now());
    assert!(refused.is_err(), "no new work after shutdown");
}

#[tokio::test]
async fn during_the_drain_readyz_answers_503_and_new_events_are_told_to_retry() {
    let mut h = Harness::start().await;
    Mock::given(path_regex("^/api/v2/interactions/int-slow$"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1500)))
        .with_priority(1)
        .mount(&h.cxone)
        .await;
    let (status, body) = h.post(ROUTE, &message("int-slow", "c", "first", 1)).await;
    assert_eq!(status, 200, "{body}");
    h.begin_stop();
    // The drain lasts as long as the slow update's call; the listener answers meanwhile.
    let mut readyz = None;
    for _ in 0..100 {
        match h.http.get(format!("{}/readyz", h.base)).send().await {
            Ok(r) if r.status() == 503 => {
                readyz = Some(r.status().as_u16());
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(e) => panic!("/readyz during the drain: {e}"),
        }
    }
    assert_eq!(readyz, Some(503), "/readyz said ready all along");
    let late = h
        .http
        .post(format!("{}{ROUTE}", h.base))
        .json(&message("int-late", "c", "too late", 1))
        .send()
        .await
        .expect("the listener answers during the drain");
    assert_eq!(late.status().as_u16(), 503);
    assert_eq!(late.headers().get("retry-after").unwrap(), "1");
    let body: serde_json::Value = late.json().await.unwrap();
    assert!(
        body["error"].is_string() && body["hint"].is_string(),
        "{body}"
    );
    assert!(!h.is_stopped(), "still draining");
    h.stop().await;
    let calls = h.api_calls().await;
    assert_eq!(
        calls.len(),
        1,
        "the queued update went out, the late one was never taken: {calls:?}"
    );
    assert!(
        h.http
            .get(format!("{}/readyz", h.base))
            .send()
            .await
            .is_err(),
        "the listener is closed once the drain is over"
    );
}

/// One event type both deduplicated and routed (`@INVENTORY@` is the harness's mock).
const DEDUP_AND_ROUTE: &str = include_str!("../../fixtures/dedup_and_route.yaml");

#[tokio::test]
async fn a_sender_that_hangs_up_during_the_lookup_still_gets_its_updates_once() {
    let h = Harness::with(Options {
        rules: Some(vec![("rules.yaml".into(), DEDUP_AND_ROUTE.into())]),
        ..Options::default()
    })
    .await;
    Mock::given(path_regex("^/products/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"status": "in_stock"}))
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&h.inventory)
        .await;
    let event = serde_json::json!({"type": "order.message", "id": "int-7", "from": "c-7",
                                   "text": "where is my parcel", "media": "chat"});
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let hung_up = impatient
        .post(format!("{}/events", h.base))
        .json(&event)
        .send()
        .await;
    assert!(
        hung_up.is_err(),
        "the sender gives up before the lookup ends"
    );
    // The sender's retry arrives while the first delivery is still being decided: it is the
    // same message, and the first delivery's updates are on their way.
    let (status, body) = h.post("/events", &event).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "suppressed", "{body}");
    let routed = |calls: &[(String, String, serde_json::Value)]| {
        calls
            .iter()
            .filter(|(_, path, _)| path == "/api/v2/routing/interactions/int-7")
            .count()
    };
    let mut calls = h.api_calls().await;
    for _ in 0..100 {
        if routed(&calls) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        calls = h.api_calls().await;
    }
    h.settle().await;
    let calls = h.api_calls().await;
    assert_eq!(routed(&calls), 1, "one routing update: {calls:?}");
    assert!(
        calls
            .iter()
            .any(|(_, path, body)| path == "/api/v2/interactions/int-7"
                && body["attributes"]["deduplication:status"] == "processed"),
        "the first delivery's metadata went out: {calls:?}"
    );
}

#[tokio::test]
async fn with_the_queue_full_bad_input_still_gets_a_4xx_and_unhandled_types_a_decision() {
    let h = full_queue().await;
    let no_id = serde_json::json!({"type": "conversations.messages.messageCreated",
                                   "data": {"message": {"senderId": "c", "content": "x"}}});
    let (status, body) = h.post(ROUTE, &no_id).await;
    assert_eq!(status, 400, "{body}");
    let unhandled = serde_json::json!({"type": "some.other.event", "data": {}});
    let (status, body) = h.post(ROUTE, &unhandled).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("ignored")),
        "{body}"
    );
    let (status, body) = h.post(ROUTE, &message("int-next", "c", "second", 1)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        h.state.engine().dedup_stats()[0].1.fingerprints,
        1,
        "only the first recorded"
    );
}
