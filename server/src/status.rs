//! Health, readiness, metrics and the rules status page.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cxrules_engine::dedup::store::StoreStats;
use cxrules_engine::ReloadStatus;
use serde::Serialize;
use serde_json::json;

use crate::cxone::{HealthSnapshot, ProfileName};
use crate::error::ApiError;
use crate::outbox::OutboxStatus;
use crate::shadow::ShadowStatus;
use crate::state::AppState;
use crate::store::DedupStoreStatus;

/// The host part of `/rules/status`.
#[derive(Debug, Serialize)]
pub struct HostStatus {
    /// True when no call leaves the host.
    pub dry_run: bool,
    /// Why, when it runs dry.
    pub dry_run_reason: Option<String>,
    /// `seed` or `dfo`.
    pub profile: &'static str,
    /// Inbound authentication mode.
    pub webhook_auth: &'static str,
    /// Updates queued or in flight.
    pub queue_depth: usize,
    /// Queue capacity.
    pub queue_capacity: usize,
    /// True once the rules are loaded and until shutdown.
    pub ready: bool,
}

/// `GET /rules/status`.
#[derive(Debug, Serialize)]
pub struct RulesStatus {
    /// Version, load time, last error, recent reloads.
    #[serde(flatten)]
    pub rules: ReloadStatus,
    /// Event types the rules handle.
    pub event_types: Vec<String>,
    /// Dedup store counters by channel.
    pub dedup: BTreeMap<String, StoreStats>,
    /// The host.
    pub host: HostStatus,
    /// Problems of outbound calls (403s show up here).
    pub outbound: HealthSnapshot,
    /// Where the dedup windows are, and whether this replica decides on its own memory now.
    pub dedup_store: DedupStoreStatus,
    /// The shadow rules and their comparison with the live rules, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowStatus>,
    /// The durable outbox (`null` in dry-run or with `--no-outbox`).
    pub outbox: Option<OutboxStatus>,
}

/// Adds the reload attempts made since the last look to `cxrules_rules_reloads_total`, from the
/// engine's running totals (so none is missed however rarely the metrics are read).
fn count_reloads(state: &AppState, status: &ReloadStatus) {
    let mut seen = state
        .inner
        .reloads_seen
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let now = status.totals;
    for (result, total, before) in [
        ("loaded", now.loaded, seen.loaded),
        ("unchanged", now.unchanged, seen.unchanged),
        ("failed", now.failed, seen.failed),
    ] {
        state
            .inner
            .metrics
            .reloads(result, total.saturating_sub(before));
    }
    *seen = now;
}

fn host(state: &AppState) -> HostStatus {
    HostStatus {
        dry_run: state.is_dry_run(),
        dry_run_reason: state
            .inner
            .dry_run_reason
            .clone()
            .filter(|_| state.is_dry_run()),
        profile: match state.profile().base {
            ProfileName::Seed => "seed",
            ProfileName::Dfo => "dfo",
        },
        webhook_auth: state.inner.auth.mode(),
        queue_depth: state.effects().depth(),
        queue_capacity: state.inner.capacity,
        ready: state.is_ready(),
    }
}

/// The whole status document.
pub fn rules_status_of(state: &AppState) -> RulesStatus {
    let engine = state.engine();
    let rules = engine.reload_status();
    count_reloads(state, &rules);
    RulesStatus {
        rules,
        event_types: engine.rules().event_types(),
        dedup: engine.dedup_stats().into_iter().collect(),
        host: host(state),
        outbound: state.inner.health.snapshot(),
        dedup_store: dedup_store_status(state),
        shadow: state.shadow().map(|s| s.status()),
        outbox: state.effects().outbox().map(|o| o.status()),
    }
}

fn dedup_store_status(state: &AppState) -> DedupStoreStatus {
    state
        .dedup_store()
        .map_or_else(DedupStoreStatus::memory, |h| h.status())
}

/// `GET /rules/status`.
pub async fn rules_status(State(state): State<AppState>) -> Json<RulesStatus> {
    Json(rules_status_of(&state))
}

/// `GET /healthz`: the process is alive; outbound permission problems are shown, not fatal:
/// `degraded` while an endpoint's latest answer is a 403, `ok` again after its next success;
/// also `degraded` while the shared dedup store's latest call failed. `dfo` calls answered 404
/// (a wrong contact id) are counted under `not_found`, with the latest path in `last_not_found`;
/// `degraded` while the tenant lacks a custom field the `dfo` profile writes (`custom_fields`),
/// and while the outbox cannot be written (`outbox_unwritable`).
pub async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    let outbound = state.inner.health.snapshot();
    let store = dedup_store_status(&state);
    let missing_fields = outbound
        .custom_fields
        .as_ref()
        .is_some_and(|c| !c.missing.is_empty());
    let unwritable = state.effects().outbox().is_some_and(|o| o.is_unwritable());
    let status =
        if !outbound.forbidden_now.is_empty() || store.failing || missing_fields || unwritable {
            "degraded"
        } else {
            "ok"
        };
    Json(json!({
        "status": status,
        "dry_run": state.is_dry_run(),
        "forbidden": outbound.forbidden,
        "last_forbidden": outbound.last_forbidden,
        "forbidden_now": outbound.forbidden_now,
        "not_found": outbound.not_found,
        "last_not_found": outbound.last_not_found,
        "custom_fields": outbound.custom_fields,
        "dedup_store": store,
        "outbox_unwritable": unwritable,
    }))
}

/// `GET /readyz`: 200 once rules are loaded and until shutdown starts, else 503.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_ready() {
        let version = state.engine().rules().version().to_owned();
        (
            StatusCode::OK,
            Json(json!({"ready": true, "rules_version": version})),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false})),
        )
            .into_response()
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = metrics_text(&state);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The metrics text, with the gauges read now.
pub fn metrics_text(state: &AppState) -> String {
    count_reloads(state, &state.engine().reload_status());
    state.metrics().set_queue_depth(state.effects().depth());
    if let Some(outbox) = state.effects().outbox() {
        outbox.publish();
    }
    if let Some(store) = state.dedup_store() {
        state
            .metrics()
            .dedup_store(store.errors_by_kind(), store.is_fallback());
    }
    state.metrics().encode()
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        error: "no such route".into(),
        hint: "post events to /webhook/cxone/events, /webhook/routing-events or /events".into(),
        reason: "not_found",
        retry_after: None,
    }
}
