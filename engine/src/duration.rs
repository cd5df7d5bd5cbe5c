//! Durations as written in rule files: strings with a unit (`45s`, `2m`, `1500ms`), never bare numbers.

use std::borrow::Cow;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// A duration with its unit, such as `45s`, `2m`, `1500ms` or `1h 30m`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationStr(pub String);

impl DurationStr {
    /// Parses the text; the error says how to write it.
    pub fn parse(&self) -> Result<Duration, String> {
        let text = self.0.trim();
        if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
            return Err(format!("duration `{text}` has no unit"));
        }
        humantime::parse_duration(text).map_err(|e| format!("invalid duration `{text}`: {e}"))
    }

    /// The hint every duration error carries.
    pub const HINT: &'static str = "write a number with a unit, such as `45s`, `2m` or `1500ms`";
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
        schemars::json_schema!({
            "type": "string",
            "description": "A duration with a unit: `1500ms`, `45s`, `2m`, `1h`, or combined as `1m 30s`.",
            "pattern": "^\\s*([0-9]+\\s*(ns|us|µs|ms|msec|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)\\s*)+$",
            "examples": ["45s", "2m", "1500ms"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(
            DurationStr::from("45s").parse(),
            Ok(Duration::from_secs(45))
        );
        assert_eq!(
            DurationStr::from("2m").parse(),
            Ok(Duration::from_secs(120))
        );
        assert_eq!(
            DurationStr::from("1500ms").parse(),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(
            DurationStr::from("1m 30s").parse(),
            Ok(Duration::from_secs(90))
        );
    }

    #[test]
    fn rejects_bare_numbers_and_junk() {
        assert!(DurationStr::from("45")
            .parse()
            .unwrap_err()
            .contains("no unit"));
        assert!(DurationStr::from("soon").parse().is_err());
        assert!(DurationStr::from("").parse().is_err());
    }
}
