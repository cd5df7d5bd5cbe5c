//! The outbox file on its own: group commit, recovery, dead letters, retry, refusals.

use std::time::Duration;

use super::*;
use crate::cxone::{DedupStatus, MetadataUpdate};

fn meta(seq: i64) -> Update {
    Update::Metadata(MetadataUpdate {
        status: DedupStatus::Processed,
        last_sequence: Some(seq),
        fingerprint: "f".into(),
        channel: "default".into(),
        event_type: None,
    })
}

fn config(dir: &Path) -> OutboxConfig {
    OutboxConfig {
        data_dir: dir.to_owned(),
        commit_window: Duration::from_millis(1),
        lease: Duration::from_secs(30),
    }
}

#[tokio::test]
async fn what_is_appended_and_not_done_is_recovered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new();
    let (outbox, recovered) = Outbox::open(
        &config(dir.path()),
        Duration::from_secs(60),
        metrics.clone(),
    )
    .unwrap();
    assert!(recovered.pending.is_empty());
    let mut appends = Vec::new();
    for i in 0..20 {
        let o = outbox.clone();
        appends.push(tokio::spawn(async move {
            o.append(&format!("i-{}", i % 3), &[meta(i)], Some(b"{}"))
                .await
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for a in appends {
        ids.extend(a.await.unwrap());
    }
    ids.sort_unstable();
    outbox.done(ids[..5].to_vec());
    let attempt = Attempt {
        at_ms: 1,
        calls: 1,
        answer: "400".into(),
    };
    outbox.dead(vec![ids[5]], "i-0", &meta(0), "rejected", attempt);
    outbox.close().await;
    let commits = metrics.encode();
    assert!(commits.contains("cxrules_outbox_fsyncs_total"), "{commits}");

    let (outbox, recovered) =
        Outbox::open(&config(dir.path()), Duration::from_secs(60), Metrics::new()).unwrap();
    let got: Vec<u64> = recovered.pending.iter().map(|(id, _)| *id).collect();
    assert_eq!(got, ids[6..].to_vec(), "pending in acceptance order");
    assert_eq!(recovered.dead, 1);
    assert_eq!(recovered.seen.len(), 20);
    assert!(recovered.next_id > *ids.last().unwrap());
    outbox.close().await;
}

#[tokio::test]
async fn a_second_open_of_the_same_dir_is_refused_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let (outbox, _) = Outbox::open(&config(dir.path()), Duration::ZERO, Metrics::new()).unwrap();
    let err = Outbox::open(&config(dir.path()), Duration::ZERO, Metrics::new()).unwrap_err();
    assert!(matches!(err, OpenError::Locked(_)), "{err}");
    assert!(err
        .to_string()
        .contains("in use by another cxrules process"));
    outbox.close().await;
    let (again, _) = Outbox::open(&config(dir.path()), Duration::ZERO, Metrics::new()).unwrap();
    again.close().await;
}

#[test]
fn a_file_that_is_not_an_outbox_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(FILE_NAME),
        b"not a database at all, just text\n".repeat(200),
    )
    .unwrap();
    let err = file::open(dir.path()).unwrap_err();
    assert!(matches!(err, OpenError::Corrupt(..)), "{err}");
    let file = tempfile::NamedTempFile::new().unwrap();
    let err = file::open(file.path()).unwrap_err();
    assert!(matches!(err, OpenError::NotADirectory(_)), "{err}");
}

#[test]
fn a_redb_file_of_something_else_is_refused_as_foreign() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = redb::Database::create(dir.path().join(FILE_NAME)).unwrap();
        let tx = db.begin_write().unwrap();
        let t: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("accounts");
        tx.open_table(t).unwrap().insert("a", 1).unwrap();
        tx.commit().unwrap();
    }
    let err = file::open(dir.path()).unwrap_err();
    assert!(matches!(err, OpenError::Foreign(..)), "{err}");
}

#[tokio::test]
async fn retry_moves_dead_letters_back_after_every_pending_one() {
    let dir = tempfile::tempdir().unwrap();
    let (outbox, _) = Outbox::open(&config(dir.path()), Duration::ZERO, Metrics::new()).unwrap();
    let first = outbox.append("i-1", &[meta(1)], None).await.unwrap();
    let second = outbox.append("i-1", &[meta(2)], None).await.unwrap();
    let attempt = Attempt {
        at_ms: 5,
        calls: 1,
        answer: "cxone rejected the call with 400".into(),
    };
    outbox.dead(first.clone(), "i-1", &meta(1), "rejected", attempt);
    outbox.close().await;
    let (db, path) = file::open(dir.path()).unwrap();
    let dead = list_dead(&db, &path, 10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1.merged_ids, first);
    assert_eq!(
        dead[0].1.pending.history[0].answer,
        "cxone rejected the call with 400"
    );
    assert_eq!(retry(&db, &path, &[]).unwrap(), 1);
    let pending = list_pending(&db, &path, 10).unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].0, second[0]);
    assert!(pending[1].0 > dead[0].0, "retried after everything in use");
    assert_eq!(pending[1].1.history.len(), 1, "the history is kept");
    assert_eq!(purge(&db, &path, Purge::Pending).unwrap(), 2);
    assert_eq!(summary(&db, &path).unwrap().pending, 0);
}

mod props {
    use proptest::prelude::*;

    use super::super::file;
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Whatever bytes sit in the data dir's file, opening it gives an outbox or an error,
        /// never a panic.
        #[test]
        fn any_file_contents_open_or_give_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(FILE_NAME), &bytes).unwrap();
            let opened = std::panic::catch_unwind(|| file::open(dir.path()).map(|_| ()));
            prop_assert!(opened.is_ok(), "open panicked");
        }

        /// A real outbox with bytes overwritten somewhere: an outbox or an error, never a panic.
        #[test]
        fn a_damaged_outbox_opens_or_gives_an_error(at in 0usize..4096, junk in proptest::collection::vec(any::<u8>(), 1..64)) {
            let dir = tempfile::tempdir().unwrap();
            drop(file::open(dir.path()).unwrap());
            let path = dir.path().join(FILE_NAME);
            let mut bytes = std::fs::read(&path).unwrap();
            let at = at % bytes.len();
            for (i, b) in junk.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + i) {
                    *slot = *b;
                }
            }
            std::fs::write(&path, &bytes).unwrap();
            let opened = std::panic::catch_unwind(|| {
                file::open(dir.path()).and_then(|(db, path)| file::recover(&db, &path, 0).map(|_| ()))
            });
            prop_assert!(opened.is_ok(), "open panicked");
        }
    }
}
