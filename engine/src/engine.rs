//! The `Engine`: one `ArcSwap` of the compiled rules and their state, `evaluate`, and reload.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::time::Instant;

use crate::compile::{compile_sources_for, read_sources, CompiledRules, Requirements};
use crate::decision::EvalError;
use crate::dedup::store::StoreStats;
use crate::document::Document;
use crate::evaluation::Evaluation;
use crate::routing::source::InventorySource;
use crate::snapshot::{memory_stores, Snapshot};
use crate::status::{LoadError, ReloadReport, ReloadStatus, StatusBook};

pub use crate::clock::Clock;
pub use crate::snapshot::StoreFactory;

struct Inner {
    dir: Option<PathBuf>,
    current: ArcSwap<Snapshot>,
    inventory: Arc<dyn InventorySource>,
    stores: StoreFactory,
    clock: Clock,
    status: Mutex<StatusBook>,
    reload_lock: Mutex<()>,
    gate: bool,
    requirements: Requirements,
}

/// The rules engine. Cheap to clone; every clone shares rules, windows and status.
///
/// ```
/// # tokio_test_block(async {
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("rules.yaml"), r#"
/// version: 1
/// events:
///   message:
///     type: message.created
///     dedup: true
/// dedup:
///   default: { window: 45s }
/// "#).unwrap();
/// let engine = cxrules_engine::Engine::from_dir(dir.path()).unwrap();
/// let event = serde_json::json!({"type": "message.created",
///     "data": {"message": {"interactionId": "i-1", "senderId": "u", "content": "hi"}}});
/// let first = engine.evaluate(&event).await.unwrap().commit();
/// let again = engine.evaluate(&event).await.unwrap().commit();
/// assert_eq!(first.outcome, cxrules_engine::Outcome::Processed);
/// assert_eq!(again.outcome, cxrules_engine::Outcome::Suppressed);
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dir", &self.inner.dir)
            .field("version", &self.rules().version())
            .finish()
    }
}

/// Builds an [`Engine`] with a non-default inventory source or store.
pub struct EngineBuilder {
    dir: Option<PathBuf>,
    rules: Option<Arc<CompiledRules>>,
    inventory: Option<Arc<dyn InventorySource>>,
    stores: Option<StoreFactory>,
    clock: Option<Clock>,
    gate: bool,
    requirements: Requirements,
}

impl EngineBuilder {
    /// The inventory source (default: HTTP, when the `http-inventory` feature is on).
    pub fn inventory(mut self, source: Arc<dyn InventorySource>) -> Self {
        self.inventory = Some(source);
        self
    }

    /// How dedup stores are made (default: a
    /// [`MemoryStore`](crate::dedup::memory::MemoryStore) per channel).
    pub fn stores(mut self, factory: StoreFactory) -> Self {
        self.stores = Some(factory);
        self
    }

    /// Where time comes from (default: `tokio::time::Instant::now`).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// What the host requires of every rule set it loads, at build and on each reload (a rule
    /// set that fails them is refused; the rules in force stay).
    pub fn requirements(mut self, requirements: Requirements) -> Self {
        self.requirements = requirements;
        self
    }

    /// Whether the rule files' own test cases must pass before rules go live (default: true).
    pub fn test_gate(mut self, on: bool) -> Self {
        self.gate = on;
        self
    }

    /// Loads, compiles and (with the gate on) tests the rules, and makes the engine.
    pub fn build(self) -> Result<Engine, LoadError> {
        let inventory = self.inventory.unwrap_or_else(default_inventory);
        let stores = self.stores.unwrap_or_else(memory_stores);
        let rules = match (self.rules, &self.dir) {
            (Some(r), _) => r,
            (None, Some(dir)) => {
                let sources = read_sources(dir).map_err(LoadError::Invalid)?;
                Arc::new(
                    compile_sources_for(sources.files, sources.problems, self.requirements)
                        .map_err(LoadError::Invalid)?,
                )
            }
            (None, None) => unreachable!("a builder always has rules or a directory"),
        };
        if self.gate {
            crate::testrun::gate(&rules).map_err(LoadError::TestsFailed)?;
        }
        let snapshot = Snapshot::new(rules, None, &stores);
        let status = StatusBook::new(&snapshot.rules);
        Ok(Engine {
            inner: Arc::new(Inner {
                dir: self.dir,
                current: ArcSwap::from_pointee(snapshot),
                inventory,
                stores,
                clock: self.clock.unwrap_or_else(|| Arc::new(Instant::now)),
                status: Mutex::new(status),
                reload_lock: Mutex::new(()),
                gate: self.gate,
                requirements: self.requirements,
            }),
        })
    }
}

fn default_inventory() -> Arc<dyn InventorySource> {
    #[cfg(feature = "http-inventory")]
    {
        Arc::new(crate::routing::http::HttpInventory::new())
    }
    #[cfg(not(feature = "http-inventory"))]
    {
        Arc::new(crate::routing::source::NoInventory)
    }
}

