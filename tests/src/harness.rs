//! `Harness`: one running server with its mocks, and helpers to talk to it.

use std::time::Duration;

use cxrules_server::config::DedupStoreConfig;
use cxrules_server::cxone::{CxoneSettings, Profile, ProfileName, RetryPolicy};
use cxrules_server::effects::EffectsConfig;
use cxrules_server::signature::WebhookAuth;
use cxrules_server::{AppState, Config, Secret};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// How to start a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Credentials pointing at the mock CXone (false: dry-run).
    pub live: bool,
    /// Metadata coalescing window (zero: every update is its own call).
    pub coalesce: Duration,
    /// Queue capacity.
    pub capacity: usize,
    /// Inbound authentication.
    pub webhook_auth: WebhookAuth,
    /// Outbound retry policy (short backoffs by default).
    pub retry: RetryPolicy,
    /// Rule files to write (name, content; `@INVENTORY@` becomes the mock inventory's URL);
    /// `None`: dedup and routing rules.
    pub rules: Option<Vec<(String, String)>>,
    /// Watch the rules directory.
    pub watch: bool,
    /// Body limit.
    pub body_limit: usize,
    /// Call profile.
    pub profile: ProfileName,
    /// Admin token for `POST /rules/reload` (`None`: endpoint off).
    pub admin_token: Option<String>,
    /// Token for `POST /studio/v1/decide` (`None`: endpoint off).
    pub studio_token: Option<String>,
    /// Not ready after this many failed reloads in a row.
    pub unready_after_failed_reloads: Option<u32>,
    /// Speak HTTP/2 (h2c) to the mock CXone without negotiating it.
    pub http2_prior_knowledge: bool,
    /// Client-side rate limit on CXone calls (`None`: unlimited).
    pub rate_limit: Option<std::num::NonZeroU32>,
    /// Timeout of one CXone request.
    pub cxone_timeout: Duration,
    /// The shared dedup store (`None`: windows in memory).
    pub dedup_store: Option<DedupStoreConfig>,
    /// Shadow rule files to write into a directory of their own (as `rules`; `None`: no shadow).
    pub shadow_rules: Option<Vec<(String, String)>>,
    /// Pacing, `dfo` client authentication and API host prefix of the CXone client.
    pub outbound: cxrules_server::cxone::OutboundConfig,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            live: true,
            coalesce: Duration::ZERO,
            capacity: 1000,
            webhook_auth: WebhookAuth::None,
            retry: RetryPolicy {
                max_attempts: 4,
                base: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
                max_retry_after: Duration::from_secs(5),
            },
            rules: None,
            watch: false,
            body_limit: 1024 * 1024,
            profile: ProfileName::Seed,
            admin_token: None,
            studio_token: None,
            unready_after_failed_reloads: None,
            http2_prior_knowledge: false,
            rate_limit: None,
            cxone_timeout: Duration::from_secs(5),
            dedup_store: None,
            shadow_rules: None,
            // Off: its start-up request would be among the requests tests count.
            outbound: cxrules_server::cxone::OutboundConfig {
                check_custom_fields: false,
                ..Default::default()
            },
        }
    }
}

