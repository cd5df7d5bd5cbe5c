//! The host's state: the engine, the side-effects queue, metrics and settings every handler
//! reads. A leaf of the server's modules: the routes and the router use it, it uses none of them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cxrules_engine::dedup::store::StoreError;
use cxrules_engine::reload::{WatchError, WatchHandle, WatchOptions};
use cxrules_engine::{Engine, LoadError};

use crate::config::Config;
use crate::cxone::{CxoneClient, OutboundHealth, Profile};
use crate::effects::{DryRun, Effects, Restored, Sink};
use crate::metrics::Metrics;
use crate::outbox::{Outbox, Recovered};
use crate::push::Pusher;
use crate::shadow::Shadow;
use crate::signature::WebhookAuth;
use crate::store::{SharedStore, StoreHealth};

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The rules do not load; every diagnostic is in the message.
    #[error("cannot load the rules:\n{0}")]
    Rules(LoadError),
    /// The rules directory cannot be watched.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// The HTTP client could not be built.
    #[error("cannot build the cxone http client: {0}")]
    Http(#[from] reqwest::Error),
    /// The shared dedup store's settings are unusable (a Redis that is down is not an error).
    #[error("--dedup-store: {}", .0.message())]
    DedupStore(StoreError),
    /// The shadow rules do not load; every diagnostic is in the message.
    #[error("cannot load the shadow rules in {dir}:\n{1}", dir = .0.display())]
    ShadowRules(std::path::PathBuf, LoadError),
    /// The data dir cannot be used for the outbox.
    #[error("--data-dir: {0}")]
    Outbox(#[from] crate::outbox::OpenError),
    /// The Redis outbox cannot be set up (its reading connection).
    #[error("--dedup-store (the outbox): {0}")]
    RedisOutbox(String),
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) effects: Effects,
    pub(crate) metrics: Metrics,
    pub(crate) pusher: Pusher,
    pub(crate) auth: WebhookAuth,
    pub(crate) health: Arc<OutboundHealth>,
    pub(crate) body_limit: usize,
    pub(crate) retry_after: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) dry_run_reason: Option<String>,
    pub(crate) capacity: usize,
    pub(crate) ready: AtomicBool,
    pub(crate) reloads_seen: Mutex<cxrules_engine::status::ReloadTotals>,
    pub(crate) admin_token: Option<crate::secret::Secret>,
    /// The token `POST /studio/v1/decide` requires; `None`: the endpoint is off.
    pub(crate) studio_token: Option<crate::secret::Secret>,
    pub(crate) unready_after_failed_reloads: Option<u32>,
    pub(crate) dedup_store: std::sync::OnceLock<Arc<StoreHealth>>,
    pub(crate) shadow: std::sync::OnceLock<Arc<Shadow>>,
    pub(crate) capture: Option<crate::capture::Capture>,
    watch: Mutex<Option<WatchHandle>>,
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

// Not `#[from]`: the diagnostics are already in the message, and a source would print them twice.
impl From<LoadError> for StartError {
    fn from(e: LoadError) -> Self {
        StartError::Rules(e)
    }
}

// Not `#[from]` either: the message says it all.
impl From<StoreError> for StartError {
    fn from(e: StoreError) -> Self {
        StartError::DedupStore(e)
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("engine", &self.inner.engine)
            .field("effects", &self.inner.effects)
            .finish_non_exhaustive()
    }
}

/// The CXone client of a live host: paced per contact and tenant-wide (the tenant's maximum is
/// `--cxone-rate-limit`), through Redis when a shared dedup store is configured.
fn outbound_client(
    settings: &crate::cxone::CxoneSettings,
    config: &Config,
    metrics: &Metrics,
    health: &Arc<OutboundHealth>,
) -> Result<CxoneClient, StartError> {
    let outbound = &config.outbound;
    let pacing = crate::cxone::PacingConfig {
        rate_max: config.effects.rate_limit,
        ..outbound.pacing.clone()
    };
    let mut client = CxoneClient::new(
        settings.clone(),
        config.profile.auth.clone(),
        config.retry.clone(),
        &pacing,
        metrics.clone(),
        health.clone(),
    )?
    .with_max_in_flight(config.effects.max_in_flight)
    .with_client_auth(outbound.client_auth)
    .with_api_host_prefix(&outbound.api_host_prefix);
    if let Some(store) = &config.dedup_store {
        // Its own connection manager: pacing calls do not queue behind dedup checks.
        let conn = cxrules_engine::dedup::redis::connect(&store.url, store.timeout)?;
        let shared = crate::cxone::SharedLimiter::new(conn, &store.key_prefix, store.timeout);
        client = client.with_shared_limiter(shared);
        tracing::info!(prefix = %store.key_prefix, "cxone pacing shared through redis");
    }
    Ok(client)
}

