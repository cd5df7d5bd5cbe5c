//! The same events decided from `serde_json::Value`s and from `ParsedEvent`s give the same
//! decisions and the same errors, event after event, on the default rules: generated events of
//! the seed, routing and CXone digital shapes with keys repeated, escaped, missing or wrongly
//! typed, and values that collide often enough to make duplicates.

use std::collections::BTreeMap;
use std::sync::Arc;

use cxrules_engine::replay::MapInventory;
use cxrules_engine::{Decision, Engine, EvalError, ParsedEvent};
use proptest::prelude::*;

fn engine() -> Engine {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");
    Engine::builder(rules)
        .inventory(Arc::new(MapInventory::new(BTreeMap::new())))
        .build()
        .unwrap()
}

/// A JSON value as text: strings that need escaping or normalizing, ids, numbers, nulls...
fn value() -> BoxedStrategy<String> {
    prop::sample::select(vec![
        r#""int-1""#,
        r#""int-2""#,
        r#""cust-1""#,
        r#""Hello there""#,
        r#""  hello   THERE ""#,
        r#""h\u0065llo there""#,
        r#""chat""#,
        r#""sms""#,
        r#""voice""#,
        r#""..""#,
        r#""a\r\nb""#,
        r#""""#,
        r#""2026-11-23T10:00:00.123Z""#,
        r#""1700000000000""#,
        "1",
        "2",
        "-1",
        "1.5",
        "12345678901234567890",
        "1700000000001",
        "null",
        "true",
        "{}",
        "[]",
    ])
    .prop_map(str::to_owned)
    .boxed()
}

fn event_type() -> BoxedStrategy<String> {
    prop::sample::select(vec![
        r#""conversations.messages.messageCreated""#,
        r#""routing.interaction.created""#,
        r#""MessageCreated""#,
        r#""MessageAddedIntoCase""#,
        r#""other.type""#,
        "5",
    ])
    .prop_map(str::to_owned)
    .boxed()
}

/// An object with entries picked (with repeats) from `keys`, keys sometimes written escaped.
fn object(keys: &'static [&'static str], values: BoxedStrategy<String>) -> BoxedStrategy<String> {
    let entry = (prop::sample::select(keys), any::<bool>(), values).prop_map(|(k, escaped, v)| {
        let key = match (escaped, k.strip_prefix('i')) {
            (true, Some(rest)) => format!("\\u0069{rest}"),
            _ => k.to_owned(),
        };
        format!("\"{key}\":{v}")
    });
    prop::collection::vec(entry, 0..8)
        .prop_map(|entries| format!("{{{}}}", entries.join(",")))
        .boxed()
}

/// Mostly one of `valid`, sometimes any value.
fn often(valid: &'static [&'static str]) -> BoxedStrategy<String> {
    let valid = prop::sample::select(valid).prop_map(str::to_owned);
    prop_oneof![9 => valid, 1 => value()].boxed()
}

