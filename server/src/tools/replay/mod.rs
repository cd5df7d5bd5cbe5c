//! `cxrules replay EVENTS.jsonl`: evaluates recorded events offline, in order, with time taken
//! from the events (or a fixed spacing) and inventory answers from a file; with `--against`, the
//! same events through a candidate rule set and what would change.

mod changes;
pub mod generate;
mod input;
mod pass;
mod report;
mod tally;
mod time;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cxrules_engine::replay::{ManualClock, MapInventory};
use cxrules_engine::Engine;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::check::{load, write_diagnostics, Loaded};
use super::outcome::{dir_label, Status};
use changes::ChangeBook;
use pass::Replay;
use tally::Tally;
pub use time::{epoch_ms, parse_rfc3339, TimeMode};

/// Flags of `cxrules replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Recorded events, one JSON object per line (`-` reads standard input), or a capture
    /// directory (`serve --capture`): its files in the order they were written.
    pub events: PathBuf,
    /// Directory of the rules in force.
    #[arg(long, default_value = "rules", env = "CXRULES_RULES")]
    pub rules: PathBuf,
    /// A candidate rules directory: evaluate both and print what would change.
    #[arg(long, value_name = "DIR2")]
    pub against: Option<PathBuf>,
    /// Output: a summary table, one decision per line (jsonl), or the summary as JSON.
    #[arg(long, value_enum, default_value_t = ReplayFormat::Table)]
    pub format: ReplayFormat,
    /// JSON pointer to each event's time (RFC 3339 or epoch ms); repeat it: the first present
    /// wins. The default reads the receive time `serve --capture` writes first.
    #[arg(long = "time-field", value_name = "POINTER",
          default_values = [crate::capture::RECEIVED_AT_POINTER, "/createdAtWithMilliseconds", "/timestamp"])]
    pub time_fields: Vec<String>,
    /// Space events evenly (`100ms`) instead of reading their time.
    #[arg(long, value_parser = parse_spacing, conflicts_with = "time_fields")]
    pub spacing: Option<Duration>,
    /// YAML or JSON map of SKU → inventory answer (a status, `timeout`, `unreachable`,
    /// `{error: 503}`); unknown SKUs answer 404.
    #[arg(long, value_name = "FILE", conflicts_with = "live_inventory")]
    pub inventory: Option<PathBuf>,
    /// Ask the inventory API the rules name (network; slow on large files).
    #[arg(long)]
    pub live_inventory: bool,
    /// Examples listed per kind of change.
    #[arg(long, default_value_t = 3)]
    pub examples: usize,
    /// Never draw a progress bar (it is off anyway when standard error is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

/// How `replay` writes its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplayFormat {
    /// Summary tables (and what would change, with `--against`).
    Table,
    /// One decision per line; with `--against`, one line per changed decision.
    Jsonl,
    /// The summary as one JSON document.
    Json,
}

fn parse_spacing(text: &str) -> Result<Duration, String> {
    let d = cxrules_engine::duration::DurationStr(text.to_string()).parse()?;
    if d.is_zero() {
        return Err("the spacing must be more than zero".into());
    }
    Ok(d)
}

impl ReplayArgs {
    /// Replay arguments with the defaults of the command line.
    pub fn new(events: impl Into<PathBuf>, rules: impl Into<PathBuf>) -> Self {
        Self {
            events: events.into(),
            rules: rules.into(),
            against: None,
            format: ReplayFormat::Table,
            time_fields: vec![
                crate::capture::RECEIVED_AT_POINTER.into(),
                "/createdAtWithMilliseconds".into(),
                "/timestamp".into(),
            ],
            spacing: None,
            inventory: None,
            live_inventory: false,
            examples: 3,
            no_progress: true,
        }
    }

    fn time_mode(&self) -> TimeMode {
        match self.spacing {
            Some(step) => TimeMode::Spacing(step),
            None => TimeMode::Fields(self.time_fields.clone()),
        }
    }
}

/// `cxrules replay`: runs on a thread of its own with a single-threaded runtime (the fastest way
/// through one ordered stream), writing to standard output and error.
pub async fn run(args: ReplayArgs) -> anyhow::Result<Status> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let mut err = std::io::stderr();
        let result = execute(&args, &mut out, &mut err).and_then(|s| {
            out.flush()?;
            Ok(s)
        });
        let _ = tx.send(result);
    });
    rx.await
        .map_err(|_| anyhow::anyhow!("the replay stopped unexpectedly"))?
}

/// Replays `args.events`; results go to `out`, warnings and timing to `err`. Must not be called
/// from inside a tokio runtime (it makes its own).
pub fn execute(
    args: &ReplayArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Status> {
    let mut rule_sets = Vec::new();
    for dir in std::iter::once(&args.rules).chain(args.against.as_ref()) {
        match load(dir) {
            Loaded::Valid(rules) => rule_sets.push((dir.clone(), rules)),
            other => {
                if let Loaded::Invalid(d) | Loaded::Unreadable(d) = &other {
                    write_diagnostics(dir, d, err)?;
                }
                writeln!(
                    err,
                    "error: cannot replay: the rules in {} do not load",
                    dir_label(dir)
                )?;
                return Ok(Status::CannotRun);
            }
        }
    }
    let inventory = match (&args.inventory, args.live_inventory) {
        (Some(path), _) => Some(Arc::new(input::load_inventory(path)?)),
        (None, true) => None,
        (None, false) => Some(Arc::new(MapInventory::default())),
    };
    let events = input::open_events(&args.events)?;
    let clock = Arc::new(ManualClock::new());
    let mut engines = Vec::new();
    for (_, rules) in &rule_sets {
        let mut builder = Engine::with_rules(rules.clone()).clock(clock.hook());
        if let Some(inv) = &inventory {
            builder = builder.inventory(inv.clone());
        }
        engines.push(builder.build()?);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let mut replay = Replay {
        args,
        engines,
        tallies: vec![Tally::default(); rule_sets.len()],
        changes: (rule_sets.len() > 1).then(|| ChangeBook::new(args.examples)),
        timeline: time::Timeline::new(args.time_mode(), clock),
        lines: 0,
        broken: 0,
        out,
        err,
    };
    let bar = progress_bar(args, events.size);
    runtime.block_on(replay.all(events.reader, &bar))?;
    bar.finish_and_clear();
    replay.finish(&rule_sets, started.elapsed())?;
    Ok(Status::Ok)
}

fn progress_bar(args: &ReplayArgs, size: Option<u64>) -> ProgressBar {
    let Some(size) = size.filter(|_| !args.no_progress && std::io::stderr().is_terminal()) else {
        return ProgressBar::hidden();
    };
    let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}
