//! `cxrules outbox status|list|dead-letters|retry|purge`: reads and edits the durable outbox of
//! a data dir while no `serve` has it open (the file is locked by the process using it; a
//! command run meanwhile says so and changes nothing). With `--dedup-store` it acts on the
//! replicas' Redis outbox instead, which the running replicas share: a retried dead letter is
//! read by one of them at once.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::outcome::{Hinted, Status};
use crate::outbox::redis as redis_outbox;
use crate::outbox::{self, OpenError, Purge, FILE_NAME};

/// Flags of `cxrules outbox`.
#[derive(Debug, Clone, Args)]
pub struct OutboxArgs {
    /// The data dir `serve` was given.
    #[arg(long, env = "CXRULES_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// The Redis the replicas use (`serve --dedup-store`): act on its outbox, not a data dir's.
    #[arg(long, env = "CXRULES_DEDUP_STORE", global = true)]
    pub dedup_store: Option<String>,
    /// The key prefix the replicas use (`serve --dedup-key-prefix`).
    #[arg(
        long,
        env = "CXRULES_DEDUP_KEY_PREFIX",
        default_value = "cxrules:dedup",
        global = true
    )]
    pub dedup_key_prefix: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: OutboxCommand,
}

/// What to do with the outbox.
#[derive(Debug, Clone, Subcommand)]
pub enum OutboxCommand {
    /// Counts: pending updates, the oldest one's age, dead letters, remembered events.
    Status,
    /// Pending updates, oldest first.
    List {
        /// Show at most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Updates given up, with their attempts and CXone's last answer.
    DeadLetters {
        /// Show at most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Moves dead letters back to pending; the next `serve` on this data dir sends them (with
    /// `--dedup-store`: a running replica sends them).
    Retry {
        /// Only these dead letters (ids as `dead-letters` shows them); default: all.
        #[arg(long = "id")]
        ids: Vec<String>,
    },
    /// Deletes dead letters or pending updates for good.
    Purge {
        /// Delete every dead letter.
        #[arg(long, required_unless_present = "pending")]
        dead_letters: bool,
        /// Delete every pending update: they will never be sent.
        #[arg(long)]
        pending: bool,
    },
}

fn open(dir: &Path) -> anyhow::Result<(redb::Database, PathBuf)> {
    if !dir.join(FILE_NAME).is_file() {
        return Err(Hinted::error(
            format!("no outbox in {}", dir.display()),
            "pass the --data-dir `cxrules serve` uses (CXRULES_DATA_DIR)",
        ));
    }
    outbox::open(dir).map_err(|e| match e {
        OpenError::Locked(_) => Hinted::error(
            e.to_string(),
            "a running `cxrules serve` holds the outbox; stop it (SIGTERM drains and closes it), run this command, then start it again",
        ),
        other => Hinted::error(other.to_string(), "check the path, or move the file aside"),
    })
}

fn age(ms: u64) -> String {
    let s = outbox::now_ms().saturating_sub(ms) / 1000;
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        _ => format!("{}h", s / 3600),
    }
}

/// Rows with their ids as one JSON array (`--json`).
fn write_json<I: serde::Serialize, R: serde::Serialize>(
    out: &mut dyn Write,
    rows: &[(I, R)],
) -> anyhow::Result<()> {
    let rows: Vec<_> = rows
        .iter()
        .map(|(id, record)| serde_json::json!({"id": id, "record": record}))
        .collect();
    writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
    Ok(())
}

/// Pending updates as a table, ids right-aligned in `id_width` columns.
fn write_pending<I: std::fmt::Display>(
    out: &mut dyn Write,
    rows: &[(I, outbox::Pending)],
    id_width: usize,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:>id_width$}  {:<9} {:>6}  interaction",
        "id", "endpoint", "age"
    )?;
    for (id, p) in rows {
        let ep = p.update.endpoint().as_str();
        writeln!(
            out,
            "{id:>id_width$}  {ep:<9} {:>6}  {}",
            age(p.accepted_ms),
            p.interaction
        )?;
    }
    writeln!(out, "{} shown", rows.len())?;
    Ok(())
}

/// One dead letter: what it was, why it was given up, each failed delivery, the update.
fn write_dead_letter(
    out: &mut dyn Write,
    id: &dyn std::fmt::Display,
    d: &outbox::DeadLetter,
) -> anyhow::Result<()> {
    let ep = d.pending.update.endpoint().as_str();
    writeln!(
        out,
        "dead letter {id}: {ep} update of {} ({})",
        d.pending.interaction, d.reason
    )?;
    for a in &d.pending.history {
        writeln!(
            out,
            "  {} ago, {} call(s): {}",
            age(a.at_ms),
            a.calls,
            a.answer
        )?;
    }
    writeln!(
        out,
        "  update: {}",
        serde_json::to_string(&d.pending.update)?
    )?;
    Ok(())
}

