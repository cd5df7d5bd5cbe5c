//! Tests of whole pipelines: the YAML format, the schema, step order and error collection.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::*;

const EXAMPLE: &str = r#"
normalizers:
  chat_text:
    - trim
    - lowercase
    - collapse_whitespace
    - nfkc
    - unicode_normalize: nfc          # nfc | nfd | nfkc | nfkd
    - regex_replace: { pattern: "https?://\\S+", replacement: "<url>" }   # replacement optional, default ""
    - strip: [punctuation, control, emoji]      # also: symbols, digits, whitespace
"#;

type Pipelines = BTreeMap<String, Vec<StepSpec>>;

fn example_steps() -> Vec<StepSpec> {
    vec![
        StepSpec::Trim,
        StepSpec::Lowercase,
        StepSpec::CollapseWhitespace,
        StepSpec::Nfkc,
        StepSpec::UnicodeNormalize(UnicodeForm::Nfc),
        StepSpec::RegexReplace(RegexReplaceSpec {
            pattern: r"https?://\S+".to_owned(),
            replacement: "<url>".to_owned(),
            size_limit: None,
        }),
        StepSpec::Strip(vec![
            CharClass::Punctuation,
            CharClass::Control,
            CharClass::Emoji,
        ]),
    ]
}

fn pipeline(yaml: &str) -> Normalizer {
    let steps: Vec<StepSpec> = crate::yaml::from_str(yaml).unwrap();
    Normalizer::compile(&steps).unwrap()
}

#[test]
fn parses_the_documented_yaml() {
    let file: BTreeMap<String, Pipelines> = crate::yaml::from_str(EXAMPLE).unwrap();
    let expected = Pipelines::from([("chat_text".to_owned(), example_steps())]);
    assert_eq!(file["normalizers"], expected);
}

#[test]
fn documented_pipeline_normalizes_chat_text() {
    let normalizer = Normalizer::compile(&example_steps()).unwrap();
    let input = "  Ｈｅｌｌｏ,   see https://x.io/p?q=1 👍🏽\u{200B}!! \n";
    assert_eq!(normalizer.apply(input), "hello see <url> ");
}

#[test]
fn regex_replace_settings_are_optional_and_checked() {
    let steps: Vec<StepSpec> =
        crate::yaml::from_str("- regex_replace: { pattern: 'a', size_limit: 4096 }").unwrap();
    let expected = RegexReplaceSpec {
        pattern: "a".to_owned(),
        replacement: String::new(),
        size_limit: Some(4096),
    };
    assert_eq!(steps, [StepSpec::RegexReplace(expected)]);
    let typo =
        crate::yaml::from_str::<Vec<StepSpec>>("- regex_replace: { pattern: a, replace: b }");
    assert!(typo
        .unwrap_err()
        .to_string()
        .contains("unknown field `replace`"));
}

#[test]
fn unknown_steps_and_values_are_rejected() {
    for yaml in [
        "- uppercase",
        "- unicode_normalize: nfx",
        "- strip: [vowels]",
        "- trim: true",
    ] {
        assert!(
            crate::yaml::from_str::<Vec<StepSpec>>(yaml).is_err(),
            "{yaml}"
        );
    }
}

#[test]
fn json_round_trip_keeps_every_step() {
    let json = serde_json::to_string(&example_steps()).unwrap();
    let back: Vec<StepSpec> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, example_steps());
}

#[test]
fn schema_accepts_the_example_and_rejects_mistakes() {
    let schema = serde_json::to_value(schemars::schema_for!(Pipelines)).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let file: BTreeMap<String, serde_json::Value> = crate::yaml::from_str(EXAMPLE).unwrap();
    assert!(validator.is_valid(&file["normalizers"]));
    // What the hand-written Serialize emits must be what the schema describes.
    let written = serde_json::json!({ "p": example_steps() });
    assert!(validator.is_valid(&written), "{written}");
    let mistakes = [
        serde_json::json!({"p": ["uppercase"]}),
        serde_json::json!({"p": [{"unicode_normalize": "nfx"}]}),
        serde_json::json!({"p": [{"regex_replace": {"pattern": "a", "replace": "b"}}]}),
        serde_json::json!({"p": [{"strip": ["vowels"]}]}),
        serde_json::json!({"p": [{"strip": []}]}),
        serde_json::json!({"p": [{"regex_replace": {"pattern": "a", "size_limit": 99_999_999}}]}),
    ];
    for mistake in mistakes {
        assert!(!validator.is_valid(&mistake), "{mistake}");
    }
}

#[test]
fn schema_describes_steps_for_editors() {
    let schema = serde_json::to_string(&schemars::schema_for!(StepSpec)).unwrap();
    for phrase in [
        "single space",
        "Unicode normal form",
        "regular expression",
        "zero-width",
    ] {
        assert!(schema.contains(phrase), "schema lacks {phrase:?}");
    }
}

