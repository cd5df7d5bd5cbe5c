//! Property tests of `cxrules replay` (in process, through `tools::replay::execute`) over
//! generated JSONL: events of every shipped shape with hostile values, broken lines, JSON that
//! is not an object, invalid UTF-8, blank lines, CRLF endings, time fields of every size and
//! form, every output format, with and without `--against`. Nothing may panic; the replay ends
//! with status 0 and reports every broken line by its number.

mod cli_support;
#[path = "../../engine/tests/hostile/mod.rs"]
mod hostile;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use cxrules_server::tools::replay::{execute, ReplayArgs, ReplayFormat};
use cxrules_server::tools::{Hinted, Status};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

/// A candidate for `--against`: the shipped rules with a 1 s window and in-stock products sent
/// to a queue, so decisions change.
fn candidate(dir: &Path) -> PathBuf {
    let candidate = dir.join("candidate");
    std::fs::create_dir(&candidate).unwrap();
    for (file, from, to) in [
        ("dedup.yaml", "window: 45s", "window: 1s"),
        (
            "routing.yaml",
            "skills: [skill-premium-support-id]",
            "queues: [queue-x]",
        ),
        ("tests.yaml", "", ""),
    ] {
        let text = std::fs::read_to_string(rules().join(file)).unwrap();
        let text = if file == "tests.yaml" {
            "version: 1\n".into()
        } else {
            text.replacen(from, to, 1)
        };
        std::fs::write(candidate.join(file), text).unwrap();
    }
    candidate
}

/// What `--against` compares with: nothing, the same rules, or changed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Against {
    Nothing,
    Same,
    Changed,
}

fn against() -> impl Strategy<Value = Against> {
    prop_oneof![6 => Just(Against::Nothing), 1 => Just(Against::Same), 2 => Just(Against::Changed)]
}

/// An inventory file for `--inventory`: a map of SKU to answer, well formed or not.
fn inventory() -> impl Strategy<Value = Option<String>> {
    let answer = prop::sample::select(vec![
        "in_stock",
        "low_stock",
        "timeout",
        "unreachable",
        "\"\"",
        "{error: 503}",
        "{error: 404}",
        "{error: 70000}",
        "{error: -1}",
        "{status: timeout}",
        "[1, 2]",
        "null",
        "7",
        "{}",
    ]);
    let sku = prop::sample::select(vec![
        "SKU-VOICE-000001",
        "SKU-CHAT-000001",
        "SKU-VOICE-000002",
        "SKU-VOICE-567890",
        "\"\"",
    ]);
    let map = prop::collection::vec((sku, answer), 0..5).prop_map(|entries| {
        entries
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect::<String>()
    });
    let other = prop::sample::select(vec![
        "- a\n- b\n",
        "not: [closed\n",
        "\"text\"",
        "{\"A\": 1.5}",
        "",
    ])
    .prop_map(str::to_owned);
    prop::option::weighted(0.4, prop_oneof![4 => map, 1 => other, 1 => "\\PC{0,40}"])
}

/// One line of the events file, without its line ending; shown as text when a case fails.
#[derive(Clone)]
struct Line(Vec<u8>);

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

