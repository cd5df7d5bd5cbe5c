//! Ids and SKUs in URL paths: the checks an id passes and the encoder that puts a value into
//! exactly one path segment, shared by the engine (event ids, SKUs) and the host (CXone paths).
//!
//! Percent-encoding keeps `/`, `?`, `#` and `%` from changing a URL's shape, but cannot help
//! with the whole-segment values `.` and `..` (URL parsers read `%2E` as a dot too) or an empty
//! segment: those are refused instead.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Longest id accepted, in bytes; real ids are UUIDs or contact numbers.
pub const MAX_ID_LEN: usize = 256;

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why an id cannot be used in a path. The messages name the interaction id, the host's use;
/// [`IdError::reason`] says the same of any field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id is empty.
    #[error("the interaction id is empty")]
    Empty,
    /// The id is longer than [`MAX_ID_LEN`].
    #[error("the interaction id is {0} bytes long, more than the {MAX_ID_LEN} allowed")]
    TooLong(usize),
    /// The id holds a control character (CR, LF, NUL, ...).
    #[error("the interaction id contains a control character")]
    Control,
    /// `.` or `..`, which URL parsers resolve as a path step even when percent-encoded.
    #[error("the interaction id `{0}` is a relative path step")]
    DotSegment(String),
}

impl IdError {
    /// What is wrong, without naming the field (`longer than 256 bytes`), for the engine's
    /// errors, which name it themselves.
    pub fn reason(&self) -> String {
        match self {
            Self::Empty => "empty".to_string(),
            Self::TooLong(_) => format!("longer than {MAX_ID_LEN} bytes"),
            Self::Control => "contains control characters (such as CR or LF)".to_string(),
            Self::DotSegment(value) => format!("`{value}` is a relative path step, not an id"),
        }
    }
}

/// Checks what every id read from an event must be: at most [`MAX_ID_LEN`] bytes, without
/// control characters, so it cannot smuggle anything into a URL, a header or a log line.
/// Empty values and dot segments pass; [`check_id`] refuses those too.
///
/// ```
/// use cxrules_engine::segment::{check_text, IdError};
///
/// assert_eq!(check_text("int-1"), Ok(()));
/// assert_eq!(check_text("a\r\nHost: evil"), Err(IdError::Control));
/// ```
pub fn check_text(value: &str) -> Result<(), IdError> {
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong(value.len()));
    }
    if value.chars().any(char::is_control) {
        return Err(IdError::Control);
    }
    Ok(())
}

/// Refuses `.` and `..`, which address a parent path however they are encoded.
pub fn check_not_dot(value: &str) -> Result<(), IdError> {
    match value {
        "." | ".." => Err(IdError::DotSegment(value.to_owned())),
        _ => Ok(()),
    }
}

/// Checks an id that goes into a URL path: not empty, [`check_text`], not `.` or `..`.
pub fn check_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    check_text(id)?;
    check_not_dot(id)
}

/// Percent-encodes `s` for use as one URL path segment: every byte except RFC 3986
/// unreserved characters is encoded, so `/`, `?`, `#`, `%`, spaces and CR/LF cannot
/// change the URL's shape.
///
/// Encoding cannot neutralise the whole-segment values `.` and `..`, nor an empty segment;
/// use [`safe_path_segment`] or [`encode_segment`] to reject those.
///
/// ```
/// use cxrules_engine::segment::encode_path_segment;
///
/// assert_eq!(encode_path_segment("SKU-CHAT-567890"), "SKU-CHAT-567890");
/// assert_eq!(encode_path_segment("../admin?x=1#y"), "..%2Fadmin%3Fx%3D1%23y");
/// ```
pub fn encode_path_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// [`encode_path_segment`], or `None` when `s` is empty, `.` or `..`: values that would
/// address the collection or a parent path instead of one item however they are encoded.
///
/// ```
/// use cxrules_engine::segment::safe_path_segment;
///
/// assert_eq!(safe_path_segment("a b").as_deref(), Some("a%20b"));
/// assert_eq!(safe_path_segment(".."), None);
/// ```
pub fn safe_path_segment(s: &str) -> Option<String> {
    match s {
        "" | "." | ".." => None,
        _ => Some(encode_path_segment(s)),
    }
}

/// Checks an id ([`check_id`]) and percent-encodes it into one path segment.
///
/// ```
/// use cxrules_engine::segment::encode_segment;
///
/// assert_eq!(encode_segment("../../admin").unwrap(), "..%2F..%2Fadmin");
/// assert_eq!(encode_segment("a?b=c").unwrap(), "a%3Fb%3Dc");
/// assert!(encode_segment("a\r\nHost: evil").is_err());
/// ```
pub fn encode_segment(id: &str) -> Result<String, IdError> {
    check_id(id)?;
    Ok(encode_path_segment(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_stay_one_segment() {
        for (id, want) in [
            ("a#b", "a%23b"),
            ("x%2F..", "x%252F.."),
            ("é/ü", "%C3%A9%2F%C3%BC"),
            ("abc-123_~.", "abc-123_~."),
            (" sp ace", "%20sp%20ace"),
        ] {
            assert_eq!(encode_segment(id).unwrap(), want, "{id}");
        }
    }

    #[test]
    fn unusable_ids_are_refused() {
        assert_eq!(encode_segment(""), Err(IdError::Empty));
        assert_eq!(encode_segment(".."), Err(IdError::DotSegment("..".into())));
        assert_eq!(encode_segment("."), Err(IdError::DotSegment(".".into())));
        assert_eq!(encode_segment("a\nb"), Err(IdError::Control));
        assert_eq!(encode_segment("a\u{0}"), Err(IdError::Control));
        assert_eq!(encode_segment(&"x".repeat(257)), Err(IdError::TooLong(257)));
        assert!(encode_segment(&"x".repeat(256)).is_ok());
    }

    #[test]
    fn text_checks_leave_empty_and_dot_values_to_the_caller() {
        for value in ["", ".", "..", "int-1"] {
            assert_eq!(check_text(value), Ok(()), "{value:?}");
        }
        assert_eq!(check_text(&"x".repeat(257)), Err(IdError::TooLong(257)));
    }

    #[test]
    fn reasons_name_no_field() {
        assert_eq!(IdError::TooLong(300).reason(), "longer than 256 bytes");
        assert_eq!(
            IdError::DotSegment("..".into()).reason(),
            "`..` is a relative path step, not an id"
        );
        assert!(!IdError::Control.reason().contains("interaction"));
    }
}
