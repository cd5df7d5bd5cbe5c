//! Where prepared calls go: CXone, or the log in dry-run.

use std::future::Future;
use std::pin::Pin;

use crate::cxone::{CxoneClient, Delivered, PreparedCall, SendError};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Delivers one call.
pub trait Sink: Send + Sync + 'static {
    /// Sends the call (retrying as it sees fit).
    fn deliver<'a>(&'a self, call: &'a PreparedCall)
        -> BoxFuture<'a, Result<Delivered, SendError>>;

    /// True when nothing leaves the process.
    fn is_dry_run(&self) -> bool {
        false
    }

    /// True when the sink applies the rate limit itself, to each attempt it makes; otherwise the
    /// queue applies it once per delivery.
    fn paces_itself(&self) -> bool {
        false
    }
}

impl Sink for CxoneClient {
    fn deliver<'a>(
        &'a self,
        call: &'a PreparedCall,
    ) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(self.send(call))
    }

    fn paces_itself(&self) -> bool {
        true
    }
}

/// Logs each call instead of making it.
#[derive(Debug, Default, Clone, Copy)]
pub struct DryRun;

impl Sink for DryRun {
    fn deliver<'a>(
        &'a self,
        call: &'a PreparedCall,
    ) -> BoxFuture<'a, Result<Delivered, SendError>> {
        tracing::info!(
            method = %call.method,
            path = %call.path,
            body = %call.body,
            "dry-run: cxone call not sent"
        );
        Box::pin(std::future::ready(Ok(Delivered {
            status: 0,
            attempts: 0,
        })))
    }

    fn is_dry_run(&self) -> bool {
        true
    }
}
