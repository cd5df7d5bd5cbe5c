//! Puts an interaction id into a CXone path as exactly one segment, or refuses to.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Longest id accepted, in bytes; real ids are UUIDs or contact numbers.
pub const MAX_ID_LEN: usize = 256;

/// Everything but RFC 3986 "unreserved" characters is encoded, so `/`, `?`, `#` and `%` can never
/// change the shape of the URL.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why an id cannot be used in a path.
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

/// Checks an id without encoding it.
pub fn check_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong(id.len()));
    }
    if id.chars().any(char::is_control) {
        return Err(IdError::Control);
    }
    if id == "." || id == ".." {
        return Err(IdError::DotSegment(id.to_owned()));
    }
    Ok(())
}

/// Percent-encodes an id into one path segment.
///
/// ```
/// use cxrules_server::cxone::encode_segment;
/// assert_eq!(encode_segment("../../admin").unwrap(), "..%2F..%2Fadmin");
/// assert_eq!(encode_segment("a?b=c").unwrap(), "a%3Fb%3Dc");
/// assert!(encode_segment("a\r\nHost: evil").is_err());
/// ```
pub fn encode_segment(id: &str) -> Result<String, IdError> {
    check_id(id)?;
    Ok(utf8_percent_encode(id, SEGMENT).to_string())
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
}
