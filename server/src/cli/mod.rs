//! The command line: global flags (`.env` file, log format) and one module per subcommand.

mod logging;
mod serve;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use cxrules_server::ServeArgs;

pub use logging::LogFormat;

/// cxrules: YAML rules for NICE CXone events (dedup, inventory routing).
#[derive(Debug, Parser)]
#[command(name = "cxrules", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
struct GlobalArgs {
    /// File of KEY=value lines loaded into the environment first (variables already set win).
    #[arg(long, global = true, env = "CXRULES_ENV_FILE", default_value = ".env")]
    env_file: PathBuf,
    /// Log format: human-readable lines or one JSON object per line.
    #[arg(long, global = true, env = "CXRULES_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax, e.g. `info,cxrules_server=debug`).
    #[arg(long, global = true, env = "RUST_LOG", default_value = "info")]
    log: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the webhook endpoints and apply the rules to live events.
    Serve(Box<ServeArgs>),
}

/// Loads the `.env` file; a missing default file is fine, a missing named one is not.
fn load_env_file(path: &PathBuf) -> anyhow::Result<bool> {
    let explicit = path.as_os_str() != ".env";
    match dotenvy::from_path(path) {
        Ok(()) => Ok(true),
        Err(e) if e.not_found() && !explicit => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot load env file {}", path.display())),
    }
}

/// Parses the command line (again after the `.env` file, so its values feed the flags) and runs.
pub fn main() -> anyhow::Result<()> {
    let first = Cli::parse();
    let cli = if load_env_file(&first.global.env_file)? {
        Cli::parse()
    } else {
        first
    };
    logging::init(cli.global.log_format, &cli.global.log)?;
    match cli.command {
        Command::Serve(args) => serve::run(*args),
    }
}
