//! `cxrules schema` through the real binary, and the editor setup that uses the schema: VS Code's
//! YAML extension (yaml-language-server) mapping `rules/**/*.yaml` to the committed copy.

mod cli_support;

use cli_support::{arg, cxrules, cxrules_in, workspace};
use serde_json::Value;

const KEPT: &str = "schemas/cxrules.schema.json";

#[test]
fn prints_the_draft_07_schema() {
    let run = cxrules(&["schema"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, cxrules_engine::schema::schema_json());
    let schema: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
}

#[test]
fn check_passes_on_the_committed_copy() {
    let run = cxrules(&["schema", "--check"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, format!("ok: {KEPT} is up to date\n"));
}

#[test]
fn check_fails_on_a_stale_copy() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("cxrules.schema.json");
    let text = cxrules_engine::schema::schema_json().replace("\"version\"", "\"versoin\"");
    std::fs::write(&stale, text).unwrap();
    let run = cxrules(&["schema", "--check", "--path", arg(&stale)]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("is stale"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("= hint: regenerate it with `cxrules schema >"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_without_the_copy_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = cxrules_in(dir.path(), &["schema", "--check"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("error: {KEPT} does not exist")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("= hint: run from the repository root"),
        "{}",
        run.stderr
    );
}

fn read_json(relative: &str) -> Value {
    let text = std::fs::read_to_string(workspace().join(relative)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The one glob form the settings use: `dir/*.ext` or `dir/**/*.ext`.
fn matches(pattern: &str, path: &str) -> bool {
    let (dir, ext) = match pattern.split_once("/**/*") {
        Some((dir, ext)) => (dir, ext),
        None => match pattern.split_once("/*") {
            Some((dir, ext)) if !path[dir.len() + 1..].contains('/') => (dir, ext),
            _ => return false,
        },
    };
    path.starts_with(&format!("{dir}/")) && path.ends_with(ext)
}

#[test]
fn vscode_maps_every_rule_file_to_the_committed_schema() {
    let settings = read_json(".vscode/settings.json");
    let schemas = settings["yaml.schemas"]
        .as_object()
        .expect("a yaml.schemas map");
    let globs = schemas[&format!("./{KEPT}")]
        .as_array()
        .expect("globs for the schema");
    assert!(workspace().join(KEPT).is_file());
    let globs: Vec<&str> = globs.iter().map(|g| g.as_str().unwrap()).collect();
    let rules = std::fs::read_dir(workspace().join("rules")).unwrap();
    for entry in rules {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            let path = format!("rules/{name}");
            assert!(
                globs.iter().any(|g| matches(g, &path)),
                "{path} is not mapped by {globs:?}"
            );
        }
    }
    assert!(globs.iter().any(|g| matches(g, "rules/team-a/extra.yml")));
}

#[test]
fn vscode_recommends_the_yaml_extension() {
    let extensions = read_json(".vscode/extensions.json");
    let recommended = extensions["recommendations"].as_array().unwrap();
    assert!(
        recommended.iter().any(|e| e == "redhat.vscode-yaml"),
        "{recommended:?}"
    );
}
