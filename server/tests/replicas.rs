//! Three `cxrules serve` processes sharing one real `redis-server`, fed round robin the way a
//! load balancer without affinity would: every distinct message is processed exactly once across
//! the replicas (re-deliveries, A-B-A and whitespace variants included, copies of one message
//! racing on two replicas at once), and the `lastSequence` CXone receives for an interaction
//! never goes backwards; and two replicas on one Redis keep to one tenant-wide rate between them.
#![cfg(unix)]

mod cli_support;
#[path = "../../engine/tests/support/redis.rs"]
mod redis;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cli_support::{arg, command, dir_with, free_port, mount_cxone, mount_token, workspace};
use serde_json::{json, Value};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, ResponseTemplate};

const ROUTE: &str = "/webhook/cxone/events";
const REPLICAS: usize = 3;
const INTERACTIONS: usize = 24;

const RULES: &str = r#"
version: 1
normalizers:
  chat_text: [trim, lowercase, collapse_whitespace]
events:
  message_created:
    type: conversations.messages.messageCreated
    dedup: true
dedup:
  default:
    window: 10m
    mode: sliding
    fingerprint: [sender, content]
    normalizer: chat_text
"#;

/// One replica: a real process, killed on drop.
struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a replica; `rate` is its `--cxone-rate-limit` (`0`: none).
async fn start_replica(rules: &Path, redis_url: &str, cxone: &str, rate: u32) -> Replica {
    let port = free_port();
    let mut cmd = command(
        &workspace(),
        &[
            "serve",
            "--rules",
            arg(rules),
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--no-watch",
            "--env-file",
            "/dev/null",
            "--dedup-store",
            redis_url,
            "--dedup-key-prefix",
            "cxrules:replicas",
            "--coalesce-window",
            "0ms",
            "--cxone-rate-limit",
            &rate.to_string(),
        ],
    );
    cmd.env("CXONE_BASE_URL", cxone)
        .env("CXONE_CLIENT_ID", "client-1")
        .env("CXONE_CLIENT_SECRET", "client-secret-1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let replica = Replica {
        child: cmd.spawn().expect("cxrules serve starts"),
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..400 {
        if reqwest::get(format!("{}/readyz", replica.base))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return replica;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("a replica did not become ready");
}

async fn mock_cxone() -> MockServer {
    let cxone = MockServer::start().await;
    mount_cxone(&cxone, Duration::ZERO).await;
    cxone
}

fn message(interaction: &str, content: &str, sequence: i64) -> Value {
    json!({
        "type": "conversations.messages.messageCreated",
        "data": {"message": {
            "interactionId": interaction,
            "senderId": "cust-1",
            "content": content,
            "sequenceNumber": sequence,
        }}
    })
}

/// The texts one interaction receives, in order, and the normalized fingerprint each stands for:
/// new text, a re-delivery, A-B-A, whitespace and case variants, and a second new text.
fn corpus() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Where is my order?", "where is my order?"),
        ("Where is my order?", "where is my order?"),
        ("Can I get a refund", "can i get a refund"),
        ("Where is my order?", "where is my order?"),
        ("  WHERE   is my ORDER?  ", "where is my order?"),
        ("Thanks", "thanks"),
        ("can i get a\tREFUND", "can i get a refund"),
        ("One more thing", "one more thing"),
    ]
}

