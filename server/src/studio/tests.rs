//! The Studio request becomes the two events the rules decide, or a 400; never a panic.

use super::*;
use cxrules_engine::document::{Document, Field};
use cxrules_engine::pointer::Pointer;
use proptest::prelude::*;

fn at<'e>(event: &'e ParsedEvent, pointer: &str) -> Option<Field<'e>> {
    event.get(&Pointer::parse(pointer).unwrap())
}

#[test]
fn a_request_becomes_a_message_and_a_contact_event() {
    let body = br#"{"contactNumber": "131988342510", "interactionId": "i-1", "text": "hi \"you\"", "sku": "SKU-1"}"#;
    let ((message, _), (contact, _)) = events(body).unwrap();
    assert_eq!(at(&message, "/type"), Some(Field::Str(MESSAGE_TYPE)));
    assert_eq!(at(&contact, "/type"), Some(Field::Str(CONTACT_TYPE)));
    for event in [&message, &contact] {
        assert_eq!(
            at(event, "/data/contactNumber"),
            Some(Field::Str("131988342510"))
        );
        assert_eq!(at(event, "/data/text"), Some(Field::Str("hi \"you\"")));
    }
}

#[test]
fn what_is_not_one_json_object_is_a_400() {
    for bad in [
        &b""[..],
        b"[1]",
        b"\"text\"",
        b"{",
        b"{} {}",
        b"{\"a\":1}x",
        b"\xff",
    ] {
        let err = events(bad).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert!(!err.hint.is_empty());
    }
}

proptest! {
    /// Any bytes: two events whose `data` is the request, or a 400; never a panic.
    #[test]
    fn any_body_is_two_events_or_a_400(body in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        "[ -~]{0,64}".prop_map(String::into_bytes),
        ("[a-zA-Z]{1,8}", "[ -~]{0,16}").prop_map(|(k, v)| serde_json::json!({k: v}).to_string().into_bytes()),
    ]) {
        match events(&body) {
            Ok(((message, _), (contact, _))) => {
                let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                prop_assert!(request.is_object());
                prop_assert_eq!(at(&message, "/type"), Some(Field::Str(MESSAGE_TYPE)));
                prop_assert_eq!(at(&contact, "/type"), Some(Field::Str(CONTACT_TYPE)));
            }
            Err(e) => prop_assert_eq!(e.status, StatusCode::BAD_REQUEST),
        }
    }
}
