//! SKU template compile, render and path-encoding tests.

use std::collections::HashMap;

use super::*;

const FIELDS: &[&str] = &["interaction_id", "media_type", "channel"];
const ID: &str = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";

fn event() -> HashMap<Placeholder, &'static str> {
    HashMap::from([
        (Placeholder::Field("interaction_id".into()), ID),
        (Placeholder::Field("media_type".into()), "chat"),
        (Placeholder::Field("channel".into()), "  Web Chat  "),
        (Placeholder::Pointer("/data/product/sku".into()), "ab-42"),
        (Placeholder::Pointer("/data/a~1b".into()), "slash-key"),
        (
            Placeholder::Pointer("/data/name".into()),
            "Ünïcödé-Straße-東京",
        ),
    ])
}

fn render(src: &str) -> Result<String, MissingField> {
    let values = event();
    let template = SkuTemplate::compile(src, FIELDS)
        .unwrap_or_else(|e| panic!("{src:?} should compile: {e} ({:?})", e.hint));
    template.render(|p| values.get(p).copied())
}

#[test]
fn renders() {
    let cases = [
        (
            "SKU-{media_type|upper}-{interaction_id|last:6}",
            "SKU-CHAT-567890",
        ),
        ("SKU-{interaction_id|last:6|upper}", "SKU-567890"),
        ("SKU-{interaction_id|first:8|upper}", "SKU-A1B2C3D4"),
        ("{/data/product/sku}", "ab-42"),
        ("{/data/product/sku|upper}", "AB-42"),
        ("{/data/a~1b}", "slash-key"),
        ("{channel|trim}", "Web Chat"),
        ("{channel|trim|lower}", "web chat"),
        ("{channel|last:4|trim}", "at"),
        ("{ media_type | upper }", "CHAT"),
        ("{media_type|last:100}", "chat"),
        ("{{literal}}-{media_type}", "{literal}-chat"),
        ("{{{media_type}}}", "{chat}"),
        ("SKU-DEFAULT", "SKU-DEFAULT"),
        ("{media_type}{media_type}", "chatchat"),
    ];
    for (src, want) in cases {
        assert_eq!(render(src).unwrap(), want, "{src}");
    }
}

#[test]
fn filters_count_chars_not_bytes() {
    let cases = [
        ("{/data/name|last:2}", "東京"),
        ("{/data/name|first:3}", "Ünï"),
        ("{/data/name|first:7|upper}", "ÜNÏCÖDÉ"),
        ("{/data/name|last:9|lower}", "straße-東京"),
        ("{/data/name|upper|last:9}", "TRASSE-東京"),
    ];
    for (src, want) in cases {
        assert_eq!(render(src).unwrap(), want, "{src}");
    }
}

#[test]
fn missing_value_names_the_placeholder() {
    let template = SkuTemplate::compile("SKU-{/data/missing|upper}", FIELDS).unwrap();
    let err = template.render(|_| None::<&str>).unwrap_err();
    assert_eq!(
        err.placeholder,
        Placeholder::Pointer("/data/missing".into())
    );
    assert!(err.to_string().contains("{/data/missing}"), "{err}");
}

#[test]
fn render_accepts_owned_values() {
    let template = SkuTemplate::compile("SKU-{/data/n}", FIELDS).unwrap();
    assert_eq!(template.render(|_| Some(42.to_string())).unwrap(), "SKU-42");
}

#[test]
fn lists_placeholders_and_fields() {
    let src = "{media_type}-{/data/x}-{interaction_id|last:6}-{media_type|upper}";
    let template = SkuTemplate::compile(src, FIELDS).unwrap();
    assert_eq!(template.fields(), ["media_type", "interaction_id"]);
    let names: Vec<&str> = template.placeholders().map(Placeholder::name).collect();
    assert_eq!(
        names,
        ["media_type", "/data/x", "interaction_id", "media_type"]
    );
    assert_eq!(template.to_string(), src);
}

