//! Shared helpers of the CLI tests: run the real `cxrules` binary, make rule directories.
#![allow(dead_code)] // each test file uses its own part of the helpers

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root (where `rules/` and `schemas/` are).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate sits in the workspace")
        .to_path_buf()
}

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// The binary with a clean environment: no CXone or rules variables from the caller.
pub fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cxrules"));
    cmd.current_dir(cwd).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("CXONE_") || key.starts_with("CONE_") || key.starts_with("CXRULES_") {
            cmd.env_remove(key);
        }
    }
    // A live `serve` writes its outbox into a data dir: one of its own per run, never the cwd.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let data = std::env::temp_dir().join(format!("cxrules-cli-{}-{run}", std::process::id()));
    cmd.env("CXRULES_DATA_DIR", data);
    cmd.env("RUST_LOG", "warn").stdin(Stdio::null());
    cmd
}

/// Runs `cxrules ARGS` in `cwd`.
pub fn cxrules_in(cwd: &Path, args: &[&str]) -> Run {
    finish(command(cwd, args))
}

/// Runs `cxrules ARGS` at the workspace root.
pub fn cxrules(args: &[&str]) -> Run {
    cxrules_in(&workspace(), args)
}

/// Runs a prepared command.
pub fn finish(mut cmd: Command) -> Run {
    let out = cmd.output().expect("the cxrules binary runs");
    Run {
        code: out.status.code().expect("an exit code, not a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary directory holding `files` (relative path, text). Files under a subdirectory
/// (`data/inventory.yaml`) are not rule files of the directory.
pub fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// `path` as a string for an argument list.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Routing rules: in_stock → the premium skill, everything else → the general queue.
pub const ROUTING: &str = r#"
version: 1
events:
  routed:
    type: routing.interaction.created
    route: inventory
routing:
  inventory:
    sku: { template: "SKU-{interaction_id|last:3}" }
    inventory:
      url: "http://127.0.0.1:9/{sku}"
      timeout: 200ms
      breaker: { failures: 3, open_for: 30s }
    statuses:
      in_stock: { skills: [skill-premium] }
      out_of_stock: { queues: [queue-general] }
    unknown: { queues: [queue-general] }
    fallback: { queues: [queue-general] }
"#;

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `serve` process of a test, killed (SIGKILL, by its pid) when dropped.
pub struct Serve {
    /// The process.
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Serve {
    /// SIGKILL, as a crash or an OOM kill would end it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM: the graceful shutdown (drain, then the outbox is closed); waits for the exit.
    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }
}

/// A mock CXone's token endpoint (`POST /oauth2/token`).
pub async fn mount_token(cxone: &wiremock::MockServer) {
    use wiremock::matchers::{method, path};
    wiremock::Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"access_token": "tok", "token_type": "bearer", "expires_in": 3600}),
        ))
        .mount(cxone)
        .await;
}

/// The token and, at low priority (so a test's own mocks come first), 200 after `delay` for
/// every API call.
pub async fn mount_cxone(cxone: &wiremock::MockServer, delay: std::time::Duration) {
    mount_token(cxone).await;
    wiremock::Mock::given(wiremock::matchers::path_regex("^/api/v2/"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({}))
                .set_delay(delay),
        )
        .with_priority(10)
        .mount(cxone)
        .await;
}
