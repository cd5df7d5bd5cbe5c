//! The command line: global flags (`.env` file, log format) and one module per subcommand.

mod logging;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use cxrules_server::tools::{print_error, Hinted, Status};
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
    #[command(flatten)]
    Tools(cxrules_server::tools::ToolCommand),
}

/// Loads the `.env` file; a missing default file is fine, a missing named one is not.
fn load_env_file(path: &PathBuf) -> anyhow::Result<bool> {
    let explicit = path.as_os_str() != ".env";
    match dotenvy::from_path(path) {
        Ok(()) => Ok(true),
        Err(e) if e.not_found() && !explicit => Ok(false),
        Err(e) => Err(Hinted::usage(
            format!("cannot load env file {}: {e}", path.display()),
            "pass an existing file of KEY=value lines to --env-file, or leave the flag out",
        )),
    }
}

/// Parses the command line (again after the `.env` file, so its values feed the flags), runs
/// the command, and gives its exit code. Errors are printed as `error: …` and `= hint: …`, the
/// same for every command and never with a backtrace.
pub fn main() -> ExitCode {
    let status = match run() {
        Ok(status) => status,
        Err(e) => {
            print_error(&mut std::io::stderr().lock(), &e);
            Status::of(&e)
        }
    };
    status.into()
}

fn run() -> anyhow::Result<Status> {
    let first = Cli::parse();
    let cli = if load_env_file(&first.global.env_file)? {
        Cli::parse()
    } else {
        first
    };
    logging::init(cli.global.log_format, &cli.global.log)?;
    match cli.command {
        Command::Serve(args) => serve::run(*args).map(|()| Status::Ok),
        Command::Tools(cmd) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let status = runtime.block_on(cxrules_server::tools::run_status(cmd));
            drop(runtime);
            Ok(status)
        }
    }
}
