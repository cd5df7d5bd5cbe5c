//! Call templates: a method, a path with `{id}`, and a JSON body with `{name}` placeholders.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;

use super::path::{encode_segment, IdError};

/// The values a body template can use, by name.
pub type Vars = BTreeMap<&'static str, Value>;

/// A template that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The path does not start with `/`, lacks `{id}`, or has other braces, `?` or `#`.
    #[error("path template `{0}` must start with `/` and contain `{{id}}` once, with no other placeholder, `?` or `#`")]
    BadPath(String),
    /// The body names a placeholder the call does not offer.
    #[error("unknown placeholder `{{{name}}}` in the body; available: {available}")]
    UnknownPlaceholder {
        /// The placeholder.
        name: String,
        /// The names the call offers.
        available: String,
    },
    /// A `{` without its `}`.
    #[error("unclosed `{{` in body string `{0}`")]
    Unclosed(String),
    /// The method is not an HTTP method.
    #[error("`{0}` is not an HTTP method")]
    BadMethod(String),
}

/// Rendering found no value for a placeholder (a DFO routing call without a numeric skill, say).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no value for `{{{0}}}`")]
pub struct MissingValue(pub String);

/// A path template holding `{id}` exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    before: String,
    after: String,
}

impl PathTemplate {
    /// Parses and checks a path template such as `/api/v2/interactions/{id}`.
    pub fn parse(path: &str) -> Result<Self, TemplateError> {
        let bad = || TemplateError::BadPath(path.to_owned());
        let (before, after) = path.split_once("{id}").ok_or_else(bad)?;
        let clean = |s: &str| !s.contains(['{', '}', '?', '#']);
        if !before.starts_with('/') || !clean(before) || !clean(after) || !before.ends_with('/') {
            return Err(bad());
        }
        Ok(Self {
            before: before.into(),
            after: after.into(),
        })
    }

    /// The path for one interaction, the id percent-encoded as a single segment.
    pub fn render(&self, id: &str) -> Result<String, IdError> {
        Ok(format!(
            "{}{}{}",
            self.before,
            encode_segment(id)?,
            self.after
        ))
    }

    /// The fixed part before the id (the API prefix every request must stay under).
    pub fn prefix(&self) -> &str {
        &self.before
    }
}

/// One piece of a templated string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var { name: String, as_string: bool },
}

fn split_pieces(s: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].into()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| TemplateError::Unclosed(s.into()))?;
        let inner = &rest[open + 1..open + close];
        let (name, as_string) = match inner.strip_suffix("|string") {
            Some(name) => (name, true),
            None => (inner, false),
        };
        pieces.push(Piece::Var {
            name: name.trim().into(),
            as_string,
        });
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.into()));
    }
    Ok(pieces)
}

fn check_names(value: &Value, allowed: &[&str]) -> Result<(), TemplateError> {
    match value {
        Value::String(s) => {
            for piece in split_pieces(s)? {
                if let Piece::Var { name, .. } = piece {
                    if !allowed.contains(&name.as_str()) {
                        let available = allowed.join(", ");
                        return Err(TemplateError::UnknownPlaceholder { name, available });
                    }
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_names(v, allowed)),
        Value::Object(map) => map.values().try_for_each(|v| check_names(v, allowed)),
        _ => Ok(()),
    }
}

fn as_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn lookup<'v>(vars: &'v Vars, name: &str) -> Result<&'v Value, MissingValue> {
    vars.get(name).ok_or_else(|| MissingValue(name.into()))
}

fn render_string(s: &str, vars: &Vars) -> Result<Value, MissingValue> {
    // Checked at parse time, so a split error cannot happen here; keep the text as it is if it did.
    let Ok(pieces) = split_pieces(s) else {
        return Ok(Value::String(s.into()));
    };
    if let [Piece::Var {
        name,
        as_string: false,
    }] = pieces.as_slice()
    {
        return lookup(vars, name).cloned();
    }
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Var { name, .. } => out.push_str(&as_text(lookup(vars, &name)?)),
        }
    }
    Ok(Value::String(out))
}

