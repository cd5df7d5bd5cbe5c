//! `cxrules check` through the real binary: snapshots of the diagnostics for broken rule sets,
//! the JSON report, and the exit codes (0 valid, 1 invalid, 2 unreadable).

mod cli_support;

use cli_support::{arg, cxrules, cxrules_in, dir_with, workspace};
use serde_json::Value;

/// Checks one of the engine's broken fixtures by its path relative to the workspace root.
fn check_fixture(case: &str) -> String {
    let path = format!("engine/tests/fixtures/broken/{case}");
    let run = cxrules(&["check", &path]);
    assert_eq!(run.code, 1, "{case}: {run:?}");
    assert!(run.stderr.is_empty(), "{case}: {}", run.stderr);
    run.stdout
}

macro_rules! snapshot {
    ($($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            insta::assert_snapshot!(stringify!($case), check_fixture(stringify!($case)));
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
);

#[test]
fn every_problem_is_printed_then_one_summary_line() {
    let out = check_fixture("three_mistakes");
    assert_eq!(out.matches("error: ").count(), 4, "{out}");
    assert!(
        out.ends_with("error: 3 errors in engine/tests/fixtures/broken/three_mistakes/\n"),
        "{out}"
    );
    assert_eq!(out.matches("= hint: ").count(), 3, "{out}");
}

#[test]
fn the_default_rules_are_valid() {
    let rules = cxrules_engine::compile::load_dir(&workspace().join("rules")).unwrap();
    let run = cxrules(&["check"]);
    assert_eq!(run.code, 0, "{run:?}");
    let want = format!(
        "ok: rules/ is valid (version {}, {} files, {} test cases)\n",
        rules.version(),
        rules.files().len(),
        rules.tests().len()
    );
    assert_eq!(run.stdout, want);
}

#[test]
fn json_reports_located_diagnostics() {
    let run = cxrules(&[
        "check",
        "engine/tests/fixtures/broken/three_mistakes",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["status"], "invalid");
    let diags = report["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 3);
    for d in diags {
        assert!(
            d["file"]
                .as_str()
                .unwrap()
                .ends_with("three_mistakes/rules.yaml"),
            "{d}"
        );
        assert!(
            d["line"].as_u64().is_some() && d["column"].as_u64().is_some(),
            "{d}"
        );
        assert!(d["hint"].is_string(), "{d}");
    }
}

#[test]
fn json_reports_a_valid_directory() {
    let dir = dir_with(&[("routing.yaml", cli_support::ROUTING)]);
    let run = cxrules(&["check", arg(dir.path()), "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["status"], "valid");
    assert_eq!(report["files"].as_array().unwrap().len(), 1);
    assert_eq!(report["test_cases"], 0);
    assert_eq!(report["diagnostics"], Value::Array(vec![]));
}

#[test]
fn a_missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = cxrules_in(dir.path(), &["check", "no-such-rules"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout.contains("cannot read the rules directory"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("= hint: pass the directory"),
        "{}",
        run.stdout
    );
    let json = cxrules_in(dir.path(), &["check", "no-such-rules", "--format", "json"]);
    assert_eq!(json.code, 3);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["status"], "unreadable");
}

#[test]
fn an_empty_directory_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let run = cxrules(&["check", arg(dir.path())]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("no rule files"), "{}", run.stdout);
}

#[test]
fn an_unreadable_file_is_an_io_error_and_the_others_are_still_checked() {
    let dir = dir_with(&[(
        "a.yaml",
        "version: 1\nevents:\n  e: { type: t, colour: red }\n",
    )]);
    // Bytes that are not UTF-8 cannot be read as text, whoever runs the test.
    std::fs::write(dir.path().join("b.yaml"), [0xff, 0xfe, b'\n']).unwrap();
    let run = cxrules(&["check", arg(dir.path())]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout.contains("cannot read the rule file"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("colour"),
        "the readable file is checked too: {}",
        run.stdout
    );
    assert!(run.stdout.contains("error: 2 errors in"), "{}", run.stdout);
}

#[test]
fn a_file_without_read_permission_is_an_io_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = dir_with(&[("rules.yaml", cli_support::ROUTING)]);
    let file = dir.path().join("rules.yaml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&file).is_ok() {
        // A privileged user reads it anyway; the UTF-8 case above covers the exit code.
        return;
    }
    let run = cxrules(&["check", arg(dir.path())]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("Permission denied"), "{}", run.stdout);
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    let run = cxrules(&["check", "--format", "xml"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("invalid value 'xml'"), "{}", run.stderr);
}
