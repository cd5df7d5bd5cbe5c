//! A dedup record is only kept when the host commits it: dropping the evaluation, or the
//! `evaluate` future while the inventory is being asked, forgets the message again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cxrules_engine::dedup::memory::MemoryStore;
use cxrules_engine::dedup::store::Verdict;
use cxrules_engine::dedup::store::{
    BoxFuture, CheckOutcome, CheckRequest, DedupStore, RollbackToken, StoreError, StoreStats,
};
use cxrules_engine::engine::StoreFactory;
use cxrules_engine::routing::source::{InventorySource, LookupError, LookupRequest};
use cxrules_engine::{Engine, Outcome};
use serde_json::{json, Value};

/// One event type both deduplicated and routed (shared with the host's end-to-end tests).
const RULES: &str = include_str!("../../tests/fixtures/dedup_and_route.yaml");

/// The fixture with an inventory address nothing listens on (the tests bring their own source).
fn rules() -> String {
    RULES.replace("@INVENTORY@", "http://127.0.0.1:9")
}

/// An inventory that never answers, so an evaluation waits in the lookup until dropped.
struct Silent;

impl InventorySource for Silent {
    fn lookup<'a>(
        &'a self,
        _: &'a LookupRequest<'a>,
    ) -> BoxFuture<'a, Result<String, LookupError>> {
        Box::pin(std::future::pending())
    }
}

fn event(text: &str) -> Value {
    json!({"type": "order.message", "id": "int-1", "from": "cust-1", "text": text, "media": "chat"})
}

fn engine(dir: &tempfile::TempDir, inventory: Arc<dyn InventorySource>) -> Engine {
    std::fs::write(dir.path().join("rules.yaml"), rules()).unwrap();
    Engine::builder(dir.path())
        .inventory(inventory)
        .build()
        .unwrap()
}

fn verdict(decision: &cxrules_engine::Decision) -> Verdict {
    decision.dedup.as_ref().expect("a dedup decision").verdict
}

#[tokio::test(start_paused = true)]
async fn a_dropped_evaluation_forgets_the_message_and_a_committed_one_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut answers = std::collections::BTreeMap::new();
    answers.insert(
        "SKU-int-1".to_owned(),
        cxrules_engine::testcase::MockAnswer::Status("in_stock".into()),
    );
    let engine = engine(
        &dir,
        Arc::new(cxrules_engine::replay::MapInventory::new(answers)),
    );
    let dropped = engine.evaluate(&event("hello")).await.unwrap();
    assert_eq!(dropped.decision.outcome, Outcome::Processed);
    drop(dropped);
    let kept = engine.evaluate(&event("hello")).await.unwrap().commit();
    assert_eq!(
        verdict(&kept),
        Verdict::Unique,
        "the dropped one was forgotten"
    );
    let again = engine.evaluate(&event("hello")).await.unwrap().commit();
    assert_eq!(again.outcome, Outcome::Suppressed);
    assert_eq!(verdict(&again), Verdict::Duplicate);
}

#[tokio::test(start_paused = true)]
async fn dropping_evaluate_during_the_inventory_lookup_forgets_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir, Arc::new(Silent));
    let message = event("where is my order");
    let stalled = engine.evaluate(&message);
    // Dedup records the message, then the lookup waits for ever; give up on it after 1 s.
    let gave_up = tokio::time::timeout(std::time::Duration::from_secs(1), stalled).await;
    assert!(gave_up.is_err(), "the silent inventory cannot answer");
    let stats = engine.dedup_stats();
    assert_eq!(stats[0].1.fingerprints, 0, "rolled back: {stats:?}");
    // Nothing remembered, so the sender's retry is a new message again (and waits again).
    let retry =
        tokio::time::timeout(std::time::Duration::from_secs(1), engine.evaluate(&message)).await;
    assert!(retry.is_err());
    assert_eq!(engine.dedup_stats()[0].1.fingerprints, 0);
}

/// A store whose rollback has to wait (like a network round trip) before it undoes anything.
struct SlowRollback(MemoryStore, Arc<AtomicUsize>);

impl DedupStore for SlowRollback {
    fn check<'a>(
        &'a self,
        req: CheckRequest<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        self.0.check(req)
    }

    fn rollback(&self, token: RollbackToken) -> BoxFuture<'_, Result<(), StoreError>> {
        self.1.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            self.0.rollback_sync(&token);
            Ok(())
        })
    }

    fn stats(&self) -> StoreStats {
        self.0.stats()
    }
}

#[tokio::test(start_paused = true)]
async fn a_rollback_that_has_to_wait_finishes_on_the_runtime_after_the_drop() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules()).unwrap();
    let factory: StoreFactory = Arc::new(|channel| {
        let store = MemoryStore::new(channel.policy().clone());
        Arc::new(SlowRollback(store, Arc::default()))
    });
    let engine = Engine::builder(dir.path())
        .inventory(Arc::new(Silent))
        .stores(factory)
        .build()
        .unwrap();
    let message = event("is it in stock?");
    let stalled =
        tokio::time::timeout(std::time::Duration::from_secs(1), engine.evaluate(&message));
    assert!(stalled.await.is_err());
    // Dropped, but the store has not answered the rollback yet.
    assert_eq!(engine.dedup_stats()[0].1.fingerprints, 1);
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    assert_eq!(
        engine.dedup_stats()[0].1.fingerprints,
        0,
        "finished on the runtime"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rollback_whose_caller_gives_up_still_finishes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules()).unwrap();
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let factory: StoreFactory = Arc::new(move |channel| {
        let store = MemoryStore::new(channel.policy().clone());
        Arc::new(SlowRollback(store, counter.clone()))
    });
    let mut answers = std::collections::BTreeMap::new();
    answers.insert(
        "SKU-int-1".to_owned(),
        cxrules_engine::testcase::MockAnswer::Status("in_stock".into()),
    );
    let engine = Engine::builder(dir.path())
        .inventory(Arc::new(cxrules_engine::replay::MapInventory::new(answers)))
        .stores(factory)
        .build()
        .unwrap();
    let eval = engine.evaluate(&event("hello")).await.unwrap();
    assert_eq!(engine.dedup_stats()[0].1.fingerprints, 1);
    // The store needs 5 ms; the caller waits 1 ms and gives up.
    let gave_up = tokio::time::timeout(std::time::Duration::from_millis(1), eval.rollback()).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    assert_eq!(
        engine.dedup_stats()[0].1.fingerprints,
        0,
        "finished without its caller"
    );
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "issued once, not again on drop"
    );
    let again = engine.evaluate(&event("hello")).await.unwrap().commit();
    assert_eq!(verdict(&again), Verdict::Unique);
}
