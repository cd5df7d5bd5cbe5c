//! The operator tools called as a library (`cxrules_server::tools`), as the `cxrules` binary and
//! any embedding host call them: writers in, statuses out.

mod cli_support;

use std::process::ExitCode;

use cli_support::{dir_with, workspace, ROUTING};
use cxrules_server::tools::check::{self, CheckArgs, Format};
use cxrules_server::tools::replay::{self, ReplayArgs, ReplayFormat};
use cxrules_server::tools::schema::SchemaArgs;
use cxrules_server::tools::test::{self, TestArgs};
use cxrules_server::tools::{run, run_status, Status, ToolCommand};

#[tokio::test]
async fn run_gives_the_exit_code_of_the_status() {
    let stale = tempfile::NamedTempFile::new().unwrap();
    let args = SchemaArgs {
        check: true,
        path: stale.path().into(),
        into: None,
    };
    assert_eq!(
        run_status(ToolCommand::Schema(args.clone())).await,
        Status::Failed
    );
    assert_eq!(
        run(ToolCommand::Schema(args)).await.unwrap(),
        ExitCode::from(1)
    );
    let kept = SchemaArgs {
        check: true,
        path: workspace().join("schemas/cxrules.schema.json"),
        into: None,
    };
    assert_eq!(
        run(ToolCommand::Schema(kept)).await.unwrap(),
        ExitCode::SUCCESS
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_read_is_status_3() {
    let missing = ReplayArgs::new("/nonexistent/events.jsonl", workspace().join("rules"));
    assert_eq!(
        run_status(ToolCommand::Replay(Box::new(missing))).await,
        Status::CannotRun
    );
}

#[test]
fn check_writes_its_report_to_the_given_writer() {
    let dir = dir_with(&[("routing.yaml", ROUTING)]);
    let args = CheckArgs {
        dir: dir.path().into(),
        format: Format::Json,
        cxone_profile: cxrules_server::cxone::ProfileName::Seed,
    };
    let mut out = Vec::new();
    assert_eq!(check::execute(&args, &mut out).unwrap(), Status::Ok);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["status"], "valid");
}

#[test]
fn check_under_dfo_wants_a_skill_id_on_every_target_of_a_contact_route() {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");
    for (profile, status) in [
        (cxrules_server::cxone::ProfileName::Seed, Status::Ok),
        (cxrules_server::cxone::ProfileName::Dfo, Status::Ok),
    ] {
        let args = CheckArgs {
            dir: rules.into(),
            format: Format::Json,
            cxone_profile: profile,
        };
        let mut out = Vec::new();
        assert_eq!(
            check::execute(&args, &mut out).unwrap(),
            status,
            "the shipped rules"
        );
    }
    let text = std::fs::read_to_string(format!("{rules}/dfo.yaml"))
        .unwrap()
        .replace(
            "skill_id: \"${DFO_GENERAL_SKILL_ID:-4100}\"\n      queues",
            "queues",
        );
    let dir = dir_with(&[
        ("dfo.yaml", &text),
        (
            "dedup.yaml",
            &std::fs::read_to_string(format!("{rules}/dedup.yaml")).unwrap(),
        ),
    ]);
    let args = CheckArgs {
        dir: dir.path().into(),
        format: Format::Json,
        cxone_profile: cxrules_server::cxone::ProfileName::Dfo,
    };
    let mut out = Vec::new();
    assert_eq!(check::execute(&args, &mut out).unwrap(), Status::Failed);
    let report = String::from_utf8(out).unwrap();
    assert!(report.contains("has no `skill_id`"), "{report}");
}

#[test]
fn test_and_replay_run_outside_any_runtime() {
    let rules = workspace().join("rules");
    let args = TestArgs {
        dir: rules.clone(),
        junit: None,
        format: Format::Human,
    };
    let mut out = Vec::new();
    let status = test::execute(&args, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    // The shipped cases pin the original services' behaviour: every one of them must pass.
    assert_eq!(status, Status::Ok, "{text}");
    let shipped = std::fs::read_to_string(rules.join("tests.yaml")).unwrap();
    let cases = shipped.matches("\n  - name: ").count();
    assert!(cases > 0, "no case found in rules/tests.yaml");
    let summary = format!("test result: ok. {cases} passed; 0 failed; {cases} cases");
    assert!(text.contains(&summary), "expected `{summary}` in:\n{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok ")).count(),
        cases,
        "{text}"
    );

    let files = dir_with(&[(
        "events.jsonl",
        "{\"type\": \"conversations.messages.messageCreated\", \"data\": {\"message\": \
         {\"interactionId\": \"i\", \"senderId\": \"s\", \"content\": \"hi\", \"sequenceNumber\": 1}}}\n",
    )]);
    let mut args = ReplayArgs::new(files.path().join("events.jsonl"), rules);
    args.format = ReplayFormat::Jsonl;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(
        replay::execute(&args, &mut out, &mut err).unwrap(),
        Status::Ok
    );
    let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (line["line"].as_u64(), line["outcome"].as_str()),
        (Some(1), Some("processed"))
    );
    assert!(String::from_utf8(err)
        .unwrap()
        .starts_with("replayed 1 events in "));
}
