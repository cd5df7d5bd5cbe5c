//! The `cxrules` command: parses the command line and hands over to the subcommand.

mod cli;

// Every event allocates a handful of small, short-lived buffers (JSON values, the decision,
// the response); glibc's malloc spent a fifth of a dry-run request in its own bookkeeping.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
