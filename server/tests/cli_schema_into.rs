//! `cxrules schema --into DIR` on a copy of the rules, as a ConfigMap's repository holds them:
//! the schema lands beside the files, their modelines point at it, the rules still load, and a
//! second run changes nothing.

mod cli_support;

use cli_support::{arg, cxrules, workspace};

const MODELINE: &str = "# yaml-language-server: $schema=cxrules.schema.json";

#[test]
fn a_copied_rules_directory_gets_the_schema_beside_it_and_modelines_pointing_there() {
    let copy = tempfile::tempdir().unwrap();
    let rules = workspace().join("rules");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&rules).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        std::fs::copy(&path, copy.path().join(&name)).unwrap();
        names.push(name);
    }
    // A file without a modeline gets one.
    std::fs::write(copy.path().join("extra.yaml"), "version: 1\n").unwrap();

    let run = cxrules(&["schema", "--into", arg(copy.path())]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let schema = cxrules(&["schema"]).stdout;
    assert_eq!(
        std::fs::read_to_string(copy.path().join("cxrules.schema.json")).unwrap(),
        schema
    );
    for name in &names {
        let original = std::fs::read_to_string(rules.join(name)).unwrap();
        let pointed = std::fs::read_to_string(copy.path().join(name)).unwrap();
        assert_eq!(pointed.lines().next(), Some(MODELINE), "{name:?}");
        // Only the modeline changed.
        assert_eq!(
            pointed.lines().skip(1).collect::<Vec<_>>(),
            original.lines().skip(1).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        std::fs::read_to_string(copy.path().join("extra.yaml")).unwrap(),
        format!("{MODELINE}\nversion: 1\n")
    );
    let check = cxrules(&["check", arg(copy.path())]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);

    let again = cxrules(&["schema", "--into", arg(copy.path())]);
    assert_eq!(again.code, 0);
    assert!(again.stdout.contains(", 0 changed"), "{}", again.stdout);
}

#[test]
fn into_a_path_that_is_not_a_directory_is_a_usage_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let run = cxrules(&["schema", "--into", arg(file.path())]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("is not a directory"), "{}", run.stderr);
}