fn line() -> BoxedStrategy<Line> {
    let text = |s: BoxedStrategy<String>| s.prop_map(String::into_bytes).boxed();
    let broken = prop::sample::select(vec![
        "{not json",
        "{\"type\": ",
        "[1, 2]",
        "\"an event\"",
        "12345678901234567890123",
        "null",
        "true",
        "{}}",
        "{\"a\":1}{\"b\":2}",
        "\u{feff}{\"type\":\"x\"}",
        "{\"type\":\"x\"}\r\r",
    ])
    .prop_map(|s| s.as_bytes().to_vec());
    let blank = prop::sample::select(vec!["", " ", "\t", "\r", " \u{c} "])
        .prop_map(|s| s.as_bytes().to_vec());
    let cut = (hostile::event(), any::<prop::sample::Index>()).prop_map(|(e, at)| {
        let bytes = e.into_bytes();
        bytes[..at.index(bytes.len())].to_vec()
    });
    let invalid_utf8 = (
        hostile::event(),
        any::<prop::sample::Index>(),
        0x80u8..=0xff,
    )
        .prop_map(|(e, at, b)| {
            let mut bytes = e.into_bytes();
            let i = at.index(bytes.len());
            bytes.insert(i, b);
            bytes
        });
    let timed = (hostile::time(), prop::sample::select(vec!["createdAtWithMilliseconds", "timestamp", "t"]))
        .prop_map(|(t, key)| {
            format!(r#"{{"type":"conversations.messages.messageCreated","{key}":{t},"data":{{"message":{{"interactionId":"int-1","senderId":"c","content":"hi"}}}}}}"#)
                .into_bytes()
        });
    prop_oneof![
        8 => text(hostile::event()),
        3 => timed,
        2 => broken,
        1 => blank,
        2 => cut,
        1 => invalid_utf8,
        1 => text(hostile::value()),
    ]
    .prop_map(Line)
    .boxed()
}

/// A whole file: lines with LF or CRLF endings, the last one perhaps unterminated.
fn file() -> impl Strategy<Value = (Vec<Line>, bool, bool)> {
    (
        prop::collection::vec(line(), 0..40),
        any::<bool>(),
        any::<bool>(),
    )
}

fn join(lines: &[Line], crlf: bool, final_newline: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        out.extend_from_slice(&l.0);
        if i + 1 < lines.len() || final_newline {
            out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
    }
    out
}

/// What replay must make of the file: its line count, and the numbers of the broken lines
/// (neither blank nor a JSON object), read as replay reads them: split at LF.
fn expected(bytes: &[u8]) -> (u64, Vec<u64>, Vec<u64>) {
    let mut segments: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if segments.last().is_some_and(|s| s.is_empty()) {
        segments.pop();
    }
    let (mut broken, mut events) = (Vec::new(), Vec::new());
    for (i, raw) in segments.iter().enumerate() {
        let n = i as u64 + 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(raw.trim_ascii_end()) {
            Ok(serde_json::Value::Object(_)) => events.push(n),
            _ => broken.push(n),
        }
    }
    (segments.len() as u64, broken, events)
}

fn time_mode() -> impl Strategy<Value = (Option<Duration>, Vec<String>)> {
    let fields = prop::sample::select(vec![
        vec![
            "/createdAtWithMilliseconds".to_string(),
            "/timestamp".to_string(),
        ],
        vec!["/t".to_string()],
        vec!["/data/message/sequenceNumber".to_string(), "/t".to_string()],
        vec!["".to_string()],
        vec!["not/a/pointer".to_string()],
        vec!["/data/~2/~".to_string()],
    ]);
    let spacing = prop_oneof![
        (1u64..3_600_000).prop_map(Duration::from_millis),
        Just(Duration::MAX),
        Just(Duration::from_nanos(1)),
    ];
    prop_oneof![
        3 => fields.prop_map(|f| (None, f)),
        1 => spacing.prop_map(|s| (Some(s), Vec::new())),
    ]
}

/// Replays `bytes` with these options and checks the status, the warnings and the counts.
fn replay(
    bytes: &[u8],
    format: ReplayFormat,
    (spacing, fields): (Option<Duration>, Vec<String>),
    against: Against,
    inventory: Option<&str>,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, bytes).unwrap();
    let mut args = ReplayArgs::new(&events, rules());
    args.format = format;
    args.spacing = spacing;
    if !fields.is_empty() {
        args.time_fields = fields;
    }
    args.against = match against {
        Against::Nothing => None,
        Against::Same => Some(rules()),
        Against::Changed => Some(candidate(dir.path())),
    };
    if let Some(text) = inventory {
        let path = dir.path().join("inventory.yaml");
        std::fs::write(&path, text).unwrap();
        args.inventory = Some(path);
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = execute(&args, &mut out, &mut err);
    let (out, err) = (String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
    let status = match status {
        Ok(status) => status,
        // Only the inventory file may be refused, with what is wrong and a hint.
        Err(e)
            if inventory.is_some() && e.chain().any(|c| c.downcast_ref::<Hinted>().is_some()) =>
        {
            prop_assert!(e.to_string().contains("inventory.yaml"), "{:#}", e);
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("{e:#}\n{err}"))),
    };
    prop_assert_eq!(status, Status::Ok, "{}", err);
    let (lines, broken, events) = expected(bytes);
    for n in broken.iter().take(20) {
        prop_assert!(
            err.contains(&format!("warning: line {n}: ")),
            "line {} is broken but not reported:\n{}",
            n,
            err
        );
    }
    if broken.len() > 20 {
        let all = format!("warning: {} broken lines skipped in all", broken.len());
        prop_assert!(err.contains(&all), "{}", err);
    }
    let reported = err.matches("warning: line ").count();
    prop_assert_eq!(reported, broken.len().min(20), "{}", err);
    match format {
        ReplayFormat::Json => {
            let summary: serde_json::Value = serde_json::from_str(&out)
                .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
            prop_assert_eq!(summary["lines"].as_u64(), Some(lines), "{}", out);
            prop_assert_eq!(summary["broken_lines"].as_u64(), Some(broken.len() as u64));
            let evaluated = summary["runs"][0]["summary"]["events"].as_u64();
            prop_assert_eq!(evaluated, Some(events.len() as u64), "{}", out);
        }
        ReplayFormat::Jsonl if against == Against::Nothing => {
            let numbers: Vec<u64> = out
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).map(|v| v["line"].as_u64()))
                .collect::<Result<Option<Vec<u64>>, _>>()
                .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?
                .unwrap_or_default();
            prop_assert_eq!(numbers, events, "{}", out);
        }
        _ => {}
    }
    Ok(())
}

