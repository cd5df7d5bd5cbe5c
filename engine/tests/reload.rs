//! Hot reload with real files in a temp dir: edits, rename-saves, ConfigMap symlink swaps,
//! broken edits and failing rule tests.

use std::path::Path;
use std::time::Duration;

use cxrules_engine::reload::WatchOptions;
use cxrules_engine::{Engine, Outcome, ReloadReport};
use serde_json::json;

fn rules(event_type: &str) -> String {
    format!(
        "version: 1\nevents:\n  message:\n    type: {event_type}\n    dedup: true\ndedup:\n  default: {{ window: 45s }}\n"
    )
}

fn event(event_type: &str) -> serde_json::Value {
    json!({"type": event_type, "data": {"message": {"interactionId": "i-1", "senderId": "s", "content": "hi"}}})
}

async fn outcome(engine: &Engine, event_type: &str) -> Outcome {
    engine
        .evaluate(&event(event_type))
        .await
        .unwrap()
        .commit()
        .outcome
}

/// Waits (bounded) until the engine's version differs from `old`.
async fn wait_for_new_version(engine: &Engine, old: &str) -> bool {
    for _ in 0..100 {
        if engine.rules().version() != old {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn wait_for_error(engine: &Engine) -> Option<String> {
    for _ in 0..100 {
        if let Some(e) = engine.reload_status().last_error {
            return Some(e);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn an_edit_goes_live() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules("a.created")).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let _watch = engine.watch(WatchOptions::default()).unwrap();
    assert_eq!(outcome(&engine, "b.created").await, Outcome::Ignored);
    let old = engine.rules().version().to_string();
    std::fs::write(dir.path().join("rules.yaml"), rules("b.created")).unwrap();
    assert!(
        wait_for_new_version(&engine, &old).await,
        "the edit was not picked up"
    );
    assert_eq!(outcome(&engine, "b.created").await, Outcome::Processed);
    let status = engine.reload_status();
    assert!(!status.stale);
    assert_eq!(status.history.last().unwrap().result, "loaded");
}

#[tokio::test]
async fn an_atomic_rename_save_goes_live() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules("a.created")).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let _watch = engine.watch(WatchOptions::default()).unwrap();
    let old = engine.rules().version().to_string();
    // What many editors do: write a hidden temp file, then rename it over the original.
    let tmp = dir.path().join(".rules.yaml.tmp");
    std::fs::write(&tmp, rules("b.created")).unwrap();
    std::fs::rename(&tmp, dir.path().join("rules.yaml")).unwrap();
    assert!(wait_for_new_version(&engine, &old).await);
    assert_eq!(outcome(&engine, "b.created").await, Outcome::Processed);
}

#[cfg(unix)]
fn configmap_version(dir: &Path, name: &str, text: &str) {
    let v = dir.join(name);
    std::fs::create_dir(&v).unwrap();
    std::fs::write(v.join("rules.yaml"), text).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_configmap_symlink_swap_goes_live() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The layout the kubelet keeps: rules.yaml -> ..data/rules.yaml, ..data -> ..<timestamp>.
    configmap_version(d, "..2026_11_23_10_00_00.1", &rules("a.created"));
    symlink("..2026_11_23_10_00_00.1", d.join("..data")).unwrap();
    symlink("..data/rules.yaml", d.join("rules.yaml")).unwrap();
    let engine = Engine::from_dir(d).unwrap();
    let _watch = engine.watch(WatchOptions::default()).unwrap();
    let old = engine.rules().version().to_string();
    configmap_version(d, "..2026_11_23_10_05_00.2", &rules("b.created"));
    symlink("..2026_11_23_10_05_00.2", d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    std::fs::remove_dir_all(d.join("..2026_11_23_10_00_00.1")).unwrap();
    assert!(
        wait_for_new_version(&engine, &old).await,
        "the swap was not picked up"
    );
    assert_eq!(outcome(&engine, "b.created").await, Outcome::Processed);
}

#[tokio::test]
async fn a_broken_edit_keeps_the_rules_in_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules("a.created")).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let _watch = engine.watch(WatchOptions::default()).unwrap();
    let old = engine.rules().version().to_string();
    std::fs::write(
        dir.path().join("rules.yaml"),
        "version: 1\ndedup:\n  default: { window: soon }\n",
    )
    .unwrap();
    let error = wait_for_error(&engine)
        .await
        .expect("the broken edit was reported");
    assert!(error.contains("rules.yaml:3"), "{error}");
    assert!(error.contains("duration `soon`"), "{error}");
    assert_eq!(engine.rules().version(), old);
    assert_eq!(outcome(&engine, "a.created").await, Outcome::Processed);
    let status = engine.reload_status();
    assert!(status.stale);
    assert_eq!(status.consecutive_failures, 1);
    assert_eq!(status.last_diagnostics[0].line, Some(3));
}

#[tokio::test]
async fn a_failing_rule_test_keeps_the_rules_in_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules("a.created")).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let old = engine.rules().version().to_string();
    let failing = "version: 1\ntests:\n  - name: a repeat is suppressed\n    steps:\n      - event: {type: a.created, data: {message: {interactionId: i, senderId: s, content: x}}}\n        expect: {outcome: suppressed}\n";
    std::fs::write(dir.path().join("tests.yaml"), failing).unwrap();
    let err = engine.reload().unwrap_err().to_string();
    assert!(err.contains("a repeat is suppressed"), "{err}");
    // The same rendering as `cxrules test`: the case's place, then expected against actual.
    assert!(err.contains("tests.yaml:3"), "{err}");
    assert!(
        err.contains("- outcome: suppressed\n") && err.contains("+ outcome: processed\n"),
        "{err}"
    );
    assert!(!err.contains("Suppressed"), "no Rust debug text: {err}");
    assert_eq!(engine.rules().version(), old);
    assert!(engine
        .reload_status()
        .last_error
        .unwrap()
        .contains("a repeat is suppressed"));
}

