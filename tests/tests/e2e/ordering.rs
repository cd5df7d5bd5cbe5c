//! Per-interaction order under concurrency: many events of one interaction at once, each waiting
//! a different time for the inventory between its dedup check and its queueing, must still leave
//! CXone with a `deduplication:lastSequence` that never goes backwards and the newest message's
//! `deduplication:status` last.

use std::sync::Arc;
use std::time::Duration;

use cxrules_tests::{message, Harness, Options};
use serde_json::Value;
use wiremock::matchers::path_regex;
use wiremock::{Mock, Request, ResponseTemplate};

const ROUTE: &str = "/webhook/cxone/events";

/// Messages per round after the first: `1..=NEWEST`.
const NEWEST: i64 = 8;
/// Rounds per test, each on an interaction of its own.
const ROUNDS: usize = 50;
/// The inventory answers message `k` after `(NEWEST - k) * STEP`: the newer the message, the
/// sooner its lookup ends, so events checked in one order are ready to queue in the other.
const STEP_MS: u64 = 3;

/// The seed message event, deduplicated and then routed by a SKU made of its interaction and
/// sequence number, so every message waits for a lookup of its own between the dedup check and
/// the queue.
const RULES: &str = r#"
version: 1
normalizers:
  chat_text: [trim, lowercase, collapse_whitespace]
events:
  message_created:
    type: conversations.messages.messageCreated
    dedup: true
    route: stock
dedup:
  default:
    window: 45s
    fingerprint: [sender, content]
    normalizer: chat_text
routing:
  stock:
    sku: { template: "SKU-{interaction_id}-{sequence}" }
    inventory: { url: "@INVENTORY@/products/{sku}", timeout: 5s }
    statuses:
      in_stock: { skills: [premium] }
    unknown: { queues: [general] }
    fallback: { queues: [general] }
"#;

async fn start(opts: Options) -> Arc<Harness> {
    let h = Harness::with(Options {
        rules: Some(vec![("rules.yaml".into(), RULES.into())]),
        ..opts
    })
    .await;
    let slower_when_older = |request: &Request| {
        let seq: u64 = request
            .url
            .path()
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let wait = (NEWEST as u64).saturating_sub(seq) * STEP_MS;
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"status": "in_stock"}))
            .set_delay(Duration::from_millis(wait))
    };
    Mock::given(path_regex("^/products/"))
        .respond_with(slower_when_older)
        .mount(&h.inventory)
        .await;
    Arc::new(h)
}

/// What one event's sender saw: the answer it ended with, and whether one of its 503s came after
/// its inventory lookup (the event was recorded, then rolled back for want of queue room).
struct Sent {
    outcome: String,
    rolled_back: bool,
}

/// Posts like a sender that retries on 503, a bounded number of times.
async fn post_until_accepted(h: &Harness, event: &Value, sku: &str) -> Sent {
    let mut rolled_back = false;
    for _ in 0..500 {
        let (status, body) = h.post(ROUTE, event).await;
        if status == 200 {
            let outcome = body["outcome"].as_str().unwrap_or_default().to_owned();
            return Sent {
                outcome,
                rolled_back,
            };
        }
        assert_eq!(status, 503, "{body}");
        let looked_up = h.inventory.received_requests().await.unwrap_or_default();
        rolled_back |= looked_up.iter().any(|r| r.url.path() == sku);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("not accepted after 500 tries: {event}");
}

/// One round on `interaction`: message 0 ("hello") alone, then messages 1..NEWEST-1 (new text)
/// and NEWEST (a resend of "hello", so suppressed) all at once. Returns how many rollbacks the
/// senders saw.
async fn round(h: &Arc<Harness>, interaction: &str) -> usize {
    let first = message(interaction, "cust", "hello", 0);
    let sku = format!("/products/SKU-{interaction}-0");
    let sent = post_until_accepted(h, &first, &sku).await;
    assert_eq!(sent.outcome, "processed");
    let mut tasks = Vec::new();
    for seq in 1..=NEWEST {
        let text = if seq == NEWEST {
            " HELLO ".to_owned()
        } else {
            format!("message {seq}")
        };
        let event = message(interaction, "cust", &text, seq);
        let (h, interaction) = (h.clone(), interaction.to_owned());
        tasks.push(tokio::spawn(async move {
            let sku = format!("/products/SKU-{interaction}-{seq}");
            (seq, post_until_accepted(&h, &event, &sku).await)
        }));
    }
    let mut rollbacks = 0;
    for task in tasks {
        let (seq, sent) = task.await.expect("sender task");
        let want = if seq == NEWEST {
            "suppressed"
        } else {
            "processed"
        };
        assert_eq!(sent.outcome, want, "message {seq} of {interaction}");
        rollbacks += usize::from(sent.rolled_back);
    }
    rollbacks
}

/// The (lastSequence, status) pairs CXone received for `interaction`, in arrival order.
async fn metadata_calls(h: &Harness, interaction: &str) -> Vec<(i64, String)> {
    let path = format!("/api/v2/interactions/{interaction}");
    h.api_calls()
        .await
        .into_iter()
        .filter(|(_, p, _)| *p == path)
        .map(|(_, _, body)| {
            let a = &body["attributes"];
            let seq = a["deduplication:lastSequence"].as_i64().unwrap_or(-1);
            let status = a["deduplication:status"].as_str().unwrap_or_default();
            (seq, status.to_owned())
        })
        .collect()
}

/// Runs the rounds and checks what CXone received for each; returns the rollbacks seen.
async fn race(opts: Options) -> usize {
    let h = start(opts).await;
    let mut rollbacks = 0;
    for r in 0..ROUNDS {
        rollbacks += round(&h, &format!("int-race-{r}")).await;
    }
    h.settle().await;
    for r in 0..ROUNDS {
        let interaction = format!("int-race-{r}");
        let calls = metadata_calls(&h, &interaction).await;
        for pair in calls.windows(2) {
            assert!(
                pair[1].0 >= pair[0].0,
                "{interaction}: lastSequence went backwards: {calls:?}"
            );
        }
        assert_eq!(
            calls.last(),
            Some(&(NEWEST, "suppressed".to_owned())),
            "{interaction}: the newest message's status last: {calls:?}"
        );
    }
    rollbacks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_messages_never_move_the_last_sequence_back_without_coalescing() {
    race(Options {
        coalesce: Duration::ZERO,
        ..Options::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_messages_leave_the_newest_status_when_coalesced() {
    race(Options {
        coalesce: Duration::from_millis(40),
        ..Options::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_messages_keep_their_order_through_rollbacks() {
    // Four places for events that need two each: an event that reserved room for its first
    // update often finds none for its second once its lookup ends, and is rolled back (503).
    let rollbacks = race(Options {
        coalesce: Duration::ZERO,
        capacity: 4,
        ..Options::default()
    })
    .await;
    assert!(
        rollbacks > 0,
        "no event was rolled back: the variant tests nothing"
    );
}
