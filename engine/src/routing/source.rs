//! The `InventorySource` trait: where a SKU's inventory status comes from.

use std::time::Duration;

use crate::dedup::store::BoxFuture;

/// One inventory lookup, fully prepared by the compiled route.
#[derive(Debug, Clone)]
pub struct LookupRequest<'a> {
    /// The SKU looked up.
    pub sku: &'a str,
    /// The full URL, with the SKU already percent-encoded into it.
    pub url: &'a str,
    /// The strict deadline for the whole lookup.
    pub timeout: Duration,
    /// JSON pointer to the status string in the response body (e.g. `/status`).
    pub status_pointer: &'a str,
    /// Extra request headers (already env-substituted).
    pub headers: &'a [(String, String)],
}

/// Why a lookup gave no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No answer before the deadline.
    #[error("inventory lookup timed out")]
    Timeout,
    /// The inventory answered 5xx.
    #[error("inventory answered {0}")]
    Upstream(u16),
    /// The inventory answered 4xx (the SKU is not known, say; 429 means it refuses work).
    #[error("inventory answered {0}")]
    Client(u16),
    /// No connection could be made.
    #[error("inventory unreachable: {0}")]
    Unreachable(String),
    /// An answer that is no usable document: a redirect, not JSON, too large.
    #[error("inventory answer unusable: {0}")]
    BadResponse(String),
    /// A JSON answer without a status string at the pointer.
    #[error("inventory answer has no status: {0}")]
    NoStatus(String),
}

/// Where inventory status comes from: HTTP by default, anything an embedder supplies otherwise.
pub trait InventorySource: Send + Sync + 'static {
    /// Looks a SKU up; must honour `req.timeout`.
    fn lookup<'a>(
        &'a self,
        req: &'a LookupRequest<'a>,
    ) -> BoxFuture<'a, Result<String, LookupError>>;
}

/// The inventory of an engine built without the `http-inventory` feature and given no source
/// of its own: every lookup is unreachable, so routes fall back (and say why) instead of
/// failing to compile or panicking.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use cxrules_engine::routing::source::{InventorySource, LookupError, LookupRequest, NoInventory};
///
/// let req = LookupRequest {
///     sku: "SKU-1",
///     url: "https://inventory.example.com/SKU-1",
///     timeout: Duration::from_secs(1),
///     status_pointer: "/status",
///     headers: &[],
/// };
/// assert!(matches!(NoInventory.lookup(&req).await, Err(LookupError::Unreachable(_))));
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInventory;

impl InventorySource for NoInventory {
    fn lookup<'a>(
        &'a self,
        _req: &'a LookupRequest<'a>,
    ) -> BoxFuture<'a, Result<String, LookupError>> {
        Box::pin(async {
            Err(LookupError::Unreachable(
                "no inventory source: this build has no HTTP inventory; hint: give the engine \
                 one with EngineBuilder::inventory, or build with the `http-inventory` feature"
                    .into(),
            ))
        })
    }
}
