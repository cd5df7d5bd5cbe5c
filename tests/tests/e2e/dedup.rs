//! Duplicate suppression seen from outside: answers and the metadata updates CXone receives.

use std::time::Duration;

use cxrules_tests::{message, Harness, Options};
use serde_json::Value;

const ROUTE: &str = "/webhook/cxone/events";

fn statuses(calls: &[(String, String, Value)]) -> Vec<(String, i64)> {
    calls
        .iter()
        .map(|(_, _, body)| {
            let a = &body["attributes"];
            let status = a["deduplication:status"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (
                status,
                a["deduplication:lastSequence"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn never_backwards(seqs: &[(String, i64)]) {
    for pair in seqs.windows(2) {
        assert!(
            pair[1].1 >= pair[0].1,
            "lastSequence went backwards: {seqs:?}"
        );
    }
}

#[tokio::test]
async fn unique_messages_get_exactly_one_processed_update_each() {
    let h = Harness::start().await;
    for seq in 1..=5 {
        let (status, body) = h
            .post(
                ROUTE,
                &message("int-u1", "cust-1", &format!("message {seq}"), seq),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["outcome"], "processed");
        assert_eq!(body["queued"], serde_json::json!(["metadata"]));
    }
    h.settle().await;
    let calls = h.api_calls().await;
    assert!(calls
        .iter()
        .all(|(m, p, _)| m == "PATCH" && p == "/api/v2/interactions/int-u1"));
    let got = statuses(&calls);
    assert_eq!(
        got.iter().filter(|(s, _)| s == "processed").count(),
        5,
        "{got:?}"
    );
    assert_eq!(
        got.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
}

#[tokio::test]
async fn resends_are_suppressed_and_never_marked_processed_again() {
    let h = Harness::start().await;
    let sends = [
        ("Hello World", 1, "processed"),
        ("  hello   WORLD \n", 2, "suppressed"),
        ("B", 3, "processed"),
        ("Hello World", 4, "suppressed"),
        ("Hello World", 4, "suppressed"),
    ];
    for (text, seq, want) in sends {
        let (status, body) = h.post(ROUTE, &message("int-d1", "cust-1", text, seq)).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some(want)),
            "{text:?}: {body}"
        );
    }
    h.settle().await;
    let got = statuses(&h.api_calls().await);
    assert_eq!(got.len(), 5, "{:?}", h.api_calls().await);
    let wanted: Vec<&str> = sends.iter().map(|s| s.2).collect();
    assert_eq!(
        got.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        wanted
    );
    never_backwards(&got);
}

#[tokio::test]
async fn a_late_message_never_lowers_the_last_sequence() {
    let h = Harness::start().await;
    assert_eq!(
        h.post(ROUTE, &message("int-o1", "c", "five", 5)).await.0,
        200
    );
    let (_, body) = h.post(ROUTE, &message("int-o1", "c", "three", 3)).await;
    assert_eq!(body["decision"]["dedup"]["verdict"], "out_of_order");
    // Message 5's update already carries the highest sequence and the newest status; the late
    // message's would only overwrite that status with an older message's.
    assert_eq!(body["queued"], serde_json::json!([]), "{body}");
    h.settle().await;
    let got = statuses(&h.api_calls().await);
    assert_eq!(got, [("processed".to_owned(), 5)]);
}

#[tokio::test]
async fn a_burst_is_coalesced_into_one_call_with_the_highest_sequence() {
    let h = Harness::with(Options {
        coalesce: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    for (text, seq) in [("one", 1), ("two", 2), ("one", 3)] {
        assert_eq!(
            h.post(ROUTE, &message("int-c1", "c", text, seq)).await.0,
            200
        );
    }
    h.settle().await;
    let got = statuses(&h.api_calls().await);
    assert_eq!(
        got,
        [("suppressed".to_owned(), 3)],
        "the latest status, the highest sequence"
    );
}

#[tokio::test]
async fn dry_run_decides_but_calls_nothing() {
    let h = Harness::with(Options {
        live: false,
        ..Options::default()
    })
    .await;
    let (status, body) = h.post(ROUTE, &message("int-dry", "c", "hi", 1)).await;
    assert_eq!((status, body["dry_run"].as_bool()), (200, Some(true)));
    assert_eq!(
        h.post(ROUTE, &message("int-dry", "c", "HI ", 2)).await.1["outcome"],
        "suppressed"
    );
    h.settle().await;
    assert!(h.cxone_requests().await.is_empty());
    let metrics = h.metrics_text().await;
    assert!(
        metrics
            .contains("cxrules_outbound_calls_total{endpoint=\"metadata\",status=\"dry_run\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "cxrules_duplicates_suppressed_total{channel=\"default\",verdict=\"duplicate\"} 1"
    ));
}
