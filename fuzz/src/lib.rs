//! The bodies of the cargo fuzz targets, as plain functions: `fuzz_targets/*.rs` call them on
//! nightly, and the engine's stable test suite (`engine/tests/fuzz_regressions.rs`, which
//! includes this file as a module) calls them on every file under `fuzz/regressions/<target>/`.
//! Each returns normally for any input whose outcome is acceptable and panics otherwise.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use cxrules_engine::compile::compile_sources;
use cxrules_engine::replay::MapInventory;
use cxrules_engine::{CompiledRules, Decision, Engine, EvalError, ParsedEvent};

/// The shipped rule files, built into the binary so a target needs no working directory.
const SHIPPED: [(&str, &str); 3] = [
    ("dedup.yaml", include_str!("../../rules/dedup.yaml")),
    ("routing.yaml", include_str!("../../rules/routing.yaml")),
    ("tests.yaml", include_str!("../../rules/tests.yaml")),
];

/// The names of the targets, which are also the directories under `fuzz/regressions/`.
pub const TARGETS: &[&str] = &["evaluate_body", "compile_rules"];

/// Runs target `name` on `data`.
pub fn run_target(name: &str, data: &[u8]) {
    match name {
        "evaluate_body" => evaluate_body(data),
        "compile_rules" => compile_rules(data),
        other => panic!("no fuzz target `{other}`; the targets are {TARGETS:?}"),
    }
}

fn shipped_sources() -> Vec<(PathBuf, String)> {
    SHIPPED
        .iter()
        .map(|(name, text)| (PathBuf::from("rules").join(name), text.to_string()))
        .collect()
}

fn shipped_rules() -> Arc<CompiledRules> {
    static RULES: OnceLock<Arc<CompiledRules>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            Arc::new(compile_sources(shipped_sources(), Vec::new()).expect("the shipped rules"))
        })
        .clone()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
}

/// Parses `data` as the host does (`ParsedEvent::parse`) and as a `serde_json::Value`, decides
/// both on fresh engines over the shipped rules (no inventory answers: every SKU is a 404), and
/// requires the same answer from both: a decision, or an error that names a field.
pub fn evaluate_body(data: &[u8]) {
    let parsed = ParsedEvent::parse(data);
    let value = serde_json::from_slice::<serde_json::Value>(data);
    let (parsed, value) = match (parsed, value) {
        (Ok(p), Ok(v)) => (p, v),
        (Err(_), Err(_)) => return,
        (p, v) => panic!("the parsers disagree: ParsedEvent {p:?}, serde_json {v:?}"),
    };
    let engine = || {
        Engine::with_rules(shipped_rules())
            .inventory(Arc::new(MapInventory::default()))
            .build()
            .expect("an engine over compiled rules")
    };
    let (a, b) = runtime().block_on(async {
        let a = engine().evaluate(&parsed).await.map(|e| e.commit());
        let b = engine().evaluate(&value).await.map(|e| e.commit());
        (a, b)
    });
    assert_eq!(
        comparable(&a),
        comparable(&b),
        "ParsedEvent and Value decide differently"
    );
    match a {
        Ok(decision) => {
            serde_json::to_vec(&decision).expect("a decision serializes");
        }
        Err(EvalError::NotAnObject) => assert!(!value.is_object()),
        Err(e @ EvalError::Store(_)) => panic!("the in-memory store failed: {e}"),
        Err(e) => assert!(
            cxrules_engine::events::FIELD_NAMES
                .iter()
                .chain(&["sku"])
                .any(|f| e.to_string().contains(f)),
            "the error names no field: {e}"
        ),
    }
}

fn comparable(result: &Result<Decision, EvalError>) -> Result<Decision, String> {
    match result {
        Ok(d) => {
            let mut d = d.clone();
            d.latency_us = 0;
            if let Some(r) = &mut d.routing {
                r.lookup_ms = None;
            }
            Ok(d)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Compiles `data` as a rule file on its own and beside the shipped dedup and routing files;
/// every diagnostic names its file, and rules that compile have their own cases run (none may
/// make the runner panic).
pub fn compile_rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = PathBuf::from("rules/fuzz.yaml");
    let alone = vec![(file.clone(), text.to_owned())];
    let mut beside = shipped_sources();
    beside.retain(|(p, _)| !p.ends_with("tests.yaml"));
    beside.push((file, text.to_owned()));
    for sources in [alone, beside] {
        match compile_sources(sources, Vec::new()) {
            Ok(rules) => {
                let report = cxrules_engine::testrun::run_tests(&Arc::new(rules));
                let panicked = report
                    .cases
                    .iter()
                    .any(|c| c.name == "(runner)" && c.failures == ["the test runner panicked"]);
                assert!(!panicked, "the test runner panicked: {report:?}");
            }
            Err(diags) => {
                assert!(!diags.0.is_empty(), "a failed compile says why");
                for d in &diags.0 {
                    assert!(!d.file.as_os_str().is_empty(), "{d:?}");
                    assert!(!d.message.is_empty(), "{d:?}");
                }
            }
        }
    }
}
