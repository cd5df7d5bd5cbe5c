//! The Redis outbox with real `cxrules serve` processes on one real `redis-server`, wiremock as
//! CXone: a replica killed (SIGKILL) in the middle of a burst leaves its updates pending in the
//! stream and the other replica delivers every one that was answered 2xx; a single replica
//! killed and started again does the same for itself, and what a replica leaves at a graceful
//! shutdown is delivered by the next; a 400 becomes a dead letter that
//! `cxrules outbox retry --dedup-store` puts back for the running replica to send; a dry run
//! writes nothing there.
#![cfg(unix)]

mod cli_support;
#[path = "../../engine/tests/support/redis.rs"]
mod redis;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use cli_support::{arg, command, free_port, mount_cxone, workspace, Serve};
use serde_json::{json, Value};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const ROUTE: &str = "/webhook/cxone/events";
const PREFIX: &str = "cxrules:outbox-test";
/// Short, so a takeover happens within the test's time.
const LEASE: &str = "2s";

/// A mock CXone answering every update 200 after `delay`.
async fn cxone(delay: Duration) -> MockServer {
    let cxone = MockServer::start().await;
    mount_cxone(&cxone, delay).await;
    cxone
}

/// A live `cxrules serve` on the Redis outbox of `redis_url`, calling `cxone`; ready when this
/// returns.
async fn serve(cxone: &MockServer, redis_url: &str, extra: &[&str]) -> Serve {
    let port = free_port().to_string();
    let rules = workspace().join("rules");
    let mut argv = vec![
        "serve",
        "--rules",
        arg(&rules),
        "--bind",
        "127.0.0.1",
        "--port",
        &port,
        "--no-watch",
        "--env-file",
        "/dev/null",
        "--dedup-store",
        redis_url,
        "--dedup-key-prefix",
        PREFIX,
        "--outbox-lease",
        LEASE,
        "--cxone-rate-limit",
        "0",
    ];
    argv.extend_from_slice(extra);
    let mut cmd = command(&workspace(), &argv);
    cmd.env("CXONE_BASE_URL", cxone.uri())
        .env("CXONE_CLIENT_ID", "client-1")
        .env("CXONE_CLIENT_SECRET", "secret-1")
        .env("CXONE_MAX_ATTEMPTS", "1")
        .stdout(Stdio::null());
    let log = tempfile::NamedTempFile::new().unwrap();
    cmd.stderr(log.reopen().unwrap());
    let child = cmd.spawn().expect("cxrules serve starts");
    let mut serve = Serve {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..400 {
        if let Ok(r) = reqwest::get(format!("{}/readyz", serve.base)).await {
            if r.status() == 200 {
                return serve;
            }
        }
        if let Ok(Some(status)) = serve.child.try_wait() {
            let said = std::fs::read_to_string(log.path()).unwrap_or_default();
            panic!("cxrules serve exited at start: {status}\n{said}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("cxrules serve did not become ready");
}

fn message(interaction: &str, content: &str, sequence: i64) -> Value {
    json!({"type": "conversations.messages.messageCreated",
           "eventId": format!("ev-{interaction}-{sequence}"),
           "data": {"message": {"interactionId": interaction, "senderId": "cust",
                                "content": content, "sequenceNumber": sequence}}})
}

async fn post(http: &reqwest::Client, base: &str, event: &Value) -> Option<u16> {
    let r = http
        .post(format!("{base}{ROUTE}"))
        .json(event)
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

/// The interaction ids the mock received updates for.
async fn updated(cxone: &MockServer) -> BTreeSet<String> {
    let requests = cxone.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter_map(|r| r.url.path().strip_prefix("/api/v2/interactions/"))
        .map(str::to_owned)
        .collect()
}

/// Waits (bounded) until the mock has updates for every one of `ids`.
async fn until_updated(cxone: &MockServer, ids: &BTreeSet<String>) {
    let mut got = BTreeSet::new();
    for _ in 0..400 {
        got = updated(cxone).await;
        if ids.is_subset(&got) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: Vec<_> = ids.difference(&got).collect();
    panic!(
        "{} acknowledged updates never reached cxone: {missing:?}",
        missing.len()
    );
}

/// Events each of the 8 senders of a burst posts.
const PER_WORKER: usize = 150;

/// Sends a burst to `base` from 8 workers; once at least `before_kill` events were answered 2xx
/// (and `calling` received a call, when given) runs `kill`, lets the burst go on against the
/// dead process, and returns the interactions answered 2xx.
async fn burst_then_kill(
    base: &str,
    before_kill: usize,
    calling: Option<&MockServer>,
    kill: impl FnOnce(),
) -> BTreeSet<String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut senders = Vec::new();
    for worker in 0..8 {
        let (http, base, acked) = (http.clone(), base.to_owned(), acked_tx.clone());
        senders.push(tokio::spawn(async move {
            for n in 0..PER_WORKER {
                let id = format!("int-burst-{worker}-{n}");
                if let Some(200) = post(&http, &base, &message(&id, "hello", 1)).await {
                    let _ = acked.send(id);
                }
            }
        }));
    }
    drop(acked_tx);
    let mut acked = BTreeSet::new();
    while acked.len() < before_kill {
        acked.insert(acked_rx.recv().await.expect("the burst is answered"));
    }
    if let Some(cxone) = calling {
        while updated(cxone).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    kill();
    for s in senders {
        let _ = s.await;
    }
    while let Ok(id) = acked_rx.try_recv() {
        acked.insert(id);
    }
    assert!(acked.len() < 8 * PER_WORKER, "the kill landed mid-burst");
    acked
}

fn outbox_cmd(redis_url: &str, args: &[&str]) -> cli_support::Run {
    let mut argv = vec![
        "outbox",
        "--dedup-store",
        redis_url,
        "--dedup-key-prefix",
        PREFIX,
    ];
    argv.extend_from_slice(args);
    cli_support::finish(command(&workspace(), &argv))
}

/// Waits (bounded) until `cxrules outbox status` shows nothing pending and returns its JSON.
async fn until_empty(redis_url: &str) -> Value {
    let mut status = Value::Null;
    for _ in 0..100 {
        let run = outbox_cmd(redis_url, &["status", "--json"]);
        assert_eq!(run.code, 0, "{run:?}");
        status = serde_json::from_str(&run.stdout).unwrap();
        if status["pending"].as_u64() == Some(0) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the outbox still has pending updates: {status}");
}

#[tokio::test]
async fn a_replica_killed_mid_burst_has_its_updates_delivered_by_the_other() {
    let Some(redis) = redis::RedisServer::start().await else {
        return;
    };
    let url = redis.url();
    // A's CXone never answers in time: what A reads stays pending in its name when it dies.
    let stuck = cxone(Duration::from_secs(60)).await;
    let live = cxone(Duration::ZERO).await;
    let mut a = serve(&stuck, &url, &["--cxone-max-in-flight", "4"]).await;
    let _b = serve(&live, &url, &[]).await;
    let base = a.base.clone();
    let acked = burst_then_kill(&base, 120, Some(&stuck), || a.kill()).await;
    assert!(
        !updated(&stuck).await.is_empty(),
        "replica A had taken updates when it was killed"
    );
    // B reads what nobody read and, once A's lease has run out, takes over what A held.
    until_updated(&live, &acked).await;
    until_empty(&url).await;
}

#[tokio::test]
async fn a_replica_killed_and_started_again_delivers_every_acknowledged_update() {
    let Some(redis) = redis::RedisServer::start().await else {
        return;
    };
    let url = redis.url();
    let stuck = cxone(Duration::from_secs(60)).await;
    let mut first = serve(&stuck, &url, &["--cxone-max-in-flight", "4"]).await;
    let base = first.base.clone();
    let acked = burst_then_kill(&base, 120, Some(&stuck), || first.kill()).await;
    let before = outbox_cmd(&url, &["status", "--json"]);
    let before: Value = serde_json::from_str(&before.stdout).unwrap();
    assert!(
        before["pending"].as_u64().unwrap_or(0) > 0,
        "updates were left pending: {before}"
    );

    let live = cxone(Duration::ZERO).await;
    let _second = serve(&live, &url, &[]).await;
    until_updated(&live, &acked).await;
    let after = until_empty(&url).await;
    assert_eq!(after["dead_letters"].as_u64(), Some(0), "{after}");
}

#[tokio::test]
async fn a_400_is_a_dead_letter_in_redis_that_outbox_retry_sends_again() {
    let Some(redis) = redis::RedisServer::start().await else {
        return;
    };
    let url = redis.url();
    let live = cxone(Duration::ZERO).await;
    Mock::given(path("/api/v2/interactions/int-dead"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad attribute"))
        .with_priority(1)
        .mount(&live)
        .await;
    let host = serve(&live, &url, &[]).await;
    let http = reqwest::Client::new();
    let status = post(&http, &host.base, &message("int-dead", "hi", 1)).await;
    assert_eq!(status, Some(200));

    let mut letters = outbox_cmd(&url, &["dead-letters"]);
    for _ in 0..100 {
        if letters.stdout.contains("int-dead (rejected)") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        letters = outbox_cmd(&url, &["dead-letters"]);
    }
    assert_eq!(letters.code, 0, "{letters:?}");
    assert!(
        letters.stdout.contains("int-dead (rejected)"),
        "{}",
        letters.stdout
    );
    assert!(
        letters.stdout.contains("rejected the call with 400"),
        "{}",
        letters.stdout
    );

    // CXone takes it now; the running replica reads it back from the stream.
    live.reset().await;
    mount_cxone(&live, Duration::ZERO).await;
    let retried = outbox_cmd(&url, &["retry"]);
    assert!(
        retried.stdout.starts_with("1 dead letter(s) moved back"),
        "{retried:?}"
    );
    for _ in 0..100 {
        let requests = live.received_requests().await.unwrap();
        if requests
            .iter()
            .any(|r| r.url.path() == "/api/v2/interactions/int-dead")
        {
            let status = until_empty(&url).await;
            assert_eq!(status["dead_letters"].as_u64(), Some(0), "{status}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the retried dead letter was not sent");
}

#[tokio::test]
async fn what_a_replica_leaves_at_shutdown_is_delivered_by_another() {
    let Some(redis) = redis::RedisServer::start().await else {
        return;
    };
    let url = redis.url();
    let stuck = cxone(Duration::from_secs(60)).await;
    let mut a = serve(&stuck, &url, &["--drain-timeout", "300ms"]).await;
    let http = reqwest::Client::new();
    let mut acked = BTreeSet::new();
    for n in 0..20 {
        let id = format!("int-left-{n}");
        assert_eq!(
            post(&http, &a.base, &message(&id, "hello", 1)).await,
            Some(200)
        );
        acked.insert(id);
    }
    while updated(&stuck).await.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.terminate();
    let left = outbox_cmd(&url, &["status", "--json"]);
    let left: Value = serde_json::from_str(&left.stdout).unwrap();
    assert_eq!(left["pending"].as_u64(), Some(20), "{left}");

    let live = cxone(Duration::ZERO).await;
    let _b = serve(&live, &url, &[]).await;
    until_updated(&live, &acked).await;
    until_empty(&url).await;
}

#[tokio::test]
async fn dry_run_writes_nothing_to_the_redis_outbox() {
    let Some(redis) = redis::RedisServer::start().await else {
        return;
    };
    let url = redis.url();
    let live = cxone(Duration::ZERO).await;
    let host = serve(&live, &url, &["--dry-run"]).await;
    let http = reqwest::Client::new();
    let status = post(&http, &host.base, &message("int-dry", "hi", 1)).await;
    assert_eq!(status, Some(200));
    let run = outbox_cmd(&url, &["status", "--json"]);
    let status: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (status["pending"].as_u64(), status["consumers"].as_u64()),
        (Some(0), Some(0)),
        "{status}"
    );
    assert!(updated(&live).await.is_empty(), "nothing sent");
}

/// `cxrules outbox --dedup-store` with a URL that is not Redis's is a usage error.
#[test]
fn the_outbox_command_refuses_a_bad_redis_url() {
    let run = cli_support::finish(command(
        &workspace(),
        &["outbox", "--dedup-store", "http://nope", "status"],
    ));
    assert_eq!(run.code, 2, "{run:?}");
}

/// The stream cannot take the event's updates (its key holds a string): the event is answered
/// 503 and nothing is recorded, so the sender's retry, once the stream is writable, is
/// processed and delivered, and a later copy is suppressed. The updates and the dedup commit are
/// one script run: neither is written without the other.
#[tokio::test]
async fn an_unwritable_stream_is_a_503_and_the_retry_is_processed_once_writable() {
    let Some(redis) = redis::RedisServer::start().await else {
        return;
    };
    let url = redis.url();
    let live = cxone(Duration::ZERO).await;
    let host = serve(&live, &url, &[]).await;
    let client = ::redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let stream = format!("{PREFIX}:{{outbox}}:stream");
    let () = ::redis::pipe()
        .atomic()
        .del(&stream)
        .ignore()
        .set(&stream, "not a stream")
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let event = message("int-unwritable", "hello", 1);
    let outcome = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        (
            status,
            body["outcome"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let send = || {
        http.post(format!("{}{ROUTE}", host.base))
            .json(&event)
            .send()
    };
    let (status, _) = outcome(send().await.unwrap()).await;
    assert_eq!(status, 503, "the write failed: refused, nothing recorded");
    let () = ::redis::cmd("DEL")
        .arg(&stream)
        .query_async(&mut conn)
        .await
        .unwrap();
    // The sender retries; the host finds the stream writable again within its stats period.
    let mut answer = (503, String::new());
    for _ in 0..100 {
        answer = outcome(send().await.unwrap()).await;
        if answer.0 != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        answer,
        (200, "processed".to_owned()),
        "the first retry taken is new"
    );
    until_updated(&live, &BTreeSet::from(["int-unwritable".to_owned()])).await;
    assert_eq!(
        outcome(send().await.unwrap()).await,
        (200, "suppressed".to_owned()),
        "committed with its updates"
    );
}
