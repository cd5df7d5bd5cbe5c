//! Reload outcomes and the status book: version in force, last attempt, last error, history.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::compile::CompiledRules;
use crate::diag::{Diagnostic, Diagnostics};
use crate::testrun::TestFailures;

/// Why rules could not be loaded; the rules in force (if any) stay in force.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The files have errors; each diagnostic is located.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// The files compile but their own test cases fail.
    #[error("{0}")]
    TestsFailed(TestFailures),
    /// The engine was built from compiled rules and has no directory to reload from.
    #[error("this engine has no rules directory to reload from")]
    NoDirectory,
}

impl LoadError {
    /// The located diagnostics, when the failure is about the files' content.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            LoadError::Invalid(d) => &d.0,
            _ => &[],
        }
    }
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ReloadReport {
    /// New rules are in force.
    Loaded {
        /// The new version.
        version: String,
        /// The version they replaced.
        previous: String,
    },
    /// The files did not change; nothing was done.
    Unchanged {
        /// The version in force.
        version: String,
    },
}

/// One reload attempt, for the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadRecord {
    /// When it ran (RFC 3339).
    pub at: String,
    /// `loaded`, `unchanged` or `failed`.
    pub result: String,
    /// The version in force after the attempt.
    pub version: String,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The reload status a host shows (`/rules/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadStatus {
    /// The version (content hash) in force.
    pub version: String,
    /// When the rules in force were loaded (RFC 3339).
    pub loaded_at: String,
    /// The files they came from.
    pub files: Vec<String>,
    /// When the last reload was attempted.
    pub last_attempt: Option<String>,
    /// The last attempt's error, when it failed (the rules in force are then older than the files).
    pub last_error: Option<String>,
    /// The last error's located diagnostics.
    pub last_diagnostics: Vec<Diagnostic>,
    /// True when the files on disk failed to load and older rules are serving.
    pub stale: bool,
    /// How many attempts in a row failed.
    pub consecutive_failures: u32,
    /// Recent attempts, newest last.
    pub history: Vec<ReloadRecord>,
    /// Every attempt since start, by how it ended (the history keeps only the recent ones).
    pub totals: ReloadTotals,
}

/// Reload attempts since start, by result: counters that only grow, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReloadTotals {
    /// New rules put in force.
    pub loaded: u64,
    /// The files had not changed (same content hash): nothing to do.
    pub unchanged: u64,
    /// The files did not load; the rules in force stayed.
    pub failed: u64,
}

const HISTORY: usize = 20;

/// Keeps the status up to date as reloads happen.
#[derive(Debug)]
pub(crate) struct StatusBook {
    status: ReloadStatus,
    history: VecDeque<ReloadRecord>,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// A failed reload's error as shown and logged: for failing test cases, also which of them pin
/// what the change alters (they pass with `in_force`, the rules still serving).
fn explain(e: &LoadError, in_force: &Arc<CompiledRules>) -> String {
    let mut text = e.to_string();
    if let LoadError::TestsFailed(failures) = e {
        for note in failures.pinned_by_cases(in_force) {
            text.push_str(&format!("note: {note}\n"));
        }
    }
    text
}

impl StatusBook {
    pub(crate) fn new(rules: &CompiledRules) -> Self {
        let mut book = Self {
            status: ReloadStatus {
                version: String::new(),
                loaded_at: String::new(),
                files: Vec::new(),
                last_attempt: None,
                last_error: None,
                last_diagnostics: Vec::new(),
                stale: false,
                consecutive_failures: 0,
                history: Vec::new(),
                totals: ReloadTotals::default(),
            },
            history: VecDeque::new(),
        };
        book.in_force(rules);
        book
    }

    fn in_force(&mut self, rules: &CompiledRules) {
        self.status.version = rules.version().to_string();
        self.status.loaded_at = rfc3339(rules.loaded_at());
        self.status.files = rules
            .files()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
    }

    pub(crate) fn record(
        &mut self,
        result: &Result<ReloadReport, LoadError>,
        rules: &Arc<CompiledRules>,
    ) {
        let now = rfc3339(SystemTime::now());
        self.in_force(rules);
        self.status.last_attempt = Some(now.clone());
        let totals = &mut self.status.totals;
        let (word, error) = match result {
            Ok(ReloadReport::Loaded { .. }) => {
                totals.loaded += 1;
                ("loaded", None)
            }
            Ok(ReloadReport::Unchanged { .. }) => {
                totals.unchanged += 1;
                ("unchanged", None)
            }
            Err(e) => {
                totals.failed += 1;
                ("failed", Some(explain(e, rules)))
            }
        };
        match (&error, result) {
            (Some(text), Err(e)) => {
                tracing::error!(error = %text, "rules reload failed; the rules in force stay");
                self.status.last_error = Some(text.clone());
                self.status.last_diagnostics = e.diagnostics().to_vec();
                self.status.stale = true;
                self.status.consecutive_failures += 1;
            }
            _ => {
                self.status.last_error = None;
                self.status.last_diagnostics.clear();
                self.status.stale = false;
                self.status.consecutive_failures = 0;
            }
        }
        self.history.push_back(ReloadRecord {
            at: now,
            result: word.to_string(),
            version: self.status.version.clone(),
            error,
        });
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
    }

    pub(crate) fn status(&self) -> ReloadStatus {
        let mut s = self.status.clone();
        s.history = self.history.iter().cloned().collect();
        s
    }
}
