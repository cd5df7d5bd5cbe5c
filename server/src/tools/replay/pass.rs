//! One pass over the events: parse each line, set the clock, evaluate with every rule set, count,
//! compare, and write JSONL as it goes.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cxrules_engine::{CompiledRules, Decision, Engine};
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::Value;

use super::changes::{compare, ChangeBook};
use super::report::{self, ReplayReport, RunReport, TimeReport};
use super::tally::Tally;
use super::time::{TimeMode, Timeline};
use super::{ReplayArgs, ReplayFormat};
use crate::tools::outcome::{dir_label, Hinted};

/// Broken lines reported one by one; past this, only counted.
const SHOWN_BROKEN_LINES: u64 = 20;
/// Lines between progress bar updates.
const PROGRESS_EVERY: u64 = 4096;

/// A decision or why there is none, as one JSONL line.
#[derive(Serialize)]
#[serde(untagged)]
enum Judged<'a> {
    Decision(&'a Decision),
    Error { error: &'a str },
}

impl<'a> From<&'a Result<Decision, String>> for Judged<'a> {
    fn from(r: &'a Result<Decision, String>) -> Self {
        match r {
            Ok(d) => Judged::Decision(d),
            Err(e) => Judged::Error { error: e },
        }
    }
}

#[derive(Serialize)]
struct DecisionLine<'a> {
    line: u64,
    #[serde(flatten)]
    judged: Judged<'a>,
}

#[derive(Serialize)]
struct ChangeLine<'a> {
    line: u64,
    changes: Vec<&'static str>,
    before: Judged<'a>,
    after: Judged<'a>,
}

pub(super) struct Replay<'a> {
    pub(super) args: &'a ReplayArgs,
    pub(super) engines: Vec<Engine>,
    pub(super) tallies: Vec<Tally>,
    pub(super) changes: Option<ChangeBook>,
    pub(super) timeline: Timeline,
    pub(super) lines: u64,
    pub(super) broken: u64,
    pub(super) out: &'a mut dyn Write,
    pub(super) err: &'a mut dyn Write,
}

impl Replay<'_> {
    pub(super) async fn all(
        &mut self,
        mut reader: Box<dyn BufRead + Send>,
        bar: &ProgressBar,
    ) -> anyhow::Result<()> {
        let mut buf = Vec::with_capacity(4096);
        let mut bytes = 0u64;
        loop {
            buf.clear();
            let read = reader.read_until(b'\n', &mut buf).map_err(|e| {
                Hinted::error(
                    format!(
                        "cannot read {} after line {}: {e}",
                        self.args.events.display(),
                        self.lines
                    ),
                    "check that the file is readable and not truncated",
                )
            })?;
            if read == 0 {
                return Ok(());
            }
            self.lines += 1;
            bytes += read as u64;
            if self.lines % PROGRESS_EVERY == 0 {
                bar.set_position(bytes);
            }
            self.line(&buf).await?;
        }
    }

    async fn line(&mut self, raw: &[u8]) -> anyhow::Result<()> {
        let n = self.lines;
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let event: Value = match serde_json::from_slice(raw.trim_ascii_end()) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return self.broken(n, "not a JSON object".into()),
            Err(e) => return self.broken(n, json_problem(&e)),
        };
        self.timeline.advance(&event);
        let mut results = Vec::with_capacity(self.engines.len());
        for engine in &self.engines {
            results.push(match engine.evaluate(&event).await {
                Ok(eval) => Ok(eval.commit()),
                Err(e) => Err(e.to_string()),
            });
        }
        for (tally, result) in self.tallies.iter_mut().zip(&results) {
            tally.record(result);
        }
        match (&mut self.changes, results.as_slice()) {
            (Some(book), [before, after]) => {
                let found = compare(before, after);
                let id = before
                    .as_ref()
                    .ok()
                    .and_then(|d| d.interaction_id.as_deref());
                book.record(n, id, &found);
                if self.args.format == ReplayFormat::Jsonl && !found.is_empty() {
                    let line = ChangeLine {
                        line: n,
                        changes: found.iter().map(|c| c.kind()).collect(),
                        before: before.into(),
                        after: after.into(),
                    };
                    serde_json::to_writer(&mut *self.out, &line)?;
                    self.out.write_all(b"\n")?;
                }
            }
            (None, [only]) if self.args.format == ReplayFormat::Jsonl => {
                let line = DecisionLine {
                    line: n,
                    judged: only.into(),
                };
                serde_json::to_writer(&mut *self.out, &line)?;
                self.out.write_all(b"\n")?;
            }
            _ => {}
        }
        Ok(())
    }

    fn broken(&mut self, n: u64, why: String) -> anyhow::Result<()> {
        self.broken += 1;
        if self.broken <= SHOWN_BROKEN_LINES {
            writeln!(self.err, "warning: line {n}: {why}; skipped")?;
        }
        Ok(())
    }

    pub(super) fn finish(
        mut self,
        rule_sets: &[(PathBuf, Arc<CompiledRules>)],
        took: Duration,
    ) -> anyhow::Result<()> {
        if self.broken > SHOWN_BROKEN_LINES {
            writeln!(
                self.err,
                "warning: {} broken lines skipped in all (the first {SHOWN_BROKEN_LINES} are listed above)",
                self.broken
            )?;
        }
        let events = self.tallies.first().map_or(0, |t| t.events);
        let rate = events as f64 / took.as_secs_f64().max(1e-9);
        writeln!(
            self.err,
            "replayed {events} events in {:.2}s ({rate:.0} events/s)",
            took.as_secs_f64()
        )?;
        if self.args.format == ReplayFormat::Jsonl {
            return Ok(());
        }
        let report = self.report(rule_sets);
        match self.args.format {
            ReplayFormat::Json => report::write_json(&report, self.out)?,
            _ => report::write_table(&report, self.out)?,
        }
        Ok(())
    }

    fn report(&mut self, rule_sets: &[(PathBuf, Arc<CompiledRules>)]) -> ReplayReport {
        let runs = rule_sets
            .iter()
            .zip(std::mem::take(&mut self.tallies))
            .map(|((dir, rules), mut summary)| {
                summary.finish();
                RunReport {
                    rules: dir_label(dir),
                    version: rules.version().to_string(),
                    summary,
                }
            })
            .collect();
        let source = match self.args.time_mode() {
            TimeMode::Spacing(d) => format!("a fixed spacing of {}ms", d.as_millis()),
            TimeMode::Fields(p) => format!("event field {}", p.join(" or ")),
        };
        ReplayReport {
            events_file: display(&self.args.events),
            lines: self.lines,
            broken_lines: self.broken,
            time: TimeReport {
                source,
                span_ms: self.timeline.span().as_millis() as u64,
                untimed: self.timeline.untimed,
                backwards: self.timeline.backwards,
            },
            runs,
            changed: self.changes.as_ref().map(|b| b.changed),
            changes: self.changes.as_ref().map(ChangeBook::counts),
        }
    }
}

/// serde_json's message without its `at line 1 column N` (the event is one line of the file).
fn json_problem(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = text.split(" at line ").next().unwrap_or(&text);
    format!("not valid JSON: {what} at column {}", e.column())
}

fn display(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "standard input".into()
    } else {
        path.display().to_string()
    }
}