#[tokio::test]
async fn a_change_refused_by_a_case_that_pins_the_old_value_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let case = "tests:\n  - name: the window expires after 45 s\n    steps:\n      - { at: 0s, event: {type: a.created, data: {message: {interactionId: i, senderId: s, content: x}}} }\n      - at: 46s\n        event: {type: a.created, data: {message: {interactionId: i, senderId: s, content: x}}}\n        expect: {outcome: processed}\n";
    let with_window = |w: &str| rules("a.created").replace("45s", w) + case;
    std::fs::write(dir.path().join("rules.yaml"), with_window("45s")).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    std::fs::write(dir.path().join("rules.yaml"), with_window("60s")).unwrap();
    engine.reload().unwrap_err();
    let error = engine.reload_status().last_error.unwrap();
    assert!(
        error.contains("the window expires after 45 s")
            && error.contains("passes with the rules in force: it pins what this change alters")
            && error.contains("rules.yaml:9"),
        "{error}"
    );
}

#[tokio::test]
async fn polling_mode_sees_changes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules("a.created")).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let opts = WatchOptions {
        poll: Some(Duration::from_millis(100)),
        ..WatchOptions::default()
    };
    let _watch = engine.watch(opts).unwrap();
    let old = engine.rules().version().to_string();
    std::fs::write(dir.path().join("rules.yaml"), rules("b.created")).unwrap();
    assert!(wait_for_new_version(&engine, &old).await);
}

#[tokio::test]
async fn an_unchanged_file_is_not_reloaded_and_windows_survive_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules("a.created")).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    assert_eq!(outcome(&engine, "a.created").await, Outcome::Processed);
    let report = engine.reload_if_changed().unwrap();
    assert!(
        matches!(report, ReloadReport::Unchanged { .. }),
        "{report:?}"
    );
    // A change elsewhere in the rules leaves the dedup channel as it was: its window survives.
    std::fs::write(
        dir.path().join("more.yaml"),
        "version: 1\nnormalizers:\n  unused: [trim]\n",
    )
    .unwrap();
    assert!(matches!(
        engine.reload().unwrap(),
        ReloadReport::Loaded { .. }
    ));
    assert_eq!(outcome(&engine, "a.created").await, Outcome::Suppressed);
    // A changed window starts afresh.
    std::fs::write(
        dir.path().join("rules.yaml"),
        rules("a.created").replace("45s", "50s"),
    )
    .unwrap();
    engine.reload().unwrap();
    assert_eq!(outcome(&engine, "a.created").await, Outcome::Processed);
}

/// Every reload attempt since the engine started, whatever its result.
fn attempts(engine: &Engine) -> u64 {
    let t = engine.reload_status().totals;
    t.loaded + t.unchanged + t.failed
}

/// Reading the rule files (an operator's `cat`, a backup, the reload itself) changes nothing,
/// so it must not reload: the watcher used to react to every file event, reads included, and
/// each reload's own reads set off the next one, forever.
#[tokio::test]
async fn reading_the_files_reloads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    std::fs::write(&file, rules("a.created")).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let _watch = engine.watch(WatchOptions::default()).unwrap();
    for _ in 0..20 {
        assert!(!std::fs::read_to_string(&file).unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Quiet for several debounce periods: any loop would have shown by now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(attempts(&engine), 0, "{:?}", engine.reload_status().totals);
}

/// One save of a broken file is one failed attempt, however long it stays broken and whoever
/// reads it meanwhile; the next save of new content is attempted again.
#[tokio::test]
async fn one_broken_save_is_one_failed_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    std::fs::write(&file, rules("a.created")).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let _watch = engine.watch(WatchOptions::default()).unwrap();
    let broken = "version: 1\ndedup:\n  default: { window: soon }\n";
    std::fs::write(&file, broken).unwrap();
    wait_for_error(&engine)
        .await
        .expect("the broken save was seen");
    for _ in 0..10 {
        std::fs::read_to_string(&file).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The same broken text saved again (an editor's "save" with no change) is not a new attempt.
    std::fs::write(&file, broken).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let totals = engine.reload_status().totals;
    assert_eq!((totals.failed, attempts(&engine)), (1, 1), "{totals:?}");
    assert_eq!(engine.reload_status().consecutive_failures, 1);
    let old = engine.rules().version().to_string();
    std::fs::write(&file, rules("b.created")).unwrap();
    assert!(wait_for_new_version(&engine, &old).await);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let totals = engine.reload_status().totals;
    assert_eq!(
        (totals.failed, totals.loaded, attempts(&engine)),
        (1, 1, 2),
        "{totals:?}"
    );
}
