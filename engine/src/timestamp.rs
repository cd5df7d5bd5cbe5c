//! Event timestamps: RFC 3339 text (any offset) or epoch milliseconds, as epoch milliseconds.
//!
//! One rule for every reader (the engine's `order_by: timestamp`, `cxrules replay`'s clock and
//! the rule test runner): an integer number of milliseconds, a string of digits, or RFC 3339
//! text with an offset. Fractional numbers are refused: a float cannot say which millisecond
//! it means once it is past 2^53, and the original services never sent one. The text is parsed
//! by jiff, which reads any `str` without slicing it at byte offsets of its own.

use serde_json::Value;

use crate::document::Field;

/// Epoch milliseconds from an integer, a string of digits, or an RFC 3339 string.
///
/// ```
/// use cxrules_engine::timestamp::epoch_ms;
/// use serde_json::json;
///
/// assert_eq!(epoch_ms(&json!("2026-11-23T10:00:00.123Z")), Some(1_795_428_000_123));
/// assert_eq!(epoch_ms(&json!(1_700_000_000_000_i64)), Some(1_700_000_000_000));
/// assert_eq!(epoch_ms(&json!(1.5)), None, "fractions are refused");
/// assert_eq!(epoch_ms(&json!("2026-11-23T10:00:00€:00")), None);
/// ```
pub fn epoch_ms(value: &Value) -> Option<i64> {
    field_epoch_ms(&Field::from(value))
}

/// [`epoch_ms`] of a value as an event document gives it.
pub fn field_epoch_ms(value: &Field<'_>) -> Option<i64> {
    match value {
        Field::Number(n) => n.as_i64(),
        Field::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        Field::Str(s) => parse_rfc3339(s),
        Field::Null | Field::Other => None,
    }
}

/// Parses `2026-11-23T10:00:00.123Z` or `…+02:00` into epoch milliseconds (sub-millisecond
/// digits are dropped, rounding towards the past). Text without an offset is refused: it does
/// not name one instant.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    // jiff also takes ISO 8601's week and ordinal dates; an event's timestamp is always a
    // calendar date, so anything else is refused before it is parsed.
    let calendar_date = text.len() >= 11
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[7] == b'-'
        && matches!(text.as_bytes()[10], b'T' | b't' | b' ');
    if !calendar_date {
        return None;
    }
    let instant: jiff::Timestamp = text.parse().ok()?;
    Some(instant.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_forms_agree_with_epoch_milliseconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-23T10:00:00.123Z"),
            Some(1_795_428_000_123)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T12:00:00.1+02:00"),
            Some(1_795_428_000_100)
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T23:59:59.999999-00:30"),
            Some(951_870_599_999)
        );
        assert_eq!(parse_rfc3339("2026-11-23t10:00:00z"), Some(1_795_428_000_000));
        assert_eq!(parse_rfc3339("2026-11-23 10:00:00Z"), Some(1_795_428_000_000));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-02-30T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-11-23"), None);
        assert_eq!(parse_rfc3339("2026-11-23T10:00:00"), None);
        assert_eq!(parse_rfc3339("2026-W47-1T10:00:00Z"), None);
    }

    /// Multi-byte characters where the old parser sliced the text at fixed byte offsets: each
    /// of these panicked (`byte index 19 is not a char boundary`) and is now simply refused.
    #[test]
    fn multi_byte_text_is_refused_not_sliced() {
        for text in [
            "2026-11-23T10:00:00€:00",
            "2026-11-23T10:00:00.€",
            "2026-11-23T10:00:00+€:00",
            "2026-11-23T10:00:00+0€:0",
            "2026-11-23T10:00:00.1+€€",
            "2026-11-23T10:00:00ééééé",
            "2026-11-23T1€:00:00Z",
            "€€€€-11-23T10:00:00Z",
            "2026-11-23T10:00:00\u{1F600}Z",
        ] {
            assert_eq!(parse_rfc3339(text), None, "{text}");
            assert_eq!(epoch_ms(&json!(text)), None, "{text}");
        }
    }

    #[test]
    fn integers_and_digit_strings_are_epoch_milliseconds() {
        assert_eq!(
            epoch_ms(&json!(1_700_000_000_000_i64)),
            Some(1_700_000_000_000)
        );
        assert_eq!(epoch_ms(&json!("1700000000000")), Some(1_700_000_000_000));
        assert_eq!(epoch_ms(&json!(-5)), Some(-5));
        assert_eq!(epoch_ms(&json!("99999999999999999999999")), None);
        assert_eq!(epoch_ms(&json!(u64::MAX)), None);
        assert_eq!(epoch_ms(&json!(true)), None);
    }

    /// The engine refuses fractional numbers; replay reads time through the same function, so
    /// it refuses them too.
    #[test]
    fn fractional_numbers_are_refused() {
        assert_eq!(epoch_ms(&json!(1_700_000_000_000.5_f64)), None);
        assert_eq!(epoch_ms(&json!(1e12)), None);
    }
}
