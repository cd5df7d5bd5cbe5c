//! `cxrules test` through the real binary: pass/fail per case, expected against actual, the
//! summary line, JUnit XML, and the exit codes.

mod cli_support;

use cli_support::{arg, cxrules, dir_with, ROUTING};

/// Cases over [`ROUTING`]: the first two pass, the third expects the wrong target.
const CASES: &str = r#"
version: 1
tests:
  - name: in stock goes to the premium skill
    inventory: { SKU-001: in_stock }
    steps:
      - event: { event_type: routing.interaction.created, data: { interactionId: int-001 } }
        expect: { matched: status, skills: [skill-premium], queues: [] }
  - name: a timeout falls back to the general queue
    inventory: { SKU-002: timeout }
    steps:
      - event: { event_type: routing.interaction.created, data: { interactionId: int-002 } }
        expect: { matched: fallback, reason: timeout, queues: [queue-general] }
  - name: out of stock <wrongly> expected at the premium skill
    inventory: { SKU-003: out_of_stock }
    steps:
      - event: { event_type: routing.interaction.created, data: { interactionId: int-003 } }
        expect: { outcome: processed }
      - event: { event_type: routing.interaction.created, data: { interactionId: int-003 } }
        expect: { status: out_of_stock, skills: [skill-premium] }
"#;

#[test]
fn passing_and_failing_cases_with_a_diff_and_a_summary() {
    let dir = dir_with(&[("routing.yaml", ROUTING), ("tests.yaml", CASES)]);
    let run = cxrules(&["test", arg(dir.path())]);
    assert_eq!(run.code, 1, "{run:?}");
    let out = &run.stdout;
    assert!(
        out.contains("ok    in stock goes to the premium skill\n"),
        "{out}"
    );
    assert!(
        out.contains("ok    a timeout falls back to the general queue\n"),
        "{out}"
    );
    let site = dir.path().join("tests.yaml");
    let diff = format!(
        "FAIL  out of stock <wrongly> expected at the premium skill\n\
                \x20       at {}:14\n\
                \x20       step 2 (- expected, + actual)\n\
                \x20         - skills: [skill-premium]\n\
                \x20         + skills: []\n",
        site.display()
    );
    assert!(out.contains(&diff), "{out}");
    assert!(
        !out.contains("step 1"),
        "step 1 matched, so it is not shown: {out}"
    );
    assert!(
        out.contains("test result: FAILED. 2 passed; 1 failed; 3 cases in "),
        "{out}"
    );
}

#[test]
fn all_passing_exits_zero() {
    let passing = CASES.split("  - name: out of stock").next().unwrap();
    let dir = dir_with(&[("routing.yaml", ROUTING), ("tests.yaml", passing)]);
    let run = cxrules(&["test", arg(dir.path())]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("test result: ok. 2 passed; 0 failed; 2 cases in "),
        "{}",
        run.stdout
    );
}

#[test]
fn junit_xml_counts_cases_and_escapes_names() {
    let dir = dir_with(&[("routing.yaml", ROUTING), ("tests.yaml", CASES)]);
    let report = dir.path().join("junit.xml");
    let run = cxrules(&["test", arg(dir.path()), "--junit", arg(&report)]);
    assert_eq!(run.code, 1, "{run:?}");
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cxrules\" tests=\"3\" failures=\"1\""), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(
        xml.contains("name=\"out of stock &lt;wrongly&gt; expected at the premium skill\""),
        "{xml}"
    );
    assert!(xml.contains("- skills: [skill-premium]&#10;"), "{xml}");
}

#[test]
fn an_unwritable_junit_path_is_an_io_error() {
    let dir = dir_with(&[("routing.yaml", ROUTING), ("tests.yaml", CASES)]);
    let report = dir.path().join("no/such/dir/junit.xml");
    let run = cxrules(&["test", arg(dir.path()), "--junit", arg(&report)]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("error: cannot write the junit report"),
        "{}",
        run.stderr
    );
}

#[test]
fn invalid_rules_run_no_case() {
    let dir = dir_with(&[(
        "routing.yaml",
        &ROUTING.replace("open_for: 30s", "open_for: 30"),
    )]);
    let run = cxrules(&["test", arg(dir.path())]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("open_for"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("no test case ran: the rules must load first"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = cxrules(&["test", arg(&dir.path().join("gone"))]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout.contains("cannot read the rules directory"),
        "{}",
        run.stdout
    );
}

#[test]
fn rules_without_cases_say_so() {
    let dir = dir_with(&[("routing.yaml", ROUTING)]);
    let run = cxrules(&["test", arg(dir.path())]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("has no test cases"), "{}", run.stdout);
}

#[test]
fn a_rejected_event_shows_the_error_against_the_expectation() {
    let cases = r#"
version: 1
tests:
  - name: a missing interaction id is not what this case expects
    steps:
      - event: { event_type: routing.interaction.created, data: {} }
        expect: { outcome: processed }
"#;
    let dir = dir_with(&[("routing.yaml", ROUTING), ("tests.yaml", cases)]);
    let run = cxrules(&["test", arg(dir.path())]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("- outcome: processed\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("+ error: missing field `interaction_id`"),
        "{}",
        run.stdout
    );
}
