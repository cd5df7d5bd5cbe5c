//! The text of compile errors, snapshot-tested so a worse message shows up in review.

use std::path::Path;

fn diagnostics_for(case: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/broken")
        .join(case);
    let err =
        cxrules_engine::compile::load_dir(&dir).expect_err("the fixture is broken on purpose");
    err.to_string().replace(&format!("{}/", dir.display()), "")
}

macro_rules! snapshot {
    ($($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            insta::assert_snapshot!(stringify!($case), diagnostics_for(stringify!($case)));
        }
    )*};
}

snapshot!(
    unknown_key,
    bad_duration,
    bad_regex,
    unknown_normalizer,
    duplicate_name,
    unset_var,
    wrong_type,
    yaml_syntax,
    empty_file,
    three_mistakes,
    limit_out_of_range,
    extra_field_of_another_event,
    sibling_mistakes,
    typo_in_expect,
    bad_selection,
    bad_condition,
    type_claimed_twice,
    bad_condition_values,
);

#[test]
fn sibling_mistakes_are_all_reported_and_no_broken_entry_is_called_unknown() {
    let text = diagnostics_for("sibling_mistakes");
    for expected in [
        "unknown variant `slidng`",
        "unknown normalizer `chat_txt`",
        "unknown field `inventroy`",
        "invalid type: integer `30`",
        "at `routing.inventory.inventroy.breaker.open_for`",
        "unknown variant `lowercas`",
        "duration `2 m` has an unknown unit",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(!text.contains("unknown route"), "{text}");
    assert!(!text.contains("unknown normalizer `sms_text`"), "{text}");
    assert!(!text.contains("missing field"), "{text}");
}

#[test]
fn a_missing_directory_is_one_clear_error() {
    let err = cxrules_engine::compile::load_dir(Path::new("/nonexistent/rules")).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert!(
        err.to_string().contains("cannot read the rules directory"),
        "{err}"
    );
}

#[test]
fn every_mistake_of_a_file_is_reported() {
    let text = diagnostics_for("three_mistakes");
    assert!(text.contains("3 errors in the rules"), "{text}");
    assert!(text.contains("did you mean `lowercase`?"), "{text}");
    assert!(
        text.contains("did you mean `inventory`?") || text.contains("unknown route `inventroy`"),
        "{text}"
    );
    assert!(text.contains("did you mean `content`?"), "{text}");
}

#[test]
fn a_host_that_routes_by_skill_number_refuses_targets_without_one() {
    use cxrules_engine::compile::{compile_sources, compile_sources_for, Requirements};
    let text = r#"
version: 1
events:
  case_created:
    type: CaseCreated
    fields: { contact_id: /data/case/id, extra: { sku: "/data/case/customFields[ident=sku]/value" } }
    route: r
  seed_created:
    type: routing.interaction.created
    route: seed
routing:
  r:
    sku: { field: sku }
    inventory: { url: "http://127.0.0.1:1/{sku}", timeout: 100ms }
    statuses:
      in_stock: { skill_id: 4101 }
      low_stock: { skills: [expedited] }
    unknown: { skill_id: "${UNSET_SKILL_FOR_TEST:-4100}" }
    fallback: { queues: [general] }
  seed:
    sku: { template: "SKU-{interaction_id}" }
    statuses: {}
    inventory: { url: "http://127.0.0.1:1/{sku}", timeout: 100ms }
    unknown: { queues: [general] }
    fallback: { queues: [general] }
"#;
    let sources = || vec![(std::path::PathBuf::from("r.yaml"), text.to_string())];
    compile_sources(sources(), Vec::new()).expect("the rule language itself accepts it");
    let err = compile_sources_for(sources(), Vec::new(), Requirements { skill_ids: true })
        .expect_err("two targets of `r` have no skill id");
    insta::assert_snapshot!(err.to_string());
}
