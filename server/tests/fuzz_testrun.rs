//! Property tests of the rule test runner (`cxrules test`, in process through
//! `tools::test::execute`): generated cases beside the shipped rules, with steps whose events are
//! hostile events of every shipped shape, `at` durations of any form and size, `expect` values
//! of every kind (wrong types and unknown keys included), mock inventories of every answer.
//! Nothing may panic (a hook catches panics the runner's threads would swallow); a file that
//! loads gets a pass or a fail per case, in the report and in the JUnit file.

#[path = "../../engine/tests/hostile/mod.rs"]
mod hostile;

use std::path::Path;
use std::sync::{Mutex, Once};

use cxrules_server::tools::test::{execute, TestArgs};
use cxrules_server::tools::Status;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Map, Value};

/// Panics on the threads the runner starts (unnamed; test threads carry their test's name),
/// which it would catch and turn into a failure, or swallow.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// One run at a time, so a panic is put down to the run it happened in.
static ONE_RUN: Mutex<()> = Mutex::new(());

fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name().is_none() {
                let mut panics = PANICS.lock().unwrap_or_else(|p| p.into_inner());
                panics.push(info.to_string());
            }
            default(info);
        }));
    });
}

/// A hostile event as a JSON value (the text parsed; text serde_json refuses, or nested deeper
/// than the YAML reader's limit allows inside a rule file, becomes a string).
fn event() -> BoxedStrategy<Value> {
    hostile::event()
        .prop_map(|text| match serde_json::from_str(&text) {
            Ok(v) if depth(&v) < 64 => v,
            _ => Value::String(text),
        })
        .boxed()
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// An `at` duration: any text (what it says is checked when the step runs).
fn at() -> BoxedStrategy<Value> {
    let fixed = prop::sample::select(vec![
        "0s",
        "45s",
        "44s",
        "46s",
        "1500ms",
        "2m",
        "10m",
        "1h 30m",
        "1ns",
        "",
        " ",
        "45",
        "-1s",
        "1.5s",
        "soon",
        "4５s",
        "45s€",
        "18446744073709551615s",
        "18446744073709551616s",
        "10000000000000h",
        "584942417355y",
        "99999999999999999999999d",
    ])
    .prop_map(str::to_owned);
    let any_ms = any::<u64>().prop_map(|n| format!("{n}ms"));
    let text = hostile::string().prop_map(|s| serde_json::from_str(&s).unwrap_or(s));
    prop_oneof![6 => fixed, 2 => any_ms, 1 => text]
        .prop_map(Value::String)
        .boxed()
}

fn strings(values: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop::sample::select(values).prop_map(|v| json!(v)).boxed()
}

/// An `expect` of well-typed values (which a decision may or may not match).
fn expect() -> BoxedStrategy<Value> {
    let entry = prop_oneof![
        3 => strings(&["processed", "suppressed", "ignored"]).prop_map(|v| ("outcome", v)),
        3 => strings(&["unique", "duplicate", "out_of_order", "redelivery"])
            .prop_map(|v| ("verdict", v)),
        2 => prop_oneof![any::<i64>(), -1i64..4].prop_map(|v| ("highest_sequence", json!(v))),
        2 => strings(&["default", "sms", "email", ""]).prop_map(|v| ("channel", v)),
        2 => strings(&["SKU-VOICE-000001", "SKU-€-1", ""]).prop_map(|v| ("sku", v)),
        1 => strings(&["in_stock", "timeout"]).prop_map(|v| ("status", v)),
        2 => strings(&["status", "unknown", "fallback"]).prop_map(|v| ("matched", v)),
        2 => strings(&["timeout", "upstream_error", "unreachable", "breaker_open"])
            .prop_map(|v| ("reason", v)),
        1 => Just(("skills", json!(["skill-premium-support-id"]))),
        1 => Just(("queues", json!(["queue-general-support-id"]))),
        2 => strings(&["missing field", "timestamp", "", "€"]).prop_map(|v| ("error", v)),
    ];
    prop::collection::vec(entry, 0..4)
        .prop_map(|entries| {
            let map: Map<String, Value> = entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            Value::Object(map)
        })
        .boxed()
}

fn step() -> BoxedStrategy<Value> {
    (
        prop::option::weighted(0.6, at()),
        event(),
        prop::option::weighted(0.8, expect()),
    )
        .prop_map(|(at, event, expect)| {
            let mut step = Map::new();
            if let Some(at) = at {
                step.insert("at".into(), at);
            }
            step.insert("event".into(), event);
            if let Some(expect) = expect {
                step.insert("expect".into(), expect);
            }
            Value::Object(step)
        })
        .boxed()
}

/// Mock inventory answers for the SKUs the generated routing events make.
fn inventory() -> BoxedStrategy<Value> {
    let sku = prop::sample::select(vec![
        "SKU-VOICE-000001",
        "SKU-CHAT-000001",
        "SKU-VOICE-000002",
        "SKU-VOICE-567890",
    ]);
    let answer = prop_oneof![
        strings(&["in_stock", "low_stock", "timeout", "unreachable", "odd", ""]),
        any::<u16>().prop_map(|e| json!({"error": e})),
        Just(json!({"status": "timeout"})),
    ];
    prop::collection::btree_map(sku, answer, 0..4)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
        .boxed()
}

/// Well-formed cases (distinct names, some hostile) with inventories and 1 to 5 steps each.
fn good_cases() -> BoxedStrategy<Vec<Value>> {
    let name = prop_oneof![
        3 => Just(String::new()),
        1 => hostile::string().prop_map(|s| serde_json::from_str(&s).unwrap_or(s)),
    ];
    let case = (
        name,
        prop::option::weighted(0.5, inventory()),
        prop::collection::vec(step(), 1..5),
    );
    prop::collection::vec(case, 0..5)
        .prop_map(|cases| {
            let numbered = cases.into_iter().enumerate();
            numbered
                .map(|(i, (name, inventory, steps))| {
                    let mut case = Map::new();
                    case.insert("name".into(), json!(format!("case {i}: {name}")));
                    if let Some(inv) = inventory {
                        case.insert("inventory".into(), inv);
                    }
                    case.insert("steps".into(), Value::Array(steps));
                    Value::Object(case)
                })
                .collect()
        })
        .boxed()
}

/// One thing a rule file's cases can get wrong: (JSON pointer below a case, the value put there).
fn mistake() -> impl Strategy<Value = (&'static str, Value)> {
    prop::sample::select(vec![
        ("/steps/0/expect/bogus_key", json!(1)),
        ("/steps/0/expect/outcome", json!("bogus")),
        ("/steps/0/expect/outcome", json!(-1)),
        ("/steps/0/expect/verdict", json!(["unique"])),
        ("/steps/0/expect/highest_sequence", json!(u64::MAX)),
        ("/steps/0/expect/highest_sequence", json!(1.5)),
        ("/steps/0/expect/matched", json!("nope")),
        ("/steps/0/expect/queues", json!(["q", 7])),
        ("/steps/0/at", json!(45)),
        ("/steps", json!({})),
        ("/inventory", json!({"SKU-1": {"error": 70000}})),
        ("/inventory", json!({"SKU-1": [1]})),
        ("/name", json!(null)),
        ("/name", json!("(a copy)")),
        ("/bogus_key", json!(true)),
    ])
}

/// Cases of which one has a mistake (or the list as a whole is not one): the file does not load.
fn bad_cases() -> impl Strategy<Value = Value> {
    (good_cases(), mistake(), any::<prop::sample::Index>()).prop_map(|(cases, (at, value), i)| {
        if cases.is_empty() {
            return json!({"name": "not a list"});
        }
        let mut cases = cases;
        let case = i.index(cases.len());
        if value == json!("(a copy)") {
            // The same case twice: a name defined twice.
            cases.push(cases[case].clone());
            return Value::Array(cases);
        }
        let (parent, key) = at.rsplit_once('/').unwrap();
        if let Some(Value::Object(map)) = cases[case].pointer_mut(parent) {
            map.insert(key.to_owned(), value);
        } else if let Some(Value::Object(map)) = cases[case].pointer_mut("/steps/0") {
            map.insert("expect".into(), json!({key: value}));
        }
        Value::Array(cases)
    })
}

/// `value` as YAML flow text that any YAML parser reads back: JSON, with every character outside
/// printable ASCII escaped (YAML refuses some raw ones and reads others as line breaks).
fn yaml(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let mut out = String::from('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    ' '..='~' => out.push(c),
                    c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push_str(&format!("\\U{:08x}", c as u32)),
                }
            }
            out.push('"');
            out
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(yaml).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", yaml(&Value::String(k.clone())), yaml(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => other.to_string(),
    }
}

