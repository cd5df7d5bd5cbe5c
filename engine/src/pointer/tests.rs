//! Pointers agree with serde_json on plain RFC 6901 text; keyed selection finds the element
//! whose key holds the value, in both kinds of document; the parser never panics.

use super::*;
use crate::document::{Document, Field, ParsedEvent};
use proptest::prelude::*;
use serde_json::json;

#[test]
fn agrees_with_serde_json() {
    let doc = json!({"a": {"b/c": [10, {"d~e": "x"}], "": 1}, "0": "zero"});
    for p in [
        "",
        "/a",
        "/a/b~1c",
        "/a/b~1c/1/d~0e",
        "/a/b~1c/0",
        "/a/b~1c/01",
        "/a/b~1c/9",
        "/a/",
        "/0",
        "/missing/x",
    ] {
        assert_eq!(Pointer::parse(p).unwrap().get(&doc), doc.pointer(p), "{p}");
    }
    assert!(Pointer::parse("a/b").is_none());
}

fn case() -> serde_json::Value {
    json!({"data": {"case": {
        "customFields": [
            {"ident": "colour", "value": "red"},
            {"ident": "sku", "value": "SKU-42"},
            {"ident": "sku", "value": "second"},
            "not an object",
            {"ident": 7, "value": "seven"},
        ],
        "endUser": {"customFields": {"ident": "sku"}},
    }}})
}

#[test]
fn selection_picks_the_first_element_whose_key_holds_the_value() {
    let doc = case();
    let text = doc.to_string();
    let parsed = ParsedEvent::parse(text.as_bytes()).unwrap();
    for (p, want) in [
        ("/data/case/customFields[ident=sku]/value", Some("SKU-42")),
        ("/data/case/customFields[ident=colour]/value", Some("red")),
        ("/data/case/customFields[ident=7]/value", Some("seven")),
        ("/data/case/customFields[ident=size]/value", None),
        ("/data/case/customFields[name=sku]/value", None),
        ("/data/contact/customFields[ident=sku]/value", None),
    ] {
        let pointer = Pointer::compile(p).unwrap();
        assert!(pointer.selects());
        let found = pointer.get(&doc).and_then(|v| v.as_str());
        assert_eq!(found, want, "{p}");
        let borrowed = parsed.lookup(&pointer).unwrap();
        assert_eq!(borrowed, want.map(Field::Str), "{p}");
    }
}

#[test]
fn selection_in_a_value_that_is_not_an_array_is_an_error() {
    let doc = case();
    let parsed = ParsedEvent::parse(doc.to_string().as_bytes()).unwrap();
    let pointer = Pointer::compile("/data/case/endUser/customFields[ident=sku]/value").unwrap();
    let err = pointer.lookup(&doc).unwrap_err();
    assert_eq!(err.at, "/data/case/endUser/customFields");
    assert_eq!(parsed.lookup(&pointer).unwrap_err(), err);
    assert_eq!(
        err.to_string(),
        "/data/case/endUser/customFields[ident=sku]/value selects an array element, \
         but the value at /data/case/endUser/customFields is not an array"
    );
    assert_eq!(Document::get(&doc, &pointer), None);
    let root = Pointer::compile("/[a=b]").unwrap();
    assert_eq!(root.lookup(&doc).unwrap_err().at, "the root");
}

#[test]
fn escapes_apply_inside_a_selection() {
    let doc = json!({"a/b": [{"k~": "v/w", "x": 1}]});
    let pointer = Pointer::compile("/a~1b[k~0=v~1w]/x").unwrap();
    assert_eq!(pointer.get(&doc), Some(&json!(1)));
}

#[test]
fn malformed_selections_are_refused_with_a_hint() {
    for bad in [
        "/a/b[ident=sku",
        "/a/b]",
        "/a/b[identsku]",
        "/a/b[=sku]",
        "/a/b[x=1][y=2]",
        "/a/b[x=1]tail",
        "a/b[x=1]",
    ] {
        let err = Pointer::compile(bad).unwrap_err();
        assert!(!err.hint.is_empty(), "{bad}");
        assert!(
            err.message.contains(bad) || bad.starts_with('a'),
            "{bad}: {err:?}"
        );
    }
}

/// A token of a pointer: plain text (with the characters that matter), or a selection.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9~/\\[\\]=]{0,6}",
        ("[a-zA-Z]{0,4}", "[a-z~]{0,3}", "[a-z0-9=~]{0,4}")
            .prop_map(|(n, k, v)| format!("{n}[{k}={v}]")),
    ]
}

proptest! {
    /// Any text compiles or is refused with a message, never a panic; what compiles keeps its
    /// text, and looking it up in a document never panics either.
    #[test]
    fn the_parser_never_panics_and_keeps_the_text(tokens in prop::collection::vec(token(), 0..5), slash in any::<bool>()) {
        let text = format!("{}{}", if slash { "/" } else { "" }, tokens.join("/"));
        match Pointer::compile(&text) {
            Ok(p) => {
                prop_assert_eq!(p.as_str(), text.as_str());
                let doc = case();
                let parsed = ParsedEvent::parse(doc.to_string().as_bytes()).unwrap();
                prop_assert_eq!(parsed.lookup(&p), Document::lookup(&doc, &p));
            }
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                prop_assert!(!e.hint.is_empty());
            }
        }
    }

    /// Without brackets a pointer is plain RFC 6901 and finds what serde_json finds.
    #[test]
    fn plain_pointers_agree_with_serde_json(tokens in prop::collection::vec("[a-z0-9~]{0,4}", 0..4)) {
        let text = tokens.iter().map(|t| format!("/{t}")).collect::<String>();
        let doc = json!({"a": {"0": [1, {"b": 2}]}, "": {"": 3}, "~": 4});
        let p = Pointer::compile(&text).unwrap();
        prop_assert_eq!(p.get(&doc), doc.pointer(&text));
        prop_assert!(!p.selects());
    }

    /// A selection finds the element whose key holds the value, wherever it is in the array.
    #[test]
    fn a_selection_finds_its_element(idents in prop::collection::vec("[a-z]{1,3}", 1..6), pick in any::<prop::sample::Index>()) {
        let fields: Vec<_> = idents.iter().enumerate().map(|(i, id)| json!({"ident": id, "value": i})).collect();
        let doc = json!({"f": fields});
        let want = &idents[pick.index(idents.len())];
        let first = idents.iter().position(|i| i == want).unwrap();
        let p = Pointer::compile(&format!("/f[ident={want}]/value")).unwrap();
        prop_assert_eq!(p.get(&doc), Some(&json!(first)));
    }
}
