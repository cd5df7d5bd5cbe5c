//! Property tests: no rule text, however mangled, panics the compiler, nor, when it compiles,
//! the runner of its own test cases.

use std::path::PathBuf;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const BASE: &str = include_str!("../../rules/routing.yaml");
const DEDUP: &str = include_str!("../../rules/dedup.yaml");
const TESTS: &str = include_str!("../../rules/tests.yaml");

fn compile(text: String) {
    let _ = cxrules_engine::compile::compile_sources(
        vec![(PathBuf::from("fuzz.yaml"), text)],
        Vec::new(),
    );
}

/// Compiles `text` beside the shipped dedup and routing files and runs its cases, if any: the
/// runner turns a panic on its thread into one case `(runner)`, which must never appear.
fn compile_and_run(text: String) -> Result<(), TestCaseError> {
    let sources = vec![
        (PathBuf::from("dedup.yaml"), DEDUP.to_owned()),
        (PathBuf::from("routing.yaml"), BASE.to_owned()),
        (PathBuf::from("tests.yaml"), text),
    ];
    if let Ok(rules) = cxrules_engine::compile::compile_sources(sources, Vec::new()) {
        let report = cxrules_engine::testrun::run_tests(&Arc::new(rules));
        let runner = report.cases.iter().find(|c| c.name == "(runner)");
        prop_assert!(runner.is_none(), "the test runner panicked: {:?}", report);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        compile(text);
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in "([a-z_]{1,8}: ?(\\[|\\{|-|[0-9]{1,3}|\"[^\"]{0,6}\"|[a-z]{0,5}|\\$\\{[A-Z]{0,3}|\\n  )){0,30}") {
        compile(format!("version: 1\n{text}"));
    }

    #[test]
    fn mangled_real_rules_never_panic(cut in 0usize..4000, len in 0usize..40, insert in "[ :\\-\\[\\]{}#\\n\"a-z0-9]{0,6}", which in any::<bool>()) {
        let base = if which { BASE } else { DEDUP };
        let mut text: Vec<char> = base.chars().collect();
        let at = cut.min(text.len());
        let end = (at + len).min(text.len());
        text.splice(at..end, insert.chars());
        compile(text.into_iter().collect());
    }

    #[test]
    fn mangled_test_cases_never_panic_the_runner(cut in 0usize..8000, len in 0usize..40, insert in "[ :\\-\\[\\]{}#\\n\"a-z0-9€é]{0,6}") {
        let mut text: Vec<char> = TESTS.chars().collect();
        let at = cut.min(text.len());
        let end = (at + len).min(text.len());
        text.splice(at..end, insert.chars());
        compile_and_run(text.into_iter().collect())?;
    }
}