/// An object with each of `core` present 19 times in 20, and one time in four one more entry
/// (a repeat of one of its keys) with any value.
fn shaped(core: Vec<(&'static str, BoxedStrategy<String>)>) -> BoxedStrategy<String> {
    let keys: Vec<&'static str> = core.iter().map(|(k, _)| *k).collect();
    let core: Vec<_> = core
        .into_iter()
        .map(|(k, v)| prop::option::weighted(0.95, v.prop_map(move |v| format!("\"{k}\":{v}"))))
        .collect();
    let extra = prop::option::weighted(
        0.25,
        (prop::sample::select(keys), value()).prop_map(|(k, v)| format!("\"{k}\":{v}")),
    );
    (core, extra)
        .prop_map(|(core, extra)| {
            let entries: Vec<String> = core.into_iter().flatten().chain(extra).collect();
            format!("{{{}}}", entries.join(","))
        })
        .boxed()
}

const IDS: &[&str] = &[r#""int-1""#, r#""int-2""#, "7", r#""a1b2c3d4-e5f6-7890""#];
const TEXTS: &[&str] = &[
    r#""Hello there""#,
    r#""  hello   THERE ""#,
    r#""h\u0065llo there""#,
    r#""Where is my order?""#,
];

fn seed_message() -> BoxedStrategy<String> {
    let message = shaped(vec![
        ("interactionId", often(IDS)),
        ("senderId", often(&[r#""cust-1""#, r#""cust-2""#])),
        ("content", often(TEXTS)),
        ("sequenceNumber", often(&["1", "2", "3"])),
        ("channel", often(&[r#""chat""#, r#""sms""#])),
    ]);
    shaped(vec![
        (
            "type",
            often(&[r#""conversations.messages.messageCreated""#]),
        ),
        ("data", shaped(vec![("message", message)])),
        ("eventId", often(&[r#""e-1""#, r#""e-2""#])),
    ])
}

fn routing_event() -> BoxedStrategy<String> {
    let data = shaped(vec![
        ("interactionId", often(IDS)),
        (
            "mediaType",
            often(&[r#""voice""#, r#""chat""#, r#""email""#]),
        ),
    ]);
    shaped(vec![
        ("event_type", often(&[r#""routing.interaction.created""#])),
        ("data", data),
    ])
}

fn dfo_message() -> BoxedStrategy<String> {
    let content = shaped(vec![("text", often(TEXTS))]);
    let author = shaped(vec![(
        "idOnExternalPlatform",
        often(&[r#""u-1""#, r#""u-2""#]),
    )]);
    let message = shaped(vec![
        ("messageContent", content),
        ("authorEndUserIdentity", author),
    ]);
    let case = shaped(vec![("interactionId", often(IDS))]);
    let channel = shaped(vec![("id", often(&[r#""chat""#]))]);
    let when = often(&[
        r#""2026-11-23T10:00:00.123Z""#,
        r#""2026-11-23T10:00:01.000+02:00""#,
        "1763892000000",
    ]);
    shaped(vec![
        (
            "eventType",
            often(&[r#""MessageCreated""#, r#""MessageAddedIntoCase""#]),
        ),
        ("eventId", often(&[r#""e-1""#, r#""e-2""#])),
        ("createdAtWithMilliseconds", when),
        (
            "data",
            shaped(vec![
                ("case", case),
                ("message", message),
                ("channel", channel),
            ]),
        ),
    ])
}

/// Anything object-shaped, for the events no rule expects.
fn loose_event() -> BoxedStrategy<String> {
    let data_value = prop_oneof![
        object(&["message", "interactionId", "id"], value()),
        value()
    ];
    let root_value = prop_oneof![
        event_type(),
        object(&["message", "interactionId"], data_value.boxed()),
        value()
    ];
    object(
        &["type", "event_type", "eventType", "data", "eventId"],
        root_value.boxed(),
    )
}

fn event() -> BoxedStrategy<String> {
    prop_oneof![
        4 => seed_message(),
        2 => routing_event(),
        2 => dfo_message(),
        1 => loose_event(),
    ]
    .boxed()
}

fn comparable(result: Result<Decision, EvalError>) -> Result<Decision, String> {
    result
        .map(|mut d| {
            d.latency_us = 0;
            if let Some(r) = &mut d.routing {
                r.lookup_ms = None;
            }
            d
        })
        .map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn both_documents_decide_alike(events in prop::collection::vec(event(), 1..24)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let (by_value, by_parse) = (engine(), engine());
            for text in &events {
                let value = serde_json::from_str::<serde_json::Value>(text);
                let parsed = ParsedEvent::parse(text.as_bytes());
                let (value, parsed) = match (value, parsed) {
                    (Ok(v), Ok(p)) => (v, p),
                    (Err(a), Err(b)) => {
                        prop_assert_eq!(a.to_string(), b.to_string());
                        continue;
                    }
                    (a, b) => panic!("{text}: serde_json {a:?}, parsed {b:?}"),
                };
                prop_assert_eq!(by_value.precheck(&value).map_err(|e| e.to_string()),
                    by_parse.precheck(&parsed).map_err(|e| e.to_string()), "{}", text);
                let a = by_value.evaluate(&value).await.map(|e| e.commit());
                let b = by_parse.evaluate(&parsed).await.map(|e| e.commit());
                prop_assert_eq!(comparable(a), comparable(b), "{}", text);
                tokio::time::advance(std::time::Duration::from_millis(700)).await;
            }
            Ok(())
        })?;
    }
}
