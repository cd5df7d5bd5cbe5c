//! The table and the model every dedup store is held to, run against the Redis store with a
//! pinned clock (exact time steps, no sleeping).

use std::time::Duration;

use cxrules_engine::dedup::redis::{RedisOptions, RedisStore};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use redis::AsyncCommands;

use super::model::{op, Model, ModelToken, Op, CONTENTS, EVENTS, INTERACTIONS, WINDOW_MS};
use super::{cases, raw, replica, server, CheckRequest, DedupStore, RollbackToken, BASE_MS};

#[tokio::test]
async fn the_shared_table_gives_the_expected_verdicts_and_highest() {
    let Some(server) = server().await else { return };
    for (i, case) in cases::cases().iter().enumerate() {
        let store = std::sync::Arc::new(replica(
            &server,
            &format!("table{i}"),
            case.policy(),
            RedisOptions::default(),
        ));
        let at = |ms| {
            store.pin_clock_for_tests(Some(BASE_MS + ms));
            tokio::time::Instant::now()
        };
        let shared: std::sync::Arc<dyn cxrules_engine::dedup::store::DedupStore> = store.clone();
        cases::run(case, &shared, &at).await;
    }
}

/// Claims hold for a day here, so claims not committed behave as records, as in the model.
fn model_options() -> RedisOptions {
    RedisOptions {
        lease: Duration::from_secs(86_400),
        ..RedisOptions::default()
    }
}

#[test]
fn store_matches_the_model() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(server) = rt.block_on(server()) else {
        return;
    };
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let run = std::sync::atomic::AtomicUsize::new(0);
    let strategy = (any::<bool>(), proptest::collection::vec(op(), 1..60));
    let result = runner.run(&strategy, |(sliding, ops)| {
        let run = run.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _guard = rt.enter();
        let policy = cxrules_engine::dedup::store::WindowPolicy {
            window: Duration::from_millis(WINDOW_MS),
            sliding,
            max_interactions: 100,
            max_fingerprints: 100,
        };
        let store = replica(&server, &format!("model{run}"), policy, model_options());
        rt.block_on(run_model(&server, &store, sliding, &ops))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn run_model(
    server: &super::RedisServer,
    store: &RedisStore,
    sliding: bool,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let mut model = Model::new(sliding, true);
    let mut now = 0;
    let mut tokens: Vec<(RollbackToken, ModelToken)> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        store.pin_clock_for_tests(Some(BASE_MS + now));
        match *op {
            Op::Wait { ms } => now += ms,
            Op::Rollback { pick } if !tokens.is_empty() => {
                let (token, model_token) = &tokens[pick % tokens.len()];
                store.rollback(token.clone()).await.expect("rollback");
                model.rollback(model_token);
            }
            Op::Rollback { .. } => {}
            Op::Check {
                interaction,
                content,
                event,
                order,
            } => {
                let req = CheckRequest {
                    order,
                    ..super::req(
                        INTERACTIONS[interaction],
                        CONTENTS[content],
                        event.map(|e| EVENTS[e]),
                    )
                };
                let out = store.check(req).await.expect("check");
                let (verdict, highest, model_token) =
                    model.check((interaction, content, event, order), now);
                prop_assert_eq!(
                    (out.verdict, out.highest),
                    (verdict, highest),
                    "step {}: {:?}",
                    step,
                    op
                );
                prop_assert_eq!(out.rollback.is_some(), model_token.is_some());
                if let (Some(token), Some(model_token)) = (out.rollback, model_token) {
                    tokens.push((token, model_token));
                }
            }
        }
    }
    // A last check of every interaction sweeps what ran out; then the keys held must agree.
    store.pin_clock_for_tests(Some(BASE_MS + now));
    let mut conn = raw(server).await;
    let mut held = 0;
    for (i, id) in INTERACTIONS.iter().enumerate() {
        store
            .check(super::req(id, "probe", None))
            .await
            .expect("check");
        model.check((i, usize::MAX, None, None), now);
        let fields: Vec<Vec<u8>> = conn.hkeys(store.key(id)).await.expect("HKEYS");
        held += fields.iter().filter(|f| f.as_slice() != b"m").count();
    }
    prop_assert_eq!(held, model.keys());
    Ok(())
}
