//! The operator tools of the `cxrules` command: `check`, `test`, `replay`, `schema`,
//! `register-webhook` and `outbox`, one module each, all sharing one exit-code convention.
//!
//! Exit codes ([`Status`]): 0 when all is well, 1 when the thing checked failed (invalid rules, a
//! failing test case, a stale schema, a registration refused), 2 for usage errors, 3 when the
//! command could not do its job (the rules do not load, a file or a service cannot be reached).

pub mod check;
mod junit;
pub mod outbox;
mod outcome;
pub mod register_webhook;
pub mod replay;
pub mod schema;
pub mod test;

use std::process::ExitCode;

use clap::Subcommand;

pub use outcome::{print_error, Hinted, Status};

/// The operator subcommands, flattened into the `cxrules` command line.
#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Validate a rules directory without serving: every problem, located, with a hint.
    Check(check::CheckArgs),
    /// Run the rules' own test cases (deterministic time, no network).
    Test(test::TestArgs),
    /// Evaluate recorded events offline; with `--against`, show what new rules would change.
    Replay(Box<replay::ReplayArgs>),
    /// Print the JSON Schema of rule files; `--check` fails when `schemas/` is stale.
    Schema(schema::SchemaArgs),
    /// Register this service's webhook with CXone for the event types the rules handle.
    RegisterWebhook(Box<register_webhook::RegisterWebhookArgs>),
    /// Inspect and repair the durable outbox of a data dir (while `serve` is stopped).
    Outbox(outbox::OutboxArgs),
    /// Write a JSONL file of synthetic events for trying `replay` on a large input.
    #[command(hide = true)]
    GenerateEvents(replay::generate::GenerateArgs),
}

/// Runs one operator subcommand. Errors are printed here (with their hint) and become exit
/// code 2 (usage) or 3 (could not run), so the caller only has to return the code.
pub async fn run(cmd: ToolCommand) -> anyhow::Result<ExitCode> {
    Ok(run_status(cmd).await.into())
}

/// [`run`], giving the [`Status`] (for callers that end the process with `std::process::exit`).
pub async fn run_status(cmd: ToolCommand) -> Status {
    let result = match cmd {
        ToolCommand::Check(args) => check::run(&args),
        ToolCommand::Test(args) => test::run(&args),
        ToolCommand::Replay(args) => replay::run(*args).await,
        ToolCommand::Schema(args) => schema::run(&args),
        ToolCommand::RegisterWebhook(args) => register_webhook::run(&args).await,
        ToolCommand::Outbox(args) => outbox::run(&args),
        ToolCommand::GenerateEvents(args) => replay::generate::run(&args),
    };
    result.unwrap_or_else(|e| {
        print_error(&mut std::io::stderr().lock(), &e);
        Status::of(&e)
    })
}
