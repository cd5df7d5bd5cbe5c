//! A real `redis-server` for a test: started on a unix socket in a temp dir (no TCP port, no
//! persistence), waited for until it answers PING, killed on drop. Skipped, with a message, only
//! when `redis-server` is not on PATH and `CI` is unset; in CI a missing server fails the test.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// One running server, killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    dir: TempDir,
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts a server, or returns `None` (after saying why) when there is none to start and
    /// this is not CI.
    pub async fn start() -> Option<Self> {
        Self::start_with(&[]).await
    }

    /// Like [`RedisServer::start`], with more arguments for `redis-server`.
    pub async fn start_with(extra: &[&str]) -> Option<Self> {
        if !on_path("redis-server") {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not on PATH, and CI must run the Redis tests: apt-get install redis-server"
            );
            eprintln!("skipped: redis-server is not on PATH (apt-get install redis-server)");
            return None;
        }
        let mut server = Self {
            child: None,
            dir: tempfile::tempdir().expect("a temp dir"),
            extra: extra.iter().map(|a| a.to_string()).collect(),
        };
        server.restart().await;
        Some(server)
    }

    /// The socket the server listens on.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// The URL for `redis::Client::open`.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Kills the server (as a crash would: SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// Starts the server again on the same socket (killing it first if it runs).
    pub async fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--unixsocket"])
            .arg(self.socket())
            .args([
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        self.wait_for_ping().await;
    }

    async fn wait_for_ping(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = UnixStream::connect(self.socket()).await {
                let mut buf = [0; 7];
                if stream.write_all(b"PING\r\n").await.is_ok()
                    && stream.read_exact(&mut buf).await.is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not answer PING within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_file(&dir.join(program)))
}

fn is_file(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file())
}
