//! `cxrules check [DIR]`: validates a rules directory without serving and reports every problem
//! at once, located, with a hint; `--format json` for CI pipelines.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cxrules_engine::compile::{compile_sources_for, read_sources, Requirements};
use cxrules_engine::diag::{Diagnostic, Diagnostics};
use cxrules_engine::CompiledRules;
use serde::Serialize;

use super::outcome::{dir_label, Status};

/// Flags of `cxrules check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Directory of rule files (*.yaml, *.yml).
    #[arg(default_value = "rules", env = "CXRULES_RULES")]
    pub dir: PathBuf,
    /// Output: compiler-style text, or one JSON document on standard output.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Check what `serve` with this call profile also requires (`dfo`: a `skill_id` on every
    /// target of a route that a contact-addressing event rule uses).
    #[arg(long, env = "CXONE_PROFILE", value_enum, default_value_t = crate::cxone::ProfileName::Seed)]
    pub cxone_profile: crate::cxone::ProfileName,
}

/// How `check` writes its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Compiler-style diagnostics and a summary line.
    Human,
    /// One JSON document (`status`, `diagnostics`, …).
    Json,
}

/// What loading a rules directory gave.
#[derive(Debug)]
pub enum Loaded {
    /// The rules compiled.
    Valid(Arc<CompiledRules>),
    /// The files were read but have mistakes (`check` exits 1).
    Invalid(Diagnostics),
    /// The directory or a file could not be read (exit 3); other mistakes found on the way too.
    Unreadable(Diagnostics),
}

impl Loaded {
    /// The exit status `check` gives for this outcome (a command that needs the rules to run
    /// exits 3 whenever they do not load).
    pub fn status(&self) -> Status {
        match self {
            Loaded::Valid(_) => Status::Ok,
            Loaded::Invalid(_) => Status::Failed,
            Loaded::Unreadable(_) => Status::CannotRun,
        }
    }
}

/// Reads and compiles `dir`, telling unreadable files apart from invalid ones.
pub fn load(dir: &Path) -> Loaded {
    load_for(dir, Requirements::default())
}

/// [`load`] with what the host requires of the rules checked too.
pub fn load_for(dir: &Path, requirements: Requirements) -> Loaded {
    if let Err(e) = std::fs::read_dir(dir) {
        let d = Diagnostic::file(dir, format!("cannot read the rules directory: {e}"))
            .with_hint("pass the directory that holds the *.yaml rule files");
        return Loaded::Unreadable(Diagnostics(vec![d]));
    }
    let sources = match read_sources(dir) {
        Ok(s) => s,
        // The directory is readable, so this is "no rule files in it": a content problem.
        Err(diags) => return Loaded::Invalid(diags),
    };
    let unreadable = !sources.problems.is_empty();
    match compile_sources_for(sources.files, sources.problems, requirements) {
        Ok(rules) => Loaded::Valid(Arc::new(rules)),
        Err(diags) if unreadable => Loaded::Unreadable(diags),
        Err(diags) => Loaded::Invalid(diags),
    }
}

/// The JSON report of `check --format json`.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    /// The directory checked.
    pub dir: String,
    /// `valid`, `invalid` or `unreadable`.
    pub status: &'static str,
    /// The rules' version (content hash), when they compiled.
    pub version: Option<&'a str>,
    /// The rule files read.
    pub files: Vec<String>,
    /// How many test cases the rules carry.
    pub test_cases: usize,
    /// Every problem, in file order.
    pub diagnostics: &'a [Diagnostic],
}

/// Checks `args.dir` and writes the report to `out`.
pub fn execute(args: &CheckArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    let requirements = Requirements {
        skill_ids: args.cxone_profile == crate::cxone::ProfileName::Dfo,
    };
    let loaded = load_for(&args.dir, requirements);
    match args.format {
        Format::Human => write_human(&args.dir, &loaded, out)?,
        Format::Json => write_json(&args.dir, &loaded, out)?,
    }
    Ok(loaded.status())
}

/// `cxrules check`: the report goes to standard output.
pub fn run(args: &CheckArgs) -> anyhow::Result<Status> {
    execute(args, &mut std::io::stdout().lock())
}

/// Writes every diagnostic, a blank line between them, then `error: N errors in DIR`.
pub fn write_diagnostics(
    dir: &Path,
    diags: &Diagnostics,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for d in &diags.0 {
        writeln!(out, "{d}\n")?;
    }
    let n = diags.0.len();
    let plural = if n == 1 { "" } else { "s" };
    writeln!(out, "error: {n} error{plural} in {}", dir_label(dir))
}

fn write_human(dir: &Path, loaded: &Loaded, out: &mut dyn Write) -> std::io::Result<()> {
    match loaded {
        Loaded::Valid(rules) => writeln!(out, "ok: {}", valid_summary(dir, rules)),
        Loaded::Invalid(diags) | Loaded::Unreadable(diags) => write_diagnostics(dir, diags, out),
    }
}

/// `rules/ is valid (version …, N files, N test cases)`.
pub(crate) fn valid_summary(dir: &Path, rules: &CompiledRules) -> String {
    let files = rules.files().len();
    let tests = rules.tests().len();
    format!(
        "{} is valid (version {}, {files} file{}, {tests} test case{})",
        dir_label(dir),
        rules.version(),
        if files == 1 { "" } else { "s" },
        if tests == 1 { "" } else { "s" },
    )
}

fn write_json(dir: &Path, loaded: &Loaded, out: &mut dyn Write) -> anyhow::Result<()> {
    let (status, rules, diagnostics): (_, _, &[Diagnostic]) = match loaded {
        Loaded::Valid(rules) => ("valid", Some(rules), &[]),
        Loaded::Invalid(d) => ("invalid", None, &d.0),
        Loaded::Unreadable(d) => ("unreadable", None, &d.0),
    };
    let report = CheckReport {
        dir: dir.display().to_string(),
        status,
        version: rules.map(|r| r.version()),
        files: rules
            .map(|r| r.files().iter().map(|f| f.display().to_string()).collect())
            .unwrap_or_default(),
        test_cases: rules.map_or(0, |r| r.tests().len()),
        diagnostics,
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)?;
    Ok(())
}
