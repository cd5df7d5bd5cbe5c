//! Every input a fuzz target once failed on, kept under `fuzz/regressions/<target>/` and run
//! through the target's own code (`fuzz/src/lib.rs`, included here) on stable Rust, so a crash
//! found once stays fixed. A failing file is named in the failure.

#[path = "../../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};

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
