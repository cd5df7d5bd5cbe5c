//! The committed JSON Schema matches the rule types, and every rule file conforms to it.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn schema_path() -> PathBuf {
    repo().join("schemas/cxrules.schema.json")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(schema_path()).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft7::new(&schema).expect("the committed schema is a valid draft-07 schema")
}

fn as_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    cxrules_engine::yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
}

/// Regenerate with `UPDATE_SCHEMA=1 cargo test -p cxrules-engine --test schema`
/// (or `cxrules schema > schemas/cxrules.schema.json`).
#[test]
fn committed_schema_is_current() {
    let generated = cxrules_engine::schema::schema_json();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(schema_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(schema_path()).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/cxrules.schema.json is stale; regenerate it with `UPDATE_SCHEMA=1 cargo test -p cxrules-engine --test schema`"
    );
}

#[test]
fn schema_is_draft_07() {
    let schema: serde_json::Value =
        serde_json::from_str(&cxrules_engine::schema::schema_json()).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
}

#[test]
fn default_rules_conform_to_the_schema() {
    let v = validator();
    let files = yaml_files(&repo().join("rules"));
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        let errors: Vec<String> = v
            .iter_errors(&as_json(&f))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
    }
}

#[test]
fn valid_fixtures_conform_and_invalid_ones_do_not() {
    let v = validator();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for f in yaml_files(&dir.join("valid")) {
        assert!(v.is_valid(&as_json(&f)), "{} should conform", f.display());
    }
    let invalid = yaml_files(&dir.join("invalid"));
    assert!(!invalid.is_empty());
    for f in invalid {
        assert!(
            !v.is_valid(&as_json(&f)),
            "{} should not conform",
            f.display()
        );
    }
}

#[test]
fn every_rule_file_starts_with_the_schema_modeline() {
    for f in yaml_files(&repo().join("rules")) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/cxrules.schema.json"),
            "{} lacks the modeline",
            f.display()
        );
    }
}

/// The schema's `Duration` definition on its own, to check strings against.
fn duration_validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(&cxrules_engine::schema::schema_json()).unwrap();
    let mut duration = schema["definitions"]["Duration"].clone();
    duration["$schema"] = schema["$schema"].clone();
    jsonschema::draft7::new(&duration).unwrap()
}

#[test]
fn the_schema_and_the_parser_accept_the_same_durations() {
    use cxrules_engine::duration::DurationStr;
    let v = duration_validator();
    let accepted = ["0s", "45s", "2m", "1h", "1500ms", "600s"];
    let refused = [
        "45", "", "45 sec", "2weeks", "1m 30s", "1m30s", " 45s", "45S", "1.5s", "-1s", "45us",
        "1d", "45sec", "2 m",
    ];
    for text in accepted {
        assert!(
            DurationStr::from(text).parse().is_ok(),
            "parser refuses `{text}`"
        );
        assert!(v.is_valid(&text.into()), "schema refuses `{text}`");
    }
    for text in refused {
        assert!(
            DurationStr::from(text).parse().is_err(),
            "parser accepts `{text}`"
        );
        assert!(!v.is_valid(&text.into()), "schema accepts `{text}`");
    }
}

#[test]
fn a_pattern_checked_field_has_an_editor_message_in_words() {
    let schema: serde_json::Value =
        serde_json::from_str(&cxrules_engine::schema::schema_json()).unwrap();
    let message = schema["definitions"]["Duration"]["patternErrorMessage"]
        .as_str()
        .expect("yaml-language-server shows `patternErrorMessage` instead of the regex");
    assert!(message.contains("45s"), "{message}");
}

#[test]
fn a_bad_unit_names_only_the_units_the_schema_takes() {
    use cxrules_engine::duration::DurationStr;
    let err = DurationStr::from("2weeks").parse().unwrap_err();
    for unit in ["days", "minutes", "hours", "sec", "µs"] {
        assert!(!err.contains(unit), "{err}");
    }
    assert!(
        DurationStr::HINT.contains("`ms`, `s`, `m` or `h`"),
        "{}",
        DurationStr::HINT
    );
}
