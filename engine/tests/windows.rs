//! Dedup windows through `Engine::evaluate`, on the engine's own clock (tokio's, paused and moved
//! forward by the test): the same deliveries under a sliding and a fixed window, expiry, and
//! re-sends that differ only in spacing and case.

use std::time::Duration;

use cxrules_engine::dedup::store::Verdict;
use cxrules_engine::Engine;
use serde_json::json;

use Verdict::{Duplicate as Dup, OutOfOrder as Late, Unique as New};

/// The seed's event and normalizer with a 45 s window in `mode`.
fn rules(mode: &str) -> String {
    format!(
        "version: 1
normalizers:
  chat_text: [trim, lowercase, collapse_whitespace]
events:
  message_created:
    type: conversations.messages.messageCreated
    dedup: true
dedup:
  default:
    window: 45s
    mode: {mode}
    fingerprint: [sender, content]
    normalizer: chat_text
"
    )
}

/// One delivery: seconds to wait before it, sender, content, sequence number.
type Delivery = (u64, &'static str, &'static str, i64);

struct Case {
    name: &'static str,
    deliveries: &'static [Delivery],
    sliding: &'static [Verdict],
    fixed: &'static [Verdict],
}

const CASES: &[Case] = &[
    Case {
        name: "exact re-send",
        deliveries: &[(0, "c1", "Hello", 1), (1, "c1", "Hello", 1)],
        sliding: &[New, Dup],
        fixed: &[New, Dup],
    },
    Case {
        name: "A B A: every message of the window is remembered",
        deliveries: &[(0, "c1", "A", 1), (1, "c1", "B", 2), (1, "c1", "A", 3)],
        sliding: &[New, New, Dup],
        fixed: &[New, New, Dup],
    },
    Case {
        name: "spacing and case variants",
        deliveries: &[
            (0, "c1", "Where is my ORDER?", 1),
            (1, "c1", "  where is   my order? \n", 1),
            (1, "c1", "WHERE\tIS MY ORDER?", 1),
        ],
        sliding: &[New, Dup, Dup],
        fixed: &[New, Dup, Dup],
    },
    Case {
        name: "another sender's same text is not a duplicate",
        deliveries: &[(0, "c1", "yes", 1), (1, "agent-7", "yes", 2)],
        sliding: &[New, New],
        fixed: &[New, New],
    },
    Case {
        name: "the window runs out",
        deliveries: &[
            (0, "c1", "Hello", 1),
            (44, "c1", "x", 2),
            (2, "c1", "Hello", 3),
        ],
        sliding: &[New, New, New],
        fixed: &[New, New, New],
    },
    Case {
        name: "a lower sequence is flagged, never lowers the highest",
        deliveries: &[
            (0, "c1", "first", 5),
            (1, "c1", "late", 3),
            (1, "c1", "next", 6),
        ],
        sliding: &[New, Late, New],
        fixed: &[New, Late, New],
    },
];

async fn run(mode: &str, deliveries: &[Delivery]) -> (Vec<Verdict>, Vec<Option<i64>>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules(mode)).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let mut verdicts = Vec::new();
    let mut highest = Vec::new();
    for &(wait, sender, content, seq) in deliveries {
        tokio::time::advance(Duration::from_secs(wait)).await;
        let event = json!({"type": "conversations.messages.messageCreated",
            "data": {"message": {"interactionId": "int-1", "senderId": sender,
                                 "content": content, "sequenceNumber": seq}}});
        let evaluation = engine.evaluate(&event).await.unwrap();
        let decision = evaluation.commit();
        let dedup = decision.dedup.as_ref().expect("a dedup decision");
        verdicts.push(dedup.verdict);
        highest.push(dedup.highest_sequence);
    }
    (verdicts, highest)
}

#[tokio::test(start_paused = true)]
async fn windows_give_the_expected_verdicts_on_the_engine_clock() {
    for case in CASES {
        let (sliding, _) = run("sliding", case.deliveries).await;
        assert_eq!(sliding, case.sliding, "sliding: {}", case.name);
        let (fixed, _) = run("fixed", case.deliveries).await;
        assert_eq!(fixed, case.fixed, "fixed: {}", case.name);
    }
}

#[tokio::test(start_paused = true)]
async fn the_same_deliveries_differ_between_sliding_and_fixed() {
    // 0 s, then every 30 s: each re-send falls inside 45 s of the one before it, but the
    // third is 60 s after the first.
    let deliveries: &[Delivery] = &[
        (0, "c1", "Hello", 1),
        (30, "c1", "Hello", 1),
        (30, "c1", "Hello", 1),
        (30, "c1", "Hello", 1),
    ];
    let (sliding, _) = run("sliding", deliveries).await;
    assert_eq!(
        sliding,
        [New, Dup, Dup, Dup],
        "each hit restarts the window"
    );
    let (fixed, _) = run("fixed", deliveries).await;
    assert_eq!(
        fixed,
        [New, Dup, New, Dup],
        "the window counts from the first sighting; the third starts a new one"
    );
}

#[tokio::test(start_paused = true)]
async fn the_window_ends_at_its_length() {
    for (wait, expected) in [(44, Dup), (46, New)] {
        let deliveries = [(0, "c1", "Hello", 1), (wait, "c1", "Hello", 1)];
        let (verdicts, _) = run("fixed", &deliveries).await;
        assert_eq!(verdicts[1], expected, "after {wait}s");
    }
}

#[tokio::test(start_paused = true)]
async fn the_highest_sequence_never_goes_backwards() {
    let deliveries: &[Delivery] = &[
        (0, "c1", "first", 5),
        (1, "c1", "late", 3),
        (1, "c1", "first", 5),
        (1, "c1", "next", 6),
    ];
    let (verdicts, highest) = run("sliding", deliveries).await;
    assert_eq!(verdicts, [New, Late, Dup, New]);
    assert_eq!(highest, [Some(5), Some(5), Some(5), Some(6)]);
}
