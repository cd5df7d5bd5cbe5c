//! Where the engine reads the time: a hook, so tests and replays decide what "now" is.

use std::sync::Arc;

use tokio::time::Instant;

/// Where the engine reads the time (tokio's clock by default, so tests can pause it).
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;
