//! End-to-end harness for cxrules: starts the real server on `127.0.0.1:0` with rule files in a
//! temporary directory, a mock CXone and a mock inventory; the tests live in `tests/tests/`.

/// Headless Chromium for the status page's test.
pub mod chromium;
mod fixtures;
mod harness;
/// A real `redis-server` per test: the engine's own harness, shared rather than copied.
#[path = "../../engine/tests/support/redis.rs"]
pub mod redis;

pub use fixtures::*;
pub use harness::*;
