//! Property tests of `evaluate` over the whole event surface: events shaped like the shipped
//! rules' events with any value in any field (hostile strings, numbers of every size and form,
//! wrong types, deep nesting, missing and repeated keys, near-RFC 3339 times, hostile ids),
//! decided from a `serde_json::Value` and from a `ParsedEvent`. Nothing may panic; every event
//! gets a decision or an error that names the field it is about, and both documents agree.

mod hostile;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cxrules_engine::events::FIELD_NAMES;
use cxrules_engine::replay::{ManualClock, MapInventory};
use cxrules_engine::testcase::MockAnswer;
use cxrules_engine::{CompiledRules, Decision, Engine, EvalError, ParsedEvent};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The shipped rules, compiled (and their own cases run) once.
fn rules() -> Arc<CompiledRules> {
    static RULES: OnceLock<Arc<CompiledRules>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");
            let engine = Engine::builder(dir)
                .inventory(Arc::new(MapInventory::default()))
                .build()
                .expect("the shipped rules load");
            engine.rules()
        })
        .clone()
}

/// An inventory that answers every kind of answer for the SKUs the generated events make.
fn inventory() -> Arc<MapInventory> {
    let answers = [
        ("SKU-VOICE-000001", MockAnswer::Status("in_stock".into())),
        ("SKU-CHAT-000001", MockAnswer::Status("low_stock".into())),
        (
            "SKU-EMAIL-000001",
            MockAnswer::Status("out_of_stock".into()),
        ),
        ("SKU-VOICE-000002", MockAnswer::Status("timeout".into())),
        ("SKU-CHAT-000002", MockAnswer::Status("unreachable".into())),
        ("SKU-EMAIL-000002", MockAnswer::Error { error: 503 }),
        (
            "SKU-VOICE-567890",
            MockAnswer::Status("discontinued".into()),
        ),
        ("SKU-CHAT-567890", MockAnswer::Error { error: 429 }),
    ];
    let map: BTreeMap<String, MockAnswer> = answers
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    Arc::new(MapInventory::new(map))
}

fn engine(clock: &Arc<ManualClock>) -> Engine {
    Engine::with_rules(rules())
        .inventory(inventory())
        .clock(clock.hook())
        .build()
        .expect("an engine over compiled rules")
}

/// Passes when `error` is about the event's fields and names the field (the event is an
/// object, so it is never `NotAnObject`; the in-memory store never fails).
fn located(error: &EvalError, text: &str) -> Result<(), TestCaseError> {
    let field = match error {
        EvalError::MissingField { field, .. } => field,
        EvalError::WrongType { field, pointer, .. } => {
            prop_assert!(pointer.starts_with('/'), "{error}: no pointer\n{text}");
            field
        }
        EvalError::InvalidId { field, .. } => field,
        other => return Err(TestCaseError::fail(format!("{other} ({other:?})\n{text}"))),
    };
    prop_assert!(!field.is_empty(), "{error}: no field named\n{text}");
    // Not `field` itself: a SKU template's missing value comes as a sentence in its place
    // (`a_missing_sku_value_names_its_field_and_pointers` below).
    let message = error.to_string();
    prop_assert!(
        FIELD_NAMES
            .iter()
            .chain(&["sku"])
            .any(|f| message.contains(f)),
        "{error}: no field named\n{text}"
    );
    Ok(())
}

