//! The status page for people: `GET /` serves one page embedded in the binary (plain HTML and a
//! little JavaScript, no build step), `GET /ui/data` what it shows (the rules status with the
//! shadow comparison, and the metrics text). The page holds no data of its own: with an admin
//! token configured, `/ui/data` and `/rules/try` require it, and the page asks for it.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::state::AppState;
use crate::status::{metrics_text, rules_status_of, RulesStatus};

/// The page.
pub const PAGE: &str = include_str!("ui/index.html");

/// `GET /`: the status page.
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

/// What the page shows.
#[derive(Debug, Serialize)]
pub struct PageData {
    /// `/rules/status`, with the shadow section when shadow rules are configured.
    pub status: RulesStatus,
    /// The `/metrics` text (the page reads the counters it shows from it).
    pub metrics: String,
    /// True when an admin token is configured (the page then keeps it for its requests).
    pub admin_token: bool,
}

/// `GET /ui/data`: the admin token when one is configured.
pub async fn data(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = crate::admin::require(&state, &headers) {
        return e.into_response();
    }
    Json(PageData {
        status: rules_status_of(&state),
        metrics: metrics_text(&state),
        admin_token: state.inner.admin_token.is_some(),
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::PAGE;

    #[test]
    fn the_page_is_small_and_whole() {
        assert!(PAGE.len() < 100 * 1024, "{} bytes", PAGE.len());
        assert!(PAGE.starts_with("<!doctype html>"));
        assert!(PAGE.trim_end().ends_with("</html>"));
    }
}
