//! The event as the engine reads it: a JSON document whose fields are found by JSON pointers.
//!
//! Two kinds of document are read the same way: a `serde_json::Value` (what embedders and the
//! rules' own test cases hold) and a [`ParsedEvent`], parsed straight from the JSON text with its
//! strings left in place and its objects kept as short lists (serde_json_borrow): no allocation
//! per key and per string, which is what a host receiving raw request bodies wants. Both give
//! the same decision for the same text (a property test checks it), repeated keys included: the
//! last one counts, as in a `serde_json::Value`.

use serde_json::Value as Json;

use crate::pointer::{number, NotAnArray, Pointer};

/// A value found in an event, as far as the engine looks at one.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'e> {
    /// JSON `null`.
    Null,
    /// A string.
    Str(&'e str),
    /// A number.
    Number(serde_json::Number),
    /// A boolean, an array or an object: no field the engine reads can be one.
    Other,
}

/// A JSON document the engine can read an event from.
///
/// ```
/// use cxrules_engine::document::{Document, Field, ParsedEvent};
/// use cxrules_engine::pointer::Pointer;
///
/// let text = br#"{"data": {"message": {"content": "hi", "sequenceNumber": 3}}}"#;
/// let parsed = ParsedEvent::parse(text).unwrap();
/// let value: serde_json::Value = serde_json::from_slice(text).unwrap();
/// let content = Pointer::parse("/data/message/content").unwrap();
/// assert_eq!(parsed.get(&content), Some(Field::Str("hi")));
/// assert_eq!(parsed.get(&content), Document::get(&value, &content));
/// ```
pub trait Document: Sync {
    /// True when the document is a JSON object (an event must be one).
    fn is_object(&self) -> bool;

    /// The value at `pointer`, when there is one; an error when a keyed selection of the
    /// pointer meets a value that is not an array.
    fn lookup(&self, pointer: &Pointer) -> Result<Option<Field<'_>>, NotAnArray>;

    /// The value at `pointer`, when there is one (a selection that meets no array finds
    /// nothing).
    fn get(&self, pointer: &Pointer) -> Option<Field<'_>> {
        self.lookup(pointer).ok().flatten()
    }
}

impl<'e> From<&'e Json> for Field<'e> {
    fn from(value: &'e Json) -> Self {
        match value {
            Json::Null => Field::Null,
            Json::String(s) => Field::Str(s),
            Json::Number(n) => Field::Number(n.clone()),
            Json::Bool(_) | Json::Array(_) | Json::Object(_) => Field::Other,
        }
    }
}

impl Document for Json {
    fn is_object(&self) -> bool {
        Json::is_object(self)
    }

    fn lookup(&self, pointer: &Pointer) -> Result<Option<Field<'_>>, NotAnArray> {
        Ok(pointer.lookup(self)?.map(Field::from))
    }
}

/// An event parsed from its JSON text, which it keeps: its strings point into that text (only
/// strings with escapes are copied) and its objects are lists of entries. Cheap to move, and
/// `'static`, so it can go to a task of its own.
#[derive(Debug)]
pub struct ParsedEvent(serde_json_borrow::OwnedValue);

impl ParsedEvent {
    /// Parses one JSON document; the error is serde_json's, with its line and column.
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        let Ok(text) = std::str::from_utf8(json) else {
            // Let serde_json say where the text stops being UTF-8 (and what else is wrong).
            return Err(serde_json::from_slice::<Json>(json)
                .err()
                .unwrap_or_else(|| serde::de::Error::custom("the text is not UTF-8")));
        };
        serde_json_borrow::OwnedValue::from_string(text.to_owned())
            .map(ParsedEvent)
            .map_err(|e| match e.into_inner().map(|inner| inner.downcast()) {
                Some(Ok(json_error)) => *json_error,
                Some(Err(other)) => serde::de::Error::custom(other),
                None => serde::de::Error::custom("the JSON text cannot be read"),
            })
    }
}

impl Document for ParsedEvent {
    fn is_object(&self) -> bool {
        self.0.get_value().is_object()
    }

    fn lookup(&self, pointer: &Pointer) -> Result<Option<Field<'_>>, NotAnArray> {
        use serde_json_borrow::Value as B;
        Ok(pointer
            .lookup_borrowed(self.0.get_value())?
            .map(|value| match value {
                B::Null => Field::Null,
                B::Str(s) => Field::Str(s),
                B::Number(n) => number(n).map_or(Field::Other, Field::Number),
                B::Bool(_) | B::Array(_) | B::Object(_) => Field::Other,
            }))
    }
}

#[cfg(test)]
mod tests;
