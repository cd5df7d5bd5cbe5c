//! Offline evaluation helpers: a clock that moves only when told and an inventory answered from a
//! map, for replaying recorded events and tracing rule test cases deterministically.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::Clock;
use crate::dedup::store::BoxFuture;
use crate::routing::source::{InventorySource, LookupError, LookupRequest};
use crate::testcase::MockAnswer;

/// Time that moves only when told: an offset in milliseconds from the moment it was made.
///
/// ```
/// use std::time::Duration;
/// let clock = cxrules_engine::replay::ManualClock::new();
/// let start = clock.now();
/// clock.set(Duration::from_secs(45));
/// assert_eq!(clock.now() - start, Duration::from_secs(45));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    offset_ms: AtomicU64,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock at offset zero.
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            offset_ms: AtomicU64::new(0),
        }
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.base + Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock to `offset` after its start (backwards too: the caller decides).
    pub fn set(&self, offset: Duration) {
        let ms = u64::try_from(offset.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.store(ms, Ordering::Relaxed);
    }

    /// The current offset from the start.
    pub fn offset(&self) -> Duration {
        Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }

    /// This clock as the engine's clock hook.
    pub fn hook(self: &Arc<Self>) -> Clock {
        let me = self.clone();
        Arc::new(move || me.now())
    }
}

/// An inventory answered from a map of SKU → [`MockAnswer`]; an unknown SKU answers 404.
///
/// ```
/// use cxrules_engine::replay::MapInventory;
/// use cxrules_engine::testcase::MockAnswer;
/// use cxrules_engine::routing::source::LookupError;
///
/// let inv = MapInventory::new([("SKU-1".to_string(), MockAnswer::Status("in_stock".into()))]
///     .into_iter().collect());
/// assert_eq!(inv.answer("SKU-1"), Ok("in_stock".to_string()));
/// assert_eq!(inv.answer("SKU-2"), Err(LookupError::Client(404)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct MapInventory(BTreeMap<String, MockAnswer>);

impl MapInventory {
    /// An inventory with these answers.
    pub fn new(answers: BTreeMap<String, MockAnswer>) -> Self {
        Self(answers)
    }

    /// How many SKUs it knows.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when it knows no SKU.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The answer for one SKU: the words `timeout` and `unreachable` simulate those failures,
    /// `{error: N}` an HTTP error, anything else is the status.
    pub fn answer(&self, sku: &str) -> Result<String, LookupError> {
        match self.0.get(sku) {
            None => Err(LookupError::Client(404)),
            Some(MockAnswer::Status(s)) if s == "timeout" => Err(LookupError::Timeout),
            Some(MockAnswer::Status(s)) if s == "unreachable" => {
                Err(LookupError::Unreachable("simulated".into()))
            }
            Some(MockAnswer::Status(s)) | Some(MockAnswer::Literal { status: s }) => Ok(s.clone()),
            Some(MockAnswer::Error { error }) if *error >= 500 => {
                Err(LookupError::Upstream(*error))
            }
            Some(MockAnswer::Error { error }) => Err(LookupError::Client(*error)),
        }
    }
}

impl InventorySource for MapInventory {
    fn lookup<'a>(
        &'a self,
        req: &'a LookupRequest<'a>,
    ) -> BoxFuture<'a, Result<String, LookupError>> {
        let answer = self.answer(req.sku);
        Box::pin(async move { answer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_form_maps_to_its_lookup_result() {
        let answers: BTreeMap<String, MockAnswer> = [
            ("a", MockAnswer::Status("timeout".into())),
            ("b", MockAnswer::Status("unreachable".into())),
            ("c", MockAnswer::Error { error: 503 }),
            ("d", MockAnswer::Error { error: 410 }),
            (
                "e",
                MockAnswer::Literal {
                    status: "timeout".into(),
                },
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let inv = MapInventory::new(answers);
        assert_eq!(inv.answer("a"), Err(LookupError::Timeout));
        assert!(matches!(inv.answer("b"), Err(LookupError::Unreachable(_))));
        assert_eq!(inv.answer("c"), Err(LookupError::Upstream(503)));
        assert_eq!(inv.answer("d"), Err(LookupError::Client(410)));
        assert_eq!(inv.answer("e"), Ok("timeout".into()));
        assert_eq!(inv.len(), 5);
    }

    #[test]
    fn the_clock_moves_only_when_set() {
        let clock = Arc::new(ManualClock::new());
        let hook = clock.hook();
        let start = hook();
        assert_eq!(hook(), start);
        clock.set(Duration::from_millis(1500));
        assert_eq!(hook() - start, Duration::from_millis(1500));
        assert_eq!(clock.offset(), Duration::from_millis(1500));
    }
}
