//! The durable outbox with real `cxrules serve` processes, real files in temp dirs and wiremock
//! as CXone: a SIGKILL in the middle of a burst loses no update that was answered 2xx; the
//! restart keeps each interaction's order and coalesces; a re-delivery right after a restart is
//! suppressed; a 400 becomes a dead letter that `cxrules outbox retry` sends again; a corrupt,
//! foreign or locked data dir is refused at start; a full disk gets 503s and loses nothing.
#![cfg(unix)]

mod cli_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_support::{arg, command, free_port, mount_cxone, workspace, Serve};
use serde_json::{json, Value};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ROUTE: &str = "/webhook/cxone/events";

/// The token and, at low priority, 200 for every update.
async fn cxone() -> MockServer {
    let cxone = MockServer::start().await;
    mount_cxone(&cxone, Duration::ZERO).await;
    cxone
}

/// `cxrules serve` live against `cxone`, on `data`, with `extra` flags; `wrap` runs it through
/// `sh -c` with a prefix (resource limits). Ready when this returns.
async fn serve_with(cxone: &MockServer, data: &Path, extra: &[&str], wrap: Option<&str>) -> Serve {
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
        "--data-dir",
        arg(data),
        "--cxone-rate-limit",
        "0",
    ];
    argv.extend_from_slice(extra);
    let mut cmd = match wrap {
        None => command(&workspace(), &argv),
        Some(prefix) => {
            let line = format!("{prefix}; exec \"$0\" \"$@\"");
            let mut cmd = command(&workspace(), &[]);
            let bin = env!("CARGO_BIN_EXE_cxrules");
            cmd = {
                let mut sh = Command::new("sh");
                sh.current_dir(workspace())
                    .arg("-c")
                    .arg(line)
                    .arg(bin)
                    .args(&argv);
                for (k, v) in cmd.get_envs() {
                    match v {
                        Some(v) => sh.env(k, v),
                        None => sh.env_remove(k),
                    };
                }
                sh.stdin(Stdio::null());
                sh
            };
            cmd
        }
    };
    cmd.env("CXONE_BASE_URL", cxone.uri())
        .env("CXONE_CLIENT_ID", "client-1")
        .env("CXONE_CLIENT_SECRET", "secret-1")
        .env("CXONE_MAX_ATTEMPTS", "1")
        .stdout(Stdio::null());
    let log = tempfile::NamedTempFile::new().unwrap();
    cmd.stderr(log.reopen().unwrap());
    let child = cmd.spawn().expect("cxrules serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let mut serve = Serve { child, base };
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

async fn serve(cxone: &MockServer, data: &Path) -> Serve {
    serve_with(cxone, data, &[], None).await
}

fn message(interaction: &str, content: &str, sequence: i64) -> Value {
    json!({"type": "conversations.messages.messageCreated",
           "eventId": format!("ev-{interaction}-{sequence}"),
           "data": {"message": {"interactionId": interaction, "senderId": "cust",
                                "content": content, "sequenceNumber": sequence}}})
}

async fn post(http: &reqwest::Client, base: &str, event: &Value) -> Option<(u16, Value)> {
    let r = http
        .post(format!("{base}{ROUTE}"))
        .json(event)
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.unwrap_or(Value::Null)))
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
async fn until_updated(cxone: &MockServer, ids: &BTreeSet<String>) -> BTreeSet<String> {
    let mut got = BTreeSet::new();
    for _ in 0..600 {
        got = updated(cxone).await;
        if ids.is_subset(&got) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: Vec<_> = ids.difference(&got).collect();
    panic!(
        "{} acknowledged updates never reached cxone: {missing:?}",
        missing.len()
    );
}

fn calls_for(requests: &[Request], id: &str) -> Vec<Value> {
    requests
        .iter()
        .filter(|r| r.url.path() == format!("/api/v2/interactions/{id}"))
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

#[tokio::test]
async fn a_sigkill_mid_burst_loses_no_update_that_was_answered_2xx() {
    let data = tempfile::tempdir().unwrap();
    // Slow answers keep most of the burst pending when the process dies.
    let slow = MockServer::start().await;
    mount_cxone(&slow, Duration::from_secs(30)).await;
    let mut first = serve_with(&slow, data.path(), &["--cxone-max-in-flight", "4"], None).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut senders = Vec::new();
    for worker in 0..8 {
        let (http, base, acked) = (http.clone(), first.base.clone(), acked_tx.clone());
        senders.push(tokio::spawn(async move {
            for n in 0..100 {
                let id = format!("int-burst-{worker}-{n}");
                if let Some((200, _)) = post(&http, &base, &message(&id, "hello", 1)).await {
                    let _ = acked.send(id);
                }
            }
        }));
    }
    drop(acked_tx);
    let mut acked = BTreeSet::new();
    while acked.len() < 150 {
        acked.insert(acked_rx.recv().await.expect("the burst is answered"));
    }
    first.kill();
    for s in senders {
        let _ = s.await;
    }
    while let Ok(id) = acked_rx.try_recv() {
        acked.insert(id);
    }
    assert!(acked.len() < 800, "the kill landed mid-burst");
    let cxone = cxone().await;
    let _second = serve(&cxone, data.path()).await;
    until_updated(&cxone, &acked).await;
}

#[tokio::test]
async fn the_restart_keeps_each_interactions_order_and_coalesces() {
    let data = tempfile::tempdir().unwrap();
    let stuck = MockServer::start().await;
    mount_cxone(&stuck, Duration::from_secs(60)).await;
    let mut first = serve(&stuck, data.path()).await;
    let http = reqwest::Client::new();
    for seq in 1..=4 {
        let (status, body) = post(
            &http,
            &first.base,
            &message("int-order", &format!("m{seq}"), seq),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{body}");
    }
    // A duplicate last: its update says `suppressed`, with the highest sequence.
    let (status, body) = post(&http, &first.base, &message("int-order", "m4", 5))
        .await
        .unwrap();
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("suppressed")),
        "{body}"
    );
    first.kill();

    let cxone = cxone().await;
    let _second = serve(&cxone, data.path()).await;
    let want = BTreeSet::from(["int-order".to_owned()]);
    until_updated(&cxone, &want).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = cxone.received_requests().await.unwrap();
    let calls = calls_for(&requests, "int-order");
    let sequences: Vec<i64> = calls
        .iter()
        .map(|c| {
            c["attributes"]["deduplication:lastSequence"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let mut sorted = sequences.clone();
    sorted.sort_unstable();
    assert_eq!(
        sequences, sorted,
        "never an older sequence after a newer one"
    );
    assert_eq!(sequences.last(), Some(&5));
    assert!(
        calls.len() < 5,
        "the pending updates were merged: {calls:?}"
    );
    let last = calls.last().unwrap();
    assert_eq!(
        last["attributes"]["deduplication:status"], "suppressed",
        "the newest status wins"
    );
}

#[tokio::test]
async fn a_redelivery_right_after_a_restart_is_suppressed() {
    let data = tempfile::tempdir().unwrap();
    let cxone = cxone().await;
    let mut first = serve(&cxone, data.path()).await;
    let http = reqwest::Client::new();
    let event = message("int-again", "Where is my order?", 1);
    let (status, body) = post(&http, &first.base, &event).await.unwrap();
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("processed")),
        "{body}"
    );
    first.kill();
    let second = serve(&cxone, data.path()).await;
    let (status, body) = post(&http, &second.base, &event).await.unwrap();
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("suppressed")),
        "{body}"
    );
    assert_eq!(body["decision"]["dedup"]["verdict"], "redelivery", "{body}");
    let other = message("int-again", "A new question", 2);
    let (_, body) = post(&http, &second.base, &other).await.unwrap();
    assert_eq!(body["outcome"], "processed", "{body}");
}