impl Engine {
    /// Loads the rules of a directory with the default inventory source and stores.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Engine, LoadError> {
        Self::builder(dir).build()
    }

    /// A builder for an engine over a rules directory.
    pub fn builder(dir: impl AsRef<Path>) -> EngineBuilder {
        EngineBuilder {
            dir: Some(dir.as_ref().to_path_buf()),
            rules: None,
            inventory: None,
            stores: None,
            clock: None,
            gate: true,
            requirements: Requirements::default(),
        }
    }

    /// A builder over rules compiled elsewhere (no directory, so no reload).
    pub fn with_rules(rules: Arc<CompiledRules>) -> EngineBuilder {
        EngineBuilder {
            dir: None,
            rules: Some(rules),
            inventory: None,
            stores: None,
            clock: None,
            gate: false,
            requirements: Requirements::default(),
        }
    }

    /// The rules in force now.
    pub fn rules(&self) -> Arc<CompiledRules> {
        self.inner.current.load().rules.clone()
    }

    /// The rules directory, when the engine has one.
    pub fn dir(&self) -> Option<&Path> {
        self.inner.dir.as_deref()
    }

    /// Counters of every dedup channel's store.
    pub fn dedup_stats(&self) -> Vec<(String, StoreStats)> {
        self.inner
            .current
            .load()
            .stores
            .iter()
            .map(|(name, (_, s))| (name.clone(), s.stats()))
            .collect()
    }

    /// Reload history, the version in force and the last error.
    pub fn reload_status(&self) -> ReloadStatus {
        self.inner
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .status()
    }

    /// Reloads the rules now, through the same path as start-up; on failure the rules in force stay.
    pub fn reload(&self) -> Result<ReloadReport, LoadError> {
        self.reload_inner(true)
    }

    /// Reloads only when the files' content changed (what the watcher calls).
    pub fn reload_if_changed(&self) -> Result<ReloadReport, LoadError> {
        self.reload_inner(false)
    }

    fn reload_inner(&self, force: bool) -> Result<ReloadReport, LoadError> {
        let Some(dir) = &self.inner.dir else {
            return Err(LoadError::NoDirectory);
        };
        let _one_at_a_time = self
            .inner
            .reload_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let result = self.try_reload(dir, force);
        self.inner
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(&result, &self.rules());
        result
    }

    fn try_reload(&self, dir: &Path, force: bool) -> Result<ReloadReport, LoadError> {
        let sources = read_sources(dir).map_err(LoadError::Invalid)?;
        let current = self.inner.current.load_full();
        let version = sources.version();
        if !force && version == current.rules.version() && sources.problems.is_empty() {
            return Ok(ReloadReport::Unchanged { version });
        }
        let rules = Arc::new(
            compile_sources_for(sources.files, sources.problems, self.inner.requirements)
                .map_err(LoadError::Invalid)?,
        );
        if self.inner.gate {
            crate::testrun::gate(&rules).map_err(LoadError::TestsFailed)?;
        }
        let snapshot = Snapshot::new(rules, Some(&current), &self.inner.stores);
        let version = snapshot.rules.version().to_string();
        self.inner.current.store(Arc::new(snapshot));
        tracing::info!(version = %version, "rules reloaded");
        Ok(ReloadReport::Loaded {
            version,
            previous: current.rules.version().to_string(),
        })
    }

    /// Checks an event as [`Engine::evaluate`] would, without recording anything or asking the
    /// inventory: `Ok(true)` when deciding it would record a message or route it (so a host
    /// would queue an update), `Ok(false)` when no rule handles it or its rule does neither,
    /// `Err` for an event `evaluate` would refuse. A host that cannot take more work right now
    /// uses it to tell a bad event (4xx) from one to retry later (503).
    ///
    /// ```
    /// use cxrules_engine::Engine;
    /// use serde_json::json;
    ///
    /// let engine = Engine::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../rules")).unwrap();
    /// let message = json!({"type": "conversations.messages.messageCreated",
    ///     "data": {"message": {"interactionId": "int-1", "senderId": "c", "content": "hi"}}});
    /// assert_eq!(engine.precheck(&message).unwrap(), true);
    /// assert_eq!(engine.precheck(&json!({"type": "something.else"})).unwrap(), false);
    /// let no_id = json!({"type": "conversations.messages.messageCreated", "data": {}});
    /// assert!(engine.precheck(&no_id).is_err());
    /// assert_eq!(engine.dedup_stats()[0].1.fingerprints, 0, "nothing recorded");
    /// ```
    pub fn precheck(&self, event: &(impl Document + ?Sized)) -> Result<bool, EvalError> {
        crate::evaluation::precheck_on(&self.inner.current.load(), event)
    }

    /// Evaluates one event against one snapshot of the rules. The event is any [`Document`]:
    /// a `serde_json::Value`, or a [`ParsedEvent`](crate::document::ParsedEvent) read straight
    /// from the request body (the same decision, with less work).
    pub async fn evaluate(
        &self,
        event: &(impl Document + ?Sized),
    ) -> Result<Evaluation, EvalError> {
        let started = std::time::Instant::now();
        // A full Arc, not a guard: the evaluation may await the store and the inventory.
        let snap = self.inner.current.load_full();
        let mut eval =
            crate::evaluation::evaluate_on(&snap, &*self.inner.inventory, &self.inner.clock, event)
                .await?;
        eval.decision.latency_us = started.elapsed().as_micros() as u64;
        Ok(eval)
    }
}
