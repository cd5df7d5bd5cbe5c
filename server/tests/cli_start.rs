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
        "serve",
        "--rules",
        arg(&rules),
        "--bind",
        "127.0.0.1",
        "--port",
        &port,
        "--no-watch",
        "--env-file",
        "/dev/null",
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
    assert!(
        !run.stderr.contains('\x1b'),
        "escape codes on a pipe: {:?}",
        run.stderr
    );
}

#[test]
fn a_start_up_error_is_one_error_and_a_hint_without_a_backtrace() {
    let run = serve_on_a_taken_port(&["--webhook-auth", "hmac"], &[("RUST_BACKTRACE", "1")]);
    assert_eq!(run.code, 2, "a configuration that cannot be used: {run:?}");
    assert!(
        run.stderr
            .contains("error: --webhook-auth hmac needs a secret\n")
            && run.stderr.contains("  = hint: set CXRULES_WEBHOOK_SECRET"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.to_lowercase().contains("backtrace"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_address_in_use_is_reported_with_its_cause_and_exit_code_3() {
    let run = serve_on_a_taken_port(&[], &[("RUST_BACKTRACE", "1")]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("error: cannot listen on 127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("ddress already in use"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("  = hint: "), "{}", run.stderr);
    assert!(
        !run.stderr.to_lowercase().contains("backtrace"),
        "{}",
        run.stderr
    );
}

#[test]
fn rules_that_do_not_load_stop_serve_with_exit_code_3() {
    let broken = cli_support::dir_with(&[(
        "rules.yaml",
        "version: 1\ndedup: { default: { window: soon } }\n",
    )]);
    let mut cmd = command(
        &workspace(),
        &[
            "serve",
            "--rules",
            arg(broken.path()),
            "--port",
            "0",
            "--env-file",
            "/dev/null",
        ],
    );
    cmd.env("RUST_BACKTRACE", "1");
    let run = finish(cmd);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("duration `soon`"), "{}", run.stderr);
    assert!(
        !run.stderr.to_lowercase().contains("backtrace"),
        "{}",
        run.stderr
    );
}

#[test]
fn live_without_inbound_authentication_on_every_interface_is_refused() {
    let rules = workspace().join("rules");
    let argv = [
        "serve",
        "--rules",
        arg(&rules),
        "--bind",
        "0.0.0.0",
        "--port",
        "0",
        "--env-file",
        "/dev/null",
    ];
    let mut cmd = command(&workspace(), &argv);
    cmd.env("CXONE_CLIENT_ID", "id")
        .env("CXONE_CLIENT_SECRET", "secret");
    let run = finish(cmd);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("error: refusing to go live on 0.0.0.0 without inbound authentication"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--allow-unauthenticated"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dedup_store_that_is_not_redis_is_refused_naming_the_flag() {
    for (flags, env) in [
        (&["--dedup-store", "http://127.0.0.1:6379"][..], &[][..]),
        (
            &[][..],
            &[("CXRULES_DEDUP_STORE", "memcached://cache:11211")][..],
        ),
    ] {
        let run = serve_on_a_taken_port(flags, env);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains("--dedup-store"), "{}", run.stderr);
        assert!(run.stderr.contains("redis://"), "{}", run.stderr);
    }
}

#[test]
fn a_redis_url_that_does_not_parse_is_a_usage_error() {
    let run = serve_on_a_taken_port(&["--dedup-store", "redis://host:notaport"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("error: --dedup-store cannot be used: "),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("did not parse").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn a_redis_that_is_down_does_not_stop_the_start() {
    let run = serve_on_a_taken_port(
        &["--dedup-store", "redis+unix:///nonexistent/redis.sock"],
        &[],
    );
    assert!(
        run.stderr.contains("dedup windows in redis"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("cannot listen"), "{}", run.stderr);
}
