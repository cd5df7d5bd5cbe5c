//! Replay time: each event's own timestamp (RFC 3339 or epoch milliseconds at a JSON pointer) or
//! a fixed spacing, driving the engine's clock so windows behave as they did live.

use std::sync::Arc;
use std::time::Duration;

use cxrules_engine::replay::ManualClock;
pub use cxrules_engine::timestamp::{epoch_ms, parse_rfc3339};
use serde_json::Value;

/// Where event time comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeMode {
    /// The first of these JSON pointers that holds a usable time.
    Fields(Vec<String>),
    /// Events `spacing` apart, the first at zero.
    Spacing(Duration),
}

/// Moves the clock event by event; never backwards, so windows only ever expire.
#[derive(Debug)]
pub struct Timeline {
    mode: TimeMode,
    clock: Arc<ManualClock>,
    origin_ms: Option<i64>,
    index: u64,
    /// Events without a usable time (they keep the time of the event before).
    pub untimed: u64,
    /// Events whose time was before the clock's (they keep the clock where it was).
    pub backwards: u64,
}

impl Timeline {
    /// A timeline driving `clock`.
    pub fn new(mode: TimeMode, clock: Arc<ManualClock>) -> Self {
        Self {
            mode,
            clock,
            origin_ms: None,
            index: 0,
            untimed: 0,
            backwards: 0,
        }
    }

    /// Sets the clock for the next event.
    pub fn advance(&mut self, event: &Value) {
        let index = self.index;
        self.index += 1;
        let pointers = match &self.mode {
            TimeMode::Spacing(step) => {
                let ms = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
                self.clock
                    .set(Duration::from_millis(ms.saturating_mul(index)));
                return;
            }
            TimeMode::Fields(pointers) => pointers,
        };
        let Some(ms) = pointers
            .iter()
            .find_map(|p| event.pointer(p).and_then(epoch_ms))
        else {
            self.untimed += 1;
            return;
        };
        let origin = *self.origin_ms.get_or_insert(ms);
        // i128: two i64 instants can be further apart than an i64 holds.
        let since_origin = i128::from(ms) - i128::from(origin);
        let offset = Duration::from_millis(u64::try_from(since_origin).unwrap_or(0));
        if offset < self.clock.offset() || since_origin < 0 {
            self.backwards += 1;
        } else {
            self.clock.set(offset);
        }
    }

    /// How far the clock moved from the first event.
    pub fn span(&self) -> Duration {
        self.clock.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_clock_follows_event_times_and_never_goes_back() {
        let clock = Arc::new(ManualClock::new());
        let mode = TimeMode::Fields(vec!["/t".into(), "/createdAt".into()]);
        let mut timeline = Timeline::new(mode, clock.clone());
        timeline.advance(&json!({"t": 10_000}));
        assert_eq!(clock.offset(), Duration::ZERO);
        timeline.advance(&json!({"createdAt": "1970-01-01T00:00:55Z"}));
        assert_eq!(clock.offset(), Duration::from_secs(45));
        timeline.advance(&json!({"t": 20_000}));
        assert_eq!(clock.offset(), Duration::from_secs(45));
        timeline.advance(&json!({"other": 1}));
        assert_eq!((timeline.backwards, timeline.untimed), (1, 1));
        assert_eq!(timeline.span(), Duration::from_secs(45));
    }

    /// The engine's rule: integer milliseconds, digit strings or RFC 3339; a fraction is no time.
    #[test]
    fn times_follow_the_engines_rule() {
        let clock = Arc::new(ManualClock::new());
        let mut timeline = Timeline::new(TimeMode::Fields(vec!["/t".into()]), clock.clone());
        timeline.advance(&json!({"t": 1_000}));
        timeline.advance(&json!({"t": 2_000.5}));
        timeline.advance(&json!({"t": "2026-11-23T10:00:00€:00"}));
        assert_eq!((timeline.untimed, clock.offset()), (2, Duration::ZERO));
    }

    #[test]
    fn times_far_apart_do_not_overflow() {
        let clock = Arc::new(ManualClock::new());
        let mut timeline = Timeline::new(TimeMode::Fields(vec!["/t".into()]), clock.clone());
        timeline.advance(&json!({"t": i64::MAX}));
        timeline.advance(&json!({"t": i64::MIN}));
        assert_eq!(timeline.backwards, 1);
        let mut timeline = Timeline::new(TimeMode::Fields(vec!["/t".into()]), clock.clone());
        timeline.advance(&json!({"t": i64::MIN}));
        timeline.advance(&json!({"t": 0}));
        assert_eq!(timeline.backwards, 0);
    }

    #[test]
    fn fixed_spacing_ignores_event_times() {
        let clock = Arc::new(ManualClock::new());
        let mut timeline =
            Timeline::new(TimeMode::Spacing(Duration::from_millis(100)), clock.clone());
        for _ in 0..3 {
            timeline.advance(&json!({"t": 1}));
        }
        assert_eq!(clock.offset(), Duration::from_millis(200));
    }
}
