//! `ApiError`: every error answer of the host, as JSON `{"error": "...", "hint": "..."}`.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// An error answer. The `reason` is the metrics label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What is wrong.
    pub error: String,
    /// What to do about it.
    pub hint: String,
    /// Metrics label (`invalid_json`, `signature`, ...).
    pub reason: &'static str,
    /// Sent as Retry-After (503 only).
    pub retry_after: Option<Duration>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    hint: &'a str,
}

impl ApiError {
    fn new(
        status: StatusCode,
        reason: &'static str,
        error: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error: error.into(),
            hint: hint.into(),
            reason,
            retry_after: None,
        }
    }

    /// 400: the event is not usable.
    pub fn bad_request(
        reason: &'static str,
        error: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, error, hint)
    }

    /// 404: nothing here (or a feature that is turned off).
    pub fn not_found(error: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", error, hint)
    }

    /// 401: the request failed authentication.
    pub fn unauthorized(error: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "signature",
            error,
            "sign the raw body with the shared secret (see --webhook-auth); check the sender's secret and clock",
        )
    }

    /// 413: the body is over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body is larger than {limit} bytes"),
            "send one event per request, or raise --body-limit",
        )
    }

    /// 415: not JSON.
    pub fn unsupported_type(got: Option<&str>) -> Self {
        let error = match got {
            Some(t) => format!("unsupported content type `{t}`"),
            None => "missing content type".to_owned(),
        };
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            error,
            "send the event as JSON with `Content-Type: application/json`",
        )
    }

    /// 503: the host cannot take the event now; the sender should retry.
    pub fn unavailable(
        reason: &'static str,
        error: impl Into<String>,
        retry_after: Duration,
    ) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            reason,
            error,
            "retry after the time in the Retry-After header; the event was not recorded",
        );
        e.retry_after = Some(retry_after);
        e
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: &self.error,
            hint: &self.hint,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs().max(1).to_string();
            if let Ok(v) = HeaderValue::from_str(&secs) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.error)
    }
}

impl std::error::Error for ApiError {}