/// Runs the command, writing to `out`.
pub fn execute(args: &OutboxArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    if let Some(url) = args.dedup_store.as_deref().filter(|u| !u.trim().is_empty()) {
        return execute_redis(args, url.trim(), out);
    }
    let (db, path) = open(&args.data_dir)?;
    let fail = |e: OpenError| Hinted::error(e.to_string(), "check the disk and the file");
    match &args.command {
        OutboxCommand::Status => {
            let s = outbox::summary(&db, &path).map_err(fail)?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&s)?)?;
            } else {
                writeln!(out, "outbox {}", s.path.display())?;
                let oldest = s.oldest_pending_ms.map_or(String::new(), |ms| {
                    format!(" (oldest accepted {} ago)", age(ms))
                });
                writeln!(out, "  pending updates:   {}{oldest}", s.pending)?;
                writeln!(out, "  dead letters:      {}", s.dead_letters)?;
                writeln!(out, "  remembered events: {}", s.remembered_events)?;
            }
        }
        OutboxCommand::List { limit } => {
            let rows = outbox::list_pending(&db, &path, *limit).map_err(fail)?;
            if args.json {
                write_json(out, &rows)?;
            } else {
                write_pending(out, &rows, 10)?;
            }
        }
        OutboxCommand::DeadLetters { limit } => {
            let rows = outbox::list_dead(&db, &path, *limit).map_err(fail)?;
            if args.json {
                write_json(out, &rows)?;
            } else {
                for (id, d) in &rows {
                    write_dead_letter(out, id, d)?;
                }
                writeln!(out, "{} shown", rows.len())?;
            }
        }
        OutboxCommand::Retry { ids } => {
            let ids = ids
                .iter()
                .map(|id| {
                    id.parse::<u64>().map_err(|_| {
                        Hinted::usage(
                            format!("--id {id}: not a dead letter id of the file"),
                            "give ids as `cxrules outbox dead-letters` shows them",
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<u64>>>()?;
            let moved = outbox::retry(&db, &path, &ids).map_err(fail)?;
            writeln!(out, "{moved} dead letter(s) moved back to pending; the next `cxrules serve` on {} sends them", args.data_dir.display())?;
        }
        OutboxCommand::Purge {
            dead_letters,
            pending,
        } => {
            if *dead_letters {
                let n = outbox::purge(&db, &path, Purge::DeadLetters).map_err(fail)?;
                writeln!(out, "{n} dead letter(s) deleted")?;
            }
            if *pending {
                let n = outbox::purge(&db, &path, Purge::Pending).map_err(fail)?;
                writeln!(out, "{n} pending update(s) deleted; they will not be sent")?;
            }
        }
    }
    Ok(Status::Ok)
}

/// The command on the Redis outbox under `--dedup-key-prefix`.
fn execute_redis(args: &OutboxArgs, url: &str, out: &mut dyn Write) -> anyhow::Result<Status> {
    let prefix = args.dedup_key_prefix.trim();
    let unusable = |e: redis::RedisError| {
        Hinted::error(
            format!("redis outbox at {url}: {e}"),
            "pass the --dedup-store and --dedup-key-prefix `cxrules serve` uses",
        )
    };
    let client = redis::Client::open(url).map_err(|e| {
        Hinted::usage(
            format!("--dedup-store {url}: {e}"),
            "redis://host:6379, rediss://host:6380 or redis+unix:///path/to/sock",
        )
    })?;
    let mut con = client
        .get_connection_with_timeout(std::time::Duration::from_secs(5))
        .map_err(unusable)?;
    let con = &mut con;
    match &args.command {
        OutboxCommand::Status => {
            let s = redis_outbox::summary(con, prefix).map_err(unusable)?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&s)?)?;
            } else {
                writeln!(out, "outbox redis: {} ({url})", s.stream)?;
                let oldest = s.oldest_pending_ms.map_or(String::new(), |ms| {
                    format!(" (oldest accepted {} ago)", age(ms))
                });
                writeln!(out, "  pending updates:   {}{oldest}", s.pending)?;
                writeln!(out, "  being delivered:   {}", s.in_delivery)?;
                writeln!(out, "  dead letters:      {}", s.dead_letters)?;
                writeln!(out, "  consumers:         {}", s.consumers)?;
            }
        }
        OutboxCommand::List { limit } => {
            let rows = redis_outbox::list_pending(con, prefix, *limit).map_err(unusable)?;
            if args.json {
                write_json(out, &rows)?;
            } else {
                write_pending(out, &rows, 20)?;
            }
        }
        OutboxCommand::DeadLetters { limit } => {
            let rows = redis_outbox::list_dead(con, prefix, *limit).map_err(unusable)?;
            if args.json {
                write_json(out, &rows)?;
            } else {
                for (id, d) in &rows {
                    let d = match d {
                        redis_outbox::DeadEntry::Letter(d) => d,
                        redis_outbox::DeadEntry::Unreadable { raw } => {
                            writeln!(out, "dead letter {id}: unreadable entry: {raw}")?;
                            continue;
                        }
                    };
                    write_dead_letter(out, id, d)?;
                }
                writeln!(out, "{} shown", rows.len())?;
            }
        }
        OutboxCommand::Retry { ids } => {
            let moved = redis_outbox::retry(con, prefix, ids).map_err(unusable)?;
            writeln!(
                out,
                "{moved} dead letter(s) moved back to pending; a running replica sends them"
            )?;
        }
        OutboxCommand::Purge {
            dead_letters,
            pending,
        } => {
            if *dead_letters {
                let n = redis_outbox::purge(con, prefix, Purge::DeadLetters).map_err(unusable)?;
                writeln!(out, "{n} dead letter(s) deleted")?;
            }
            if *pending {
                let n = redis_outbox::purge(con, prefix, Purge::Pending).map_err(unusable)?;
                writeln!(out, "{n} pending update(s) deleted; they will not be sent (a replica that already read some may still send those)")?;
            }
        }
    }
    Ok(Status::Ok)
}

/// `cxrules outbox`: writes to standard output.
pub fn run(args: &OutboxArgs) -> anyhow::Result<Status> {
    execute(args, &mut std::io::stdout().lock())
}
