//! Property tests: pipelines never panic, the simple steps are idempotent and agree with
//! straightforward reference implementations.

use std::borrow::Cow;

use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

use super::*;

/// Text mixing ASCII, white space of every kind, invisible marks, emoji and other scripts.
fn messy_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "[a-zA-Z0-9 .,!?]{0,6}",
        Just(" \t\n\r\u{0B}\u{0C}\u{85}\u{A0}\u{2003}\u{3000}".to_owned()),
        Just("\u{200B}\u{200D}\u{200E}\u{200F}\u{FEFF}\u{AD}".to_owned()),
        Just("👍🏽👨‍👩‍👧❤️🇫🇷#️⃣".to_owned()),
        Just("İıßẞΣσςǅﬁ①²ＡＢＣ".to_owned()),
        Just("e\u{301}\u{E9}한\u{1112}\u{1161}".to_owned()),
        any::<char>().prop_map(String::from),
        "\\PC{0,4}",
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|pieces| pieces.concat())
}

fn any_step() -> impl Strategy<Value = StepSpec> {
    let classes = prop::sample::subsequence(
        vec![
            CharClass::Punctuation,
            CharClass::Control,
            CharClass::Emoji,
            CharClass::Symbols,
            CharClass::Digits,
            CharClass::Whitespace,
        ],
        1..=6,
    );
    let forms = prop::sample::select(vec![
        UnicodeForm::Nfc,
        UnicodeForm::Nfd,
        UnicodeForm::Nfkc,
        UnicodeForm::Nfkd,
    ]);
    let patterns = prop::sample::select(vec![r"\s+", r"\d", "(?i)ab+", r"\p{Greek}", "$", "^"]);
    prop_oneof![
        Just(StepSpec::Trim),
        Just(StepSpec::Lowercase),
        Just(StepSpec::CollapseWhitespace),
        Just(StepSpec::Nfkc),
        forms.prop_map(StepSpec::UnicodeNormalize),
        classes.prop_map(StepSpec::Strip),
        (patterns, "[a-z ]{0,3}").prop_map(|(pattern, replacement)| {
            StepSpec::RegexReplace(RegexReplaceSpec {
                pattern: pattern.to_owned(),
                replacement,
                size_limit: None,
            })
        }),
    ]
}

fn single(step: StepSpec) -> Normalizer {
    Normalizer::compile(&[step]).unwrap()
}

/// `apply` twice gives the same as once, and an unchanged text comes back borrowed.
fn check_idempotent(normalizer: &Normalizer, text: &str) -> Result<(), TestCaseError> {
    let once = normalizer.apply(text);
    let twice = normalizer.apply(&once);
    prop_assert_eq!(&*twice, &*once);
    prop_assert!(
        matches!(twice, Cow::Borrowed(_)),
        "second pass copied {:?}",
        once
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_pipeline_applies_without_panicking(
        steps in prop::collection::vec(any_step(), 0..6),
        text in messy_text(),
    ) {
        let normalizer = Normalizer::compile(&steps).unwrap();
        let output = normalizer.apply(&text);
        if let Cow::Borrowed(slice) = output {
            prop_assert!(text.contains(slice));
        }
    }

    #[test]
    fn simple_steps_are_idempotent(text in messy_text()) {
        for step in [
            StepSpec::Trim,
            StepSpec::Lowercase,
            StepSpec::CollapseWhitespace,
            StepSpec::Nfkc,
            StepSpec::Strip(vec![CharClass::Punctuation, CharClass::Emoji, CharClass::Control]),
        ] {
            check_idempotent(&single(step), &text)?;
        }
    }

    #[test]
    fn seed_pipeline_is_idempotent(text in messy_text()) {
        let steps = [StepSpec::Trim, StepSpec::Lowercase, StepSpec::CollapseWhitespace];
        check_idempotent(&Normalizer::compile(&steps).unwrap(), &text)?;
    }

    #[test]
    fn simple_steps_match_reference_implementations(text in messy_text()) {
        prop_assert_eq!(single(StepSpec::Trim).apply(&text), text.trim());
        prop_assert_eq!(single(StepSpec::Lowercase).apply(&text), text.to_lowercase());
        let words: Vec<&str> = text.split(char::is_whitespace).collect();
        let collapsed = single(StepSpec::CollapseWhitespace).apply(&text);
        prop_assert_eq!(collapsed.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>(),
            words.iter().copied().filter(|w| !w.is_empty()).collect::<Vec<_>>());
        prop_assert!(!collapsed.contains("  ") && !collapsed.contains(|c: char| c.is_whitespace() && c != ' '));
        let nfkc: String = text.nfkc().collect();
        prop_assert_eq!(single(StepSpec::Nfkc).apply(&text), nfkc);
    }

    #[test]
    fn unchanged_output_is_borrowed(text in messy_text()) {
        for step in [StepSpec::Trim, StepSpec::Lowercase, StepSpec::CollapseWhitespace, StepSpec::Nfkc] {
            let output = single(step.clone()).apply(&text);
            if *output == *text {
                prop_assert!(matches!(output, Cow::Borrowed(_)), "{:?} copied {:?}", step, text);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Long ASCII-white-space texts exercise the word-at-a-time path across word boundaries.
    #[test]
    fn collapse_matches_reference_on_ascii_white_space(
        text in "[ a\t\n\r\u{0B}\u{0C}é’]{0,80}",
    ) {
        let collapsed = single(StepSpec::CollapseWhitespace).apply(&text);
        prop_assert_eq!(collapsed, super::whitespace::tests::reference(&text));
    }
}

/// Pipelines of trim, lowercase and collapse_whitespace in any order, sometimes with another step.
fn fusable_or_not() -> impl Strategy<Value = Vec<StepSpec>> {
    let simple = prop::sample::select(vec![
        StepSpec::Trim,
        StepSpec::Lowercase,
        StepSpec::CollapseWhitespace,
    ]);
    prop_oneof![
        4 => prop::collection::vec(simple, 0..5),
        1 => prop::collection::vec(any_step(), 0..4),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The one-pass path of `with_applied` gives exactly what the steps give one by one.
    #[test]
    fn with_applied_matches_apply(
        steps in fusable_or_not(),
        text in prop_oneof![
            "[ a-zA-Z0-9.!\t\n\r\u{0B}\u{0C}\u{1C}]{0,90}",
            messy_text(),
            "[ aB]{1000,1100}",
        ],
    ) {
        let normalizer = Normalizer::compile(&steps).unwrap();
        let applied = normalizer.apply(&text);
        prop_assert_eq!(normalizer.with_applied(&text, str::to_owned), applied);
    }
}
