//! Shadow rules: a candidate rules directory evaluated on every live event beside the live
//! rules, never acted on. The host hands each decided event to a bounded queue (full: the event
//! is dropped from the comparison and counted, the live answer never waits); one task evaluates
//! it on the shadow's own engine (its own in-memory dedup windows, the live lookup's inventory
//! answer) and counts where the two disagree, keeping the newest examples.

pub mod answers;
pub mod compare;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use cxrules_engine::reload::{WatchError, WatchHandle, WatchOptions};
use cxrules_engine::{Decision, Engine, LoadError, ParsedEvent, ReloadStatus};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::decide;
use crate::metrics::Metrics;
use answers::{LiveAnswer, SharedAnswers};
use compare::{compare, Digest, Kind};

/// Events waiting for the shadow at most; beyond, an event is left out of the comparison and
/// counted as dropped.
pub const QUEUE: usize = 4096;

/// Examples kept, the newest.
pub const EXAMPLES: usize = 20;

/// One side of an example or a trial: the decision and its one-line explanation, or why the
/// rules refused the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// `processed`, `suppressed`, `ignored`, or `refused`.
    pub outcome: &'static str,
    /// Why, in one line (the refusal's message for a refused event).
    pub explanation: String,
    /// The whole decision, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

impl Side {
    /// A decided event.
    pub fn decided(decision: Decision) -> Self {
        Self {
            outcome: decide::outcome_str(decision.outcome),
            explanation: decide::explain(&decision),
            decision: Some(decision),
        }
    }

    /// A refused event.
    pub fn refused(error: impl std::fmt::Display) -> Self {
        Self {
            outcome: "refused",
            explanation: format!("the rules refuse the event: {error}"),
            decision: None,
        }
    }
}

/// An event the two rule sets decided differently.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    /// When the shadow decided it (RFC 3339).
    pub at: String,
    /// How they differ.
    pub kind: Kind,
    /// What identifies the event (no message text).
    pub event: Digest,
    /// The live decision.
    pub live: Side,
    /// The shadow's.
    pub shadow: Side,
}

/// The comparison so far.
#[derive(Debug, Default)]
struct Book {
    agreed: u64,
    disagreed: u64,
    by_kind: BTreeMap<&'static str, u64>,
    examples: VecDeque<Example>,
}

/// The `shadow` section of `/rules/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowStatus {
    /// The shadow rules directory.
    pub dir: String,
    /// The shadow rules' version, load time, last reload error and history.
    #[serde(flatten)]
    pub rules: ReloadStatus,
    /// Live events the shadow decided.
    pub evaluated: u64,
    /// Of those, decided as live did.
    pub agreed: u64,
    /// Of those, decided otherwise.
    pub disagreed: u64,
    /// Live events left out because the shadow's queue was full.
    pub dropped: u64,
    /// Disagreements by kind.
    pub disagreements: BTreeMap<&'static str, u64>,
    /// The newest disagreements, oldest first.
    pub examples: Vec<Example>,
}

struct Job {
    event: ParsedEvent,
    live: Decision,
    explanation: String,
}

/// The shadow rules and their comparison with the live rules. Dropping it stops its task.
pub struct Shadow {
    engine: Engine,
    dir: PathBuf,
    queue: mpsc::Sender<Job>,
    book: Arc<Mutex<Book>>,
    dropped: AtomicU64,
    metrics: Metrics,
    watch: Mutex<Option<WatchHandle>>,
}

impl std::fmt::Debug for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadow")
            .field("dir", &self.dir)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

/// Loads shadow rules (through the same gate as live rules: they compile and their own test
/// cases pass) into an engine of their own: in-memory dedup windows, the live lookup's
/// inventory answers. Blocking (it compiles and runs the test cases).
pub fn load(dir: &Path) -> Result<Engine, LoadError> {
    Engine::builder(dir)
        .inventory(Arc::new(SharedAnswers))
        .build()
}

impl Shadow {
    /// Starts comparing on `engine` (from [`load`]); must run inside a tokio runtime.
    pub fn start(engine: Engine, metrics: Metrics) -> Arc<Self> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let book = Arc::new(Mutex::new(Book::default()));
        tokio::spawn(run(engine.clone(), jobs, book.clone(), metrics.clone()));
        Arc::new(Self {
            dir: engine.dir().map(Path::to_path_buf).unwrap_or_default(),
            engine,
            queue,
            book,
            dropped: AtomicU64::new(0),
            metrics,
            watch: Mutex::new(None),
        })
    }

    /// Reloads the shadow rules when their files change (a broken edit keeps the shadow rules
    /// in force and is reported, as for the live rules).
    pub fn watch(&self, options: WatchOptions) -> Result<(), WatchError> {
        let handle = self.engine.watch(options)?;
        *self.watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(())
    }

    /// Stops watching the shadow rules directory.
    pub fn stop_watching(&self) {
        self.watch.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// The shadow's engine (its rules and reload status).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Hands a live event and its decision to the shadow, without waiting: when the queue is
    /// full the event is left out of the comparison and counted as dropped.
    pub fn offer(&self, event: ParsedEvent, live: &Decision, explanation: &str) {
        let job = Job {
            event,
            live: live.clone(),
            explanation: explanation.to_owned(),
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(job) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.metrics.shadow_event("dropped");
        }
    }

    /// The comparison so far and the shadow rules' status.
    pub fn status(&self) -> ShadowStatus {
        let book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        ShadowStatus {
            dir: self.dir.display().to_string(),
            rules: self.engine.reload_status(),
            evaluated: book.agreed + book.disagreed,
            agreed: book.agreed,
            disagreed: book.disagreed,
            dropped: self.dropped.load(Ordering::Relaxed),
            disagreements: book.by_kind.clone(),
            examples: book.examples.iter().cloned().collect(),
        }
    }
}

/// Decides each queued event on the shadow rules and books the comparison, one at a time (so
/// the shadow's windows see the events in the order the live rules decided them).
async fn run(engine: Engine, mut jobs: mpsc::Receiver<Job>, book: Arc<Mutex<Book>>, m: Metrics) {
    while let Some(job) = jobs.recv().await {
        let answer = LiveAnswer::of(&job.live);
        let shadow = match answer.scope(engine.evaluate(&job.event)).await {
            // The shadow's own windows keep what it decided: it sees the traffic the live
            // rules see.
            Ok(eval) => Ok(eval.commit()),
            Err(e) => Err(e),
        };
        let kind = match &shadow {
            Ok(decision) => compare(&job.live, decision),
            Err(_) => Some(Kind::Refused),
        };
        let mut book = book.lock().unwrap_or_else(|e| e.into_inner());
        let Some(kind) = kind else {
            book.agreed += 1;
            m.shadow_event("agreed");
            continue;
        };
        book.disagreed += 1;
        *book.by_kind.entry(kind.as_str()).or_default() += 1;
        m.shadow_event("disagreed");
        m.shadow_disagreement(kind.as_str());
        let shadow = match shadow {
            Ok(decision) => Side::decided(decision),
            Err(e) => Side::refused(e),
        };
        if book.examples.len() == EXAMPLES {
            book.examples.pop_front();
        }
        book.examples.push_back(Example {
            at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            kind,
            event: Digest::of(&job.live),
            live: Side {
                outcome: decide::outcome_str(job.live.outcome),
                explanation: job.explanation,
                decision: Some(job.live),
            },
            shadow,
        });
    }
}
