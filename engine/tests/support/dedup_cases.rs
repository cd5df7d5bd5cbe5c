//! The dedup table every `DedupStore` is held to: messages in, verdicts and highest order keys
//! out, with rollbacks. The memory store's unit tests include this file (`#[path]`), the Redis
//! store's tests use it as a module; the including module brings the store types into scope
//! (`CheckOutcome`, `CheckRequest`, `DedupStore`, `RollbackToken`, `Verdict`, `WindowPolicy`).

// Each includer uses a different part of the table.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{CheckOutcome, CheckRequest, DedupStore, RollbackToken, Verdict, WindowPolicy};
use Verdict::{Duplicate as D, OutOfOrder as O, Redelivery as R, Unique as U};

/// The window of every case.
pub const WINDOW: Duration = Duration::from_secs(45);

/// The policy of a case.
pub fn policy(sliding: bool) -> WindowPolicy {
    WindowPolicy {
        window: WINDOW,
        sliding,
        max_interactions: 1000,
        max_fingerprints: 16,
    }
}

/// The fingerprint of a content.
pub fn fp(content: &str) -> [u8; 32] {
    Sha256::digest(content.as_bytes()).into()
}

/// One message of a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Msg {
    pub at_secs: u64,
    pub interaction: &'static str,
    pub content: &'static str,
    pub event_id: Option<&'static str>,
    pub order: Option<i64>,
}

/// A message of interaction `i1` at `at_secs` after the case started.
pub const fn msg(at_secs: u64, content: &'static str) -> Msg {
    Msg {
        at_secs,
        interaction: "i1",
        content,
        event_id: None,
        order: None,
    }
}

impl Msg {
    pub const fn order(self, order: i64) -> Self {
        Self {
            order: Some(order),
            ..self
        }
    }
    pub const fn event(self, id: &'static str) -> Self {
        Self {
            event_id: Some(id),
            ..self
        }
    }
    pub const fn on(self, interaction: &'static str) -> Self {
        Self {
            interaction,
            ..self
        }
    }
}

/// One step of a case.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Check a message; expect this verdict and highest order key.
    Check(Msg, Verdict, Option<i64>),
    /// Roll back the check made at step `n` (whose token is held uncommitted until then).
    Rollback(usize),
}

use Step::{Check as C, Rollback as Back};

/// A named scenario.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub sliding: bool,
    pub max_fingerprints: usize,
    pub steps: Vec<Step>,
}

fn case(name: &'static str, sliding: bool, steps: Vec<Step>) -> Case {
    Case {
        name,
        sliding,
        max_fingerprints: 16,
        steps,
    }
}

impl Case {
    fn cap(self, max_fingerprints: usize) -> Self {
        Self {
            max_fingerprints,
            ..self
        }
    }

    /// The policy the case's store is made with.
    pub fn policy(&self) -> WindowPolicy {
        WindowPolicy {
            max_fingerprints: self.max_fingerprints,
            ..policy(self.sliding)
        }
    }
}

/// Every case.
pub fn cases() -> Vec<Case> {
    let mut all = verdict_cases();
    all.extend(rollback_cases());
    all
}

fn verdict_cases() -> Vec<Case> {
    vec![
        case(
            "a a",
            false,
            vec![C(msg(0, "a"), U, None), C(msg(1, "a"), D, None)],
        ),
        case(
            "a b a",
            false,
            vec![
                C(msg(0, "a"), U, None),
                C(msg(1, "b"), U, None),
                C(msg(2, "a"), D, None),
            ],
        ),
        case(
            "interactions are separate",
            false,
            vec![C(msg(0, "a"), U, None), C(msg(0, "a").on("i2"), U, None)],
        ),
        case(
            "fixed window runs out at 45 s",
            false,
            vec![
                C(msg(0, "a"), U, None),
                C(msg(30, "a"), D, None),
                C(msg(44, "a"), D, None),
                C(msg(45, "a"), U, None),
                C(msg(60, "a"), D, None),
            ],
        ),
        case(
            "sliding hits every 30 s keep it alive",
            true,
            vec![
                C(msg(0, "a"), U, None),
                C(msg(30, "a"), D, None),
                C(msg(60, "a"), D, None),
                C(msg(90, "a"), D, None),
                C(msg(134, "a"), D, None),
                C(msg(179, "a"), U, None),
            ],
        ),
        case(
            "out of order",
            false,
            vec![
                C(msg(0, "a").order(5), U, Some(5)),
                C(msg(1, "b").order(3), O, Some(5)),
                C(msg(2, "a").order(9), D, Some(9)),
                C(msg(3, "c").order(7), O, Some(9)),
                C(msg(4, "d"), U, Some(9)),
                C(msg(5, "e").order(10), U, Some(10)),
            ],
        ),
        case(
            "order keys compare as integers over all of i64",
            false,
            vec![
                C(msg(0, "a").order(-3), U, Some(-3)),
                C(msg(1, "b").order(-12), O, Some(-3)),
                C(msg(2, "c").order(i64::MAX - 1), U, Some(i64::MAX - 1)),
                C(msg(3, "d").order(i64::MAX - 2), O, Some(i64::MAX - 1)),
                C(msg(4, "e").order(i64::MAX), U, Some(i64::MAX)),
                C(msg(5, "f").order(i64::MIN).on("i2"), U, Some(i64::MIN)),
                C(msg(6, "g").order(10).on("i2"), U, Some(10)),
            ],
        ),
        case(
            "redelivery by event id",
            false,
            vec![
                C(msg(0, "a").event("e1"), U, None),
                C(msg(1, "b").event("e1"), R, None),
                C(msg(2, "a").event("e2"), D, None),
                C(msg(3, "c").event("e3"), U, None),
                C(msg(4, "c").event("e3").on("i2"), U, None),
            ],
        ),
        case(
            "redelivery raises highest too",
            false,
            vec![
                C(msg(0, "a").event("e1").order(1), U, Some(1)),
                C(msg(1, "a").event("e1").order(4), R, Some(4)),
            ],
        ),
        case(
            "fingerprint cap drops the key expiring first",
            false,
            vec![
                C(msg(0, "a"), U, None),
                C(msg(1, "b"), U, None),
                C(msg(2, "c"), U, None),
                C(msg(3, "c"), D, None),
                C(msg(3, "b"), D, None),
                C(msg(4, "a"), U, None),
            ],
        )
        .cap(2),
        case(
            "a cap of one keeps the fingerprint over the event id",
            false,
            vec![
                C(msg(0, "a").event("e1"), U, None),
                C(msg(1, "a").event("e2"), D, None),
                C(msg(2, "b"), U, None),
                C(msg(3, "a"), U, None),
            ],
        )
        .cap(1),
    ]
}

