//! Every input a fuzz target once failed on, kept under `fuzz/regressions/<target>/` and run
//! through the target's own code (`fuzz/src/lib.rs`, included here) on stable Rust, so a crash
//! found once stays fixed. A failing file is named in the failure. A few generated inputs go
//! through the targets too, so their checks are known to hold for what is not a crash.

mod hostile;
#[path = "../../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};

use proptest::prelude::*;

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions")
}

/// The files of one target's directory, in name order.
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = regressions().join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `target`, each on its own, and names those that fail.
fn replay(target: &str) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "fuzz/regressions/{target}/ holds no input"
    );
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).expect("a readable regression input");
            std::panic::catch_unwind(|| targets::run_target(target, &data)).is_err()
        })
        .map(|file| file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} fuzz/regressions/{target}/ inputs fail (each one's panic is printed above): {failed:#?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn evaluate_body_regressions() {
    replay("evaluate_body");
}

#[test]
fn compile_rules_regressions() {
    replay("compile_rules");
}

#[test]
fn every_regressions_directory_is_a_target() {
    let mut dirs: Vec<String> = std::fs::read_dir(regressions())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut targets: Vec<String> = targets::TARGETS.iter().map(|t| t.to_string()).collect();
    targets.sort();
    assert_eq!(
        dirs, targets,
        "fuzz/regressions/ has one directory per target"
    );
}

proptest! {
    #![proptest_config(hostile::cases(64))]

    #[test]
    fn the_evaluate_body_target_holds_for_generated_bodies(
        body in prop_oneof![4 => hostile::event(), 1 => hostile::value()]
    ) {
        targets::evaluate_body(body.as_bytes());
    }

    #[test]
    fn the_compile_rules_target_holds_for_mangled_rules(
        which in 0usize..3,
        cut in 0usize..8000,
        len in 0usize..40,
        insert in "[ :\\-\\[\\]{}#\\n\"a-z0-9€]{0,6}",
    ) {
        let base = [
            include_str!("../../rules/dedup.yaml"),
            include_str!("../../rules/routing.yaml"),
            include_str!("../../rules/tests.yaml"),
        ][which];
        let mut text: Vec<char> = base.chars().collect();
        let at = cut.min(text.len());
        let end = (at + len).min(text.len());
        text.splice(at..end, insert.chars());
        targets::compile_rules(text.into_iter().collect::<String>().as_bytes());
    }
}
