//! `cxrules serve --capture` as a real process: what it captured, replayed with
//! `cxrules replay DIR`, gives the decisions the host made (with and without redaction); the
//! files stay within their size and count bounds; a capture that cannot write never refuses an
//! event and counts what it dropped.
#![cfg(unix)]

mod cli_support;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cli_support::{arg, command, cxrules, free_port, workspace};
use serde_json::{json, Value};

const KEY: &str = "capture-test-key-0123456789abcdef";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Stops the process (by its pid) and returns what it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut log = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut log);
        }
        log
    }
}

/// `cxrules serve` on the default rules with `extra` flags; `wrap` runs it under `sh -c` with a
/// shell prefix (a resource limit).
async fn start(capture: &Path, extra: &[&str], wrap: Option<&str>) -> Server {
    let port = free_port();
    let rules = workspace().join("rules");
    let mut args = vec![
        "serve",
        "--rules",
        arg(&rules),
        "--bind",
        "127.0.0.1",
        "--no-watch",
        "--env-file",
        "/dev/null",
        "--capture",
        arg(capture),
    ];
    args.extend_from_slice(extra);
    let port_text = port.to_string();
    args.extend_from_slice(&["--port", &port_text]);
    let mut cmd = command(&workspace(), &args);
    if let Some(prefix) = wrap {
        let inner = cmd;
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(format!("{prefix}; exec \"$0\" \"$@\""))
            .arg(inner.get_program())
            .args(inner.get_args())
            .current_dir(workspace());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => sh.env(k, v),
                None => sh.env_remove(k),
            };
        }
        cmd = sh;
    }
    cmd.env("CXRULES_CAPTURE_REDACT_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let server = Server {
        child: cmd.spawn().expect("cxrules serve starts"),
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..400 {
        if reqwest::get(format!("{}/readyz", server.base))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cxrules serve did not become ready");
}

async fn post(server: &Server, event: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/events", server.base))
        .json(event)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The sum of every series of `name` in `/metrics`.
async fn metric(server: &Server, name: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until `name` reaches `at_least` (the writer works beside the answers).
async fn wait_for(server: &Server, name: &str, at_least: f64) {
    for _ in 0..600 {
        if metric(server, name).await >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never reached {at_least}");
}

fn seed_message(interaction: &str, sender: &str, text: &str, seq: i64) -> Value {
    json!({"type": "conversations.messages.messageCreated",
           "data": {"message": {"interactionId": interaction, "senderId": sender,
                                "content": text, "sequenceNumber": seq}}})
}

fn dfo_message(interaction: &str, event_id: &str, text: &str, at: &str) -> Value {
    json!({"eventType": "MessageCreated", "eventId": event_id, "createdAtWithMilliseconds": at,
           "data": {"case": {"interactionId": interaction},
                    "message": {"messageContent": {"text": text},
                                "authorEndUserIdentity": {"idOnExternalPlatform": "cust-9"}}}})
}

/// Re-sends, case and white-space variants, A-B-A, an older sequence, another sender, a
/// re-delivered event id, an unknown type and a bad event.
fn corpus() -> Vec<Value> {
    vec![
        seed_message("int-1", "cust-1", "Where is my order?", 1),
        seed_message("int-1", "cust-1", "  where is MY order? ", 2),
        seed_message("int-1", "cust-1", "Can I change the address?", 3),
        seed_message("int-1", "cust-1", "where is my order?", 4),
        seed_message("int-1", "cust-2", "Where is my order?", 5),
        seed_message("int-1", "cust-1", "An older one", 2),
        seed_message("int-2", "cust-1", "Where is my order?", 1),
        seed_message("int-2", "cust-1", "WHERE   is my order?", 2),
        dfo_message("case-1", "ev-1", "Hello there", "2026-11-23T10:00:00.100Z"),
        dfo_message("case-1", "ev-1", "Hello there", "2026-11-23T10:00:00.100Z"),
        dfo_message("case-1", "ev-2", "hello  THERE", "2026-11-23T10:00:01.100Z"),
        dfo_message(
            "case-1",
            "ev-3",
            "Something else",
            "2026-11-23T10:00:00.900Z",
        ),
        json!({"type": "conversations.typing", "data": {"interactionId": "int-1"}}),
        json!({"type": "conversations.messages.messageCreated",
               "data": {"message": {"interactionId": "int-3", "senderId": "cust-1"}}}),
        seed_message("int-1", "cust-1", "Can I change the address", 6),
    ]
}

/// What both the host and a replay say about one event: the outcome and dedup verdict, or
/// `error` for an event refused.
fn summary(decision: &Value) -> (String, String) {
    if decision.get("error").is_some() {
        return ("error".into(), String::new());
    }
    let d = decision.get("decision").unwrap_or(decision);
    (
        d["outcome"].as_str().unwrap_or_default().to_string(),
        d["dedup"]["verdict"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

async fn captured_replay_matches(redact: bool) {
    let capture = tempfile::tempdir().unwrap();
    let flags: &[&str] = if redact { &["--capture-redact"] } else { &[] };
    let server = start(capture.path(), flags, None).await;
    let events = corpus();
    let mut host = Vec::new();
    for event in &events {
        let (status, body) = post(&server, event).await;
        assert!(status == 200 || status == 400, "{status} {body}");
        host.push(body);
    }
    wait_for(
        &server,
        "cxrules_capture_events_written_total",
        events.len() as f64,
    )
    .await;
    server.stop();

    let files = cxrules_server::capture::capture_files(capture.path());
    assert!(!files.is_empty());
    let text: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert_eq!(text.lines().count(), events.len(), "{text}");
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let at = v["_received_at"].as_str().expect("a receive time");
        assert!(
            cxrules_engine::timestamp::epoch_ms(&json!(at)).is_some(),
            "{at}"
        );
    }
    for secret in ["order", "address", "Hello", "older"] {
        assert_eq!(text.contains(secret), !redact, "`{secret}` in\n{text}");
    }

    let run = cxrules(&[
        "replay",
        arg(capture.path()),
        "--rules",
        "rules",
        "--format",
        "jsonl",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let replayed: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(replayed.len(), events.len(), "{}", run.stdout);
    for (i, (live, again)) in host.iter().zip(&replayed).enumerate() {
        assert_eq!(
            summary(live),
            summary(again),
            "event {i}: host {live}\nreplay {again}"
        );
        if !redact {
            // The same text fingerprints the same; redacted text fingerprints its digest.
            assert_eq!(
                live["decision"]["dedup"]["fingerprint"],
                again["dedup"]["fingerprint"]
            );
        }
    }
    let outcomes: Vec<String> = host.iter().map(|d| summary(d).0).collect();
    for expected in ["processed", "suppressed", "ignored", "error"] {
        assert!(outcomes.iter().any(|o| o == expected), "{outcomes:?}");
    }
}

#[tokio::test]
async fn what_serve_captured_replays_to_the_hosts_decisions() {
    captured_replay_matches(false).await;
}

#[tokio::test]
async fn redacted_captures_replay_to_the_hosts_decisions_without_the_text() {
    captured_replay_matches(true).await;
}

#[tokio::test]
async fn rotation_keeps_files_within_their_size_and_count() {
    let capture = tempfile::tempdir().unwrap();
    let flags = [
        "--capture-max-file-size",
        "1KiB",
        "--capture-max-files",
        "3",
    ];
    let server = start(capture.path(), &flags, None).await;
    let n = 60;
    for i in 0..n {
        let (status, _) = post(
            &server,
            &seed_message("int-r", "cust-1", &format!("message number {i}"), i),
        )
        .await;
        assert_eq!(status, 200);
    }
    wait_for(&server, "cxrules_capture_events_written_total", n as f64).await;
    wait_for(&server, "cxrules_capture_files_removed_total", 1.0).await;
    server.stop();
    let files = cxrules_server::capture::capture_files(capture.path());
    assert!(
        (1..=3).contains(&files.len()),
        "{} files: {files:?}",
        files.len()
    );
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        assert!(size <= 1024, "{} has {size} bytes", f.display());
    }
    // What is kept is the newest, whole lines, in order.
    let last = std::fs::read_to_string(files.last().unwrap()).unwrap();
    let last_line: Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(
        last_line["data"]["message"]["content"],
        format!("message number {}", n - 1)
    );
}

#[tokio::test]
async fn a_capture_that_cannot_write_never_refuses_an_event() {
    let capture = tempfile::tempdir().unwrap();
    // Files of this process may not grow past 2 blocks (1 or 2 KiB) and the signal that limit
    // sends is ignored, so writes fail with EFBIG as on a full disk.
    let server = start(capture.path(), &[], Some("ulimit -f 2 && trap '' XFSZ")).await;
    let n = 40;
    for i in 0..n {
        let text = format!("a message long enough to fill the tiny file quickly, number {i}");
        let (status, body) = post(&server, &seed_message("int-f", "cust-1", &text, i)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["outcome"], "processed", "{body}");
    }
    wait_for(&server, "cxrules_capture_events_dropped_total", 1.0).await;
    let written = metric(&server, "cxrules_capture_events_written_total").await;
    assert!(written < n as f64, "written {written}");
    let log = server.stop();
    assert!(log.contains("capture stopped"), "{log}");
    // Every line left in the files is whole.
    for f in cxrules_server::capture::capture_files(capture.path()) {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            serde_json::from_str::<Value>(line).expect("a whole line");
        }
    }
}

#[tokio::test]
async fn redaction_without_a_key_is_refused_at_start() {
    let capture = tempfile::tempdir().unwrap();
    let mut cmd = command(
        &workspace(),
        &[
            "serve",
            "--env-file",
            "/dev/null",
            "--capture",
            arg(capture.path()),
            "--capture-redact",
        ],
    );
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--capture-redact needs a key"), "{err}");
}