fn outbox_cmd(data: &Path, args: &[&str]) -> cli_support::Run {
    let mut argv = vec!["outbox", "--data-dir", arg(data)];
    argv.extend_from_slice(args);
    cli_support::finish(command(&workspace(), &argv))
}

#[tokio::test]
async fn a_400_becomes_a_dead_letter_that_outbox_retry_sends_again() {
    let data = tempfile::tempdir().unwrap();
    let cxone = cxone().await;
    Mock::given(path("/api/v2/interactions/int-dead"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad attribute"))
        .with_priority(1)
        .mount(&cxone)
        .await;
    let mut host = serve(&cxone, data.path()).await;
    let http = reqwest::Client::new();
    let (status, _) = post(&http, &host.base, &message("int-dead", "hi", 1))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let mut dead = 0;
    for _ in 0..400 {
        let (_, s) = get_json(&http, &host.base, "/rules/status").await;
        dead = s["outbox"]["dead_letters"].as_u64().unwrap_or(0);
        if dead == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(dead, 1, "the 400 became a dead letter");
    let text = http
        .get(format!("{}/metrics", host.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("cxrules_outbox_deliveries_total{outcome=\"dead_letter\"} 1"),
        "{text}"
    );

    // While serve runs the file is locked: the command says so and changes nothing.
    let locked = outbox_cmd(data.path(), &["status"]);
    assert_eq!(locked.code, 3, "{locked:?}");
    assert!(
        locked.stderr.contains("in use by another cxrules process"),
        "{}",
        locked.stderr
    );

    host.terminate();
    let letters = outbox_cmd(data.path(), &["dead-letters"]);
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
    let retried = outbox_cmd(data.path(), &["retry"]);
    assert!(
        retried.stdout.starts_with("1 dead letter(s) moved back"),
        "{retried:?}"
    );
    let status = outbox_cmd(data.path(), &["status", "--json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(
        (status["pending"].as_u64(), status["dead_letters"].as_u64()),
        (Some(1), Some(0))
    );

    // CXone takes it now.
    cxone.reset().await;
    mount_cxone(&cxone, Duration::ZERO).await;
    let _again = serve(&cxone, data.path()).await;
    let want = BTreeSet::from(["int-dead".to_owned()]);
    until_updated(&cxone, &want).await;
    let requests = cxone.received_requests().await.unwrap();
    assert_eq!(calls_for(&requests, "int-dead").len(), 1);
}

async fn get_json(http: &reqwest::Client, base: &str, route: &str) -> (u16, Value) {
    let r = http.get(format!("{base}{route}")).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Starts `serve` on `data` and expects it to exit at once with code 3 and `says` on stderr.
fn refused_at_start(data: &Path, says: &str) {
    let port = free_port().to_string();
    let rules = workspace().join("rules");
    let mut cmd = command(
        &workspace(),
        &[
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
            "--data-dir",
            arg(data),
        ],
    );
    cmd.env("CXONE_BASE_URL", "http://127.0.0.1:9")
        .env("CXONE_CLIENT_ID", "c")
        .env("CXONE_CLIENT_SECRET", "s");
    let run = cli_support::finish(cmd);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains(says), "{}", run.stderr);
    assert!(run.stderr.contains("= hint:"), "{}", run.stderr);
}

#[tokio::test]
async fn a_corrupt_foreign_or_locked_data_dir_is_a_clear_error_at_start() {
    let corrupt = tempfile::tempdir().unwrap();
    std::fs::write(
        corrupt.path().join("outbox.redb"),
        "{\"not\": \"an outbox\"}\n".repeat(300),
    )
    .unwrap();
    refused_at_start(corrupt.path(), "is not a readable outbox");
    let file = tempfile::NamedTempFile::new().unwrap();
    refused_at_start(file.path(), "is not a directory");

    let data = tempfile::tempdir().unwrap();
    let cxone = cxone().await;
    let _running = serve(&cxone, data.path()).await;
    refused_at_start(data.path(), "in use by another cxrules process");
}

#[tokio::test]
async fn a_full_disk_gets_503s_and_loses_nothing() {
    let data = tempfile::tempdir().unwrap();
    let stuck = MockServer::start().await;
    mount_cxone(&stuck, Duration::from_secs(60)).await;
    // The file as a start leaves it, then no more room than a little beyond that.
    let mut probe = serve(&stuck, data.path()).await;
    probe.terminate();
    let size = std::fs::metadata(data.path().join("outbox.redb"))
        .unwrap()
        .len();
    let blocks = size / 512 + 64;
    let limit = format!("trap '' XFSZ; ulimit -f {blocks}");
    let mut host = serve_with(&stuck, data.path(), &[], Some(&limit)).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut acked = BTreeSet::new();
    let mut refused = 0;
    for n in 0..5000 {
        let id = format!("int-full-{n}");
        let r = http
            .post(format!("{}{ROUTE}", host.base))
            .json(&message(&id, "x", 1))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => {
                acked.insert(id);
            }
            503 => {
                assert!(r.headers().get("retry-after").is_some());
                let body: Value = r.json().await.unwrap();
                assert!(body["error"].as_str().unwrap().contains("outbox"), "{body}");
                refused += 1;
                if refused == 20 {
                    break;
                }
            }
            other => panic!("answer {other}"),
        }
    }
    assert!(
        refused >= 20,
        "the limit was reached ({} accepted)",
        acked.len()
    );
    let (_, health) = get_json(&http, &host.base, "/healthz").await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["outbox_unwritable"], true, "{health}");
    let text = http
        .get(format!("{}/metrics", host.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("cxrules_outbox_unwritable 1"), "{text}");
    host.kill();

    let cxone = cxone().await;
    let _free = serve(&cxone, data.path()).await;
    until_updated(&cxone, &acked).await;
}
