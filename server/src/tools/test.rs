//! `cxrules test [DIR]`: runs the rules' own test cases with deterministic time and no network,
//! shows expected against actual for each failure, and can write JUnit XML for CI.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use cxrules_engine::diag::Diagnostic;
use cxrules_engine::testrun::{run_tests, CaseResult};
use serde::Serialize;

use super::check::{load, write_diagnostics, Format, Loaded};
use super::junit::{self, JunitCase};
use super::outcome::{dir_label, Status};

/// Flags of `cxrules test`.
#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// Directory of rule files (*.yaml, *.yml).
    #[arg(default_value = "rules", env = "CXRULES_RULES")]
    pub dir: PathBuf,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Output: a line per case and a summary, or one JSON document on standard output.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// The JSON report of `test --format json`.
#[derive(Debug, Serialize)]
pub struct TestJson<'a> {
    /// The directory tested.
    pub dir: String,
    /// `passed`, `failed` (a case failed), `invalid` or `unreadable` (no case ran).
    pub status: &'static str,
    /// The rules' version (content hash), when they loaded.
    pub version: Option<&'a str>,
    /// How many cases passed.
    pub passed: usize,
    /// How many cases failed.
    pub failed: usize,
    /// Every case: `name`, `site` (file:line) and `failures` (the diff lines; empty when it
    /// passed).
    pub cases: Vec<&'a CaseResult>,
    /// Why the rules did not load, when they did not.
    pub diagnostics: &'a [Diagnostic],
}

/// One case's outcome, ready to print.
struct Shown {
    result: CaseResult,
    /// Diff lines, grouped by step; empty when it passed.
    details: Vec<String>,
}

/// Runs the cases of `args.dir`, writing the report to `out`.
pub fn execute(args: &TestArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    let rules = match load(&args.dir) {
        Loaded::Valid(rules) => rules,
        Loaded::Invalid(d) | Loaded::Unreadable(d) if args.format == Format::Json => {
            let status = match std::fs::read_dir(&args.dir) {
                Ok(_) => "invalid",
                Err(_) => "unreadable",
            };
            write_json(&args.dir, status, None, &[], &d.0, out)?;
            return Ok(Status::CannotRun);
        }
        Loaded::Invalid(d) | Loaded::Unreadable(d) => {
            write_diagnostics(&args.dir, &d, out)?;
            writeln!(out, "no test case ran: the rules must load first")?;
            return Ok(Status::CannotRun);
        }
    };
    let started = Instant::now();
    let report = run_tests(&rules);
    let shown: Vec<Shown> = report.cases.into_iter().map(explain).collect();
    let seconds = started.elapsed().as_secs_f64();
    let failed = shown.iter().filter(|c| !c.result.passed()).count();
    if args.format == Format::Json {
        let cases: Vec<&CaseResult> = shown.iter().map(|c| &c.result).collect();
        let status = if failed == 0 { "passed" } else { "failed" };
        write_json(&args.dir, status, Some(rules.version()), &cases, &[], out)?;
    } else {
        for case in &shown {
            write_case(case, out)?;
        }
        write_summary(&args.dir, shown.len(), failed, seconds, out)?;
    }
    if let Some(path) = &args.junit {
        write_junit(path, &args.dir, &shown, seconds)?;
    }
    Ok(if failed == 0 {
        Status::Ok
    } else {
        Status::Failed
    })
}

/// `cxrules test`: the report goes to standard output.
pub fn run(args: &TestArgs) -> anyhow::Result<Status> {
    execute(args, &mut std::io::stdout().lock())
}

/// The report's lines for one case: the engine's own rendering of what did not match (the
/// same text a refused reload shows).
fn explain(result: CaseResult) -> Shown {
    let details = result.failures.clone();
    Shown { result, details }
}

fn write_json(
    dir: &Path,
    status: &'static str,
    version: Option<&str>,
    cases: &[&CaseResult],
    diagnostics: &[Diagnostic],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let failed = cases.iter().filter(|c| !c.passed()).count();
    let report = TestJson {
        dir: dir.display().to_string(),
        status,
        version,
        passed: cases.len() - failed,
        failed,
        cases: cases.to_vec(),
        diagnostics,
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)?;
    Ok(())
}

fn write_case(case: &Shown, out: &mut dyn Write) -> std::io::Result<()> {
    if case.result.passed() {
        return writeln!(out, "ok    {}", case.result.name);
    }
    writeln!(out, "FAIL  {}", case.result.name)?;
    if let Some(site) = &case.result.site {
        writeln!(out, "        at {site}")?;
    }
    for line in &case.details {
        writeln!(out, "        {line}")?;
    }
    Ok(())
}

fn write_summary(
    dir: &Path,
    total: usize,
    failed: usize,
    seconds: f64,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let dir = dir_label(dir);
    if total == 0 {
        return writeln!(
            out,
            "warning: {dir} has no test cases; add some under `tests:` in a rule file"
        );
    }
    let word = if failed == 0 { "ok" } else { "FAILED" };
    writeln!(
        out,
        "\ntest result: {word}. {} passed; {failed} failed; {total} case{} in {dir} ({seconds:.2}s)",
        total - failed,
        if total == 1 { "" } else { "s" },
    )
}

fn write_junit(path: &Path, dir: &Path, shown: &[Shown], seconds: f64) -> anyhow::Result<()> {
    let cases: Vec<JunitCase> = shown
        .iter()
        .map(|c| JunitCase {
            name: c.result.name.clone(),
            classname: dir_label(dir),
            failure: (!c.result.passed()).then(|| {
                let message = c.result.failures.first().cloned().unwrap_or_default();
                (message, c.details.join("\n"))
            }),
        })
        .collect();
    let xml = junit::render("cxrules", &cases, seconds);
    std::fs::write(path, xml)
        .with_context(|| format!("cannot write the junit report {}", path.display()))
}
