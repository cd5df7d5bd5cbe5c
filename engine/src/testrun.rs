//! Runs the rule files' own test cases: deterministic time, a mock inventory, no network.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::compile::CompiledRules;
use crate::decision::Decision;
use crate::evaluation::evaluate_on;
use crate::replay::{ManualClock, MapInventory};
use crate::snapshot::{memory_stores, Snapshot};
use crate::testcase::{Expect, TestCaseSpec};

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Every mismatch, one line each (`step 2: verdict: expected duplicate, got unique`).
    pub failures: Vec<String>,
}

impl CaseResult {
    /// True when every step matched.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The results of every case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TestReport {
    /// One result per case, in file order.
    pub cases: Vec<CaseResult>,
}

impl TestReport {
    /// True when every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(CaseResult::passed)
    }
}

/// The failing cases that kept a rule change from going live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestFailures(pub Vec<CaseResult>);

impl fmt::Display for TestFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} rule test case(s) failed", self.0.len())?;
        for case in &self.0 {
            writeln!(f, "case `{}`:", case.name)?;
            for line in &case.failures {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

/// Runs every case; fails with the failing cases (the engine's gate before rules go live).
pub(crate) fn gate(rules: &Arc<CompiledRules>) -> Result<(), TestFailures> {
    let report = run_tests(rules);
    let failed: Vec<CaseResult> = report.cases.into_iter().filter(|c| !c.passed()).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(TestFailures(failed))
    }
}

/// Runs the rules' test cases on a thread of its own (safe to call from inside a runtime).
pub fn run_tests(rules: &Arc<CompiledRules>) -> TestReport {
    let rules = rules.clone();
    let worker = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a test runtime");
        rt.block_on(async {
            let mut cases = Vec::new();
            for case in rules.tests() {
                cases.push(run_case(&rules, case).await);
            }
            TestReport { cases }
        })
    });
    worker.join().unwrap_or_else(|_| TestReport {
        cases: vec![CaseResult {
            name: "(runner)".into(),
            failures: vec!["the test runner panicked".into()],
        }],
    })
}

/// Runs one case on a snapshot of its own (fresh in-memory stores, breakers and caches), with
/// a manual clock and the case's inventory answers.
async fn run_case(rules: &Arc<CompiledRules>, case: &TestCaseSpec) -> CaseResult {
    let clock = Arc::new(ManualClock::new());
    let hook = clock.hook();
    let inventory = MapInventory::new(case.inventory.clone());
    let snapshot = Snapshot::new(rules.clone(), None, &memory_stores());
    let mut failures = Vec::new();
    for (i, step) in case.steps.iter().enumerate() {
        let n = i + 1;
        if let Some(at) = &step.at {
            match at.parse() {
                Ok(d) => clock.set(d),
                Err(e) => failures.push(format!("step {n}: {e}")),
            }
        }
        match evaluate_on(&snapshot, &inventory, &hook, &step.event).await {
            Ok(eval) => compare(n, &step.expect, &eval.commit(), &mut failures),
            Err(e) => match &step.expect.error {
                Some(want) if e.to_string().contains(want.as_str()) => {}
                _ => failures.push(format!("step {n}: unexpected error: {e}")),
            },
        }
    }
    CaseResult {
        name: case.name.clone(),
        failures,
    }
}

fn check<T: PartialEq + fmt::Debug>(
    out: &mut Vec<String>,
    n: usize,
    what: &str,
    want: &Option<T>,
    got: Option<&T>,
) {
    if let Some(w) = want {
        if got != Some(w) {
            let got = got.map_or("nothing".to_string(), |g| format!("{g:?}"));
            out.push(format!("step {n}: {what}: expected {w:?}, got {got}"));
        }
    }
}

fn compare(n: usize, want: &Expect, d: &Decision, out: &mut Vec<String>) {
    if let Some(e) = &want.error {
        out.push(format!(
            "step {n}: expected an error containing {e:?}, got outcome {:?}",
            d.outcome
        ));
    }
    check(out, n, "outcome", &want.outcome, Some(&d.outcome));
    let dd = d.dedup.as_ref();
    check(out, n, "verdict", &want.verdict, dd.map(|x| &x.verdict));
    check(
        out,
        n,
        "highest_sequence",
        &want.highest_sequence,
        dd.and_then(|x| x.highest_sequence.as_ref()),
    );
    check(out, n, "channel", &want.channel, dd.map(|x| &x.channel));
    let r = d.routing.as_ref();
    check(out, n, "sku", &want.sku, r.map(|x| &x.sku));
    check(
        out,
        n,
        "status",
        &want.status,
        r.and_then(|x| x.status.as_ref()),
    );
    check(out, n, "matched", &want.matched, r.map(|x| &x.matched));
    check(
        out,
        n,
        "reason",
        &want.reason,
        r.and_then(|x| x.reason.as_ref()),
    );
    check(out, n, "skills", &want.skills, r.map(|x| &x.skills));
    check(out, n, "queues", &want.queues, r.map(|x| &x.queues));
}
