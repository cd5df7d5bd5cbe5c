//! The store against a naive model that keeps every key in a list: random checks, time steps and
//! rollbacks must give the same verdicts and highest order keys.
//!
//! The model's highest order key is worked out from what `lastSequence` needs, not from how the
//! store undoes a check: it is the largest order key of the interaction's checks, leaving out
//! only those rolled back before any later check answered (a check's answer carries the highest
//! seen, and its update may write it, so once answered it can never be taken back).

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;

use super::fp;
use crate::dedup::memory::MemoryStore;
use crate::dedup::store::{CheckRequest, RollbackToken, Verdict, WindowPolicy};

const WINDOW_MS: u64 = 45_000;
const INTERACTIONS: [&str; 3] = ["i0", "i1", "i2"];
const CONTENTS: [&str; 4] = ["a", "b", "c", "d"];
const EVENTS: [&str; 3] = ["e0", "e1", "e2"];

#[derive(Debug, Clone)]
enum Op {
    Check {
        interaction: usize,
        content: usize,
        event: Option<usize>,
        order: Option<i64>,
    },
    Wait {
        ms: u64,
    },
    Rollback {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..4usize, proptest::option::of(0..3usize), proptest::option::of(0..10i64))
            .prop_map(|(interaction, content, event, order)| Op::Check { interaction, content, event, order }),
        2 => prop_oneof![Just(0u64), Just(1), 0..60_000u64, Just(WINDOW_MS), Just(WINDOW_MS - 1)]
            .prop_map(|ms| Op::Wait { ms }),
        1 => any::<usize>().prop_map(|pick| Op::Rollback { pick }),
    ]
}

/// A key the model remembers: a content or an event id, by index, or the place a rolled-back
/// last key keeps while an answered highest must outlive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Content(usize),
    Event(usize),
    Placeholder,
}

/// One check of an interaction that counts towards its highest order key.
#[derive(Debug, Clone, Copy)]
struct Seen {
    check: usize,
    order: i64,
    /// A later check has answered with a highest that included this order key.
    answered: bool,
}

#[derive(Debug, Default)]
struct Tracked {
    keys: Vec<(Key, u64)>,
    seen: Vec<Seen>,
}

impl Tracked {
    fn highest(&self) -> Option<i64> {
        self.seen.iter().map(|s| s.order).max()
    }
}

/// What a model check recorded, to undo it.
#[derive(Debug, Clone)]
struct ModelToken {
    interaction: usize,
    keys: Vec<Key>,
    check: usize,
}

#[derive(Debug)]
struct Model {
    sliding: bool,
    tracked: HashMap<usize, Tracked>,
    checks: usize,
}

impl Model {
    fn check(
        &mut self,
        op: (usize, usize, Option<usize>, Option<i64>),
        now: u64,
    ) -> (Verdict, Option<i64>, Option<ModelToken>) {
        let (interaction, content, event, order) = op;
        self.checks += 1;
        let check = self.checks;
        let t = self.tracked.entry(interaction).or_default();
        t.keys.retain(|&(_, expires)| expires > now);
        if t.keys.is_empty() {
            t.seen.clear();
        }
        let previous = t.highest();
        for s in &mut t.seen {
            s.answered = true;
        }
        if let Some(order) = order {
            t.seen.push(Seen {
                check,
                order,
                answered: false,
            });
        }
        let highest = t.highest();
        let event_key = event.map(Key::Event);
        let hit = |k: Key| t.keys.iter().position(|&(key, _)| key == k);
        let event_at = event_key.and_then(hit);
        let content_at = hit(Key::Content(content));
        let verdict = match (event_at, content_at) {
            (Some(_), _) => Verdict::Redelivery,
            (None, Some(_)) => Verdict::Duplicate,
            (None, None) => {
                let keys: Vec<Key> = event_key
                    .into_iter()
                    .chain([Key::Content(content)])
                    .collect();
                t.keys.extend(keys.iter().map(|&k| (k, now + WINDOW_MS)));
                let verdict = match (order, previous) {
                    (Some(o), Some(h)) if o < h => Verdict::OutOfOrder,
                    _ => Verdict::Unique,
                };
                let token = ModelToken {
                    interaction,
                    keys,
                    check,
                };
                return (verdict, highest, Some(token));
            }
        };
        if self.sliding {
            for i in [event_at, content_at].into_iter().flatten() {
                t.keys[i].1 = now + WINDOW_MS;
            }
        }
        (verdict, highest, None)
    }

    fn rollback(&mut self, token: &ModelToken) {
        let Some(t) = self.tracked.get_mut(&token.interaction) else {
            return;
        };
        t.seen
            .retain(|s| s.check != token.check || s.answered);
        // When a highest must outlive the keys, a place stays until the latest of their expiries.
        let mut last_expiry = None;
        t.keys.retain(|&(k, expires)| {
            let gone = token.keys.contains(&k);
            if gone {
                last_expiry = last_expiry.max(Some(expires));
            }
            !gone
        });
        if t.keys.is_empty() {
            match (last_expiry, t.highest()) {
                (Some(expires), Some(_)) => t.keys.push((Key::Placeholder, expires)),
                _ => {
                    self.tracked.remove(&token.interaction);
                }
            }
        }
    }

    fn keys(&self) -> usize {
        self.tracked.values().map(|t| t.keys.len()).sum()
    }
}

fn run(sliding: bool, ops: &[Op]) -> Result<(), TestCaseError> {
    let policy = WindowPolicy {
        window: Duration::from_millis(WINDOW_MS),
        sliding,
        max_interactions: 100,
        max_fingerprints: 100,
    };
    let store = MemoryStore::new(policy);
    let mut model = Model {
        sliding,
        tracked: HashMap::new(),
        checks: 0,
    };
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