/// `dfo`: checks in the background that the tenant defines every custom field the profile
/// writes, and records what it found for `/healthz` (see `cxone::fields`).
fn check_custom_fields(client: &Arc<CxoneClient>, config: &Config, health: &Arc<OutboundHealth>) {
    let dfo = matches!(config.profile.auth, crate::cxone::AuthFlow::Password);
    let written = crate::cxone::written_idents(&config.profile);
    if !dfo || !config.outbound.check_custom_fields || written.is_empty() {
        return;
    }
    let (client, health) = (client.clone(), health.clone());
    tokio::spawn(async move {
        let found = crate::cxone::check_at_start(&client, written).await;
        health.custom_fields(found);
    });
}

impl AppState {
    /// Builds the host around an engine: the CXone client (or dry-run), the effects queue, the
    /// metrics push. Must run inside a tokio runtime.
    pub fn new(engine: Engine, config: &Config) -> Result<Self, StartError> {
        Self::with_outbox(engine, config, Metrics::new(), None)
    }

    /// Like [`AppState::new`], recording the queue's updates in `outbox` (recording into
    /// `metrics`, which the outbox was opened with).
    pub fn with_outbox(
        engine: Engine,
        config: &Config,
        metrics: Metrics,
        outbox: Option<Outbox>,
    ) -> Result<Self, StartError> {
        let health = Arc::new(OutboundHealth::default());
        let sink: Arc<dyn Sink> = match &config.cxone {
            Some(settings) => {
                let client = Arc::new(outbound_client(settings, config, &metrics, &health)?);
                check_custom_fields(&client, config, &health);
                client
            }
            None => Arc::new(DryRun),
        };
        Ok(Self::assemble(
            engine, config, sink, metrics, health, outbox,
        ))
    }

    /// Like [`AppState::new`] with a sink of the caller's (a test double, another transport).
    pub fn with_sink(
        engine: Engine,
        config: &Config,
        sink: Arc<dyn Sink>,
        metrics: Metrics,
        health: Arc<OutboundHealth>,
    ) -> Self {
        Self::assemble(engine, config, sink, metrics, health, None)
    }

