//! `cxrules replay` through the real binary: broken lines, JSONL decisions, inventory answers,
//! time from the events or a fixed spacing, and `--against` counts checked by hand.

mod cli_support;

use std::io::Write;
use std::process::Stdio;

use cli_support::{arg, command, cxrules, dir_with, ROUTING};
use serde_json::{json, Value};

fn routed(id: &str) -> String {
    json!({"event_type": "routing.interaction.created", "data": {"interactionId": id}}).to_string()
}

fn lines(items: &[String]) -> String {
    items.iter().map(|l| format!("{l}\n")).collect()
}

fn summary(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn broken_lines_are_reported_by_number_and_skipped() {
    let mut text = lines(&[
        routed("int-001"),
        "{not json".into(),
        String::new(),
        "[1, 2]".into(),
    ]);
    text.push_str(&routed("int-002"));
    text.push('\n');
    let dir = dir_with(&[("routing.yaml", ROUTING), ("events.jsonl", &text)]);
    let mut bytes = std::fs::read(dir.path().join("events.jsonl")).unwrap();
    bytes.extend_from_slice(b"{\"event_type\": \"\xff\"}\n");
    std::fs::write(dir.path().join("events.jsonl"), bytes).unwrap();
    let events = dir.path().join("events.jsonl");
    let run = cxrules(&[
        "replay",
        arg(&events),
        "--rules",
        arg(dir.path()),
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let err = &run.stderr;
    assert!(
        err.contains("warning: line 2: not valid JSON: key must be a string at column 2; skipped"),
        "{err}"
    );
    assert!(
        err.contains("warning: line 4: not a JSON object; skipped"),
        "{err}"
    );
    assert!(err.contains("warning: line 6: not valid JSON"), "{err}");
    assert!(!err.contains("line 3"), "a blank line is not broken: {err}");
    assert!(
        !err.contains('\x1b'),
        "no progress bar off a terminal: {err:?}"
    );
    let s = summary(&run.stdout);
    assert_eq!(
        (s["lines"].as_u64(), s["broken_lines"].as_u64()),
        (Some(6), Some(3))
    );
    assert_eq!(s["runs"][0]["summary"]["events"], 2);
    assert_eq!(s["runs"][0]["summary"]["processed"], 2);
}

#[test]
fn jsonl_prints_one_decision_per_event_with_its_line() {
    let text = lines(&[
        routed("int-001"),
        json!({"type": "other"}).to_string(),
        json!({"event_type": "routing.interaction.created", "data": {}}).to_string(),
    ]);
    let dir = dir_with(&[
        ("routing.yaml", ROUTING),
        ("events.jsonl", &text),
        ("data/inv.yaml", "SKU-001: in_stock\n"),
    ]);
    let events = dir.path().join("events.jsonl");
    let inv = dir.path().join("data/inv.yaml");
    let run = cxrules(&[
        "replay",
        arg(&events),
        "--rules",
        arg(dir.path()),
        "--inventory",
        arg(&inv),
        "--format",
        "jsonl",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let out: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), 3, "{}", run.stdout);
    assert_eq!(
        (out[0]["line"].as_u64(), out[0]["outcome"].as_str()),
        (Some(1), Some("processed"))
    );
    assert_eq!(out[0]["routing"]["skills"], json!(["skill-premium"]));
    assert_eq!(out[1]["outcome"], "ignored");
    assert_eq!(out[2]["line"], 3);
    assert!(
        out[2]["error"].as_str().unwrap().contains("interaction_id"),
        "{}",
        out[2]
    );
}

#[test]
fn the_inventory_file_answers_and_unknown_skus_are_not_found() {
    let text = lines(&[
        routed("int-001"),
        routed("int-002"),
        routed("int-002"),
        routed("int-003"),
        routed("int-009"),
    ]);
    let inv = "SKU-001: in_stock\nSKU-002: out_of_stock\nSKU-003: {error: 503}\n";
    let dir = dir_with(&[
        ("routing.yaml", ROUTING),
        ("events.jsonl", &text),
        ("data/inv.yaml", inv),
    ]);
    let (events, inv) = (
        dir.path().join("events.jsonl"),
        dir.path().join("data/inv.yaml"),
    );
    let run = cxrules(&[
        "replay",
        arg(&events),
        "--rules",
        arg(dir.path()),
        "--inventory",
        arg(&inv),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = &run.stdout;
    let row = |target: &str, reason: &str, n: u32| {
        let found = out.lines().any(|l| {
            l.starts_with(&format!("{target}, {reason} "))
                && l.trim_end().ends_with(&format!(" {n}"))
        });
        assert!(found, "no row `{target}, {reason}` with {n}:\n{out}");
    };
    row("queue:queue-general", "status out_of_stock", 2);
    row("skill:skill-premium", "status in_stock", 1);
    row("queue:queue-general", "fallback (upstream error)", 1);
    row("queue:queue-general", "unknown (no status)", 1);
}

/// Six lookups that all time out; the breaker opens after three failures for 30 s.
fn breaker_run(extra: &[&str], times: &[Value]) -> Vec<String> {
    let text: Vec<String> = times
        .iter()
        .map(|t| {
            json!({"event_type": "routing.interaction.created", "timestamp": t, "meta": {"at": t},
                   "data": {"interactionId": "int-001"}})
            .to_string()
        })
        .collect();
    let dir = dir_with(&[
        ("routing.yaml", ROUTING),
        ("events.jsonl", &lines(&text)),
        ("data/inv.yaml", "SKU-001: timeout\n"),
    ]);
    let (events, inv) = (
        dir.path().join("events.jsonl"),
        dir.path().join("data/inv.yaml"),
    );
    let mut args = vec![
        "replay",
        arg(&events),
        "--rules",
        arg(dir.path()),
        "--inventory",
        arg(&inv),
        "--format",
        "jsonl",
    ];
    args.extend_from_slice(extra);
    let run = cxrules(&args);
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout
        .lines()
        .map(|l| {
            let d: Value = serde_json::from_str(l).unwrap();
            d["routing"]["reason"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn event_timestamps_drive_the_clock() {
    let ms: Vec<Value> = [0, 1000, 2000, 3000, 40_000, 41_000]
        .iter()
        .map(|t| json!(t))
        .collect();
    let reasons = breaker_run(&[], &ms);
    let want = [
        "timeout",
        "timeout",
        "timeout",
        "breaker_open",
        "timeout",
        "breaker_open",
    ];
    assert_eq!(
        reasons, want,
        "open at 2 s, a trial at 40 s fails, open again"
    );
    let rfc: Vec<Value> = ["00", "01", "02", "03", "40", "41"]
        .iter()
        .map(|s| json!(format!("2026-01-01T00:00:{s}.000Z")))
        .collect();
    assert_eq!(breaker_run(&["--time-field", "/meta/at"], &rfc), want);
}

#[test]
fn a_fixed_spacing_replaces_event_times() {
    let same: Vec<Value> = vec![json!(0); 6];
    let wide = breaker_run(&["--spacing", "1m"], &same);
    assert_eq!(
        wide,
        vec!["timeout"; 6],
        "every half-open trial comes after open_for"
    );
    let tight = breaker_run(&["--spacing", "1s"], &same);
    assert_eq!(tight[3..], ["breaker_open", "breaker_open", "breaker_open"]);
}

/// The candidate: in stock now goes to the general queue, and transfers are routed too.
fn candidate() -> String {
    ROUTING
        .replace(
            "in_stock: { skills: [skill-premium] }",
            "in_stock: { queues: [queue-general] }",
        )
        .replace(
            "type: routing.interaction.created",
            "type: [routing.interaction.created, routing.interaction.transferred]",
        )
}

#[test]
fn against_counts_what_would_change() {
    let transferred = |id: Option<&str>| {
        let data = id.map_or(json!({}), |id| json!({"interactionId": id}));
        json!({"event_type": "routing.interaction.transferred", "data": data}).to_string()
    };
    let mut events = Vec::new();
    events.extend(std::iter::repeat_n(routed("int-001"), 5)); // in stock: moves
    events.extend(std::iter::repeat_n(routed("int-002"), 3)); // in stock: moves
    events.extend(std::iter::repeat_n(routed("int-003"), 4)); // out of stock: stays
    events.extend(std::iter::repeat_n(routed("int-004"), 2)); // unknown: stays
    events.extend(std::iter::repeat_n(transferred(Some("int-005")), 6)); // ignored → routed
    events.push(json!({"event_type": "routing.interaction.created", "data": {}}).to_string()); // rejected by both
    events.extend(std::iter::repeat_n(transferred(None), 2)); // ignored → rejected
    let inv = "SKU-001: in_stock\nSKU-002: in_stock\nSKU-003: out_of_stock\n";
    let now = dir_with(&[("routing.yaml", ROUTING)]);
    let next = dir_with(&[("routing.yaml", &candidate())]);
    let files = dir_with(&[("events.jsonl", &lines(&events)), ("inv.yaml", inv)]);
    let (ev, inv) = (
        files.path().join("events.jsonl"),
        files.path().join("inv.yaml"),
    );
    let base = [
        "replay",
        arg(&ev),
        "--rules",
        arg(now.path()),
        "--against",
        arg(next.path()),
        "--inventory",
        arg(&inv),
    ];

    let run = cxrules(&[&base[..], &["--format", "json"]].concat());
    assert_eq!(run.code, 0, "{run:?}");
    let s = summary(&run.stdout);
    assert_eq!(s["runs"][0]["summary"]["events"], 23);
    assert_eq!(s["changed"], 8 + 6 + 2);
    let counts: Vec<(String, u64)> = s["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [("target", 8), ("no_longer_ignored", 6), ("now_rejected", 2)];
    assert_eq!(counts, want.map(|(k, n)| (k.to_string(), n)));
    let first = &s["changes"][0]["examples"];
    assert_eq!(
        first,
        &json!([{"line": 1, "interaction_id": "int-001"}, {"line": 2, "interaction_id": "int-001"}, {"line": 3, "interaction_id": "int-001"}])
    );

    let table = cxrules(&base);
    assert_eq!(table.code, 0, "{table:?}");
    let out = &table.stdout;
    assert!(
        out.contains("what would change: 16 of 23 decisions\n"),
        "{out}"
    );
    assert!(out.contains("  8 interactions move from skill:skill-premium to queue:queue-general\n    e.g. line 1 (int-001), line 2 (int-001), line 3 (int-001)\n"), "{out}");
    assert!(
        out.contains("  6 events would no longer be ignored\n"),
        "{out}"
    );
    assert!(
        out.contains("  2 events would be rejected (decided now)\n"),
        "{out}"
    );

    let jsonl = cxrules(&[&base[..], &["--format", "jsonl"]].concat());
    let changed: Vec<Value> = jsonl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(changed.len(), 16);
    assert_eq!(changed[0]["changes"], json!(["target"]));
    assert_eq!(
        changed[0]["before"]["routing"]["skills"],
        json!(["skill-premium"])
    );
    assert_eq!(
        changed[0]["after"]["routing"]["queues"],
        json!(["queue-general"])
    );
}

#[test]
fn the_same_rules_change_nothing() {
    let dir = dir_with(&[
        ("routing.yaml", ROUTING),
        ("events.jsonl", &lines(&[routed("int-001")])),
    ]);
    let ev = dir.path().join("events.jsonl");
    let run = cxrules(&[
        "replay",
        arg(&ev),
        "--rules",
        arg(dir.path()),
        "--against",
        arg(dir.path()),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("no decision would change (1 events compared)"),
        "{}",
        run.stdout
    );
}

#[test]
fn events_can_come_from_standard_input() {
    let dir = dir_with(&[("routing.yaml", ROUTING)]);
    let mut cmd = command(
        dir.path(),
        &["replay", "-", "--rules", ".", "--format", "json"],
    );
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let text = lines(&[routed("int-001"), routed("int-002")]);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s = summary(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(s["events_file"], "standard input");
    assert_eq!(s["runs"][0]["summary"]["events"], 2);
}

#[test]
fn a_missing_events_file_is_an_io_error() {
    let dir = dir_with(&[("routing.yaml", ROUTING)]);
    let run = cxrules(&[
        "replay",
        arg(&dir.path().join("nope.jsonl")),
        "--rules",
        arg(dir.path()),
    ]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("error: cannot read the events file"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("= hint: pass a JSONL file"),
        "{}",
        run.stderr
    );
}

#[test]
fn rules_that_do_not_load_stop_the_replay() {
    let dir = dir_with(&[
        ("routing.yaml", "version: 1\nevents: 3\n"),
        ("events.jsonl", "{}\n"),
    ]);
    let ev = dir.path().join("events.jsonl");
    let run = cxrules(&["replay", arg(&ev), "--rules", arg(dir.path())]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("error: cannot replay: the rules in"),
        "{}",
        run.stderr
    );
    let valid = dir_with(&[("routing.yaml", ROUTING)]);
    let missing = cxrules(&[
        "replay",
        arg(&ev),
        "--rules",
        arg(valid.path()),
        "--against",
        arg(&dir.path().join("gone")),
    ]);
    assert_eq!(missing.code, 3, "{missing:?}");
}

#[test]
fn a_bad_inventory_file_and_bad_flags_are_usage_errors() {
    let dir = dir_with(&[
        ("routing.yaml", ROUTING),
        ("events.jsonl", "{}\n"),
        ("data/inv.yaml", "SKU-1: [a]\n"),
    ]);
    let (ev, inv) = (
        dir.path().join("events.jsonl"),
        dir.path().join("data/inv.yaml"),
    );
    let run = cxrules(&[
        "replay",
        arg(&ev),
        "--rules",
        arg(dir.path()),
        "--inventory",
        arg(&inv),
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("(at `SKU-1`)"), "{}", run.stderr);
    let both = cxrules(&[
        "replay",
        arg(&ev),
        "--inventory",
        arg(&inv),
        "--live-inventory",
    ]);
    assert_eq!(both.code, 2, "{both:?}");
    let zero = cxrules(&["replay", arg(&ev), "--spacing", "0s"]);
    assert_eq!(zero.code, 2, "{zero:?}");
    assert!(zero.stderr.contains("more than zero"), "{}", zero.stderr);
}

#[test]
fn a_generated_file_is_counted_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let (ev, inv) = (dir.path().join("events.jsonl"), dir.path().join("inv.yaml"));
    let gen = cxrules(&[
        "generate-events",
        "--count",
        "5000",
        "--broken-every",
        "1000",
        "--out",
        arg(&ev),
        "--inventory-out",
        arg(&inv),
    ]);
    assert_eq!(gen.code, 0, "{gen:?}");
    let run = cxrules(&[
        "replay",
        arg(&ev),
        "--inventory",
        arg(&inv),
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let s = summary(&run.stdout);
    assert_eq!(
        (s["lines"].as_u64(), s["broken_lines"].as_u64()),
        (Some(5000), Some(5))
    );
    let t = &s["runs"][0]["summary"];
    let parts: u64 = ["processed", "suppressed", "ignored", "rejected"]
        .iter()
        .map(|k| t[k].as_u64().unwrap())
        .sum();
    assert_eq!(t["events"].as_u64(), Some(4995));
    assert_eq!(parts, 4995);
    let routed: u64 = t["routing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert!(
        routed > 1000,
        "about a quarter of the events are routed: {routed}"
    );
    assert!(t["verdicts"]["unique"].as_u64().unwrap() > 1000, "{t}");
}

const DEDUP_NOW: &str = "
version: 1
normalizers:
  plain: [trim]
events:
  message:
    type: conversations.messages.messageCreated
    dedup: true
dedup:
  default: { window: 45s, mode: fixed, normalizer: plain }
";

/// The candidate: a 5 s window, and case no longer tells messages apart.
const DEDUP_NEXT: &str = "
version: 1
normalizers:
  folded: [trim, lowercase]
events:
  message:
    type: conversations.messages.messageCreated
    dedup: true
dedup:
  default: { window: 5s, mode: fixed, normalizer: folded }
";

fn message(interaction: &str, text: &str, seq: i64, at_s: i64) -> (i64, String) {
    let event = json!({"type": "conversations.messages.messageCreated", "timestamp": at_s * 1000,
        "data": {"message": {"interactionId": interaction, "senderId": "cust-1",
                             "content": text, "sequenceNumber": seq}}});
    (at_s, event.to_string())
}

#[test]
fn against_counts_dedup_changes_from_the_event_times() {
    let mut timed = Vec::new();
    for i in 0..3 {
        // 10 s apart: inside 45 s (suppressed now), outside 5 s (processed by the candidate).
        timed.push(message(&format!("ten-{i}"), "hello", 1, i));
        timed.push(message(&format!("ten-{i}"), "hello", 2, i + 10));
    }
    for i in 0..2 {
        // 2 s apart: suppressed by both.
        timed.push(message(&format!("two-{i}"), "hello", 1, 100 + i));
        timed.push(message(&format!("two-{i}"), "hello", 2, 102 + i));
    }
    for i in 0..4 {
        // 60 s apart: processed by both.
        timed.push(message(&format!("sixty-{i}"), "hello", 1, 200 + i));
        timed.push(message(&format!("sixty-{i}"), "hello", 2, 260 + i));
    }
    for i in 0..2 {
        // Case only: distinct now, a duplicate for the candidate.
        timed.push(message(&format!("case-{i}"), "Hello", 1, 400 + i));
        timed.push(message(&format!("case-{i}"), "hello", 2, 401 + i));
    }
    // A late message is flagged by both.
    timed.push(message("late", "second", 5, 500));
    timed.push(message("late", "first", 3, 501));
    timed.sort_by_key(|(t, _)| *t);
    let events: Vec<String> = timed.into_iter().map(|(_, e)| e).collect();

    let now = dir_with(&[("dedup.yaml", DEDUP_NOW)]);
    let next = dir_with(&[("dedup.yaml", DEDUP_NEXT)]);
    let files = dir_with(&[("events.jsonl", &lines(&events))]);
    let ev = files.path().join("events.jsonl");
    let run = cxrules(&[
        "replay",
        arg(&ev),
        "--rules",
        arg(now.path()),
        "--against",
        arg(next.path()),
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let s = summary(&run.stdout);
    let (before, after) = (&s["runs"][0]["summary"], &s["runs"][1]["summary"]);
    assert_eq!(before["events"], 24);
    assert_eq!(
        (before["suppressed"].as_u64(), after["suppressed"].as_u64()),
        (Some(3 + 2), Some(2 + 2))
    );
    assert_eq!(
        (
            before["verdicts"]["out_of_order"].as_u64(),
            after["verdicts"]["out_of_order"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(s["changed"], 5);
    let counts: Vec<(String, u64)> = s["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("no_longer_suppressed".to_string(), 3),
            ("now_suppressed".to_string(), 2)
        ]
    );
    assert_eq!(
        s["changes"][0]["description"],
        "3 messages would no longer be suppressed"
    );
    assert_eq!(
        s["changes"][1]["description"],
        "2 messages would be suppressed (processed now)"
    );
    assert_eq!(s["changes"][0]["examples"][0]["interaction_id"], "ten-0");

    // With a fixed spacing instead, everything is 100 ms apart: the 5 s window still holds them.
    let spaced = cxrules(&[
        "replay",
        arg(&ev),
        "--rules",
        arg(now.path()),
        "--against",
        arg(next.path()),
        "--format",
        "json",
        "--spacing",
        "100ms",
    ]);
    let s = summary(&spaced.stdout);
    assert_eq!(s["runs"][0]["summary"]["suppressed"], 3 + 2 + 4);
    assert_eq!(s["changes"][0]["kind"], "now_suppressed");
    assert_eq!(s["changes"][0]["count"], 2);
}

#[tokio::test]
async fn live_inventory_asks_the_url_the_rules_name() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/products/SKU-001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "in_stock"})))
        .expect(1)
        .mount(&server)
        .await;
    let rules = ROUTING.replace(
        "http://127.0.0.1:9/{sku}",
        "${CXRULES_TEST_INVENTORY}/products/{sku}",
    );
    let dir = dir_with(&[
        ("routing.yaml", &rules),
        ("data/events.jsonl", &lines(&[routed("int-001")])),
    ]);
    let ev = dir.path().join("data/events.jsonl");
    let args = [
        "replay",
        arg(&ev),
        "--rules",
        arg(dir.path()),
        "--live-inventory",
        "--format",
        "jsonl",
    ];
    let mut cmd = command(dir.path(), &args);
    cmd.env("CXRULES_TEST_INVENTORY", server.uri());
    let run = tokio::task::spawn_blocking(move || cli_support::finish(cmd))
        .await
        .unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    let d: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(d["routing"]["status"], "in_stock");
    assert_eq!(d["routing"]["skills"], json!(["skill-premium"]));
}