/// Runs `cxrules test` on the shipped dedup and routing rules plus `cases`, and checks it.
fn run(tests: &Value, loads: bool, junit: bool) -> Result<(), TestCaseError> {
    let cases: &[Value] = tests.as_array().map_or(&[], Vec::as_slice);
    watch_panics();
    let _one = ONE_RUN.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    for file in ["dedup.yaml", "routing.yaml"] {
        std::fs::copy(shipped.join(file), dir.path().join(file)).unwrap();
    }
    let tests = format!("version: 1\ntests: {}\n", yaml(tests));
    std::fs::write(dir.path().join("tests.yaml"), &tests).unwrap();
    let report = tempfile::tempdir().unwrap();
    let junit_path = report.path().join("junit.xml");
    let args = TestArgs {
        dir: dir.path().to_path_buf(),
        junit: junit.then(|| junit_path.clone()),
        format: cxrules_server::tools::check::Format::Human,
    };
    PANICS.lock().unwrap().clear();
    let mut out = Vec::new();
    let status = execute(&args, &mut out).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
    let out = String::from_utf8_lossy(&out);
    let panics = std::mem::take(&mut *PANICS.lock().unwrap());
    prop_assert!(
        panics.is_empty(),
        "panicked: {:#?}\n{}\n{}",
        panics,
        out,
        tests
    );
    if !loads {
        // The file does not load (an `expect` of the wrong type, say): located diagnostics.
        prop_assert_eq!(status, Status::CannotRun, "{}", out);
        prop_assert!(out.contains("tests.yaml:"), "{}", out);
        prop_assert!(out.contains("no test case ran"), "{}", out);
        return Ok(());
    }
    prop_assert!(!out.contains("no test case ran"), "{}\n{}", out, tests);
    let shown = out
        .lines()
        .filter(|l| l.starts_with("ok    ") || l.starts_with("FAIL  "))
        .count();
    let failed = out.lines().filter(|l| l.starts_with("FAIL  ")).count();
    prop_assert_eq!(shown, cases.len(), "one line per case\n{}\n{}", out, tests);
    prop_assert_eq!(status == Status::Ok, failed == 0, "{}", out);
    if !cases.is_empty() {
        let summary = format!(
            "{} passed; {failed} failed; {} case",
            cases.len() - failed,
            cases.len()
        );
        prop_assert!(out.contains(&summary), "{}", out);
    }
    if junit {
        let xml = std::fs::read_to_string(&junit_path).unwrap();
        prop_assert_eq!(xml.matches("<testcase ").count(), cases.len(), "{}", xml);
        // XML 1.0 carries no C0 control character but tab, LF and CR (DEL and C1 it does).
        let bad = |c: char| c < ' ' && !matches!(c, '\t' | '\n' | '\r');
        prop_assert!(!xml.chars().any(bad), "{}", xml);
    }
    Ok(())
}

