//! Shadow rules: a candidate rules directory evaluated on every live event beside the live
//! rules, never acted on. The host hands each decided event to a bounded queue (full: the event
//! is dropped from the comparison and counted, the live answer never waits); one thread of its
//! own, at the lowest CPU priority, evaluates it on the shadow's own engine (its own in-memory dedup windows, the live lookup's inventory
//! answer) and counts where the two disagree, keeping the newest examples.

pub mod answers;
pub mod compare;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
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
    incomplete: u64,
    by_kind: BTreeMap<&'static str, u64>,
    examples: VecDeque<Example>,
    /// Interactions (hashed) with an event the shadow dropped: its windows miss what the live
    /// ones hold, so a later difference there may be the drop's doing, not the rules'.
    missed: HashSet<u64>,
    hasher: RandomState,
}

/// Interactions remembered as missed at most; past it the set starts over (a later difference
/// on one of those is then counted as a disagreement again).
const MISSED: usize = 100_000;

impl Book {
    fn interaction(&self, live: &Decision) -> u64 {
        self.hasher
            .hash_one(live.interaction_id.as_deref().unwrap_or_default())
    }

    fn missed(&mut self, live: &Decision) {
        if self.missed.len() >= MISSED {
            self.missed.clear();
        }
        let h = self.interaction(live);
        self.missed.insert(h);
    }

    /// Books one comparison: true when it is a disagreement to keep as an example.
    fn book(&mut self, live: &Decision, kind: Option<Kind>, m: &Metrics) -> bool {
        let Some(kind) = kind else {
            self.agreed += 1;
            m.shadow_event("agreed");
            return false;
        };
        if !self.missed.is_empty() && self.missed.contains(&self.interaction(live)) {
            self.incomplete += 1;
            m.shadow_event("incomplete");
            return false;
        }
        self.disagreed += 1;
        *self.by_kind.entry(kind.as_str()).or_default() += 1;
        m.shadow_event("disagreed");
        m.shadow_disagreement(kind.as_str());
        true
    }
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
    /// Of the events decided, those decided otherwise in an interaction where the shadow had
    /// dropped an event: not counted as disagreements (its dedup windows miss what the live
    /// ones hold).
    pub incomplete: u64,
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
        spawn_runner(run(engine.clone(), jobs, book.clone(), metrics.clone()));
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
        if let Err(mpsc::error::TrySendError::Full(job)) = self.queue.try_send(job) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.metrics.shadow_event("dropped");
            lock(&self.book).missed(&job.live);
        }
    }

    /// The comparison so far and the shadow rules' status.
    pub fn status(&self) -> ShadowStatus {
        let book = lock(&self.book);
        ShadowStatus {
            dir: self.dir.display().to_string(),
            rules: self.engine.reload_status(),
            evaluated: book.agreed + book.disagreed + book.incomplete,
            agreed: book.agreed,
            disagreed: book.disagreed,
            dropped: self.dropped.load(Ordering::Relaxed),
            incomplete: book.incomplete,
            disagreements: book.by_kind.clone(),
            examples: book.examples.iter().cloned().collect(),
        }
    }
}

/// Decides each queued event on the shadow rules and books the comparison, one at a time (so
/// the shadow's windows see the events in the order the live rules decided them).
/// Runs the comparison on a thread of its own at the lowest CPU priority (nice 19), with a
/// one-thread runtime: on a busy core the scheduler gives the live handlers the CPU first, so
/// the shadow takes what they leave (its queue then fills and events are dropped from the
/// comparison, counted) instead of adding to their latency. Without a thread, on the runtime.
fn spawn_runner(runner: impl std::future::Future<Output = ()> + Send + 'static) {
    // Handed over once the thread exists, so that without one it can still run on the runtime.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Runner>(1);
    let spawned = std::thread::Builder::new()
        .name("cxrules-shadow".into())
        .spawn(move || {
            lower_priority();
            let Ok(runner) = rx.recv() else { return };
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(runner),
                Err(e) => tracing::error!(error = %e, "shadow: no runtime; the shadow rules are not compared"),
            }
        });
    match spawned {
        Ok(_) => {
            let _ = tx.send(Box::pin(runner));
        }
        Err(e) => {
            tracing::warn!(error = %e, "shadow: no thread of its own; comparing on the host's runtime");
            tokio::spawn(runner);
        }
    }
}

type Runner = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Gives the calling thread the lowest CPU priority (a thread's own nice value on Linux).
fn lower_priority() {
    #[cfg(unix)]
    if let Err(e) = rustix::process::setpriority_process(None, 19) {
        tracing::debug!(error = %e, "shadow: priority not lowered");
    }
}

fn lock(book: &Mutex<Book>) -> std::sync::MutexGuard<'_, Book> {
    book.lock().unwrap_or_else(|e| e.into_inner())
}

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
        let mut book = lock(&book);
        let keep = book.book(&job.live, kind, &m);
        let Some(kind) = kind.filter(|_| keep) else {
            continue;
        };
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The nice value of this process's thread named `name`, from `/proc/self/task`.
    fn nice_of(name: &str) -> Option<i64> {
        for task in std::fs::read_dir("/proc/self/task").ok()? {
            let dir = task.ok()?.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim_end() != name {
                continue;
            }
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            // The fields after the command (in parentheses): state is field 3, nice field 19.
            let after = &stat[stat.rfind(')')? + 2..];
            return after.split(' ').nth(16)?.parse().ok();
        }
        None
    }

    #[test]
    fn a_difference_after_a_dropped_event_of_the_interaction_is_incomplete_not_a_disagreement() {
        let m = Metrics::new();
        let decision = |id: &str| Decision {
            outcome: cxrules_engine::Outcome::Processed,
            event: Some("e".into()),
            event_type: Some("t".into()),
            interaction_id: Some(id.into()),
            contact_id: None,
            reason: None,
            channel: None,
            dedup: None,
            routing: None,
            rules_version: "v".into(),
            latency_us: 0,
        };
        let (a, b) = (decision("int-a"), decision("int-b"));
        let mut book = Book::default();
        assert!(
            book.book(&a, Some(Kind::Target), &m),
            "a disagreement, kept"
        );
        assert!(!book.book(&a, None, &m), "agreed");
        book.missed(&a);
        assert!(
            !book.book(&a, Some(Kind::Target), &m),
            "after a drop: incomplete"
        );
        assert!(!book.book(&a, None, &m), "agreement still counts");
        assert!(book.book(&b, Some(Kind::Target), &m), "another interaction");
        assert_eq!((book.agreed, book.disagreed, book.incomplete), (2, 2, 1));
        assert_eq!(book.by_kind.get("target"), Some(&2));
    }

    #[tokio::test]
    async fn the_shadow_runs_on_a_thread_of_its_own_at_the_lowest_priority() {
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
        let engine = tokio::task::spawn_blocking(move || load(&rules))
            .await
            .unwrap()
            .expect("the shipped rules load");
        let _shadow = Shadow::start(engine, Metrics::new());
        let mut nice = None;
        for _ in 0..100 {
            nice = nice_of("cxrules-shadow");
            if nice == Some(19) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(nice, Some(19));
    }
}