    fn assemble(
        engine: Engine,
        config: &Config,
        sink: Arc<dyn Sink>,
        metrics: Metrics,
        health: Arc<OutboundHealth>,
        outbox: Option<Outbox>,
    ) -> Self {
        let effects = Effects::with_outbox(
            config.effects.clone(),
            config.profile.clone(),
            sink,
            metrics.clone(),
            outbox,
        );
        let pusher = match &config.push {
            Some(push) => Pusher::start(push.clone(), metrics.clone()),
            None => Pusher::disabled(metrics.clone()),
        };
        let capture = config
            .capture
            .clone()
            .map(|c| crate::capture::Capture::start(c, engine.clone(), metrics.capture()));
        let inner = Inner {
            engine,
            effects,
            metrics,
            pusher,
            auth: config.webhook_auth.clone(),
            health,
            body_limit: config.body_limit,
            retry_after: config.retry_after,
            drain_timeout: config.drain_timeout,
            dry_run_reason: config.dry_run_reason.clone(),
            capacity: config.effects.capacity,
            ready: AtomicBool::new(true),
            reloads_seen: Mutex::new(Default::default()),
            admin_token: config.admin_token.clone(),
            studio_token: config.studio_token.clone(),
            unready_after_failed_reloads: config.unready_after_failed_reloads,
            dedup_store: std::sync::OnceLock::new(),
            shadow: std::sync::OnceLock::new(),
            capture,
            watch: Mutex::new(None),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Loads the rules from `config.rules_dir`, opens the outbox (live, with `config.outbox`):
    /// replays its remembered events into the dedup windows and hands its pending updates to
    /// the queue; builds the state, and starts watching the directory when `config.watch` is set.
    pub async fn from_config(config: &Config) -> Result<Self, StartError> {
        let shared = match &config.dedup_store {
            Some(store) => Some(SharedStore::connect(store)?),
            None => None,
        };
        // Under `dfo` a contact is routed to a numeric skill or not at all: a rule set whose
        // contact-addressing routes have a target without one is refused at start and on
        // reload (the rules in force stay), not found out per event.
        let requirements = cxrules_engine::compile::Requirements {
            skill_ids: config.profile.base == crate::cxone::ProfileName::Dfo,
        };
        let mut builder = Engine::builder(config.rules_dir.clone()).requirements(requirements);
        if let (Some(shared), Some(store)) = (&shared, &config.dedup_store) {
            builder = builder.stores(shared.factory());
            tracing::info!(
                prefix = %store.key_prefix,
                on_store_error = store.on_error.name(),
                "dedup windows in redis, connected on first use (a redis that is down now is \
                 retried per event and does not stop the start)"
            );
        }
        let durable = config.outbox.as_ref().filter(|_| !config.is_dry_run());
        // Windows rebuilt from the outbox need the engine's clock set back to each remembered
        // event's time while it is replayed; a shared store keeps its windows itself.
        if durable.is_some() && shared.is_none() {
            builder = builder.clock(rewound_clock());
        }
        let engine = tokio::task::spawn_blocking(move || builder.build())
            .await
            .expect("rules loading does not panic")?;
        let metrics = Metrics::new();
        let (outbox, recovered) = match (durable, &shared, &config.dedup_store) {
            // With a Redis dedup store the outbox is the replicas' stream in the same Redis.
            (Some(settings), Some(shared), Some(store)) => {
                let redis = crate::outbox::RedisOutbox::new(
                    shared.connection(),
                    &store.url,
                    shared.prefix(),
                    settings.lease,
                    store.timeout,
                    metrics.clone(),
                )
                .map_err(|e| StartError::RedisOutbox(e.to_string()))?;
                (Some(Outbox::Redis(redis)), Recovered::default())
            }
            (Some(settings), _, _) => {
                let settings = settings.clone();
                let horizon = longest_window(&engine);
                let m = metrics.clone();
                let (outbox, recovered) =
                    tokio::task::spawn_blocking(move || Outbox::open(&settings, horizon, m))
                        .await
                        .expect("opening the outbox does not panic")?;
                (Some(outbox), recovered)
            }
            (None, _, _) => (None, Recovered::default()),
        };
        let remembered = recovered.seen.len();
        if shared.is_none() {
            replay(&engine, recovered.seen).await;
        }
        let state = Self::with_outbox(engine, config, metrics, outbox)?;
        let backlog: Vec<Restored> = recovered
            .pending
            .into_iter()
            .map(|(id, p)| Restored {
                id,
                interaction: p.interaction,
                update: p.update,
            })
            .collect();
        let restored = state.inner.effects.restore(backlog);
        if let Some(outbox) = state.inner.effects.outbox() {
            tracing::info!(
                path = %outbox.path().display(),
                pending = restored,
                remembered_events = remembered,
                "outbox open: pending updates resumed, dedup windows rebuilt"
            );
        }
        if let Some(shared) = shared {
            state.set_dedup_store(shared.health());
            let lease = delivery_lease(config);
            let guard = Arc::new(shared.sequence_guard(lease));
            state.inner.effects.set_sequence_guard(guard);
        }
        if let Some(Outbox::Redis(redis)) = state.inner.effects.outbox() {
            crate::effects::follow(&state.inner.effects, redis);
        }
        if let Some(dir) = &config.shadow_rules {
            let load_dir = dir.clone();
            let engine = tokio::task::spawn_blocking(move || crate::shadow::load(&load_dir))
                .await
                .expect("rules loading does not panic")
                .map_err(|e| StartError::ShadowRules(dir.clone(), e))?;
            let shadow = Shadow::start(engine, state.metrics().clone());
            if config.watch {
                shadow.watch(WatchOptions::default())?;
            }
            state.set_shadow(shadow);
        }
        if config.watch {
            state.watch(WatchOptions::default())?;
        }
        Ok(state)
    }

    /// Starts hot reload of the rules directory.
    pub fn watch(&self, options: WatchOptions) -> Result<(), WatchError> {
        let handle = self.inner.engine.watch(options)?;
        *self.inner.watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(())
    }

    /// Reports the shared dedup store the engine was built with (once; later calls are ignored).
    pub fn set_dedup_store(&self, health: Arc<StoreHealth>) {
        health.record_latency_into(self.inner.metrics.dedup_store_latency());
        let _ = self.inner.dedup_store.set(health);
    }

    /// Sets the shadow rules every live event is also evaluated on (once; later calls are
    /// ignored).
    pub fn set_shadow(&self, shadow: Arc<Shadow>) {
        let _ = self.inner.shadow.set(shadow);
    }

    /// The shadow rules, when configured.
    pub fn shadow(&self) -> Option<&Arc<Shadow>> {
        self.inner.shadow.get()
    }

    /// The shared dedup store's health; `None` when the windows are in memory.
    pub fn dedup_store(&self) -> Option<&Arc<StoreHealth>> {
        self.inner.dedup_store.get()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The side-effects queue.
    pub fn effects(&self) -> &Effects {
        &self.inner.effects
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The call profile in use.
    pub fn profile(&self) -> &Profile {
        self.inner.effects.profile()
    }

    /// True when no call leaves the host.
    pub fn is_dry_run(&self) -> bool {
        self.inner.effects.is_dry_run()
    }

    /// Marks the host ready (or not) for `/readyz`.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
    }

    /// True once the rules are loaded and until shutdown starts (and, with
    /// `unready_after_failed_reloads`, while fewer reloads than that have failed in a row).
    pub fn is_ready(&self) -> bool {
        let failing = self
            .inner
            .unready_after_failed_reloads
            .is_some_and(|n| self.inner.engine.reload_status().consecutive_failures >= n.max(1));
        self.inner.ready.load(Ordering::Acquire) && !failing
    }

    /// Writes what event capture has queued and stops it (at shutdown; a no-op without capture).
    pub fn close_capture(&self) {
        if let Some(capture) = &self.inner.capture {
            capture.close();
        }
    }

    /// Stops watching the rules directory (at shutdown).
    pub(crate) fn stop_watching(&self) {
        self.inner
            .watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(shadow) = self.shadow() {
            shadow.stop_watching();
        }
    }
}

/// The longest one delivery with its retries may hold an interaction's turn among replicas:
/// every attempt's timeout plus every backoff ceiling, at most five minutes.
fn delivery_lease(config: &Config) -> Duration {
    let timeout = config
        .cxone
        .as_ref()
        .map_or(Duration::from_secs(10), |c| c.timeout);
    let attempts = config.retry.max_attempts.max(1);
    let waits = config
        .retry
        .max_backoff
        .max(config.retry.max_retry_after.min(Duration::from_secs(30)));
    (timeout * attempts + waits * (attempts - 1)).min(Duration::from_secs(300))
}

tokio::task_local! {
    /// How far (ms) the engine's clock is set back for the event a replay task evaluates.
    static REWIND: u64;
}

/// The engine's clock, set back while a remembered event is replayed (`REWIND`, local to the
/// replay's task; other tasks read the time as it is).
fn rewound_clock() -> cxrules_engine::clock::Clock {
    Arc::new(|| {
        let now = tokio::time::Instant::now();
        match REWIND.try_with(|back| *back) {
            Ok(back) if back > 0 => now.checked_sub(Duration::from_millis(back)).unwrap_or(now),
            _ => now,
        }
    })
}

/// The longest dedup window of the rules: remembered events older than that are not needed.
fn longest_window(engine: &Engine) -> Duration {
    let rules = engine.rules();
    rules
        .dedup()
        .and_then(|d| d.all().map(|c| c.policy().window).max())
        .unwrap_or_default()
}

/// Evaluates the remembered events again, each at its own time, so the dedup windows hold
/// what they held (a re-delivery after a restart is still recognised). Nothing is queued.
/// Interactions are split over one task per core; each interaction's events stay in order.
async fn replay(engine: &Engine, seen: Vec<crate::outbox::Remembered>) {
    use std::hash::{Hash, Hasher};
    if seen.is_empty() {
        return;
    }
    let now = crate::outbox::now_ms();
    let started = std::time::Instant::now();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut groups: Vec<Vec<crate::outbox::Remembered>> = vec![Vec::new(); workers];
    for r in seen {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        r.interaction.hash(&mut h);
        groups[(h.finish() % workers as u64) as usize].push(r);
    }
    let mut tasks = Vec::with_capacity(workers);
    for group in groups {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let mut replayed = 0usize;
            for r in group {
                let Ok(event) = cxrules_engine::ParsedEvent::parse(&r.body) else {
                    continue;
                };
                let back = now.saturating_sub(r.at_ms).max(1);
                if let Ok(eval) = REWIND.scope(back, engine.evaluate(&event)).await {
                    eval.commit();
                    replayed += 1;
                }
            }
            replayed
        }));
    }
    let mut replayed = 0;
    for t in tasks {
        replayed += t.await.unwrap_or(0);
    }
    let ms = started.elapsed().as_millis() as u64;
    tracing::info!(replayed, ms, "dedup windows rebuilt from the outbox");
}
