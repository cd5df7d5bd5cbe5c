//! What `cxrules serve` prints when it starts, through the real binary with its output on a
//! pipe: logs without colour codes, start-up errors in the CLI's `error:` / `hint:` form.

mod cli_support;

use cli_support::{arg, command, finish, workspace};

/// `serve` in dry-run on the shipped rules, at an address already taken: it announces itself
/// (a warning) and then fails to listen, so it starts and ends without being stopped.
fn serve_on_a_taken_port(extra: &[&str], env: &[(&str, &str)]) -> cli_support::Run {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let rules = workspace().join("rules");
    let mut args = vec![
        "serve", "--rules", arg(&rules), "--bind", "127.0.0.1", "--port", &port, "--no-watch",
        "--env-file", "/dev/null",
    ];
    args.extend_from_slice(extra);
    let mut cmd = command(&workspace(), &args);
    cmd.env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    finish(cmd)
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let run = serve_on_a_taken_port(&[], &[]);
    assert!(run.stderr.contains("DRY-RUN"), "{run:?}");
    assert!(!run.stderr.contains('\x1b'), "escape codes on a pipe: {:?}", run.stderr);
}
