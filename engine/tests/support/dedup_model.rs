//! A naive model of a dedup store that keeps every key in a list, for property tests: random
//! checks, time steps and rollbacks must give the same verdicts and highest order keys from the
//! store as from the model. The memory store's unit tests include this file (`#[path]`), the
//! Redis store's tests use it as a module; the including module brings `Verdict` into scope.
//!
//! The model's highest order key is worked out from what `lastSequence` needs, not from how the
//! store undoes a check: it is the largest order key of the interaction's checks, leaving out
//! only those rolled back before any later check answered (a check's answer carries the highest
//! seen, and its update may write it, so once answered it can never be taken back).

use std::collections::HashMap;

use proptest::prelude::*;

use super::Verdict;

pub const WINDOW_MS: u64 = 45_000;
pub const INTERACTIONS: [&str; 3] = ["i0", "i1", "i2"];
pub const CONTENTS: [&str; 4] = ["a", "b", "c", "d"];
pub const EVENTS: [&str; 3] = ["e0", "e1", "e2"];

/// One operation of a run.
#[derive(Debug, Clone)]
pub enum Op {
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

/// Any operation.
pub fn op() -> impl Strategy<Value = Op> {
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
    /// Each key with its expiry and the check that added it.
    keys: Vec<(Key, u64, usize)>,
    seen: Vec<Seen>,
}

impl Tracked {
    fn highest(&self) -> Option<i64> {
        self.seen.iter().map(|s| s.order).max()
    }
}

/// What a model check recorded, to undo it.
#[derive(Debug, Clone)]
pub struct ModelToken {
    interaction: usize,
    keys: Vec<Key>,
    check: usize,
}

#[derive(Debug)]
pub struct Model {
    sliding: bool,
    /// A rollback removes only the keys its own check added (the Redis store's claims), not
    /// whichever check added them since (the memory store).
    owned: bool,
    tracked: HashMap<usize, Tracked>,
    checks: usize,
}

impl Model {
    /// An empty model.
    pub fn new(sliding: bool, owned: bool) -> Self {
        Self {
            sliding,
            owned,
            tracked: HashMap::new(),
            checks: 0,
        }
    }

    /// Checks a message: (interaction, content, event, order) at `now` ms.
    pub fn check(
        &mut self,
        op: (usize, usize, Option<usize>, Option<i64>),
        now: u64,
    ) -> (Verdict, Option<i64>, Option<ModelToken>) {
        let (interaction, content, event, order) = op;
        self.checks += 1;
        let check = self.checks;
        let t = self.tracked.entry(interaction).or_default();
        t.keys.retain(|&(_, expires, _)| expires > now);
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
        let hit = |k: Key| t.keys.iter().position(|&(key, _, _)| key == k);
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
                t.keys
                    .extend(keys.iter().map(|&k| (k, now + WINDOW_MS, check)));
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

    /// Undoes a check.
    pub fn rollback(&mut self, token: &ModelToken) {
        let Some(t) = self.tracked.get_mut(&token.interaction) else {
            return;
        };
        t.seen.retain(|s| s.check != token.check || s.answered);
        // When a highest must outlive the keys, a place stays until the latest of their expiries.
        let mut last_expiry = None;
        let owned = self.owned;
        t.keys.retain(|&(k, expires, by)| {
            let gone = token.keys.contains(&k) && (!owned || by == token.check);
            if gone {
                last_expiry = last_expiry.max(Some(expires));
            }
            !gone
        });
        if t.keys.is_empty() {
            match (last_expiry, t.highest()) {
                (Some(expires), Some(_)) => t.keys.push((Key::Placeholder, expires, 0)),
                _ => {
                    self.tracked.remove(&token.interaction);
                }
            }
        }
    }

    /// Keys held.
    pub fn keys(&self) -> usize {
        self.tracked.values().map(|t| t.keys.len()).sum()
    }
}
