//! Property tests: no rule text, however mangled, panics the compiler.

use std::path::PathBuf;

use proptest::prelude::*;

const BASE: &str = include_str!("../../rules/routing.yaml");
const DEDUP: &str = include_str!("../../rules/dedup.yaml");

fn compile(text: String) {
    let _ = cxrules_engine::compile::compile_sources(
        vec![(PathBuf::from("fuzz.yaml"), text)],
        Vec::new(),
    );
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
}
