//! Generators of hostile JSON for the property tests of every input boundary: events shaped like
//! the shipped rules' events (the seed message, the seed routing event, the CXone digital
//! message) whose every field may hold any value. Values are JSON *text*, so numbers serde_json
//! cannot hold (`1e400`, 30-digit integers), lone surrogate escapes and nesting past the parser's
//! depth limit reach the parsers as they would arrive on the wire.
//!
//! The engine's tests use it as `mod hostile;`, the server's through `#[path]`.
#![allow(dead_code)] // each test file uses its own part of the generators

use proptest::prelude::*;

/// The event types the shipped rules name, and some they do not.
pub const EVENT_TYPES: &[&str] = &[
    "conversations.messages.messageCreated",
    "routing.interaction.created",
    "MessageCreated",
    "MessageAddedIntoCase",
];

/// Valid RFC 3339 times the near misses are made from.
pub const GOOD_TIMES: &[&str] = &[
    "2026-11-23T10:00:00Z",
    "2026-11-23T10:00:00.123Z",
    "2026-11-23T12:00:00.1+02:00",
    "2026-11-23T10:00:00+00:00",
    "2026-11-23 10:00:00.999999-00:30",
];

/// Characters that are more than one byte in UTF-8, or digits that are not ASCII, or controls.
const ODD_CHARS: &[char] = &[
    '€', 'é', '𝄞', '😀', 'ß', 'İ', '٣', '１', '\u{202e}', '\u{feff}', '\u{301}', '\u{0}', '\u{7f}',
    '\u{85}', '\u{2028}', '\r', '\n', '\t',
];

/// One character, ASCII most of the time, else multi-byte or a control character.
pub fn any_char() -> BoxedStrategy<char> {
    prop_oneof![
        6 => proptest::char::range(' ', '~'),
        2 => prop::sample::select(ODD_CHARS),
        1 => proptest::char::range('\u{0}', '\u{1f}'),
        1 => any::<char>(),
    ]
    .boxed()
}

/// A JSON string literal (quoted and escaped) of hostile text.
pub fn string() -> BoxedStrategy<String> {
    let chars = prop::collection::vec(any_char(), 0..24)
        .prop_map(|cs| json_string(&cs.into_iter().collect::<String>()));
    let fixed = prop::sample::select(vec![
        r#""""#.to_owned(),
        r#"" ""#.to_owned(),
        r#"".""#.to_owned(),
        r#""..""#.to_owned(),
        r#""%2e%2e""#.to_owned(),
        r#""../../admin""#.to_owned(),
        r#""a/b?c#d e""#.to_owned(),
        r#""a\r\nX-Injected: 1""#.to_owned(),
        r#""\u0000""#.to_owned(),
        r#""\ud800""#.to_owned(),
        r#""\udc00\ud800""#.to_owned(),
        r#""\ud83d\ude00""#.to_owned(),
        r#""\/\b\f""#.to_owned(),
        json_string(&"a".repeat(256)),
        json_string(&"a".repeat(257)),
        json_string(&"€".repeat(86)),
        json_string(&format!("{}€", "a".repeat(254))),
    ]);
    let long = (any_char(), 200usize..600).prop_map(|(c, n)| json_string(&c.to_string().repeat(n)));
    prop_oneof![6 => chars, 3 => fixed, 1 => long].boxed()
}

/// A JSON number as text: every size and form, some beyond what a parser holds.
pub fn number() -> BoxedStrategy<String> {
    let fixed = prop::sample::select(vec![
        "0",
        "-0",
        "0.0",
        "-0.0",
        "1",
        "-1",
        "1.0",
        "1.5",
        "1e3",
        "1E+3",
        "-1e-3",
        "0e0",
        "1e308",
        "-1.7976931348623157e308",
        "5e-324",
        "1e400",
        "-1e400",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "123456789012345678901234567890",
        "1700000000000",
        "1763892000000",
        "1763892000000.5",
        "1.763892e12",
    ])
    .prop_map(str::to_owned);
    let float = any::<f64>()
        .prop_filter("finite", |f| f.is_finite())
        .prop_flat_map(|f| prop::sample::select(vec![format!("{f}"), format!("{f:e}")]));
    prop_oneof![
        4 => fixed,
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        2 => float,
    ]
    .boxed()
}

