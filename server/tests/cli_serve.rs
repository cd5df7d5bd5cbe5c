//! `cxrules serve` as a real process: works out of the box in dry-run on the default rules,
//! reloads on SIGHUP, and stops cleanly on SIGTERM.
#![cfg(unix)]

mod cli_support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use cli_support::{arg, command, free_port, workspace};
use serde_json::{json, Value};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(rules: &Path) -> Server {
    let port = free_port();
    let mut cmd = command(
        &workspace(),
        &[
            "serve",
            "--rules",
            arg(rules),
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--no-watch",
            "--env-file",
            "/dev/null",
        ],
    );
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let server = Server {
        child: cmd.spawn().expect("cxrules serve starts"),
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if reqwest::get(format!("{}/readyz", server.base))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cxrules serve did not become ready");
}

fn signal(server: &Server, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn copy_default_rules() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(workspace().join("rules")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

async fn post(server: &Server, event: &Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/webhook/cxone/events", server.base))
        .json(event)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn version(server: &Server) -> String {
    let status: Value = reqwest::get(format!("{}/rules/status", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    status["version"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn serves_the_default_rules_in_dry_run_and_reloads_on_sighup() {
    let rules = copy_default_rules();
    let server = start(rules.path()).await;
    let message = |text: &str| {
        json!({"type": "conversations.messages.messageCreated",
        "data": {"message": {"interactionId": "int-1", "senderId": "cust-1", "content": text, "sequenceNumber": 1}}})
    };
    let first = post(&server, &message("Where is my order?")).await;
    assert_eq!(
        (first["outcome"].as_str(), first["dry_run"].as_bool()),
        (Some("processed"), Some(true)),
        "{first}"
    );
    let again = post(&server, &message("  where is MY order? ")).await;
    assert_eq!(again["outcome"], "suppressed", "{again}");

    let before = version(&server).await;
    let extra = "# yaml-language-server: $schema=../schemas/cxrules.schema.json\nversion: 1\nnormalizers:\n  spare: [trim]\n";
    std::fs::write(rules.path().join("extra.yaml"), extra).unwrap();
    signal(&server, "-HUP");
    let mut after = before.clone();
    for _ in 0..100 {
        after = version(&server).await;
        if after != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(after, before, "SIGHUP did not reload the rules");
    // The dedup channel did not change, so its window survived the reload.
    let third = post(&server, &message("WHERE is my order?")).await;
    assert_eq!(third["outcome"], "suppressed", "{third}");
}

#[tokio::test]
async fn stops_cleanly_on_sigterm() {
    let rules = copy_default_rules();
    let mut server = start(rules.path()).await;
    signal(&server, "-TERM");
    let mut code = None;
    for _ in 0..100 {
        if let Some(status) = server.child.try_wait().unwrap() {
            code = status.code();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(code, Some(0), "serve did not exit cleanly after SIGTERM");
}

/// Starts `cxrules serve` in `cwd` (where a `.env` may sit) with info logs written to `log`.
async fn start_in(cwd: &Path, rules: &Path, log: &Path) -> Server {
    let port = free_port();
    let mut cmd = command(
        cwd,
        &[
            "serve",
            "--rules",
            arg(rules),
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--no-watch",
        ],
    );
    let log = std::fs::File::create(log).unwrap();
    cmd.env("RUST_LOG", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let server = Server {
        child: cmd.spawn().expect("cxrules serve starts"),
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if reqwest::get(format!("{}/readyz", server.base))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cxrules serve did not become ready");
}

async fn host_status(server: &Server) -> Value {
    let status: Value = reqwest::get(format!("{}/rules/status", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    status["host"].clone()
}

#[tokio::test]
async fn a_dot_env_file_with_the_seed_variable_names_goes_live_and_its_secret_stays_unprinted() {
    let rules = copy_default_rules();
    let cwd = tempfile::tempdir().unwrap();
    // Seed 000's variable names; an API address nothing listens on (no event is sent).
    std::fs::write(
        cwd.path().join(".env"),
        format!(
            "CONE_CLIENT_ID=seed-client\nCONE_CLIENT_SECRET=seed-s3cret-value\n\
             CXONE_BASE_URL=http://127.0.0.1:{}\n",
            free_port()
        ),
    )
    .unwrap();
    let log = cwd.path().join("serve.log");
    let server = start_in(cwd.path(), rules.path(), &log).await;
    let host = host_status(&server).await;
    assert_eq!(host["dry_run"], false, "{host}");
    drop(server);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("live: updates are sent to CXone"),
        "{logged}"
    );
    assert!(!logged.contains("DRY-RUN"), "{logged}");
    assert!(!logged.contains("seed-s3cret-value"), "{logged}");
}

#[tokio::test]
async fn without_credentials_the_first_line_says_dry_run() {
    let rules = copy_default_rules();
    let cwd = tempfile::tempdir().unwrap();
    let log = cwd.path().join("serve.log");
    let server = start_in(cwd.path(), rules.path(), &log).await;
    assert_eq!(host_status(&server).await["dry_run"], true);
    drop(server);
    let logged = std::fs::read_to_string(&log).unwrap();
    let first = logged.lines().next().unwrap_or_default();
    assert!(
        first.contains("DRY-RUN") && first.contains("CXONE_CLIENT_ID"),
        "{logged}"
    );
}

/// Runs `cxrules serve` with `env` set; its exit code and standard error, or `None` when it
/// was still running after 20 s (then it is stopped).
async fn serve_exit(env: &[(&str, &str)]) -> Option<(i32, String)> {
    let rules = workspace().join("rules");
    let port = free_port().to_string();
    let argv = [
        "serve",
        "--rules",
        arg(&rules),
        "--bind",
        "127.0.0.1",
        "--port",
        &port,
    ];
    let mut cmd = command(&workspace(), &argv);
    cmd.args(["--no-watch", "--env-file", "/dev/null"])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cxrules serve starts");
    for _ in 0..400 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return Some((status.code().unwrap_or(-1), stderr));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[tokio::test]
async fn out_of_range_values_from_the_environment_stop_serve_at_start_naming_the_flag() {
    let cases = [
        (
            vec![
                ("METRICS_INTERVAL", "0"),
                ("METRICS_ENDPOINT", "http://127.0.0.1:9/ingest"),
            ],
            "--metrics-interval",
        ),
        (
            vec![("CXRULES_QUEUE_CAPACITY", "2305843009213693952")],
            "--effects-capacity",
        ),
        (vec![("CXONE_TIMEOUT", "0s")], "--cxone-timeout"),
    ];
    for (env, flag) in cases {
        let (code, stderr) = serve_exit(&env)
            .await
            .unwrap_or_else(|| panic!("{env:?}: serve ran on"));
        assert_eq!(code, 2, "{env:?}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains("out of range"),
            "{env:?}: {stderr}"
        );
    }
}
