//! The memory store against the naive model of `tests/support/dedup_model.rs`: random checks,
//! time steps and rollbacks must give the same verdicts and highest order keys.

use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;

use super::fp;
use crate::dedup::memory::MemoryStore;
use crate::dedup::store::{CheckRequest, RollbackToken, Verdict, WindowPolicy};

#[path = "../../../../tests/support/dedup_model.rs"]
mod shared;
use shared::{op, Model, ModelToken, Op, CONTENTS, EVENTS, INTERACTIONS, WINDOW_MS};

fn run(sliding: bool, ops: &[Op]) -> Result<(), TestCaseError> {
    let policy = WindowPolicy {
        window: Duration::from_millis(WINDOW_MS),
        sliding,
        max_interactions: 100,
        max_fingerprints: 100,
    };
    let store = MemoryStore::new(policy);
    let mut model = Model::new(sliding, false);
    let t0 = Instant::now();
    let mut now = 0;
    let mut tokens: Vec<(RollbackToken, ModelToken)> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Wait { ms } => now += ms,
            Op::Rollback { pick } if !tokens.is_empty() => {
                let (token, model_token) = &tokens[pick % tokens.len()];
                store.rollback_sync(token);
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
                    interaction: INTERACTIONS[interaction],
                    fingerprint: fp(CONTENTS[content]),
                    event_id: event.map(|e| EVENTS[e]),
                    order,
                    now: t0 + Duration::from_millis(now),
                };
                let out = store.check_sync(&req);
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
    // Keys still held may include expired ones not yet pruned, so compare after a fresh check of
    // every interaction, which prunes them.
    for (i, id) in INTERACTIONS.iter().enumerate() {
        let req = CheckRequest {
            interaction: id,
            fingerprint: fp("probe"),
            event_id: None,
            order: None,
            now: t0 + Duration::from_millis(now),
        };
        store.check_sync(&req);
        model.check((i, usize::MAX, None, None), now);
    }
    let stats = crate::dedup::store::DedupStore::stats(&store);
    prop_assert_eq!(stats.fingerprints as usize, model.keys());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn store_matches_the_model(sliding in any::<bool>(), ops in proptest::collection::vec(op(), 1..80)) {
        run(sliding, &ops)?;
    }
}