/// (template, column, words the message must contain, words the hint must contain)
const ERRORS: &[(&str, usize, &str, &str)] = &[
    (
        "SKU-{media_typ}",
        6,
        "unknown field `media_typ`",
        "did you mean `media_type`?",
    ),
    (
        "{sku}",
        2,
        "unknown field `sku`",
        "`interaction_id`, `media_type`, `channel`",
    ),
    (
        "{data/product/sku}",
        2,
        "unknown field",
        "did you mean `/data/product/sku`?",
    ),
    (
        "{media_type|uper}",
        13,
        "unknown filter `uper`",
        "did you mean `upper`?",
    ),
    (
        "{media_type|reverse}",
        13,
        "unknown filter `reverse`",
        "first:N, last:N",
    ),
    (
        "{media_type|last:x}",
        13,
        "filter `last` needs a character count from 1 up, not `x`",
        "last:6",
    ),
    ("{media_type|last:0}", 13, "not `0`", "from 1 up"),
    ("{media_type|first:-2}", 13, "filter `first`", "first:6"),
    ("{media_type|first:+2}", 13, "not `+2`", "first:6"),
    (
        "{media_type|last}",
        13,
        "filter `last` needs a character count",
        "last:6",
    ),
    (
        "{media_type|upper:2}",
        13,
        "filter `upper` takes no argument",
        "`upper` alone",
    ),
    ("{media_type|}", 13, "empty filter", "remove the extra `|`"),
    (
        "{media_type||upper}",
        13,
        "empty filter",
        "remove the extra `|`",
    ),
    ("ab{}", 4, "empty placeholder", "`{{` and `}}`"),
    ("ab{ |upper}", 5, "empty placeholder", "field name"),
    ("SKU-{media_type", 5, "unclosed `{`", "`{{`"),
    ("SKU-{a{b}}", 7, "`{` inside a placeholder", "column 5"),
    ("SKU-}", 5, "unmatched `}`", "`}}`"),
    ("{/a~2b}", 4, "bad `~` escape", "`~1` for `/`"),
    ("{/a~}", 4, "bad `~` escape", "`~0`"),
    ("", 1, "empty", "SKU-{interaction_id|last:6}"),
    ("東京-{media_type|uper}", 16, "unknown filter", "upper"),
];

#[test]
fn compile_errors_are_located_and_hinted() {
    for &(src, column, message, hint) in ERRORS {
        let err = SkuTemplate::compile(src, FIELDS).expect_err(src);
        let got_hint = err.hint.clone().unwrap_or_default();
        assert_eq!(err.column, column, "{src}: {err}");
        assert!(
            err.message.contains(message),
            "{src}: message {:?}",
            err.message
        );
        assert!(got_hint.contains(hint), "{src}: hint {got_hint:?}");
        assert!(
            err.to_string().starts_with(&format!("column {column}: ")),
            "{err}"
        );
    }
}

#[test]
fn no_known_fields_suggests_pointers() {
    let err = SkuTemplate::compile("{interaction_id}", &[]).unwrap_err();
    assert!(err.hint.unwrap().contains("JSON pointer"));
}

#[test]
fn path_segment_encoding() {
    let cases = [
        ("SKU-CHAT-567890", "SKU-CHAT-567890"),
        ("a.b_c~d", "a.b_c~d"),
        ("../../admin", "..%2F..%2Fadmin"),
        ("x?debug=1", "x%3Fdebug%3D1"),
        ("x#frag", "x%23frag"),
        ("a/b", "a%2Fb"),
        ("a b", "a%20b"),
        ("a\r\nHost: evil", "a%0D%0AHost%3A%20evil"),
        ("100%", "100%25"),
        ("東", "%E6%9D%B1"),
    ];
    for (raw, want) in cases {
        assert_eq!(encode_path_segment(raw), want, "{raw:?}");
    }
}

#[test]
fn safe_segment_rejects_dot_and_empty_segments() {
    for raw in ["", ".", ".."] {
        assert_eq!(safe_path_segment(raw), None, "{raw:?}");
    }
    assert_eq!(safe_path_segment("...").as_deref(), Some("..."));
    assert_eq!(safe_path_segment("../x").as_deref(), Some("..%2Fx"));
}

/// The encoded SKU must stay one segment of the path once a URL parser has read it.
#[cfg(feature = "http-inventory")]
#[test]
fn encoded_segment_stays_inside_the_collection() {
    let hostile = [
        "../../admin",
        "a/b",
        "x?y#z",
        "a b\r\n",
        "%2e%2e",
        "..%2F",
        "...",
        "東京",
    ];
    for raw in hostile {
        let segment = safe_path_segment(raw).expect("non-dot segments are accepted");
        let url = format!("https://inventory.example/api/v1/products/{segment}");
        let parsed = reqwest::Url::parse(&url).unwrap();
        let path: Vec<&str> = parsed.path_segments().unwrap().collect();
        assert_eq!(path.len(), 4, "{raw:?} → {parsed}");
        assert_eq!(&path[..3], ["api", "v1", "products"], "{raw:?} → {parsed}");
        assert_eq!((parsed.query(), parsed.fragment()), (None, None), "{raw:?}");
    }
}
