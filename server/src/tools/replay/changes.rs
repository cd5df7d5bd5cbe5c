//! What a candidate rule set would change: each event's two decisions compared, changes counted
//! by kind with a few examples each.

use std::collections::BTreeMap;

use cxrules_engine::{Decision, Outcome};
use serde::Serialize;

use super::tally::{reason, target, verdict_name};

/// One kind of change between the rules in force and the candidate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Decided now, rejected by the candidate.
    NowRejected,
    /// Rejected now, decided by the candidate.
    NoLongerRejected,
    /// Suppressed now, processed by the candidate.
    NoLongerSuppressed,
    /// Processed now, suppressed by the candidate.
    NowSuppressed,
    /// Ignored now, handled by the candidate.
    NoLongerIgnored,
    /// Handled now, ignored by the candidate.
    NowIgnored,
    /// The outcome stays but the dedup verdict changes (`unique` → `out_of_order`, say).
    Verdict(&'static str, &'static str),
    /// The dedup channel changes.
    Channel(String, String),
    /// The interaction goes to another target.
    Target(String, String),
    /// Same target, another reason.
    Reason(String, String, String),
}

impl Change {
    /// A stable identifier of the kind, for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::NowRejected => "now_rejected",
            Change::NoLongerRejected => "no_longer_rejected",
            Change::NoLongerSuppressed => "no_longer_suppressed",
            Change::NowSuppressed => "now_suppressed",
            Change::NoLongerIgnored => "no_longer_ignored",
            Change::NowIgnored => "now_ignored",
            Change::Verdict(..) => "verdict",
            Change::Channel(..) => "channel",
            Change::Target(..) => "target",
            Change::Reason(..) => "reason",
        }
    }

    /// `37 messages would no longer be suppressed`.
    pub fn describe(&self, n: u64) -> String {
        let s = |one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        match self {
            Change::NowRejected => format!(
                "{} be rejected (decided now)",
                s("event would", "events would")
            ),
            Change::NoLongerRejected => {
                format!("{} no longer be rejected", s("event would", "events would"))
            }
            Change::NoLongerSuppressed => format!(
                "{} no longer be suppressed",
                s("message would", "messages would")
            ),
            Change::NowSuppressed => format!(
                "{} be suppressed (processed now)",
                s("message would", "messages would")
            ),
            Change::NoLongerIgnored => {
                format!("{} no longer be ignored", s("event would", "events would"))
            }
            Change::NowIgnored => format!(
                "{} be ignored (handled now)",
                s("event would", "events would")
            ),
            Change::Verdict(from, to) => {
                format!(
                    "{} from {from} to {to}",
                    s("dedup verdict changes", "dedup verdicts change")
                )
            }
            Change::Channel(from, to) => {
                format!(
                    "{} dedup channel from {from} to {to}",
                    s("message changes", "messages change")
                )
            }
            Change::Target(from, to) => {
                format!(
                    "{} from {from} to {to}",
                    s("interaction moves", "interactions move")
                )
            }
            Change::Reason(target, from, to) => format!(
                "{} at {target}, but for another reason: {from} → {to}",
                s("interaction stays", "interactions stay")
            ),
        }
    }
}

/// The kinds of change between two evaluations of one event.
pub fn compare(before: &Result<Decision, String>, after: &Result<Decision, String>) -> Vec<Change> {
    match (before, after) {
        (Err(_), Err(_)) => Vec::new(),
        (Ok(_), Err(_)) => vec![Change::NowRejected],
        (Err(_), Ok(_)) => vec![Change::NoLongerRejected],
        (Ok(b), Ok(a)) => compare_decisions(b, a),
    }
}

fn compare_decisions(b: &Decision, a: &Decision) -> Vec<Change> {
    use Outcome::*;
    let mut out = Vec::new();
    match (b.outcome, a.outcome) {
        (Suppressed, Processed) => out.push(Change::NoLongerSuppressed),
        (Processed, Suppressed) => out.push(Change::NowSuppressed),
        (Ignored, Processed | Suppressed) => out.push(Change::NoLongerIgnored),
        (Processed | Suppressed, Ignored) => out.push(Change::NowIgnored),
        _ => {}
    }
    if let (Some(bd), Some(ad)) = (&b.dedup, &a.dedup) {
        if b.outcome == a.outcome && bd.verdict != ad.verdict {
            out.push(Change::Verdict(
                verdict_name(bd.verdict),
                verdict_name(ad.verdict),
            ));
        }
        if bd.channel != ad.channel {
            out.push(Change::Channel(bd.channel.clone(), ad.channel.clone()));
        }
    }
    // Routing is compared only when both sides processed the event: a newly suppressed or ignored
    // event is already counted above.
    if b.outcome == Processed && a.outcome == Processed {
        let not_routed = || "(not routed)".to_string();
        let bt = b.routing.as_ref().map_or_else(not_routed, target);
        let at = a.routing.as_ref().map_or_else(not_routed, target);
        if bt != at {
            out.push(Change::Target(bt, at));
        } else if let (Some(br), Some(ar)) = (&b.routing, &a.routing) {
            let (why_b, why_a) = (reason(br), reason(ar));
            if why_b != why_a {
                out.push(Change::Reason(bt, why_b, why_a));
            }
        }
    }
    out
}

/// Where a change was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    /// Line of the events file.
    pub line: u64,
    /// The event's interaction id, when it has one.
    pub interaction_id: Option<String>,
}

/// One kind of change with its count and first examples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeCount {
    /// The kind (`no_longer_suppressed`, `target`, …).
    pub kind: &'static str,
    /// What would change, in words.
    pub description: String,
    /// How many events.
    pub count: u64,
    /// The first few.
    pub examples: Vec<Example>,
}

/// Counts changes over a replay.
#[derive(Debug, Default)]
pub struct ChangeBook {
    examples: usize,
    /// Events with at least one change.
    pub changed: u64,
    kinds: BTreeMap<Change, (u64, Vec<Example>)>,
}

impl ChangeBook {
    /// A book keeping up to `examples` examples per kind.
    pub fn new(examples: usize) -> Self {
        Self {
            examples,
            ..Self::default()
        }
    }

    /// Records the changes of the event on `line`.
    pub fn record(&mut self, line: u64, interaction: Option<&str>, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        self.changed += 1;
        for change in changes {
            let (count, examples) = self.kinds.entry(change.clone()).or_default();
            *count += 1;
            if examples.len() < self.examples {
                examples.push(Example {
                    line,
                    interaction_id: interaction.map(str::to_string),
                });
            }
        }
    }

    /// Every kind seen, most frequent first.
    pub fn counts(&self) -> Vec<ChangeCount> {
        let mut rows: Vec<ChangeCount> = self
            .kinds
            .iter()
            .map(|(change, (count, examples))| ChangeCount {
                kind: change.kind(),
                description: change.describe(*count),
                count: *count,
                examples: examples.clone(),
            })
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.count));
        rows
    }
}
