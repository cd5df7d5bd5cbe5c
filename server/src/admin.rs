//! The admin token check of the read-mostly operator routes (`/rules/try`, the status page's
//! data): required when a token is configured, open otherwise.

use axum::http::{header, HeaderMap, StatusCode};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// `Ok` when no admin token is configured or the request carries it as
/// `Authorization: Bearer <token>` (compared in constant time); 401 otherwise.
pub(crate) fn require(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.inner.admin_token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            error: "missing or wrong admin token".into(),
            hint: "send `Authorization: Bearer <token>` with the token of CXRULES_ADMIN_TOKEN"
                .into(),
            reason: "admin_token",
            retry_after: None,
        })
    }
}
