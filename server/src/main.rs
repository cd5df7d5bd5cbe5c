//! The `cxrules` command: parses the command line and hands over to the subcommand.

mod cli;

fn main() -> anyhow::Result<()> {
    cli::main()
}