proptest! {
    #![proptest_config(hostile::cases(128))]

    #[test]
    fn every_case_passes_or_fails_and_nothing_panics(cases in good_cases(), junit in any::<bool>()) {
        run(&Value::Array(cases), true, junit)?;
    }

    #[test]
    fn a_mistake_in_a_case_is_reported_where_it_is(tests in bad_cases()) {
        run(&tests, false, false)?;
    }
}

/// Found by the property test above: a step whose CXone digital event has a multi-byte
/// character where the time's offset goes panicked the runner's thread
/// (`engine/src/timestamp.rs`), which then reported one case `(runner)` in place of every case.
#[test]
fn a_step_with_a_multibyte_time_fails_its_case_not_the_runner() {
    let event = json!({"eventType": "MessageCreated", "eventId": "e-1",
        "createdAtWithMilliseconds": "2026-11-23T12:00:00.1ß2:00",
        "data": {"case": {"interactionId": "int-000001"},
                 "message": {"authorEndUserIdentity": {"idOnExternalPlatform": "u-1"},
                             "messageContent": {"text": "Hello there"}}}});
    let cases = json!([
        {"name": "a multi-byte time", "steps": [{"event": event, "expect": {"error": "timestamp"}}]},
        {"name": "a case after it", "steps": [{"event": {"type": "other"}, "expect": {"outcome": "ignored"}}]},
    ]);
    run(&cases, true, true).unwrap();
}
