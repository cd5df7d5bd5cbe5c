//! The axum host and the `cxrules` CLI: applies cxrules to live NICE CXone webhooks.
//!
//! # Layout
//!
//! - [`config`]: flags, environment and `.env` → a [`Config`].
//! - [`cxone`]: call profiles (`seed`, `dfo`), tokens, retries, the HTTP client.
//! - [`effects`]: the queue of side effects: per-interaction order, coalescing, rate limit, drain.
//! - [`signature`]: inbound HMAC, Standard Webhooks and bearer verification.
//! - [`metrics`]: the Prometheus registry; [`push`]: the optional JSON push to `METRICS_ENDPOINT`.
//! - [`app`]: [`AppState`], the [`app`](app::app) router and [`run`](app::run).

pub mod app;
pub mod config;
pub mod cxone;
pub mod decide;
pub mod effects;
pub mod error;
pub mod metrics;
pub mod push;
pub mod routes;
mod secret;
pub mod signature;
pub mod status;

pub use app::{app, run, AppState, StartError};
pub use config::{Config, ConfigError, ServeArgs};
pub use error::ApiError;
pub use metrics::Metrics;
pub use secret::Secret;
