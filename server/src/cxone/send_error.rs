//! `SendError`: why a CXone call was given up, shared by the client and API host discovery.

use super::auth::AuthError;

/// A call given up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 404: the interaction no longer exists (already routed or ended); not retried.
    #[error("cxone answered 404: the interaction is gone (routed, ended or expired)")]
    Gone,
    /// `dfo` 404: no contact under the id the call addressed, so the id is wrong (DFO contacts
    /// are not deleted, and calls take the contact number, `data.case.id`); not retried.
    #[error("cxone answered 404 for {path}: no such contact; the call addresses a wrong id (dfo contact calls take the contact number, data.case.id)")]
    NotFound {
        /// The path called.
        path: String,
    },
    /// 403: the credentials lack a permission; not retried.
    #[error("cxone answered 403: the api client lacks permission for this call; grant it (seed: the interactions/routing write scopes; dfo: the api user's security profile)")]
    Forbidden,
    /// Another 4xx: the request itself is wrong; not retried.
    #[error("cxone rejected the call with {0}; check the profile's method, path and body")]
    Rejected(u16),
    /// 401 again right after a fresh token.
    #[error("cxone answered 401 twice, with a fresh token the second time; check the credentials")]
    Unauthorized,
    /// No token.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Retries used up.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The URL would not be the configured API path (a hostile id, a bad base URL).
    #[error("refused to send: {0}")]
    UnsafePath(String),
    /// The API host could not be discovered and never will be with this configuration.
    #[error("cannot find the api host: {0}")]
    Discovery(String),
}
