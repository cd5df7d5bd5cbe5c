//! `cxrules schema [--check | --into DIR]`: prints the draft-07 JSON Schema of rule files,
//! checks that the copy kept in `schemas/` (which editors read) is current, or writes it into a
//! rules directory with the files' modelines pointing at it (`beside.rs`).

pub mod beside;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use super::outcome::{Hinted, Status};

/// Where the repository keeps the schema.
pub const SCHEMA_PATH: &str = "schemas/cxrules.schema.json";

/// Flags of `cxrules schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemaArgs {
    /// Compare with the kept copy instead of printing; exit 1 when it is stale.
    #[arg(long)]
    pub check: bool,
    /// The kept copy `--check` compares with.
    #[arg(long, default_value = SCHEMA_PATH)]
    pub path: PathBuf,
    /// Write the schema into DIR (as `cxrules.schema.json`) and point the modelines of DIR's
    /// rule files at it, for a copy of the rules outside the repository.
    #[arg(long, value_name = "DIR", conflicts_with = "check")]
    pub into: Option<PathBuf>,
}

/// Prints the schema, or checks the kept copy, writing to `out`.
pub fn execute(args: &SchemaArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    if let Some(dir) = &args.into {
        return beside::execute(dir, out);
    }
    let schema = cxrules_engine::schema::schema_json();
    if !args.check {
        out.write_all(schema.as_bytes())?;
        return Ok(Status::Ok);
    }
    let shown = args.path.display();
    let kept = match std::fs::read_to_string(&args.path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Hinted::error(
                format!("{shown} does not exist"),
                format!("run from the repository root, pass --path, or create it with `cxrules schema > {shown}`"),
            ))
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {shown}")),
    };
    if kept == schema {
        writeln!(out, "ok: {shown} is up to date")?;
        return Ok(Status::Ok);
    }
    writeln!(
        out,
        "error: {shown} is stale: the rule format changed since it was generated"
    )?;
    writeln!(
        out,
        "  = hint: regenerate it with `cxrules schema > {shown}` and commit it"
    )?;
    Ok(Status::Failed)
}

/// `cxrules schema`: writes to standard output.
pub fn run(args: &SchemaArgs) -> anyhow::Result<Status> {
    execute(args, &mut std::io::stdout().lock())
}
