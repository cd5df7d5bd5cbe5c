//! The axum host and the `cxrules` CLI: applies cxrules to live NICE CXone webhooks.
//!
//! An event is answered once its decision is made and its side effects are queued (live, also
//! written to the durable outbox); the queue delivers them to CXone afterwards (or logs them,
//! in dry-run).
//!
//! # Layout
//!
//! - [`config`]: `serve`'s flags and environment → a [`Config`] (no credentials: dry-run).
//! - [`state`]: [`AppState`], what every handler reads (a leaf: it knows no route).
//! - [`mod@app`]: the [`app()`] router, built from the route modules, and [`run`] (serve, then
//!   drain).
//! - [`reload`]: `POST /rules/reload` (admin token) and SIGHUP.
//! - [`routes`]: the event routes; [`status`]: health, readiness, metrics, rules status;
//!   [`error`]: [`ApiError`], every error answer as `{"error", "hint"}`.
//! - [`decide`]: from the engine's decision to updates, metrics and an explanation.
//! - [`effects`]: the side-effects queue: per-interaction order, coalescing, rate limit, drain.
//! - [`outbox`]: the durable outbox (redb in `--data-dir`): an event is answered 2xx only once
//!   its updates are written; group commit, dead letters, recovery at start. With
//!   `--dedup-store`, a Redis stream the replicas share instead (consumer group, takeover).
//! - [`cxone`]: call profiles (`seed`, `dfo`), safe id paths, tokens, retries, the HTTP client.
//! - [`signature`]: inbound HMAC, Standard Webhooks and bearer checks.
//! - [`store`]: the shared dedup store of `--dedup-store` (Redis) and its `--on-store-error`
//!   policy.
//! - [`capture`]: `--capture DIR`, accepted events to rotated JSONL files for `replay`, written
//!   off the answer path (optionally redacted).
//! - [`metrics`]: the Prometheus registry; [`push`]: the optional JSON push to `METRICS_ENDPOINT`.
//! - [`tools`]: the operator subcommands `check`, `test`, `replay`, `schema`, `register-webhook`.
//! - [`shadow`]: shadow rules evaluated beside the live rules on every event, never acted on;
//!   [`trial`]: `POST /rules/try`, one event evaluated dry; [`ui`]: the status page at `GET /`.
//!
//! # Embedding
//!
//! ```no_run
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! use cxrules_server::{run, AppState, Config};
//!
//! let config = Config { rules_dir: "rules".into(), ..Config::default() }; // dry-run
//! let state = AppState::from_config(&config).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! run(listener, state, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod admin;
pub mod answer;
pub mod app;
pub mod capture;
pub mod config;
pub mod cxone;
pub mod decide;
pub mod effects;
pub mod error;
pub mod metrics;
pub mod outbox;
pub mod push;
pub mod reload;
pub mod routes;
mod secret;
pub mod sequence;
pub mod shadow;
pub mod signature;
pub mod state;
pub mod status;
pub mod store;
pub mod studio;
pub mod tools;
pub mod trial;
pub mod ui;

pub use app::{app, run};
pub use config::{Config, ConfigError, ServeArgs};
pub use error::ApiError;
pub use metrics::Metrics;
pub use secret::Secret;
pub use state::{AppState, StartError};
