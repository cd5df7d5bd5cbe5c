//! Reload controls: `POST /rules/reload` behind an admin token, and SIGHUP.
//!
//! Both call the engine's own reload, the same path as start-up and the file watcher: the rules
//! in force stay when the new ones do not compile or fail their test cases.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// `POST /rules/reload`: reload now. 404 when no admin token is configured, 401 without the
/// right `Authorization: Bearer <token>`, 200 with what happened, or 422 with the located
/// errors (the rules in force stay).
pub async fn reload(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = &state.inner.admin_token else {
        return ApiError::not_found(
            "rule reload over HTTP is off",
            "set CXRULES_ADMIN_TOKEN to turn it on, or send SIGHUP",
        )
        .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        return ApiError::unauthorized("missing or wrong admin token").into_response();
    }
    let (status, mut body) = match reload_now(&state).await {
        Ok(report) => (StatusCode::OK, json!({"reloaded": report})),
        Err((error, diagnostics, pinned)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "error": error,
                "diagnostics": diagnostics,
                "pinned": pinned,
                "hint": "the rules in force stay; fix the files and reload again",
                "version_in_force": state.engine().rules().version(),
            }),
        ),
    };
    // The shadow rules reload with the live ones; their result does not change the status.
    if let Some(shadow) = reload_shadow(&state).await {
        body["shadow"] = shadow;
    }
    (status, Json(body)).into_response()
}

/// Reloads the shadow rules, when configured: what happened, or why they did not load (the
/// shadow rules in force stay).
async fn reload_shadow(state: &AppState) -> Option<serde_json::Value> {
    let engine = state.shadow()?.engine().clone();
    Some(
        match tokio::task::spawn_blocking(move || engine.reload()).await {
            Ok(Ok(report)) => json!({"reloaded": report}),
            Ok(Err(e)) => json!({"error": e.to_string(), "diagnostics": e.diagnostics()}),
            Err(e) => json!({"error": format!("the reload task failed: {e}")}),
        },
    )
}

/// Why a reload failed: the error text, its located diagnostics, and the notes of the test
/// cases that pin what the change alters (they pass with the rules in force, fail with the new
/// ones; each note names the case's file and line), which the error text ends with too.
type Failure = (String, Vec<cxrules_engine::diag::Diagnostic>, Vec<String>);

async fn reload_now(state: &AppState) -> Result<cxrules_engine::ReloadReport, Failure> {
    let engine = state.engine().clone();
    let reload = move || {
        engine.reload().map_err(|e| {
            let pinned = match &e {
                cxrules_engine::LoadError::TestsFailed(failures) => {
                    failures.pinned_by_cases(&engine.rules())
                }
                _ => Vec::new(),
            };
            let mut error = e.to_string();
            for note in &pinned {
                error.push_str(&format!("note: {note}\n"));
            }
            (error, e.diagnostics().to_vec(), pinned)
        })
    };
    match tokio::task::spawn_blocking(reload).await {
        Ok(result) => result,
        Err(e) => Err((
            format!("the reload task failed: {e}"),
            Vec::new(),
            Vec::new(),
        )),
    }
}

/// Reloads the rules on every SIGHUP until the runtime stops (unix only).
pub fn reload_on_sighup(state: AppState) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload with POST /rules/reload instead");
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the rules");
            if let Err((error, ..)) = reload_now(&state).await {
                tracing::error!(%error, "SIGHUP reload failed; the rules in force stay");
            }
            // Its failure is logged and shown on /rules/status by the shadow's own status book.
            let _ = reload_shadow(&state).await;
        }
    });
    #[cfg(not(unix))]
    let _ = state;
}
