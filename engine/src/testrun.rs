//! Runs the rule files' own test cases: deterministic time, a mock inventory, no network.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

mod diff;

use crate::compile::CompiledRules;
use crate::evaluation::evaluate_on;
use crate::replay::{ManualClock, MapInventory};
use crate::snapshot::{memory_stores, Snapshot};
use crate::testcase::TestCaseSpec;
use diff::step_diff;

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Where the case is written (`rules/tests.yaml:57`), when known.
    pub site: Option<String>,
    /// What did not match, step by step: a `step 2 (- expected, + actual)` line, then indented
    /// diff lines such as `- outcome: processed` and `+ outcome: suppressed`.
    pub failures: Vec<String>,
}

impl CaseResult {
    /// True when every step matched.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// `case `name` (file:line)`, as reports name a case.
    pub fn title(&self) -> String {
        match &self.site {
            Some(site) => format!("case `{}` ({site})", self.name),
            None => format!("case `{}`", self.name),
        }
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestFailures {
    /// The failing cases' results.
    pub cases: Vec<CaseResult>,
    /// The failing cases as written, to try them on other rules.
    #[serde(skip)]
    specs: Vec<TestCaseSpec>,
}

impl fmt::Display for TestFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.cases.len();
        writeln!(
            f,
            "{n} rule test case{} failed",
            if n == 1 { "" } else { "s" }
        )?;
        for case in &self.cases {
            writeln!(f, "{}:", case.title())?;
            for line in &case.failures {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

impl TestFailures {
    /// For each failing case that passes with `in_force` (the rules serving while a change is
    /// tried), a line saying that the case pins what the change alters, and where it is.
    pub fn pinned_by_cases(&self, in_force: &Arc<CompiledRules>) -> Vec<String> {
        let cases = self
            .specs
            .iter()
            .cloned()
            .zip(self.cases.iter().map(|c| c.site.clone()));
        let report = run_cases(in_force, cases.collect());
        report
            .cases
            .iter()
            .filter(|c| c.passed())
            .map(|c| {
                format!(
                    "{} passes with the rules in force: it pins what this change alters; if the \
                     change is intended, update the case's `expect` to the new values",
                    c.title()
                )
            })
            .collect()
    }
}

/// Runs every case; fails with the failing cases (the engine's gate before rules go live).
pub(crate) fn gate(rules: &Arc<CompiledRules>) -> Result<(), TestFailures> {
    let report = run_tests(rules);
    let mut failures = TestFailures {
        cases: Vec::new(),
        specs: Vec::new(),
    };
    for (result, spec) in report.cases.into_iter().zip(rules.tests()) {
        if !result.passed() {
            failures.cases.push(result);
            failures.specs.push(spec.clone());
        }
    }
    if failures.cases.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// Runs the rules' test cases on a thread of its own (safe to call from inside a runtime).
pub fn run_tests(rules: &Arc<CompiledRules>) -> TestReport {
    let cases = rules
        .tests()
        .iter()
        .enumerate()
        .map(|(i, case)| (case.clone(), rules.test_site(i).map(str::to_string)))
        .collect();
    run_cases(rules, cases)
}

/// Runs `cases` (each with where it is written) on `rules`, on a thread of its own.
fn run_cases(rules: &Arc<CompiledRules>, cases: Vec<(TestCaseSpec, Option<String>)>) -> TestReport {
    let rules = rules.clone();
    let worker = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a test runtime");
        rt.block_on(async {
            let mut out = Vec::new();
            for (case, site) in &cases {
                let failures = run_case(&rules, case).await;
                out.push(CaseResult {
                    name: case.name.clone(),
                    site: site.clone(),
                    failures,
                });
            }
            TestReport { cases: out }
        })
    });
    worker.join().unwrap_or_else(|_| TestReport {
        cases: vec![CaseResult {
            name: "(runner)".into(),
            site: None,
            failures: vec!["the test runner panicked".into()],
        }],
    })
}

/// Runs one case on a snapshot of its own (fresh in-memory stores, breakers and caches), with
/// a manual clock and the case's inventory answers; what did not match, as diff lines.
async fn run_case(rules: &Arc<CompiledRules>, case: &TestCaseSpec) -> Vec<String> {
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
        let diff = match evaluate_on(&snapshot, &inventory, &hook, &step.event).await {
            Ok(eval) => step_diff(&step.expect, Ok(&eval.commit())),
            Err(e) => step_diff(&step.expect, Err(&e.to_string())),
        };
        if !diff.is_empty() {
            failures.push(format!("step {n} (- expected, + actual)"));
            failures.extend(diff.into_iter().map(|l| format!("  {l}")));
        }
    }
    failures
}
