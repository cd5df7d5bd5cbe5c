//! Event timestamps: RFC 3339 text (any offset) or epoch milliseconds, as epoch milliseconds.

use serde_json::Value;

use crate::document::Field;

/// Epoch milliseconds from a number, a string of digits, or an RFC 3339 string.
pub fn epoch_ms(value: &Value) -> Option<i64> {
    field_epoch_ms(&Field::from(value))
}

/// [`epoch_ms`] of a value as an event document gives it.
pub fn field_epoch_ms(value: &Field<'_>) -> Option<i64> {
    match value {
        Field::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Field::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        Field::Str(s) => parse_rfc3339(s),
        Field::Null | Field::Other => None,
    }
}

/// Parses `2026-11-23T10:00:00.123Z` or `…+02:00` into epoch milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let s = text.get(from..to)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &frac[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let (h, m) = (
                rest.get(1..3)?.parse::<i64>().ok()?,
                rest.get(4..6)?.parse::<i64>().ok()?,
            );
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 60 + m)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    Some(seconds * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-11-23"), None);
        assert_eq!(parse_rfc3339("2026-11-23T10:00:00"), None);
    }

    #[test]
    fn numbers_and_digit_strings_are_epoch_milliseconds() {
        assert_eq!(
            epoch_ms(&json!(1_700_000_000_000_i64)),
            Some(1_700_000_000_000)
        );
        assert_eq!(epoch_ms(&json!("1700000000000")), Some(1_700_000_000_000));
        assert_eq!(epoch_ms(&json!(true)), None);
    }
}
