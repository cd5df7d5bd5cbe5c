//! The engine the harness runs. Until the engine's in-memory dedup store is complete, a small
//! reference store (every fingerprint of the window, event ids, highest order key, rollback)
//! stands in, so the host's end-to-end behaviour can be checked now.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cxrules_engine::dedup::store::{
    BoxFuture, CheckOutcome, CheckRequest, DedupStore, Fingerprint, RollbackToken, StoreError,
    StoreStats, Verdict, WindowPolicy,
};
use cxrules_engine::{Engine, LoadError};
use tokio::time::Instant;

#[derive(Default)]
struct Entry {
    fingerprints: HashMap<Fingerprint, Instant>,
    events: HashMap<String, Instant>,
    highest: Option<i64>,
}

struct RefStore {
    policy: WindowPolicy,
    map: Mutex<HashMap<String, Entry>>,
}

impl RefStore {
    fn check_now(&self, req: &CheckRequest<'_>) -> CheckOutcome {
        let mut map = self.map.lock().unwrap();
        let e = map.entry(req.interaction.to_owned()).or_default();
        let expiry = req.now + self.policy.window;
        e.fingerprints.retain(|_, until| *until > req.now);
        e.events.retain(|_, until| *until > req.now);
        let previous = e.highest;
        e.highest = e.highest.max(req.order);
        if let Some(id) = req.event_id.filter(|id| e.events.contains_key(*id)) {
            let _ = id;
            return CheckOutcome {
                verdict: Verdict::Redelivery,
                highest: e.highest,
                rollback: None,
            };
        }
        if let Some(until) = e.fingerprints.get_mut(&req.fingerprint) {
            if self.policy.sliding {
                *until = expiry;
            }
            return CheckOutcome {
                verdict: Verdict::Duplicate,
                highest: e.highest,
                rollback: None,
            };
        }
        e.fingerprints.insert(req.fingerprint, expiry);
        if let Some(id) = req.event_id {
            e.events.insert(id.to_owned(), expiry);
        }
        let out_of_order = matches!((req.order, previous), (Some(o), Some(p)) if o < p);
        CheckOutcome {
            verdict: if out_of_order {
                Verdict::OutOfOrder
            } else {
                Verdict::Unique
            },
            highest: e.highest,
            rollback: Some(RollbackToken {
                interaction: req.interaction.to_owned(),
                fingerprint: req.fingerprint,
                event_id: req.event_id.map(str::to_owned),
                previous_highest: previous,
                set_highest: e.highest,
            }),
        }
    }
}

impl DedupStore for RefStore {
    fn check<'a>(
        &'a self,
        req: CheckRequest<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        let out = self.check_now(&req);
        Box::pin(async move { Ok(out) })
    }

    fn rollback(&self, token: RollbackToken) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut map = self.map.lock().unwrap();
        if let Some(e) = map.get_mut(&token.interaction) {
            e.fingerprints.remove(&token.fingerprint);
            if let Some(id) = &token.event_id {
                e.events.remove(id);
            }
            if e.highest == token.set_highest {
                e.highest = token.previous_highest;
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn stats(&self) -> StoreStats {
        StoreStats {
            interactions: self.map.lock().unwrap().len() as u64,
            ..StoreStats::default()
        }
    }
}

/// Loads the rules in `dir` into an engine with the reference store.
pub fn engine(dir: &Path) -> Result<Engine, LoadError> {
    Engine::builder(dir)
        .stores(Arc::new(|ch| {
            Arc::new(RefStore {
                policy: ch.policy().clone(),
                map: Mutex::default(),
            }) as Arc<dyn DedupStore>
        }))
        .build()
}
