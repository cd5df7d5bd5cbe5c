//! The replay report: a summary table (one column per rule set), or the same as JSON.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use super::changes::ChangeCount;
use super::tally::Tally;

/// Everything a replay found.
#[derive(Debug, Serialize)]
pub struct ReplayReport {
    /// The events file.
    pub events_file: String,
    /// Lines read.
    pub lines: u64,
    /// Lines that were not a JSON object (skipped).
    pub broken_lines: u64,
    /// How time was set.
    pub time: TimeReport,
    /// One run per rule set: the rules, then the candidate.
    pub runs: Vec<RunReport>,
    /// With a candidate: events whose decision would change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<u64>,
    /// With a candidate: the changes by kind, most frequent first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<ChangeCount>>,
}

/// How replay time was set.
#[derive(Debug, Serialize)]
pub struct TimeReport {
    /// `event field` or `spacing`.
    pub source: String,
    /// From the first event to the last, in milliseconds.
    pub span_ms: u64,
    /// Events without a usable time (they kept the previous one).
    pub untimed: u64,
    /// Events dated before the clock (the clock stayed).
    pub backwards: u64,
}

/// One rule set's results.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// The rules directory.
    pub rules: String,
    /// Its version.
    pub version: String,
    /// The counts.
    pub summary: Tally,
}

/// Writes the report as JSON.
pub fn write_json(report: &ReplayReport, out: &mut dyn Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)?;
    Ok(())
}

/// Writes the report as text tables.
pub fn write_table(report: &ReplayReport, out: &mut dyn Write) -> std::io::Result<()> {
    let events = report.runs.first().map_or(0, |r| r.summary.events);
    writeln!(
        out,
        "replay of {}: {} lines, {events} events, {} broken lines skipped",
        report.events_file, report.lines, report.broken_lines
    )?;
    let t = &report.time;
    write!(
        out,
        "time: from {}, spanning {}",
        t.source,
        span(Duration::from_millis(t.span_ms))
    )?;
    if t.untimed > 0 {
        write!(
            out,
            "; {} events without a time kept the one before",
            t.untimed
        )?;
    }
    if t.backwards > 0 {
        write!(
            out,
            "; {} events dated earlier than the clock kept it",
            t.backwards
        )?;
    }
    writeln!(out, "\n")?;
    write_outcomes(&report.runs, out)?;
    write_routing(&report.runs, out)?;
    write_rejections(&report.runs, out)?;
    if let (Some(changed), Some(changes)) = (report.changed, &report.changes) {
        write_changes(changed, events, changes, out)?;
    }
    Ok(())
}

/// Reads one count off a tally.
type Count = fn(&Tally) -> u64;

fn write_outcomes(runs: &[RunReport], out: &mut dyn Write) -> std::io::Result<()> {
    let mut table = Table::new(runs.iter().map(|r| r.rules.clone()));
    table.row("version", runs.iter().map(|r| r.version.clone()));
    let counts: [(&str, Count); 9] = [
        ("events", |t| t.events),
        ("processed", |t| t.processed),
        ("suppressed", |t| t.suppressed),
        ("ignored", |t| t.ignored),
        ("rejected", |t| t.rejected),
        ("dedup: unique", |t| t.verdict("unique")),
        ("dedup: out-of-order", |t| t.verdict("out_of_order")),
        ("dedup: duplicate", |t| t.verdict("duplicate")),
        ("dedup: redelivery", |t| t.verdict("redelivery")),
    ];
    for (label, count) in counts {
        table.row(label, runs.iter().map(|r| count(&r.summary).to_string()));
    }
    table.write(out)?;
    writeln!(out)
}

fn write_routing(runs: &[RunReport], out: &mut dyn Write) -> std::io::Result<()> {
    // Rows in the first run's order (largest first), then the candidate's new ones.
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut counts: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        for row in &run.summary.routing {
            let key = (row.target.clone(), row.reason.clone());
            let cells = counts.entry(key.clone()).or_insert_with(|| {
                keys.push(key);
                vec![0; runs.len()]
            });
            cells[i] = row.count;
        }
    }
    if keys.is_empty() {
        return Ok(());
    }
    let mut table = Table::new(runs.iter().map(|r| r.rules.clone()));
    table.header_label = "routing: target, reason".into();
    for key in &keys {
        let label = format!("{}, {}", key.0, key.1);
        table.row(&label, counts[key].iter().map(u64::to_string));
    }
    table.write(out)?;
    writeln!(out)
}

fn write_rejections(runs: &[RunReport], out: &mut dyn Write) -> std::io::Result<()> {
    let mut messages: Vec<&String> = runs
        .iter()
        .flat_map(|r| r.summary.rejections.keys())
        .collect();
    messages.sort();
    messages.dedup();
    if messages.is_empty() {
        return Ok(());
    }
    let mut table = Table::new(runs.iter().map(|r| r.rules.clone()));
    table.header_label = "rejected because".into();
    for m in messages {
        let cells = runs.iter().map(|r| {
            r.summary
                .rejections
                .get(m)
                .copied()
                .unwrap_or(0)
                .to_string()
        });
        table.row(m, cells);
    }
    table.write(out)?;
    writeln!(out)
}

fn write_changes(
    changed: u64,
    events: u64,
    changes: &[ChangeCount],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if changed == 0 {
        return writeln!(out, "no decision would change ({events} events compared)");
    }
    writeln!(out, "what would change: {changed} of {events} decisions")?;
    for c in changes {
        writeln!(out, "  {}", c.description)?;
        let examples: Vec<String> = c
            .examples
            .iter()
            .map(|e| match &e.interaction_id {
                Some(id) => format!("line {} ({id})", e.line),
                None => format!("line {}", e.line),
            })
            .collect();
        if !examples.is_empty() {
            writeln!(out, "    e.g. {}", examples.join(", "))?;
        }
    }
    Ok(())
}

/// `12.3s` under a minute, `1h 2m 3s` above.
fn span(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else {
        format!("{m}m {s}s")
    }
}

/// A left-labelled table with right-aligned value columns.
struct Table {
    header_label: String,
    header: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
}

impl Table {
    fn new(columns: impl Iterator<Item = String>) -> Self {
        Self {
            header_label: String::new(),
            header: columns.collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, label: &str, cells: impl Iterator<Item = String>) {
        self.rows.push((label.to_string(), cells.collect()));
    }

    fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let label_w = self
            .rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .chain([self.header_label.chars().count()])
            .max()
            .unwrap_or(0);
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|(_, c)| c[i].chars().count())
                    .chain([self.header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |label: &str, cells: &[String]| {
            let mut s = format!("{label:<label_w$}");
            for (cell, w) in cells.iter().zip(&widths) {
                s.push_str(&format!("  {cell:>w$}"));
            }
            s.trim_end().to_string()
        };
        writeln!(out, "{}", line(&self.header_label, &self.header))?;
        for (label, cells) in &self.rows {
            writeln!(out, "{}", line(label, cells))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(span(Duration::from_secs(3723)), "1h 2m 3s");
        assert_eq!(span(Duration::from_secs(61)), "1m 1s");
    }

    #[test]
    fn columns_line_up() {
        let mut t = Table::new(["rules/".to_string(), "next/".to_string()].into_iter());
        t.row("events", ["10".to_string(), "10".to_string()].into_iter());
        t.row(
            "suppressed",
            ["3".to_string(), "12345678".to_string()].into_iter(),
        );
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "            rules/     next/\nevents          10        10\nsuppressed       3  12345678\n"
        );
    }
}
