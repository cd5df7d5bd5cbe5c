//! A step's mismatches as diff lines, `- field: expected` then `+ field: actual`, with values as
//! a rule file writes them: the one rendering of a failing case, for `cxrules test` and for a
//! reload the cases refused.

use serde_json::Value;

use crate::decision::Decision;
use crate::testcase::Expect;

/// Where each `expect` field is found in a serialized decision, in the order rule files use.
const FIELDS: &[(&str, &str)] = &[
    ("outcome", "/outcome"),
    ("verdict", "/dedup/verdict"),
    ("highest_sequence", "/dedup/highest_sequence"),
    ("channel", "/dedup/channel"),
    ("sku", "/routing/sku"),
    ("status", "/routing/status"),
    ("matched", "/routing/matched"),
    ("reason", "/routing/reason"),
    ("skills", "/routing/skills"),
    ("queues", "/routing/queues"),
    ("skill_id", "/routing/skill_id"),
    ("contact_id", "/contact_id"),
    ("because", "/reason"),
];

/// The step's mismatches; empty when the step matched. `got` is the decision or the error text.
pub(crate) fn step_diff(expect: &Expect, got: Result<&Decision, &str>) -> Vec<String> {
    let expected = given_fields(expect);
    let want_error = expect.error.as_deref();
    let mut lines = Vec::new();
    match (got, want_error) {
        (Err(got), Some(want)) if got.contains(want) => {}
        (Err(got), _) => {
            for (field, value) in &expected {
                let shown = if field == "error" {
                    format!("containing {value}")
                } else {
                    render(value)
                };
                lines.push(format!("- {field}: {shown}"));
            }
            lines.push(format!("+ error: {got}"));
        }
        (Ok(decision), Some(want)) => {
            lines.push(format!("- error: containing {want:?}"));
            let outcome = serde_json::to_value(decision.outcome).unwrap_or(Value::Null);
            lines.push(format!("+ outcome: {}", render(&outcome)));
        }
        (Ok(decision), None) => {
            let actual = serde_json::to_value(decision).unwrap_or(Value::Null);
            for (field, want) in &expected {
                let pointer = FIELDS.iter().find(|(f, _)| f == field).map(|(_, p)| *p);
                let got = pointer
                    .and_then(|p| actual.pointer(p))
                    .unwrap_or(&Value::Null);
                if got != want {
                    lines.push(format!("- {field}: {}", render(want)));
                    lines.push(format!("+ {field}: {}", render(got)));
                }
            }
        }
    }
    lines
}

/// The fields an `expect` gives, in the order of [`FIELDS`], then any other (`error`).
fn given_fields(expect: &Expect) -> Vec<(String, Value)> {
    let Ok(Value::Object(mut map)) = serde_json::to_value(expect) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Value)> = FIELDS
        .iter()
        .filter_map(|(f, _)| map.remove(*f).map(|v| (f.to_string(), v)))
        .collect();
    out.extend(map);
    out.retain(|(_, v)| !v.is_null());
    out
}

/// A value as a rule file would write it: bare strings, `[a, b]` lists, `nothing` for null.
fn render(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", inner.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile_sources;
    use crate::decision::Outcome;
    use crate::Engine;
    use std::sync::Arc;

    fn decision(event_type: &str) -> Decision {
        let rules = compile_sources(
            vec![(
                "r.yaml".into(),
                "version: 1\nevents:\n  e:\n    type: t\n".into(),
            )],
            vec![],
        )
        .unwrap();
        let engine = Engine::with_rules(Arc::new(rules)).build().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let event = serde_json::json!({"type": event_type});
        rt.block_on(engine.evaluate(&event)).unwrap().commit()
    }

    fn expect(value: Value) -> Expect {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_mismatching_fields_show_with_expected_first() {
        let d = decision("other");
        assert_eq!(d.outcome, Outcome::Ignored);
        let want = expect(serde_json::json!({"skills": ["a", "b"], "outcome": "processed"}));
        assert_eq!(
            step_diff(&want, Ok(&d)),
            [
                "- outcome: processed",
                "+ outcome: ignored",
                "- skills: [a, b]",
                "+ skills: nothing"
            ]
        );
    }

    #[test]
    fn errors_are_compared_by_containment() {
        let want = expect(serde_json::json!({"error": "missing field"}));
        assert!(step_diff(&want, Err("missing field `x`")).is_empty());
        assert_eq!(
            step_diff(&want, Err("bad id")),
            ["- error: containing \"missing field\"", "+ error: bad id"]
        );
    }
}