fn render_value(value: &Value, vars: &Vars) -> Result<Value, MissingValue> {
    Ok(match value {
        Value::String(s) => render_string(s, vars)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, vars)?)))
                .collect::<Result<_, MissingValue>>()?,
        ),
        other => other.clone(),
    })
}

/// A JSON body whose strings may hold `{name}` placeholders.
///
/// A string that is exactly one placeholder takes the value with its JSON type (a number stays a
/// number, a list a list); `{name|string}` or a placeholder inside other text is written as text.
///
/// ```
/// use cxrules_server::cxone::BodyTemplate;
/// let t = BodyTemplate::parse(
///     serde_json::json!({"seq": "{n}", "label": "seq {n}", "text": "{n|string}"}),
///     &["n"],
/// ).unwrap();
/// let vars = [("n", serde_json::json!(7))].into_iter().collect();
/// assert_eq!(t.render(&vars).unwrap(), serde_json::json!({"seq": 7, "label": "seq 7", "text": "7"}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BodyTemplate(Value);

impl BodyTemplate {
    /// Checks that every placeholder is one of `allowed`.
    pub fn parse(body: Value, allowed: &[&str]) -> Result<Self, TemplateError> {
        check_names(&body, allowed)?;
        Ok(Self(body))
    }

    /// Fills the placeholders.
    pub fn render(&self, vars: &Vars) -> Result<Value, MissingValue> {
        render_value(&self.0, vars)
    }
}

/// Parses an HTTP method name such as `PATCH`.
pub fn parse_method(name: &str) -> Result<Method, TemplateError> {
    let upper = name.to_ascii_uppercase();
    Method::from_bytes(upper.as_bytes()).map_err(|_| TemplateError::BadMethod(name.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_templates_are_checked() {
        assert!(PathTemplate::parse("/api/v2/interactions/{id}").is_ok());
        assert!(PathTemplate::parse("/dfo/3.0/contacts/{id}/routing-queue").is_ok());
        for bad in [
            "api/{id}",
            "/a/{id}?x=1",
            "/a/{id}/{other}",
            "/a/b",
            "/a/x{id}",
            "/a#/{id}",
        ] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn path_renders_one_encoded_segment() {
        let t = PathTemplate::parse("/c/{id}/q").unwrap();
        assert_eq!(t.render("a/b").unwrap(), "/c/a%2Fb/q");
        assert!(t.render("..").is_err());
    }

    #[test]
    fn unknown_placeholders_are_refused() {
        let err = BodyTemplate::parse(json!({"a": ["{nope}"]}), &["status"]).unwrap_err();
        assert!(err.to_string().contains("`{nope}`"), "{err}");
        assert!(BodyTemplate::parse(json!({"a": "{status"}), &["status"]).is_err());
    }

    #[test]
    fn missing_and_null_values() {
        let t = BodyTemplate::parse(json!({"v": "{x}", "s": "[{x}]"}), &["x"]).unwrap();
        let none = Vars::new();
        assert_eq!(t.render(&none), Err(MissingValue("x".into())));
        let null: Vars = [("x", Value::Null)].into_iter().collect();
        assert_eq!(t.render(&null).unwrap(), json!({"v": null, "s": "[]"}));
    }

    #[test]
    fn lists_keep_their_type() {
        let t = BodyTemplate::parse(
            json!({"routing": {"skills": "{skill_refs}"}}),
            &["skill_refs"],
        )
        .unwrap();
        let vars: Vars = [("skill_refs", json!([{"id": "s1"}]))]
            .into_iter()
            .collect();
        assert_eq!(
            t.render(&vars).unwrap(),
            json!({"routing": {"skills": [{"id": "s1"}]}})
        );
    }
}
