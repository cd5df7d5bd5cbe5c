//! Headless Chromium (Debian's `chromium` package) for the status page's test: loads a page,
//! lets its scripts run, and returns the document as it then is. Skipped, with a message, only
//! when `chromium` is not on PATH and `CI` is unset; in CI a missing browser fails the test.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// The browser, found on PATH.
#[derive(Debug)]
pub struct Chromium {
    profile: tempfile::TempDir,
}

impl Chromium {
    /// The browser, or `None` (after saying why) when there is none and this is not CI.
    pub fn find() -> Option<Self> {
        let on_path = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| is_file(&dir.join("chromium")))
        });
        if !on_path {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromium is not on PATH, and CI must run the status page test: apt-get install chromium"
            );
            eprintln!("skipped: chromium is not on PATH (apt-get install chromium)");
            return None;
        }
        Some(Self {
            profile: tempfile::tempdir().expect("a temp dir"),
        })
    }

    /// Loads `url`, runs its scripts (network answers and up to `budget` of virtual time, so
    /// timers fire without waiting for them), and returns the serialized document.
    pub async fn dump_dom(&self, url: &str, budget: Duration) -> String {
        let budget = format!("--virtual-time-budget={}", budget.as_millis());
        let out = self.run(&["--dump-dom", &budget, url]).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    async fn run(&self, args: &[&str]) -> Vec<u8> {
        let profile = format!("--user-data-dir={}", self.profile.path().display());
        let mut command = tokio::process::Command::new("chromium");
        command
            .args([
                "--headless",
                // Root in a container has no user namespaces for the sandbox.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                &profile,
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Killed by its pid if the test gives up on it.
            .kill_on_drop(true);
        let child = command.spawn().expect("start chromium");
        // A guard against a browser that never exits, not a timed assertion.
        let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("chromium did not finish in two minutes")
            .expect("chromium's output");
        assert!(
            output.status.success(),
            "chromium failed: {}",
            output.status
        );
        output.stdout
    }
}

fn is_file(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file())
}
