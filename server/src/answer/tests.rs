//! The written answer is byte for byte serde_json's, on every kind of decision.

use cxrules_engine::decision::{DedupDecision, RoutingDecision};
use cxrules_engine::dedup::store::Verdict;
use cxrules_engine::routing::target::{FallbackReason, RouteMatch};

use super::*;

/// Texts that need escaping, or nothing, or more than ASCII.
const TEXTS: &[&str] = &[
    "message_created",
    "",
    "quote \" backslash \\ slash /",
    "line\nfeed\rtab\tnul\u{0}bell\u{7}del\u{7f}",
    "é 漢字 🙂 \u{2028}\u{2029}",
    "</script><!--",
];

fn dedup(i: usize) -> DedupDecision {
    let verdicts = [
        Verdict::Unique,
        Verdict::OutOfOrder,
        Verdict::Duplicate,
        Verdict::Redelivery,
    ];
    let orders = [None, Some(0), Some(-1), Some(i64::MIN), Some(i64::MAX)];
    DedupDecision {
        channel: TEXTS[i % TEXTS.len()].into(),
        window_ms: [0, 45_000, u64::MAX][i % 3],
        sliding: i % 2 == 0,
        fingerprint: "ce9b763fc743f34c026f168028461bb443844ab843175e98b10073359c562d4e".into(),
        verdict: verdicts[i % verdicts.len()],
        order: orders[i % orders.len()],
        highest_sequence: orders[(i + 2) % orders.len()],
    }
}

fn routing(i: usize) -> RoutingDecision {
    let matched = [
        RouteMatch::Status,
        RouteMatch::Unknown,
        RouteMatch::Fallback,
    ];
    let reasons = [
        None,
        Some(FallbackReason::Timeout),
        Some(FallbackReason::UpstreamError),
        Some(FallbackReason::Unreachable),
        Some(FallbackReason::BreakerOpen),
    ];
    RoutingDecision {
        route: "inventory".into(),
        sku: TEXTS[(i + 1) % TEXTS.len()].into(),
        status: (i % 2 == 0).then(|| "in_stock".into()),
        matched: matched[i % matched.len()],
        reason: reasons[i % reasons.len()],
        skills: (0..i % 3).map(|n| format!("skill-{n}")).collect(),
        queues: (0..i % 2).map(|_| TEXTS[i % TEXTS.len()].into()).collect(),
        skill_id: (i % 3 == 1).then_some(1001),
        lookup_ms: [None, Some(0.25), Some(2000.0)][i % 3],
        cached: i % 4 == 0,
        error: (i % 5 == 0).then(|| "inventory answered 503".into()),
    }
}

fn accepted(i: usize) -> Accepted {
    let outcomes = [Outcome::Processed, Outcome::Suppressed, Outcome::Ignored];
    let queued = [
        vec![],
        vec![Endpoint::Metadata],
        vec![Endpoint::Metadata, Endpoint::Routing],
    ];
    let text = |k: usize| (i % (k + 2) != 0).then(|| TEXTS[(i + k) % TEXTS.len()].to_string());
    Accepted {
        outcome: outcomes[i % 3],
        explanation: TEXTS[(i + 3) % TEXTS.len()].into(),
        queued: queued[(i / 3) % 3].clone(),
        dry_run: i % 2 == 1,
        latency_ms: [0.0, 0.089, 1e-7, 12_345.678, f64::NAN, f64::INFINITY][i % 6],
        decision: Decision {
            outcome: outcomes[(i + 1) % 3],
            event: text(0),
            event_type: text(1),
            interaction_id: text(2),
            contact_id: text(4),
            reason: text(5),
            channel: text(3),
            dedup: (i % 3 != 2).then(|| dedup(i)),
            routing: (i % 4 >= 2).then(|| routing(i)),
            rules_version: "11075c6f43578606".into(),
            latency_us: [0, 25, u64::MAX][i % 3],
        },
    }
}

#[test]
fn written_answers_are_serde_jsons_bytes() {
    for i in 0..720 {
        let answer = accepted(i);
        let written = to_json(&answer);
        let serde = serde_json::to_vec(&answer).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&serde),
            "case {i}: {answer:?}"
        );
    }
}

#[test]
fn the_answer_is_json_with_the_decision_inside() {
    let answer = accepted(1);
    let parsed: serde_json::Value = serde_json::from_slice(&to_json(&answer)).unwrap();
    assert_eq!(parsed["decision"]["dedup"]["verdict"], "out_of_order");
    assert_eq!(parsed["queued"], serde_json::json!([]));
}