fn rollback_cases() -> Vec<Case> {
    vec![
        case(
            "rollback makes the retry new and restores highest",
            false,
            vec![
                C(msg(0, "a").order(5), U, Some(5)),
                C(msg(1, "b").order(7).event("e2"), U, Some(7)),
                Back(1),
                C(msg(2, "c").order(6), U, Some(6)),
                Back(1),
                C(msg(3, "b").order(7).event("e2"), U, Some(7)),
            ],
        ),
        case(
            "rollback keeps a highest raised since",
            false,
            vec![
                C(msg(0, "a").order(5), U, Some(5)),
                C(msg(1, "b").order(9), U, Some(9)),
                Back(0),
                C(msg(2, "a").order(5), O, Some(9)),
            ],
        ),
        case(
            "rollback keeps a highest a later check answered with",
            false,
            vec![
                C(msg(0, "a").order(5), U, Some(5)),
                C(msg(1, "b").order(7), U, Some(7)),
                C(msg(2, "c").order(6), O, Some(7)),
                Back(1),
                C(msg(3, "d").order(6), O, Some(7)),
                C(msg(4, "b").order(7), U, Some(7)),
            ],
        ),
        case(
            "rollback of the only key keeps the highest before it",
            false,
            vec![
                C(msg(0, "a").order(5), U, Some(5)),
                C(msg(1, "b").order(7), U, Some(7)),
                Back(1),
                C(msg(2, "c").order(3), O, Some(5)),
                C(msg(3, "x").order(3).on("i9"), U, Some(3)),
                Back(4),
                C(msg(4, "x").order(1).on("i9"), U, Some(1)),
            ],
        )
        .cap(1),
        case(
            "rollback twice or after expiry is harmless",
            false,
            vec![
                C(msg(0, "a").order(1).on("i2"), U, Some(1)),
                Back(0),
                Back(0),
                C(msg(0, "a").event("e1"), U, None),
                C(msg(1, "b"), U, None),
                Back(3),
                Back(3),
                C(msg(2, "b"), D, None),
                C(msg(3, "a").event("e1"), U, None),
                C(msg(4, "z"), U, None),
                C(msg(60, "q").on("i3"), U, None),
                Back(9),
                Back(9),
                C(msg(61, "a").event("e1"), U, None),
            ],
        ),
        case(
            "a redelivery keeps the highest of a rolled-back check",
            false,
            vec![
                C(msg(0, "a").event("e1").order(2), U, Some(2)),
                C(msg(0, "a").event("e1").order(2), R, Some(2)),
                Back(0),
                C(msg(0, "a").event("e1").order(2), U, Some(2)),
            ],
        ),
    ]
}

/// Runs `case` on `store`. `at` turns a message's time into its check's `now`, and may set the
/// store's clock too (the Redis store takes the time from its server). Every token is committed
/// at once, as a host does, except those the case rolls back later, held until then.
pub async fn run(
    case: &Case,
    store: &Arc<dyn DedupStore>,
    at: &dyn Fn(u64) -> tokio::time::Instant,
) {
    let rolled_back: Vec<usize> = (case.steps.iter())
        .filter_map(|s| match s {
            Step::Rollback(n) => Some(*n),
            Step::Check(..) => None,
        })
        .collect();
    let mut held: HashMap<usize, RollbackToken> = HashMap::new();
    for (i, step) in case.steps.iter().enumerate() {
        let name = case.name;
        match *step {
            Step::Check(m, verdict, highest) => {
                let out = check(&**store, at, m).await;
                assert_eq!(
                    (out.verdict, out.highest),
                    (verdict, highest),
                    "{name}: step {i}"
                );
                assert_eq!(
                    out.rollback.is_some(),
                    !verdict.is_suppressed(),
                    "{name}: step {i}"
                );
                let Some(token) = out.rollback else { continue };
                if rolled_back.contains(&i) {
                    held.insert(i, token);
                } else {
                    store.clone().commit(token).await.expect("commit");
                }
            }
            Step::Rollback(n) => {
                let token = held
                    .get(&n)
                    .unwrap_or_else(|| panic!("{name}: no token {n}"));
                store.rollback(token.clone()).await.expect("rollback");
            }
        }
    }
}

/// Checks one message.
pub async fn check(
    store: &dyn DedupStore,
    at: &dyn Fn(u64) -> tokio::time::Instant,
    m: Msg,
) -> CheckOutcome {
    let req = CheckRequest {
        interaction: m.interaction,
        fingerprint: fp(m.content),
        event_id: m.event_id,
        order: m.order,
        now: at(m.at_secs * 1000),
    };
    store.check(req).await.expect("check")
}
