//! Overload and shutdown: a full queue answers 503 and forgets the event; shutdown drains.

use std::time::Duration;

use cxrules_tests::{message, Harness, Options};
use wiremock::matchers::path_regex;
use wiremock::{Mock, ResponseTemplate};

const ROUTE: &str = "/webhook/cxone/events";

#[tokio::test]
async fn a_full_queue_answers_503_and_the_retry_is_processed() {
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
    assert_eq!(
        h.post(ROUTE, &message("int-slow", "c", "first", 1)).await.0,
        200
    );
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