/// Text that is almost RFC 3339: a valid time with `span` characters from `at` on replaced by
/// one character (`span` 0 inserts it), or cut short at `at`; multi-byte characters land at
/// every byte offset, most often in the tail (seconds, fraction, offset), where parsers slice.
pub fn near_rfc3339() -> BoxedStrategy<String> {
    let at = prop_oneof![1 => 0usize..32, 2 => 17usize..27];
    let c = prop_oneof![2 => prop::sample::select(ODD_CHARS), 1 => proptest::char::range(' ', '~')];
    (prop::sample::select(GOOD_TIMES), at, 0usize..5, c)
        .prop_map(|(good, at, span, c)| json_string(&near_miss(good, at, span, c)))
        .boxed()
}

/// `good` with `span` characters from `at` on replaced by `c`; `span` 4 cuts it at `at`.
pub fn near_miss(good: &str, at: usize, span: usize, c: char) -> String {
    let mut chars: Vec<char> = good.chars().collect();
    let at = at.min(chars.len());
    if span == 4 {
        chars.truncate(at);
    } else {
        let end = (at + span).min(chars.len());
        chars.splice(at..end, [c]);
    }
    chars.into_iter().collect()
}

/// A time field: valid, near-valid, epoch milliseconds or anything.
pub fn time() -> BoxedStrategy<String> {
    let good = prop::sample::select(GOOD_TIMES).prop_map(json_string);
    prop_oneof![2 => good, 4 => near_rfc3339(), 2 => number(), 1 => wrong_type()].boxed()
}

/// A value of a type no field takes, or nesting deeper than a parser allows.
pub fn wrong_type() -> BoxedStrategy<String> {
    let fixed = prop::sample::select(vec![
        "true",
        "false",
        "null",
        "[]",
        "{}",
        r#"[1,"a",null]"#,
        r#"{"a":{"b":[1]}}"#,
    ])
    .prop_map(str::to_owned);
    let deep = (1usize..200, any::<bool>()).prop_map(|(depth, arrays)| nested(depth, arrays));
    prop_oneof![4 => fixed, 1 => deep].boxed()
}

/// `depth` arrays (or objects) inside each other.
pub fn nested(depth: usize, arrays: bool) -> String {
    if arrays {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    } else {
        format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
    }
}

/// Any JSON value.
pub fn value() -> BoxedStrategy<String> {
    prop_oneof![3 => string(), 3 => number(), 1 => time(), 2 => wrong_type()].boxed()
}

/// Mostly one of `typical` (JSON text), else any value.
pub fn field(typical: &'static [&'static str]) -> BoxedStrategy<String> {
    let typical = prop::sample::select(typical).prop_map(str::to_owned);
    prop_oneof![3 => typical, 2 => value()].boxed()
}

/// An object holding `entries`, each present nine times in ten, sometimes with one more entry
/// that repeats a key (the last one counts) and any value.
pub fn object(entries: Vec<(&'static str, BoxedStrategy<String>)>) -> BoxedStrategy<String> {
    let keys: Vec<&'static str> = entries.iter().map(|(k, _)| *k).collect();
    let present: Vec<_> = entries
        .into_iter()
        .map(|(k, v)| {
            prop::option::weighted(0.9, v.prop_map(move |v| format!("{}:{v}", json_string(k))))
        })
        .collect();
    let repeat = prop::option::weighted(
        0.15,
        (prop::sample::select(keys), value()).prop_map(|(k, v)| format!("{}:{v}", json_string(k))),
    );
    (present, repeat)
        .prop_map(|(present, repeat)| {
            let all: Vec<String> = present.into_iter().flatten().chain(repeat).collect();
            format!("{{{}}}", all.join(","))
        })
        .boxed()
}

/// An object in the place of one, nine times in ten; else any value.
pub fn or_any(object: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop_oneof![9 => object, 1 => value()].boxed()
}

const IDS: &[&str] = &[
    r#""int-000001""#,
    r#""int-000002""#,
    r#""a1b2c3d4-e5f6-7890-abcd-ef1234567890""#,
    "7",
];
const TEXTS: &[&str] = &[
    r#""Hello there""#,
    r#""  hello   THERE ""#,
    r#""Where is my order?""#,
];

fn event_type(typical: &'static [&'static str]) -> BoxedStrategy<String> {
    let known = prop::sample::select(EVENT_TYPES).prop_map(json_string);
    prop_oneof![6 => field(typical), 1 => known].boxed()
}

