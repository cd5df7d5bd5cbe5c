//! The one place that talks to the YAML library, so a maintained fork can replace it here alone.

use serde::de::DeserializeOwned;

/// A parsed YAML document.
pub type Value = serde_yaml::Value;

/// A YAML syntax error with its position (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What the parser said.
    pub message: String,
    /// Line, 1-based, when the parser knows it.
    pub line: Option<usize>,
    /// Column, 1-based, when the parser knows it.
    pub column: Option<usize>,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " (line {l}, column {c})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for SyntaxError {}

/// A value that does not fit its type, with the path inside the value where it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// Path segments below the value deserialized (`["steps", "2", "pattern"]`).
    pub path: Vec<String>,
    /// What the deserializer said.
    pub message: String,
}

/// Parses one YAML document into a generic value.
pub fn parse(text: &str) -> Result<Value, SyntaxError> {
    serde_yaml::from_str::<Value>(text).map_err(|e| {
        let loc = e.location();
        SyntaxError {
            message: strip_location(&e.to_string()),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
        }
    })
}

/// Deserializes a parsed value into `T`, keeping the path of the first mismatch.
///
/// The library reads non-unit enum variants only from YAML tags (`!variant`), so types written
/// as `variant: {...}` in rule files implement `Deserialize` by hand (see `normalize`).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ShapeError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        ShapeError {
            path,
            message: strip_location(&e.into_inner().to_string()),
        }
    })
}

/// Deserializes YAML text straight into `T` (test fixtures and small documents).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, SyntaxError> {
    serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location();
        SyntaxError {
            message: strip_location(&e.to_string()),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
        }
    })
}

/// Writes `value` as YAML text.
pub fn to_string<T: serde::Serialize>(value: &T) -> Result<String, SyntaxError> {
    serde_yaml::to_string(value).map_err(|e| SyntaxError {
        message: e.to_string(),
        line: None,
        column: None,
    })
}

/// The parser appends "at line X column Y"; diagnostics print the location themselves.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The keys of a mapping, as strings (non-string keys are skipped).
pub fn mapping_entries(value: &Value) -> Option<Vec<(String, Value)>> {
    let map = value.as_mapping()?;
    Some(
        map.iter()
            .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v.clone())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_has_a_location() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line.is_some(), "{err:?}");
        assert!(!err.message.contains("at line"), "{}", err.message);
    }

    #[test]
    fn shape_error_keeps_the_path() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            n: u32,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            items: Vec<Inner>,
        }
        let v = parse("items:\n  - n: 1\n  - n: x\n").unwrap();
        let err = from_value::<Outer>(v).unwrap_err();
        assert_eq!(err.path, vec!["items", "1", "n"]);
        assert!(err.message.contains("invalid type"), "{}", err.message);
    }
}