fn format() -> impl Strategy<Value = ReplayFormat> {
    prop::sample::select(vec![
        ReplayFormat::Table,
        ReplayFormat::Jsonl,
        ReplayFormat::Json,
    ])
}

proptest! {
    #![proptest_config(hostile::cases(96))]

    #[test]
    fn replay_reports_broken_lines_and_never_panics(
        (lines, crlf, final_newline) in file(),
        format in format(),
        time in time_mode(),
        against in against(),
        inventory in inventory(),
    ) {
        let bytes = join(&lines, crlf, final_newline);
        replay(&bytes, format, time, against, inventory.as_deref())?;
    }
}

proptest! {
    // Each case starts the binary: a few cases, for the wiring (standard input, exit code).
    #![proptest_config(hostile::cases(6))]

    #[test]
    fn the_binary_exits_0_on_any_events_file_or_standard_input(
        (lines, crlf, final_newline) in file(),
        stdin in any::<bool>(),
    ) {
        let bytes = join(&lines, crlf, final_newline);
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("events.jsonl");
        std::fs::write(&events, &bytes).unwrap();
        let rules = rules();
        let source = if stdin { "-" } else { cli_support::arg(&events) };
        let args = ["replay", source, "--rules", cli_support::arg(&rules), "--format", "json"];
        let mut cmd = cli_support::command(dir.path(), &args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the cxrules binary starts");
        let mut input = child.stdin.take().unwrap();
        if stdin {
            input.write_all(&bytes).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert_eq!(out.status.code(), Some(0), "{}", stderr);
        prop_assert!(!stderr.contains("panicked"), "{}", stderr);
        let (_, broken, _) = expected(&bytes);
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        prop_assert_eq!(summary["broken_lines"].as_u64(), Some(broken.len() as u64));
    }
}

/// More broken lines than are listed one by one: the first twenty by number, then a count.
#[test]
fn past_twenty_broken_lines_only_the_count_is_added() {
    let lines: Vec<Line> = (0..25)
        .map(|i| Line(format!("{{broken {i}").into_bytes()))
        .collect();
    replay(
        &join(&lines, false, true),
        ReplayFormat::Json,
        (None, Vec::new()),
        Against::Nothing,
        None,
    )
    .unwrap();
}

/// Found by the property test above: event times far apart (here the earliest and the latest
/// epoch milliseconds) overflowed `ms - origin` in the replay timeline
/// (`server/src/tools/replay/time.rs`, `Timeline::advance`): a panic in a debug build, a
/// wrapped offset in a release build.
#[test]
fn event_times_at_the_ends_of_the_range_do_not_overflow() {
    let lines = [
        r#"{"type":"conversations.messages.messageCreated","timestamp":-9223372036854775808,"data":{"message":{"interactionId":"int-1","senderId":"c","content":"hi"}}}"#,
        r#"{"type":"conversations.messages.messageCreated","timestamp":9223372036854775807,"data":{"message":{"interactionId":"int-1","senderId":"c","content":"hi"}}}"#,
    ]
    .map(|l| Line(l.as_bytes().to_vec()));
    replay(
        &join(&lines, false, true),
        ReplayFormat::Json,
        (None, Vec::new()),
        Against::Nothing,
        None,
    )
    .unwrap();
}