/// `{type, data: {message: {interactionId, senderId, content, sequenceNumber, channel}}, …}`
pub fn seed_message() -> BoxedStrategy<String> {
    let message = object(vec![
        ("interactionId", field(IDS)),
        ("senderId", field(&[r#""cust-1""#, r#""cust-2""#])),
        ("content", field(TEXTS)),
        ("sequenceNumber", field(&["1", "2", "3"])),
        ("channel", field(&[r#""chat""#, r#""sms""#, r#""email""#])),
    ]);
    object(vec![
        (
            "type",
            event_type(&[r#""conversations.messages.messageCreated""#]),
        ),
        ("data", or_any(object(vec![("message", or_any(message))]))),
        ("eventId", field(&[r#""e-1""#, r#""e-2""#])),
        ("timestamp", time()),
    ])
}

/// `{event_type, data: {interactionId, mediaType, channel}}`
pub fn routing_event() -> BoxedStrategy<String> {
    let data = object(vec![
        ("interactionId", field(IDS)),
        (
            "mediaType",
            field(&[r#""voice""#, r#""chat""#, r#""email""#]),
        ),
        ("channel", field(&[r#""chat""#])),
    ]);
    object(vec![
        (
            "event_type",
            event_type(&[r#""routing.interaction.created""#]),
        ),
        ("data", or_any(data)),
    ])
}

/// The CXone digital `MessageCreated` / `MessageAddedIntoCase` event.
pub fn dfo_message() -> BoxedStrategy<String> {
    let author = object(vec![(
        "idOnExternalPlatform",
        field(&[r#""u-1""#, r#""u-2""#]),
    )]);
    let user = object(vec![("id", field(&[r#""agent-1""#]))]);
    let message = object(vec![
        (
            "messageContent",
            or_any(object(vec![("text", field(TEXTS))])),
        ),
        ("authorEndUserIdentity", or_any(author)),
        ("authorUser", or_any(user)),
    ]);
    let data = object(vec![
        ("case", or_any(object(vec![("interactionId", field(IDS))]))),
        ("message", or_any(message)),
        (
            "channel",
            or_any(object(vec![("id", field(&[r#""chat""#, r#""sms""#]))])),
        ),
    ]);
    object(vec![
        (
            "eventType",
            event_type(&[r#""MessageCreated""#, r#""MessageAddedIntoCase""#]),
        ),
        ("eventId", field(&[r#""e-1""#, r#""e-2""#])),
        ("createdAtWithMilliseconds", time()),
        ("data", or_any(data)),
    ])
}

/// An event of one of the shipped shapes (an object, though perhaps not a well-formed one).
pub fn event() -> BoxedStrategy<String> {
    prop_oneof![
        3 => seed_message(),
        2 => routing_event(),
        3 => dfo_message(),
    ]
    .boxed()
}

/// Text as a JSON string literal.
pub fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// `cases` cases, or `PROPTEST_CASES` of them when set (for a longer run by hand:
/// `PROPTEST_CASES=20000 cargo test -p cxrules-engine --test fuzz_events`).
pub fn cases(cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    proptest::test_runner::Config::with_cases(cases)
}