#[test]
fn reproduces_the_seed_normalization() {
    let normalizer = pipeline("[trim, lowercase, collapse_whitespace]");
    assert_eq!(normalizer.apply("  Hello   World \n"), "hello world");
    assert_eq!(
        normalizer.apply("HELLO\tworld"),
        normalizer.apply("hello world")
    );
}

#[test]
fn step_order_matters() {
    let strip_first = pipeline("[{strip: [punctuation]}, collapse_whitespace]");
    let collapse_first = pipeline("[collapse_whitespace, {strip: [punctuation]}]");
    assert_eq!(strip_first.apply("wait - what"), "wait what");
    assert_eq!(collapse_first.apply("wait - what"), "wait  what");

    // Lowercasing first lets one pattern catch every spelling; afterwards it misses "URGENT".
    let lower_first = pipeline("[lowercase, {regex_replace: {pattern: urgent, replacement: '!'}}]");
    let lower_last = pipeline("[{regex_replace: {pattern: urgent, replacement: '!'}}, lowercase]");
    assert_eq!(lower_first.apply("URGENT urgent"), "! !");
    assert_eq!(lower_last.apply("URGENT urgent"), "urgent !");
}

#[test]
fn nfkc_before_lowercase_folds_full_width_capitals() {
    let normalizer = pipeline("[nfkc, lowercase]");
    assert_eq!(normalizer.apply("ＨＥＬＬＯ"), "hello");
}

#[test]
fn default_is_identity_and_borrows() {
    let normalizer = Normalizer::default();
    assert!(matches!(
        normalizer.apply("  As Is  "),
        Cow::Borrowed("  As Is  ")
    ));
}

#[test]
fn unchanged_text_stays_borrowed_through_the_chain() {
    let normalizer = Normalizer::compile(&example_steps()).unwrap();
    for text in ["hello world", "already clean text", "ünïcödé wörds"] {
        assert!(
            matches!(normalizer.apply(text), Cow::Borrowed(_)),
            "{text:?}"
        );
    }
    // A trimmed borrowed input is still a slice of the original.
    let seed = pipeline("[trim, lowercase, collapse_whitespace]");
    assert!(matches!(
        seed.apply("  hello world  "),
        Cow::Borrowed("hello world")
    ));
}

#[test]
fn collects_every_step_error() {
    let steps: Vec<StepSpec> = crate::yaml::from_str(
        r"
        - trim
        - regex_replace: { pattern: '(unclosed' }
        - strip: []
        - regex_replace: { pattern: '(\d+)', replacement: '$1st' }
        - regex_replace: { pattern: a, size_limit: 99999999999 }
        ",
    )
    .unwrap();
    let errors = Normalizer::compile(&steps).unwrap_err();
    let indexes: Vec<usize> = errors.iter().map(|error| error.index).collect();
    assert_eq!(indexes, [1, 2, 3, 4]);
    for error in &errors {
        assert!(!error.message.contains('\n'), "{error}");
        assert!(!error.message.ends_with('.'), "{error}");
        assert!(
            error.hint.as_ref().is_some_and(|hint| !hint.is_empty()),
            "{error}"
        );
    }
    assert_eq!(
        errors[0].to_string(),
        "step [1]: invalid regex `(unclosed`: unclosed group at column 1"
    );
}

#[test]
fn normalizer_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Normalizer>();
}

#[test]
fn lowercase_keeps_white_space_apart() {
    // What makes running collapse_whitespace before lowercase give the same result.
    for c in (0..=char::MAX as u32).filter_map(char::from_u32) {
        let lowered: Vec<char> = c.to_lowercase().collect();
        if c.is_whitespace() {
            assert_eq!(lowered, [c], "U+{:04X}", u32::from(c));
        } else {
            assert!(
                !lowered.iter().any(|l| l.is_whitespace()),
                "U+{:04X} lowers to white space",
                u32::from(c)
            );
        }
    }
}

#[test]
fn lowercase_then_collapse_agrees_with_the_steps_one_by_one() {
    let fused = Normalizer::compile(&[StepSpec::Lowercase, StepSpec::CollapseWhitespace]).unwrap();
    let lower = Normalizer::compile(&[StepSpec::Lowercase]).unwrap();
    let collapse = Normalizer::compile(&[StepSpec::CollapseWhitespace]).unwrap();
    for text in [
        "",
        "plain",
        "Hello   WORLD",
        "  İstanbul \u{3000}\u{A0} DİYARBAKIR\t\n",
        "ΟΔΥΣΣΕΥΣ  ΟΔΥΣΣΕΥΣ",
        "\u{2003}Ａ  Ｂ\u{85}",
    ] {
        let one_by_one = collapse.apply(&lower.apply(text)).into_owned();
        assert_eq!(fused.apply(text), one_by_one, "{text:?}");
    }
}
