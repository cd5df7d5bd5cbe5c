//! A `ParsedEvent` answers every pointer as the `serde_json::Value` of the same text does.

use super::*;

const POINTERS: &[&str] = &[
    "",
    "/type",
    "/data",
    "/data/message/interactionId",
    "/data/message/content",
    "/data/message/sequenceNumber",
    "/data/items/0",
    "/data/items/1/id",
    "/data/items/01",
    "/data/items/-",
    "/a~1b",
    "/m~0n",
    "/missing/deeper",
    "/data/message/content/x",
];

const TEXTS: &[&str] = &[
    r#"{"type":"t","data":{"message":{"interactionId":"i-1","content":"hi","sequenceNumber":7}}}"#,
    // A repeated key: the last one counts, at the top and inside.
    r#"{"type":"a","type":"b","data":{"message":{"content":"x","content":"y"}},"data":{"message":{"interactionId":"z"}}}"#,
    // Escapes in keys and values.
    r#"{"typ\u0065":"t\"q\\","data":{"message":{"interaction\u0049d":"\ud83d\ude00","content":"line\nbreak"}}}"#,
    // Numbers of every kind, and ids that are numbers.
    r#"{"data":{"message":{"interactionId":12345678901234567890,"content":-0,"sequenceNumber":-42}}}"#,
    r#"{"data":{"message":{"interactionId":1.5e3,"content":1e300,"sequenceNumber":9223372036854775808}}}"#,
    // Arrays, nulls, booleans, the pointer escapes.
    r#"{"data":{"items":[null,{"id":true},{"id":"x"}]},"a/b":1,"m~n":[],"type":null}"#,
    r#"{"data":{"message":null},"type":{"nested":"object"}}"#,
    r#"[1,2,3]"#,
    r#""just a string""#,
    r#"{}"#,
];

#[test]
fn every_pointer_finds_what_a_serde_json_value_finds() {
    for text in TEXTS {
        let value: Json = serde_json::from_str(text).unwrap();
        let parsed = ParsedEvent::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.is_object(), value.is_object(), "{text}");
        for p in POINTERS {
            let pointer = Pointer::parse(p).unwrap();
            assert_eq!(
                parsed.get(&pointer),
                Document::get(&value, &pointer),
                "{p} in {text}"
            );
        }
    }
}

#[test]
fn bad_json_gets_serde_jsons_own_error() {
    for bad in [
        &b"{"[..],
        b"{\"a\":1,}",
        b"{\"a\":1} trailing",
        b"",
        b"{\"a\":\"\xff\"}",
        b"{\"a\":\"\x01\"}",
        b"{\"a\":\"\\x\"}",
        b"nul",
        b"{\"a\":1e400}",
    ] {
        let ours = ParsedEvent::parse(bad).unwrap_err().to_string();
        let theirs = serde_json::from_slice::<Json>(bad).unwrap_err().to_string();
        assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn deep_nesting_is_refused_as_serde_json_refuses_it() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let ours = ParsedEvent::parse(deep.as_bytes()).unwrap_err().to_string();
    let theirs = serde_json::from_str::<Json>(&deep).unwrap_err().to_string();
    assert_eq!(ours, theirs);
}
