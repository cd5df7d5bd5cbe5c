//! Hot reload: a watcher on the rules directory signals; the engine's own reload path does the rest.
//!
//! The directory is watched, not the files, so editors' rename-saves and a Kubernetes
//! ConfigMap's `..data` symlink swap are both seen. Only events that can change content count:
//! reads (an operator's `cat`, the reload's own reads) are ignored, or each reload would set off
//! the next. Bursts of events are debounced into one, and the files' content hash decides
//! whether anything is attempted: content already attempted (in force, or refused) is not tried
//! again, so one save is one attempt and a broken file is reported once, not every debounce.

use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::engine::Engine;
use crate::sources::read_sources;

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
            if res.is_ok_and(|event| may_change_content(event.kind)) {
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
            // The content last attempted: the rules in force to begin with.
            let mut attempted = Some(engine.rules().version().to_string());
            while rx.recv().await.is_some() {
                loop {
                    match tokio::time::timeout(options.debounce, rx.recv()).await {
                        Ok(Some(())) => continue,
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                let (e, last) = (engine.clone(), attempted.clone());
                let tried = tokio::task::spawn_blocking(move || reload_if_new(&e, last)).await;
                if let Ok(Some(version)) = tried {
                    attempted = version;
                }
            }
        });
        Ok(WatchHandle {
            _watcher: watcher,
            task,
        })
    }
}

/// True for file events that can change what the rules directory holds; reads are not.
fn may_change_content(kind: EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Reloads unless the directory holds the content attempted last. Returns `Some(version)` when
/// it attempted (`None` inside: the files could not all be read, so there is no version to
/// compare the next time) and `None` when it left the rules alone.
fn reload_if_new(engine: &Engine, attempted: Option<String>) -> Option<Option<String>> {
    let version = engine
        .dir()
        .and_then(|dir| read_sources(dir).ok())
        .filter(|sources| sources.problems.is_empty())
        .map(|sources| sources.version());
    if version.is_some() && version == attempted {
        return None;
    }
    let _ = engine.reload_if_changed();
    Some(version)
}
