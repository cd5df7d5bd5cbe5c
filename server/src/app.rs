//! The host's router, built from the route modules, and `run`: serve until the shutdown signal,
//! then drain.

use std::future::Future;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

pub use crate::state::{AppState, StartError};
use crate::{reload, routes, status};

/// The host's router.
pub fn app(state: AppState) -> Router {
    let limit = state.inner.body_limit;
    Router::new()
        .route("/webhook/cxone/events", post(routes::cxone_events))
        .route("/webhook/routing-events", post(routes::routing_events))
        .route("/events", post(routes::events))
        .route("/healthz", get(status::healthz))
        .route("/readyz", get(status::readyz))
        .route("/metrics", get(status::metrics))
        .route("/rules/status", get(status::rules_status))
        .route("/rules/reload", post(reload::reload))
        .fallback(status::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves until `shutdown` completes, then stops accepting, finishes requests in flight, and
/// drains the side-effects queue for at most the configured time.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let signal_state = state.clone();
    let signal = async move {
        shutdown.await;
        signal_state.set_ready(false);
        tracing::info!("shutting down: no new events accepted");
    };
    axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(signal)
        .await?;
    state.stop_watching();
    let left = state.inner.effects.drain(state.inner.drain_timeout).await;
    if left > 0 {
        tracing::error!(
            left,
            "shutdown: updates not sent to cxone (each logged above)"
        );
    }
    Ok(())
}