/// Posts until answered 200 (a 503 is retried, as a sender would); returns the outcome.
async fn post(http: &reqwest::Client, base: &str, event: &Value) -> String {
    for _ in 0..100 {
        let response = http
            .post(format!("{base}{ROUTE}"))
            .json(event)
            .send()
            .await
            .expect("the replica answers");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == 200 {
            return body["outcome"].as_str().unwrap_or_default().to_owned();
        }
        assert_eq!(status, 503, "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("not accepted after 100 tries: {event}");
}

/// Waits until CXone has received `want` metadata updates and nothing more arrives for a while.
async fn settled_calls(cxone: &MockServer, want: usize) -> Vec<(String, Value)> {
    let mut last = usize::MAX;
    for _ in 0..200 {
        let calls: Vec<(String, Value)> = cxone
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path().starts_with("/api/v2/interactions/"))
            .map(|r| {
                let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                (r.url.path().to_owned(), body)
            })
            .collect();
        if calls.len() >= want && calls.len() == last {
            return calls;
        }
        last = calls.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("CXone did not receive the {want} updates expected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_behind_round_robin_process_each_message_once() {
    let Some(redis) = redis::RedisServer::start().await else {
        return;
    };
    let cxone = mock_cxone().await;
    let rules = dir_with(&[("rules.yaml", RULES)]);
    let mut replicas = Vec::new();
    for _ in 0..REPLICAS {
        replicas.push(start_replica(rules.path(), &redis.url(), &cxone.uri(), 0).await);
    }
    let bases: Arc<Vec<String>> = Arc::new(replicas.iter().map(|r| r.base.clone()).collect());
    let http = reqwest::Client::new();

    // Every interaction's messages go out in order, message k of interaction i to replica
    // (i + k) mod 3; every message is also sent a second time, at the same moment, to the next
    // replica, so the two copies race on two replicas. The interactions run concurrently.
    let mut tasks = Vec::new();
    for i in 0..INTERACTIONS {
        let (bases, http) = (bases.clone(), http.clone());
        tasks.push(tokio::spawn(async move {
            let interaction = format!("int-replica-{i}");
            let mut outcomes = Vec::new();
            for (k, (text, fingerprint)) in corpus().into_iter().enumerate() {
                let event = message(&interaction, text, k as i64 + 1);
                let first = &bases[(i + k) % REPLICAS];
                let second = &bases[(i + k + 1) % REPLICAS];
                let (a, b) = tokio::join!(post(&http, first, &event), post(&http, second, &event));
                outcomes.push((fingerprint, a));
                outcomes.push((fingerprint, b));
            }
            (interaction, outcomes)
        }));
    }
    let mut processed_total = 0;
    let mut answered_total = 0;
    for task in tasks {
        let (interaction, outcomes) = task.await.expect("sender task");
        let mut processed: BTreeMap<&str, usize> = BTreeMap::new();
        for (fingerprint, outcome) in &outcomes {
            answered_total += 1;
            match outcome.as_str() {
                "processed" => *processed.entry(fingerprint).or_default() += 1,
                "suppressed" => {
                    processed.entry(fingerprint).or_default();
                }
                other => panic!("{interaction}: unexpected outcome {other}"),
            }
        }
        for (fingerprint, count) in &processed {
            assert_eq!(
                *count, 1,
                "{interaction}: `{fingerprint}` processed {count} times across the replicas"
            );
        }
        processed_total += processed.len();
    }
    assert_eq!(
        processed_total,
        INTERACTIONS * 4,
        "four distinct texts each"
    );

    // An answered event leads to at most one metadata update (overtaken ones are skipped).
    let calls = settled_calls(&cxone, INTERACTIONS).await;
    assert!(calls.len() <= answered_total);
    let mut by_interaction: HashMap<String, Vec<i64>> = HashMap::new();
    for (path, body) in &calls {
        let seq = body["attributes"]["deduplication:lastSequence"]
            .as_i64()
            .unwrap_or(-1);
        by_interaction.entry(path.clone()).or_default().push(seq);
    }
    assert_eq!(by_interaction.len(), INTERACTIONS);
    for (path, seqs) in &by_interaction {
        for pair in seqs.windows(2) {
            assert!(
                pair[1] >= pair[0],
                "{path}: lastSequence went backwards at CXone: {seqs:?}"
            );
        }
        assert_eq!(
            seqs.last(),
            Some(&(corpus().len() as i64)),
            "{path}: {seqs:?}"
        );
    }
}

/// The tenant-wide rate is shared: two replicas on one Redis, each given half of a burst of
/// updates for distinct interactions, send CXone no more than one rate's worth (and its one
/// second of burst) between them; on their own they would send twice that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_keep_one_tenant_rate_through_redis() {
    const RATE: usize = 10;
    const EVENTS: usize = 60;
    const SPAN: Duration = Duration::from_secs(3);
    let Some(redis) = redis::RedisServer::start().await else {
        return;
    };
    let cxone = MockServer::start().await;
    mount_token(&cxone).await;
    let times: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = times.clone();
    Mock::given(path_regex("^/api/v2/"))
        .respond_with(move |_: &wiremock::Request| {
            seen.lock().unwrap().push(Instant::now());
            ResponseTemplate::new(200).set_body_json(json!({}))
        })
        .mount(&cxone)
        .await;
    let rules = dir_with(&[("rules.yaml", RULES)]);
    let a = start_replica(rules.path(), &redis.url(), &cxone.uri(), RATE as u32).await;
    let b = start_replica(rules.path(), &redis.url(), &cxone.uri(), RATE as u32).await;
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..EVENTS {
        let base = if i % 2 == 0 { &a.base } else { &b.base }.clone();
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            let event = message(&format!("int-rate-{i}"), "Where is my order?", 1);
            post(&http, &base, &event).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("sender task"), "processed");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while times.lock().unwrap().len() < EVENTS {
        assert!(
            Instant::now() < deadline,
            "CXone did not receive every update"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let times = times.lock().unwrap().clone();
    let first = times[0];
    let early = times.iter().filter(|t| **t < first + SPAN).count();
    // One bucket: its burst (a second's worth) and the rate over the span, and one call of
    // slack for a permit granted at the span's edge; two separate buckets would allow 80.
    let most = RATE + RATE * SPAN.as_secs() as usize + 1;
    assert!(
        early <= most,
        "{early} updates reached CXone in the first {SPAN:?} (at most {most} at a shared {RATE}/s)"
    );
}
