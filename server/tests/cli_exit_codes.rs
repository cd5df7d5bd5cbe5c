//! Every command's exit codes through the real binary, one meaning per code (README's CLI
//! table): 0 ok, 1 the thing checked failed, 2 usage, 3 the command could not do its job (the
//! rules do not load, a file or a service cannot be reached), with the cause printed.

mod cli_support;

use cli_support::{arg, command, cxrules, cxrules_in, dir_with, finish, ROUTING};

const BROKEN: &str = "version: 1\ndedup: { default: { window: soon } }\n";
const PASSING: &str = "version: 1\nevents:\n  e: { type: t }\ntests:\n  - name: t is processed\n    steps:\n      - event: { type: t, data: { interactionId: i } }\n        expect: { outcome: processed }\n";
const FAILING: &str = "version: 1\nevents:\n  e: { type: t }\ntests:\n  - name: t is suppressed\n    steps:\n      - event: { type: t, data: { interactionId: i } }\n        expect: { outcome: suppressed }\n";

#[test]
fn check() {
    let broken = dir_with(&[("rules.yaml", BROKEN)]);
    assert_eq!(cxrules(&["check", "rules"]).code, 0);
    assert_eq!(cxrules(&["check", arg(broken.path())]).code, 1);
    assert_eq!(cxrules(&["check", "--format", "xml"]).code, 2);
    let missing = cxrules(&["check", "/nonexistent/rules"]);
    assert_eq!(missing.code, 3, "{missing:?}");
    assert!(missing.stdout.contains("No such file"), "{missing:?}");
}

#[test]
fn test() {
    let passing = dir_with(&[("rules.yaml", PASSING)]);
    let failing = dir_with(&[("rules.yaml", FAILING)]);
    let broken = dir_with(&[("rules.yaml", BROKEN)]);
    assert_eq!(cxrules(&["test", arg(passing.path())]).code, 0);
    assert_eq!(cxrules(&["test", arg(failing.path())]).code, 1);
    assert_eq!(cxrules(&["test", "--bogus"]).code, 2);
    let run = cxrules(&["test", arg(broken.path())]);
    assert_eq!(
        run.code, 3,
        "rules that do not load are not a failing case: {run:?}"
    );
    assert!(run.stdout.contains("duration `soon`"), "{run:?}");
}

#[test]
fn test_format_json() {
    let failing = dir_with(&[("rules.yaml", FAILING)]);
    let run = cxrules(&["test", arg(failing.path()), "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(report["status"], "failed");
    assert_eq!(report["passed"], 0);
    assert_eq!(report["failed"], 1);
    let case = &report["cases"][0];
    assert_eq!(case["name"], "t is suppressed");
    assert!(
        case["site"].as_str().unwrap().ends_with("rules.yaml:5"),
        "{case}"
    );
    assert_eq!(case["failures"][1], "  - outcome: suppressed");

    let broken = dir_with(&[("rules.yaml", BROKEN)]);
    let run = cxrules(&["test", arg(broken.path()), "--format", "json"]);
    assert_eq!(run.code, 3, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(report["status"], "invalid");
    assert!(report["diagnostics"][0]["message"]
        .as_str()
        .unwrap()
        .contains("soon"));
}

#[test]
fn replay() {
    let rules = dir_with(&[
        ("routing.yaml", ROUTING),
        ("events.jsonl", "{\"event_type\": \"x\"}\n"),
    ]);
    let broken = dir_with(&[("rules.yaml", BROKEN)]);
    let events = rules.path().join("events.jsonl");
    let ok = cxrules(&["replay", arg(&events), "--rules", arg(rules.path())]);
    assert_eq!(ok.code, 0, "{ok:?}");
    let usage = cxrules(&["replay", arg(&events), "--format", "yaml"]);
    assert_eq!(usage.code, 2, "{usage:?}");
    let against = cxrules(&[
        "replay",
        arg(&events),
        "--rules",
        arg(rules.path()),
        "--against",
        arg(broken.path()),
    ]);
    assert_eq!(against.code, 3, "{against:?}");
    assert!(against.stderr.contains("do not load"), "{against:?}");
    let missing = cxrules(&[
        "replay",
        "/nonexistent/events.jsonl",
        "--rules",
        arg(rules.path()),
    ]);
    assert_eq!(missing.code, 3, "{missing:?}");
    assert!(missing.stderr.contains("No such file"), "{missing:?}");
}

#[test]
fn schema() {
    assert_eq!(cxrules(&["schema", "--check"]).code, 0);
    let stale = dir_with(&[("schema.json", "{}\n")]);
    let path = stale.path().join("schema.json");
    assert_eq!(
        cxrules(&["schema", "--check", "--path", arg(&path)]).code,
        1
    );
    assert_eq!(cxrules(&["schema", "--chek"]).code, 2);
    let elsewhere = tempfile::tempdir().unwrap();
    let run = cxrules_in(elsewhere.path(), &["schema", "--check"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("does not exist"), "{run:?}");
    assert!(run.stderr.contains("= hint: "), "{run:?}");
}

#[test]
fn register_webhook() {
    let rules = dir_with(&[("routing.yaml", ROUTING)]);
    let url = "https://rules.example.com/webhook/cxone/events";
    let base = [
        "register-webhook",
        "--url",
        url,
        "--rules",
        arg(rules.path()),
    ];
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let mut cmd = command(rules.path(), &args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        finish(cmd)
    };
    assert_eq!(run(&["--dry-run"], &[]).code, 0);
    let no_credentials = run(&[], &[]);
    assert_eq!(no_credentials.code, 2, "{no_credentials:?}");
    // Nothing listens on a port just freed: the token endpoint cannot be reached.
    let closed = format!("http://127.0.0.1:{}", cli_support::free_port());
    let env = [
        ("CXONE_BASE_URL", closed.as_str()),
        ("CXONE_CLIENT_ID", "id"),
        ("CXONE_CLIENT_SECRET", "secret"),
        ("CXONE_TIMEOUT", "2s"),
    ];
    let unreachable = run(&[], &env);
    assert_eq!(unreachable.code, 3, "{unreachable:?}");
    assert!(
        unreachable.stderr.contains("onnect"),
        "the cause: {unreachable:?}"
    );
    assert!(unreachable.stderr.contains("= hint: "), "{unreachable:?}");
}
