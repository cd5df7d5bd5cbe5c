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

fn piece_name(piece: &Piece) -> Option<&str> {
    match piece {
        Piece::Text(_) => None,
        Piece::Var { name, .. } => Some(name),
    }
}

fn lookup(vars: &impl Fn(&str) -> Option<Value>, name: &str) -> Result<Value, MissingValue> {
    vars(name).ok_or_else(|| MissingValue(name.into()))
}

fn join_pieces(
    pieces: &[Piece],
    vars: &impl Fn(&str) -> Option<Value>,
) -> Result<String, MissingValue> {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var { name, .. } => out.push_str(&as_text(&lookup(vars, name)?)),
        }
    }
    Ok(out)
}

/// A template string: kept as its pieces, or as the one placeholder it is exactly.
fn split_string(s: &str) -> Result<Rendered, TemplateError> {
    let pieces = split_pieces(s)?;
    Ok(match pieces.as_slice() {
        [Piece::Var {
            name,
            as_string: false,
        }] => Rendered::Value(name.clone()),
        _ if pieces.iter().all(|p| matches!(p, Piece::Text(_))) => {
            Rendered::Json(Value::String(s.into()).to_string())
        }
        _ => Rendered::Text(pieces),
    })
}

/// One run of a body template's JSON text.
#[derive(Debug, Clone, PartialEq)]
enum Rendered {
    /// JSON text written as it is (structure, keys, literal values).
    Json(String),
    /// A placeholder that is a whole value: written with its own JSON type.
    Value(String),
    /// A string with placeholders inside text: written as one JSON string.
    Text(Vec<Piece>),
}

/// Flattens a template value into runs, merging neighbouring literal text.
fn flatten(value: &Value, out: &mut Vec<Rendered>) -> Result<(), TemplateError> {
    let raw = |out: &mut Vec<Rendered>, text: &str| match out.last_mut() {
        Some(Rendered::Json(last)) => last.push_str(text),
        _ => out.push(Rendered::Json(text.to_owned())),
    };
    match value {
        Value::String(s) => match split_string(s)? {
            Rendered::Json(text) => raw(out, &text),
            other => out.push(other),
        },
        Value::Array(items) => {
            raw(out, "[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    raw(out, ",");
                }
                flatten(item, out)?;
            }
            raw(out, "]");
        }
        Value::Object(map) => {
            raw(out, "{");
            for (i, (key, item)) in map.iter().enumerate() {
                let key = Value::String(key.clone()).to_string();
                raw(out, &format!("{}{key}:", if i > 0 { "," } else { "" }));
                flatten(item, out)?;
            }
            raw(out, "}");
        }
        literal => raw(out, &literal.to_string()),
    }
    Ok(())
}

/// A JSON body whose strings may hold `{name}` placeholders.
///
/// A string that is exactly one placeholder takes the value with its JSON type (a number stays a
/// number, a list a list); `{name|string}` or a placeholder inside other text is written as text.
/// The template is split into runs once, when it is parsed, so rendering writes the JSON text
/// directly.
///
/// ```
/// use cxrules_server::cxone::BodyTemplate;
/// let t = BodyTemplate::parse(
///     serde_json::json!({"seq": "{n}", "label": "seq {n}", "text": "{n|string}"}),
///     &["n"],
/// ).unwrap();
/// let vars = [("n", serde_json::json!(7))].into_iter().collect();
/// assert_eq!(t.render(&vars).unwrap(), serde_json::json!({"seq": 7, "label": "seq 7", "text": "7"}));
/// assert_eq!(t.render_text(&vars).unwrap(), r#"{"label":"seq 7","seq":7,"text":"7"}"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BodyTemplate {
    runs: Vec<Rendered>,
}

impl BodyTemplate {
    /// Checks that every placeholder is one of `allowed`.
    pub fn parse(body: Value, allowed: &[&str]) -> Result<Self, TemplateError> {
        check_names(&body, allowed)?;
        let mut runs = Vec::new();
        flatten(&body, &mut runs)?;
        Ok(Self { runs })
    }

    /// Fills the placeholders, giving the body as JSON text.
    pub fn render_text(&self, vars: &Vars) -> Result<String, MissingValue> {
        self.render_with(&|name: &str| vars.get(name).cloned())
    }

    /// Fills the placeholders from a function that gives each value by name (`None`: no value),
    /// asked only for the names the template uses.
    pub fn render_with(
        &self,
        vars: &impl Fn(&str) -> Option<Value>,
    ) -> Result<String, MissingValue> {
        let mut out = String::with_capacity(256);
        for run in &self.runs {
            match run {
                Rendered::Json(text) => out.push_str(text),
                Rendered::Value(name) => push_json(&mut out, &lookup(vars, name)?),
                Rendered::Text(pieces) => {
                    push_json(&mut out, &Value::String(join_pieces(pieces, vars)?));
                }
            }
        }
        Ok(out)
    }

    /// Whether [`BodyTemplate::render_with`] would find every value, asking `has` for each
    /// name the template uses, without rendering anything.
    pub fn check_with(&self, has: &impl Fn(&str) -> bool) -> Result<(), MissingValue> {
        for run in &self.runs {
            let missing = match run {
                Rendered::Json(_) => None,
                Rendered::Value(name) => Some(name.as_str()).filter(|n| !has(n)),
                Rendered::Text(pieces) => pieces.iter().filter_map(piece_name).find(|n| !has(n)),
            };
            if let Some(name) = missing {
                return Err(MissingValue(name.into()));
            }
        }
        Ok(())
    }

    /// Fills the placeholders, giving the body as a JSON value.
    pub fn render(&self, vars: &Vars) -> Result<Value, MissingValue> {
        let text = self.render_text(vars)?;
        Ok(serde_json::from_str(&text).expect("a rendered template is JSON"))
    }
}

fn push_json(out: &mut String, value: &Value) {
    use std::fmt::Write as _;
    write!(out, "{value}").expect("writing to a string");
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

    #[test]
    fn text_rendering_matches_the_value_it_stands_for() {
        let template = json!({
            "a \"quoted\" key": ["{x}", 1, true, null, {"n": 2.5, "s": "say \"{x|string}\"\n"}],
            "fixed": "no placeholder {here} is allowed to stay",
            "empty": {}, "list": [],
            "id": "{id}"
        });
        let t = BodyTemplate::parse(template, &["x", "id", "here"]).unwrap();
        let vars: Vars = [
            ("x", json!({"deep": ["v", 1]})),
            ("id", json!("i\u{1}d\u{e9}")),
            ("here", json!("h")),
        ]
        .into_iter()
        .collect();
        let text = t.render_text(&vars).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(text, value.to_string());
        assert_eq!(value["id"], json!("i\u{1}d\u{e9}"));
        assert_eq!(value["a \"quoted\" key"][0], json!({"deep": ["v", 1]}));
        assert_eq!(
            value["a \"quoted\" key"][4]["s"],
            json!("say \"{\"deep\":[\"v\",1]}\"\n")
        );
        assert_eq!(value["fixed"], json!("no placeholder h is allowed to stay"));
    }
}
