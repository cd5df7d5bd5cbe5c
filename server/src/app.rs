//! The host's router, built from the route modules, and `run`: serve until the shutdown signal,
//! then drain.

use std::future::{Future, IntoFuture};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

pub use crate::state::{AppState, StartError};
use crate::{reload, routes, status, studio, trial, ui};

/// The host's router.
pub fn app(state: AppState) -> Router {
    let limit = state.inner.body_limit;
    Router::new()
        .route("/webhook/cxone/events", post(routes::cxone_events))
        .route("/webhook/routing-events", post(routes::routing_events))
        .route("/events", post(routes::events))
        .route("/studio/v1/decide", post(studio::decide))
        .route("/healthz", get(status::healthz))
        .route("/readyz", get(status::readyz))
        .route("/metrics", get(status::metrics))
        .route("/rules/status", get(status::rules_status))
        .route("/rules/reload", post(reload::reload))
        .route("/rules/try", post(trial::try_event))
        .route("/", get(ui::page))
        .route("/ui/data", get(ui::data))
        .fallback(status::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves until `shutdown` completes, then drains the side-effects queue for at most the
/// configured time while the listener stays open: `/readyz` answers 503 and an event that would
/// queue an update gets 503 with `Retry-After` (a load balancer still sending sees a refusal it
/// can retry elsewhere, not a closed port). Then it stops accepting and finishes the requests in
/// flight.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = axum::serve(listener, app(state.clone())).with_graceful_shutdown(async move {
        let _ = stopped.await;
    });
    // Polled here, not spawned: dropping `run` drops the listener with it.
    let mut server = std::pin::pin!(serve.into_future());
    tokio::select! {
        ended = &mut server => return ended,
        () = shutdown => {}
    }
    let drain = async {
        state.set_ready(false);
        tracing::info!("shutting down: not ready, no new updates taken; draining the queue");
        state.stop_watching();
        let left = state.inner.effects.drain(state.inner.drain_timeout).await;
        if let Some(outbox) = state.effects().outbox() {
            outbox.close().await;
        } else if left > 0 {
            tracing::error!(
                left,
                "shutdown: updates not sent to cxone (each logged above)"
            );
        }
        let _ = stop.send(());
    };
    // The server keeps answering while the queue drains, and stops once it is told to.
    let (ended, ()) = tokio::join!(server, drain);
    ended
}