/// A running server, its mocks and its rules directory.
pub struct Harness {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The mock CXone (token endpoint and API).
    pub cxone: MockServer,
    /// The mock inventory.
    pub inventory: MockServer,
    /// The rules directory.
    pub rules_dir: TempDir,
    /// The shadow rules directory, when the options gave shadow rules.
    pub shadow_dir: Option<TempDir>,
    /// The server's state (for its queue and metrics).
    pub state: AppState,
    /// A client for the server.
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Mounts the default CXone answers at low priority: a token, and 200 for every update.
pub async fn mount_cxone_defaults(cxone: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "tok-1", "token_type": "bearer", "expires_in": 3600})))
        .with_priority(10)
        .mount(cxone)
        .await;
    Mock::given(path_regex("^/api/v2/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .with_priority(10)
        .mount(cxone)
        .await;
}

fn settings(cxone: &MockServer, opts: &Options) -> CxoneSettings {
    CxoneSettings {
        base_url: cxone.uri(),
        issuer: cxone.uri(),
        api_url: None,
        tenant_id: None,
        client_id: "client-1".into(),
        client_secret: Secret::new("client-secret-1"),
        access_key_id: Some("key-id".into()),
        access_key_secret: Some(Secret::new("key-secret")),
        timeout: opts.cxone_timeout,
        http2_prior_knowledge: opts.http2_prior_knowledge,
    }
}

impl Harness {
    /// Starts a server with default options.
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    /// Starts a server.
    pub async fn with(opts: Options) -> Self {
        let cxone = MockServer::start().await;
        let inventory = MockServer::start().await;
        mount_cxone_defaults(&cxone).await;
        let rules_dir = tempfile::tempdir().expect("tempdir");
        let files = opts.rules.clone().unwrap_or_else(|| {
            vec![
                ("dedup.yaml".into(), crate::DEDUP_RULES.into()),
                (
                    "routing.yaml".into(),
                    crate::routing_rules(&inventory.uri()),
                ),
            ]
        });
        for (name, content) in files {
            let content = content.replace("@INVENTORY@", &inventory.uri());
            std::fs::write(rules_dir.path().join(name), content).expect("write rules");
        }
        let config = Config {
            rules_dir: rules_dir.path().to_path_buf(),
            body_limit: opts.body_limit,
            watch: opts.watch,
            cxone: opts.live.then(|| settings(&cxone, &opts)),
            dry_run_reason: (!opts.live).then(|| "test".into()),
            profile: Profile::builtin(opts.profile),
            retry: opts.retry.clone(),
            effects: EffectsConfig {
                capacity: opts.capacity,
                coalesce_window: opts.coalesce,
                rate_limit: opts.rate_limit,
                max_in_flight: 16,
            },
            drain_timeout: Duration::from_secs(5),
            webhook_auth: opts.webhook_auth.clone(),
            retry_after: Duration::from_secs(1),
            admin_token: opts.admin_token.clone().map(cxrules_server::Secret::new),
            studio_token: opts.studio_token.clone().map(cxrules_server::Secret::new),
            unready_after_failed_reloads: opts.unready_after_failed_reloads,
            dedup_store: opts.dedup_store.clone(),
            outbound: opts.outbound.clone(),
            ..Config::default()
        };
        let state = build_state(&config).await;
        let watch = cxrules_engine::reload::WatchOptions {
            debounce: Duration::from_millis(100),
            poll: Some(Duration::from_millis(100)),
        };
        let shadow_dir = match &opts.shadow_rules {
            Some(files) => Some(start_shadow(&state, files, &inventory, opts.watch, watch).await),
            None => None,
        };
        if opts.watch {
            state.watch(watch).expect("watch rules");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(cxrules_server::run(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Self {
            base,
            cxone,
            inventory,
            rules_dir,
            shadow_dir,
            state,
            http,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// POSTs a JSON event; returns the status and the JSON answer.
    pub async fn post(&self, route: &str, event: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{route}", self.base))
            .json(event)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs raw bytes with the given headers.
    pub async fn post_raw(
        &self,
        route: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{route}", self.base)).body(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send().await.expect("request")
    }

    /// The server's `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        let url = format!("{}/metrics", self.base);
        self.http
            .get(url)
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("metrics text")
    }

    /// GETs a path as JSON.
    pub async fn get_json(&self, route: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{route}", self.base))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Waits until every queued update has been delivered (or given up).
    pub async fn settle(&self) {
        for _ in 0..500 {
            if self.state.effects().depth() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "queue did not empty: depth {}",
            self.state.effects().depth()
        );
    }

    /// Every request the mock CXone received.
    pub async fn cxone_requests(&self) -> Vec<Request> {
        self.cxone.received_requests().await.unwrap_or_default()
    }

    /// The API calls (not the token requests) the mock CXone received, as (method, path, body).
    pub async fn api_calls(&self) -> Vec<(String, String, Value)> {
        self.cxone_requests()
            .await
            .into_iter()
            .filter(|r| r.url.path().starts_with("/api/") || r.url.path().starts_with("/dfo/"))
            .map(|r| {
                let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                (r.method.to_string(), r.url.path().to_owned(), body)
            })
            .collect()
    }

    /// Token requests the mock CXone received.
    pub async fn token_calls(&self) -> usize {
        self.cxone_requests()
            .await
            .iter()
            .filter(|r| r.url.path() == "/oauth2/token")
            .count()
    }

    /// Sends the shutdown signal without waiting for the server to finish (it drains the queue
    /// meanwhile); [`Harness::stop`] waits.
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// True once the server task has ended.
    pub fn is_stopped(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the server (draining the queue) and waits for it; the mocks stay up.
    pub async fn stop(&mut self) {
        self.begin_stop();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Writes the shadow rules into a directory of their own and starts the shadow on them.
async fn start_shadow(
    state: &AppState,
    files: &[(String, String)],
    inventory: &MockServer,
    watch: bool,
    options: cxrules_engine::reload::WatchOptions,
) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, content) in files {
        let content = content.replace("@INVENTORY@", &inventory.uri());
        std::fs::write(dir.path().join(name), content).expect("write shadow rules");
    }
    let path = dir.path().to_path_buf();
    let engine = tokio::task::spawn_blocking(move || cxrules_server::shadow::load(&path))
        .await
        .expect("load task")
        .unwrap_or_else(|e| panic!("shadow rules do not load:\n{e}"));
    let shadow = cxrules_server::shadow::Shadow::start(engine, state.metrics().clone());
    if watch {
        shadow.watch(options).expect("watch shadow rules");
    }
    state.set_shadow(shadow);
    dir
}

async fn build_state(config: &Config) -> AppState {
    if config.dedup_store.is_some() {
        // `serve`'s own path, which gives the engine the shared store (watching is the caller's).
        let config = Config {
            watch: false,
            ..config.clone()
        };
        return AppState::from_config(&config).await.expect("state");
    }
    let dir = config.rules_dir.clone();
    // What `serve` requires of the rules under its profile (dfo: skill ids on the targets).
    let requirements = cxrules_engine::compile::Requirements {
        skill_ids: config.profile.base == ProfileName::Dfo,
    };
    let build = move || {
        cxrules_engine::Engine::builder(&dir)
            .requirements(requirements)
            .build()
    };
    let engine = tokio::task::spawn_blocking(build)
        .await
        .expect("load task")
        .unwrap_or_else(|e| panic!("rules do not load:\n{e}"));
    AppState::new(engine, config).expect("state")
}
