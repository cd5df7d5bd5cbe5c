//! Hot reload: a watcher on the rules directory signals; the engine's own reload path does the rest.
//!
//! The directory is watched, not the files, so editors' rename-saves and a Kubernetes
//! ConfigMap's `..data` symlink swap are both seen. Bursts of events are debounced into one
//! reload, and a reload whose files hash the same as the rules in force does nothing.

use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::engine::Engine;

/// How to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    /// Quiet time after the last file event before reloading.
    pub debounce: Duration,
    /// Poll the directory at this interval instead of using file-system events (for NFS and
    /// container mounts where inotify stays silent).
    pub poll: Option<Duration>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(200),
            poll: None,
        }
    }
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The engine was built from compiled rules, not a directory.
    #[error("this engine has no rules directory to watch")]
    NoDirectory,
    /// `watch` must be called inside a tokio runtime.
    #[error("watching needs a tokio runtime; call it from inside one")]
    NoRuntime,
    /// The file-system watcher failed.
    #[error("cannot watch the rules directory: {0}")]
    Notify(#[from] notify::Error),
}

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchHandle {
    _watcher: Box<dyn Watcher + Send>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchHandle").finish_non_exhaustive()
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Engine {
    /// Watches the rules directory and reloads on change, until the handle is dropped.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let engine = cxrules_engine::Engine::from_dir("rules")?;
    /// let _watch = engine.watch(cxrules_engine::reload::WatchOptions::default())?;
    /// // ... serve events; edits to rules/*.yaml go live once they compile and pass their tests.
    /// # Ok(()) }
    /// ```
    pub fn watch(&self, options: WatchOptions) -> Result<WatchHandle, WatchError> {
        let dir = self.dir().ok_or(WatchError::NoDirectory)?.to_path_buf();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WatchError::NoRuntime)?;
        // One pending signal is enough: the reload reads the whole directory anyway.
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let handler = move |res: notify::Result<notify::Event>| {
            if res.is_ok() {
                let _ = tx.try_send(());
            }
        };
        let mut watcher: Box<dyn Watcher + Send> = match options.poll {
            Some(every) => {
                let config = notify::Config::default()
                    .with_poll_interval(every)
                    .with_compare_contents(true);
                Box::new(notify::PollWatcher::new(handler, config)?)
            }
            None => Box::new(notify::recommended_watcher(handler)?),
        };
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        let engine = self.clone();
        let task = runtime.spawn(async move {
            while rx.recv().await.is_some() {
                loop {
                    match tokio::time::timeout(options.debounce, rx.recv()).await {
                        Ok(Some(())) => continue,
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                let e = engine.clone();
                let _ = tokio::task::spawn_blocking(move || e.reload_if_changed()).await;
            }
        });
        Ok(WatchHandle {
            _watcher: watcher,
            task,
        })
    }
}
