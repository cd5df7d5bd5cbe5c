//! Re-runs a failing rule test case step by step to show expected against actual, field by field
//! (the engine's runner decides pass or fail; this only explains a failure).

use std::sync::Arc;

use cxrules_engine::replay::{ManualClock, MapInventory};
use cxrules_engine::testcase::{Expect, TestCaseSpec};
use cxrules_engine::{CompiledRules, Decision, Engine};
use serde_json::Value;

/// What one step was expected to give and what it gave.
#[derive(Debug)]
pub(crate) struct StepResult {
    /// The step's expectations.
    pub expect: Expect,
    /// The decision, or the error text.
    pub got: Result<Decision, String>,
}

/// Runs the case with a manual clock and its mock inventory, on a thread of its own (the caller
/// may be inside a runtime).
pub(crate) fn trace_case(rules: &Arc<CompiledRules>, case: &TestCaseSpec) -> Vec<StepResult> {
    let (rules, case) = (rules.clone(), case.clone());
    let worker = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime for tracing a test case");
        rt.block_on(trace(rules, case))
    });
    worker.join().unwrap_or_default()
}

async fn trace(rules: Arc<CompiledRules>, case: TestCaseSpec) -> Vec<StepResult> {
    let clock = Arc::new(ManualClock::new());
    let built = Engine::with_rules(rules)
        .inventory(Arc::new(MapInventory::new(case.inventory.clone())))
        .clock(clock.hook())
        .build();
    let Ok(engine) = built else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for step in &case.steps {
        if let Some(Ok(at)) = step.at.as_ref().map(|a| a.parse()) {
            clock.set(at);
        }
        let got = match engine.evaluate(&step.event).await {
            Ok(eval) => Ok(eval.commit()),
            Err(e) => Err(e.to_string()),
        };
        out.push(StepResult {
            expect: step.expect.clone(),
            got,
        });
    }
    out
}

/// Where each `expect` field is found in a serialized decision.
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
];

/// The step's mismatches as diff lines (`- field: expected`, `+ field: actual`); empty when the
/// step matched.
pub(crate) fn step_diff(step: &StepResult) -> Vec<String> {
    let expected = given_fields(&step.expect);
    let want_error = expected
        .iter()
        .find(|(f, _)| f == "error")
        .and_then(|(_, v)| v.as_str());
    let mut lines = Vec::new();
    match (&step.got, want_error) {
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

/// The fields an `expect` gives, in the order of [`FIELDS`] (the order rule files use), then any
/// other (`error`).
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
    use cxrules_engine::Outcome;

    fn decision(outcome: &str) -> Decision {
        let rules = cxrules_engine::compile::compile_sources(
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
        let event = serde_json::json!({"type": outcome});
        rt.block_on(engine.evaluate(&event)).unwrap().commit()
    }

    #[test]
    fn only_mismatching_fields_show_with_expected_first() {
        let d = decision("other");
        assert_eq!(d.outcome, Outcome::Ignored);
        let step = StepResult {
            expect: serde_json::from_value(serde_json::json!({
                "skills": ["a", "b"], "outcome": "processed"
            }))
            .unwrap(),
            got: Ok(d),
        };
        assert_eq!(
            step_diff(&step),
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
        let expect: Expect =
            serde_json::from_value(serde_json::json!({"error": "missing field"})).unwrap();
        let matched = StepResult {
            expect: expect.clone(),
            got: Err("missing field `x`".into()),
        };
        assert!(step_diff(&matched).is_empty());
        let other = StepResult {
            expect,
            got: Err("bad id".into()),
        };
        assert_eq!(
            step_diff(&other),
            ["- error: containing \"missing field\"", "+ error: bad id"]
        );
    }
}
