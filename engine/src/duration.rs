//! Durations as written in rule files: a whole number and one unit (`45s`, `2m`, `1500ms`, `1h`).
//!
//! One grammar for the parser, the JSON Schema's `pattern` and the docs: [`DurationStr::PATTERN`].

use std::borrow::Cow;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// A duration with its unit, such as `45s`, `2m`, `1500ms` or `1h`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationStr(pub String);

/// The units of the grammar, longest first (so `ms` is not read as `m`), and their length.
const UNITS: [(&str, Duration); 4] = [
    ("ms", Duration::from_millis(1)),
    ("s", Duration::from_secs(1)),
    ("m", Duration::from_secs(60)),
    ("h", Duration::from_secs(3600)),
];

impl DurationStr {
    /// The grammar, as the schema's `pattern`: digits, then exactly one of `ms`, `s`, `m`, `h`.
    pub const PATTERN: &'static str = "^[0-9]+(ms|s|m|h)$";

    /// The hint every duration error carries (and the editor's message for the pattern).
    pub const HINT: &'static str =
        "write a whole number followed by `ms`, `s`, `m` or `h`, such as `45s`, `2m` or `1500ms`";

    /// Parses the text by [`Self::PATTERN`]; the error says what is wrong with it.
    pub fn parse(&self) -> Result<Duration, String> {
        let text = self.0.as_str();
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        if number.is_empty() {
            return Err(format!("duration `{text}` does not start with a number"));
        }
        if unit.is_empty() {
            return Err(format!("duration `{text}` has no unit"));
        }
        let Some((_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(format!("duration `{text}` has an unknown unit `{unit}`"));
        };
        number
            .parse::<u32>()
            .ok()
            .and_then(|n| scale.checked_mul(n))
            .ok_or_else(|| format!("duration `{text}` is too long"))
    }
}

impl From<&str> for DurationStr {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl JsonSchema for DurationStr {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // `patternErrorMessage` is yaml-language-server's keyword: the editor shows it in place
        // of the regex when a value does not match.
        schemars::json_schema!({
            "type": "string",
            "description": "A duration: a whole number and one unit, `ms`, `s`, `m` or `h` (`1500ms`, `45s`, `2m`, `1h`).",
            "pattern": Self::PATTERN,
            "patternErrorMessage": format!("not a duration: {}", Self::HINT),
            "examples": ["45s", "2m", "1500ms"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        let parse = |s: &str| DurationStr::from(s).parse();
        assert_eq!(parse("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_bare_numbers_other_units_and_junk() {
        let err = |s: &str| DurationStr::from(s).parse().unwrap_err();
        assert!(err("45").contains("no unit"));
        assert!(err("45 sec").contains("unknown unit ` sec`"));
        assert!(err("2weeks").contains("unknown unit `weeks`"));
        assert!(err("1m 30s").contains("unknown unit"));
        assert!(err("soon").contains("does not start with a number"));
        assert!(err("").contains("does not start with a number"));
        assert!(err("99999999999h").contains("too long"));
    }
}
