//! Connecting to Redis, and Redis errors as store errors the host can label.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::RedisError;

use crate::dedup::store::{StoreError, StoreErrorKind};

/// A connection manager for `url` (`redis://host:port/db`, `rediss://…`, `redis+unix:///path`),
/// connecting on first use and reconnecting in the background after a failure, each attempt
/// bounded by `timeout`. Must be called inside a tokio runtime.
pub fn connect(url: &str, timeout: Duration) -> Result<ConnectionManager, StoreError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(StoreError::new(
            StoreErrorKind::Other,
            "the redis connection needs a tokio runtime: connect from inside one",
        ));
    }
    let client = redis::Client::open(url).map_err(|e| {
        StoreError::new(
            StoreErrorKind::Other,
            format!("bad redis url: {e}; hint: redis://host:6379 or redis+unix:///path/to/sock"),
        )
    })?;
    // Few, quick reconnection attempts: a call waits for them at most `timeout` anyway, and the
    // next call after a failed round starts another.
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(client, config).map_err(|e| error("connect", &e))
}

/// A Redis client error as a store error of the kind the host labels it with.
pub(super) fn error(what: &str, e: &RedisError) -> StoreError {
    let kind = if e.is_timeout() {
        StoreErrorKind::Timeout
    } else if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
        StoreErrorKind::Unavailable
    } else if matches!(e.kind(), redis::ErrorKind::InvalidClientConfig) {
        StoreErrorKind::Other
    } else {
        StoreErrorKind::Script
    };
    StoreError::new(kind, format!("redis {what} failed: {e}"))
}