/// A decision as both documents must give it: the time taken left out.
fn comparable(result: &Result<Decision, EvalError>) -> Result<Decision, String> {
    match result {
        Ok(d) => {
            let mut d = d.clone();
            d.latency_us = 0;
            if let Some(r) = &mut d.routing {
                r.lookup_ms = None;
            }
            Ok(d)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Decides `text` on both engines (the value one and the parsed one), checks the answers.
async fn decide(by_value: &Engine, by_parse: &Engine, text: &str) -> Result<(), TestCaseError> {
    let (value, parsed) = match (
        serde_json::from_str::<serde_json::Value>(text),
        ParsedEvent::parse(text.as_bytes()),
    ) {
        (Ok(v), Ok(p)) => (v, p),
        (Err(a), Err(b)) => {
            prop_assert_eq!(a.to_string(), b.to_string(), "{}", text);
            return Ok(());
        }
        (a, b) => {
            return Err(TestCaseError::fail(format!(
                "serde_json {a:?}, ParsedEvent {b:?}\n{text}"
            )))
        }
    };
    let precheck = by_value.precheck(&value).map_err(|e| e.to_string());
    prop_assert_eq!(
        &precheck,
        &by_parse.precheck(&parsed).map_err(|e| e.to_string()),
        "{}",
        text
    );
    let a = by_value.evaluate(&value).await.map(|e| e.commit());
    let b = by_parse.evaluate(&parsed).await.map(|e| e.commit());
    prop_assert_eq!(comparable(&a), comparable(&b), "{}", text);
    prop_assert_eq!(
        precheck.is_err(),
        a.is_err(),
        "precheck and evaluate differ\n{}",
        text
    );
    match &a {
        Ok(decision) => {
            serde_json::to_vec(decision)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        }
        Err(e) if value.is_object() => located(e, text)?,
        Err(e) => prop_assert!(matches!(e, EvalError::NotAnObject), "{e}\n{text}"),
    }
    Ok(())
}

/// Runs `events` in order on fresh engines, the clock moved by each one's delay.
fn run(events: &[(String, u64)]) -> Result<(), TestCaseError> {
    let clock = Arc::new(ManualClock::new());
    let (by_value, by_parse) = (engine(&clock), engine(&clock));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut at = 0u64;
        for (text, delay) in events {
            at = at.saturating_add(*delay);
            clock.set(Duration::from_millis(at));
            decide(&by_value, &by_parse, text).await?;
        }
        Ok(())
    })
}

/// How long after the one before an event arrives: mostly inside a window, sometimes far later.
fn delay() -> impl Strategy<Value = u64> {
    prop_oneof![6 => 0u64..2_000, 2 => 0u64..700_000, 1 => any::<u64>()]
}

proptest! {
    #![proptest_config(hostile::cases(512))]

    #[test]
    fn shaped_events_get_a_decision_or_a_located_error(
        events in prop::collection::vec((hostile::event(), delay()), 1..8)
    ) {
        run(&events)?;
    }

    #[test]
    fn near_rfc3339_times_never_panic(
        time in hostile::near_rfc3339(),
        dfo in any::<bool>(),
    ) {
        let text = if dfo {
            format!(r#"{{"eventType":"MessageCreated","eventId":"e-1","createdAtWithMilliseconds":{time},
                "data":{{"case":{{"interactionId":"int-1"}},"message":{{"messageContent":{{"text":"hi"}},
                "authorEndUserIdentity":{{"idOnExternalPlatform":"u-1"}}}}}}}}"#)
        } else {
            format!(r#"{{"type":"conversations.messages.messageCreated","timestamp":{time},
                "data":{{"message":{{"interactionId":"int-1","senderId":"c","content":"hi"}}}}}}"#)
        };
        run(&[(text, 0)])?;
    }

    #[test]
    fn any_body_gets_a_decision_or_an_error(
        body in prop_oneof![
            hostile::value(),
            "\\PC{0,64}",
            prop::collection::vec(hostile::value(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
        ]
    ) {
        run(&[(body, 0)])?;
    }
}

/// Every valid time with each odd character put in place of none, one, two or three of its
/// characters at every position, and cut at every position: the exhaustive form of
/// `near_rfc3339_times_never_panic`, for the multi-byte cases above all.
#[test]
fn odd_characters_at_every_position_of_a_time_never_panic() {
    let odd = ['€', 'é', '𝄞', '٣', '１', '\u{0}', '+', ':', '.', 'Z'];
    let mut times = Vec::new();
    for good in hostile::GOOD_TIMES {
        for at in 0..=good.chars().count() {
            for c in odd {
                for span in 0..=4 {
                    times.push(hostile::near_miss(good, at, span, c));
                }
            }
        }
    }
    times.sort();
    times.dedup();
    let mut panics = Vec::new();
    for time in &times {
        let body = format!(
            r#"{{"eventType":"MessageCreated","eventId":"e-1","createdAtWithMilliseconds":{},
            "data":{{"case":{{"interactionId":"int-1"}},"message":{{"messageContent":{{"text":"hi"}},
            "authorEndUserIdentity":{{"idOnExternalPlatform":"u-1"}}}}}}}}"#,
            hostile::json_string(time)
        );
        if std::panic::catch_unwind(|| run(&[(body, 0)])).is_err() {
            panics.push(time.clone());
        }
    }
    assert!(
        panics.is_empty(),
        "{} of {} times panic: {panics:#?}",
        panics.len(),
        times.len()
    );
}

/// A routing event without a media type: the SKU template cannot be rendered. The error names
/// the field and where it was looked for, as every other missing field does (it once put the
/// template error's sentence in the field's place, with no pointer: "missing field `the sku
/// template needs {media_type} but the event has no value for it` (looked at )").
#[test]
fn a_missing_sku_value_names_its_field_and_pointers() {
    let clock = Arc::new(ManualClock::new());
    let engine = engine(&clock);
    let event = serde_json::json!({"event_type": "routing.interaction.created",
        "data": {"interactionId": "int-000001"}});
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let error = runtime.block_on(engine.evaluate(&event)).unwrap_err();
    match error {
        EvalError::MissingField { field, pointers } => {
            assert_eq!(
                (field.as_str(), pointers),
                ("media_type", vec!["/data/mediaType".to_string()])
            );
        }
        other => panic!("{other:?}"),
    }
}
