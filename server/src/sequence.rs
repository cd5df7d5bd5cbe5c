//! The cross-replica order guard of metadata updates: with `--dedup-store`, replicas that
//! deliver updates of one interaction take turns through a lease in Redis, and an update whose
//! `lastSequence` is below one already sent by any replica is not sent at all.
//!
//! Each replica keeps its own lanes in order (`effects::order`), but two replicas deciding two
//! messages of one interaction send their updates independently: without this guard the older
//! update can reach CXone after the newer one and move `lastSequence` back. Two keys per
//! interaction, under the dedup store's hash tag so they share a Redis Cluster slot:
//!
//! - `{prefix}:{<interaction>}:sent`: the highest `lastSequence` any replica started sending;
//! - `{prefix}:{<interaction>}:lease`: the token of the replica sending right now, with a TTL.
//!
//! One script run admits an update (`superseded`, `busy` with the lease's remaining time, or
//! `send`, which takes the lease and raises `sent`); a second one releases the lease if it is
//! still this replica's. The lease outlives a delivery with all its retries, so a replica that
//! dies holding it delays the interaction's next update by at most the lease. When Redis fails,
//! the update is sent on this replica's order alone (counted), never held back: a lost update
//! is worse than a rare backwards step.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

/// What the guard says about one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Send it; release the lease afterwards (`None`: Redis failed, nothing to release).
    Send(Option<Lease>),
    /// A replica already sent a higher `lastSequence`: this update is stale.
    Superseded,
}

/// A held turn on one interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    key: String,
    token: String,
}

/// The guard: one connection manager shared with the dedup store.
pub struct SequenceGuard {
    conn: ConnectionManager,
    prefix: String,
    lease: Duration,
    keep: Duration,
    token_base: String,
    next: AtomicU64,
    admit: Script,
    release: Script,
    /// Redis errors seen (the update was sent unguarded).
    errors: AtomicU64,
}

impl std::fmt::Debug for SequenceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequenceGuard")
            .field("prefix", &self.prefix)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// KEYS: sent, lease. ARGV: lastSequence, token, lease ms, keep ms.
/// Returns {0} superseded, {1} send, {2, pttl} busy.
const ADMIT: &str = r"
local sent = tonumber(redis.call('GET', KEYS[1]))
local seq = tonumber(ARGV[1])
if sent and seq < sent then return {0} end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then
  if not sent or seq > sent then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
  else
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
  end
  return {1}
end
return {2, redis.call('PTTL', KEYS[2])}
";

/// KEYS: lease. ARGV: token. Deletes the lease only if it is still the caller's.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The first wait between two asks for a busy interaction.
const POLL: Duration = Duration::from_millis(20);
/// The longest wait between two asks for a leased interaction.
const MAX_POLL: Duration = Duration::from_secs(1);

impl SequenceGuard {
    /// A guard on `conn` under `prefix`; `lease` bounds one delivery with its retries; `sent`
    /// values are kept for `keep` after their last use.
    pub fn new(conn: ConnectionManager, prefix: &str, lease: Duration, keep: Duration) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            lease: lease.max(Duration::from_millis(1)),
            keep: keep.max(lease),
            token_base: format!("{:016x}", rand::random::<u64>()),
            next: AtomicU64::new(0),
            admit: Script::new(ADMIT),
            release: Script::new(RELEASE),
            errors: AtomicU64::new(0),
        }
    }

    /// Redis errors since start (each let an update through on local order alone).
    pub fn errors(&self) -> u64 {
        self.errors.load(Relaxed)
    }

    fn keys(&self, interaction: &str) -> (String, String) {
        let base = format!("{}:{{{interaction}}}", self.prefix);
        (format!("{base}:sent"), format!("{base}:lease"))
    }

    /// Waits for the interaction's turn and says whether an update with `last_sequence` is
    /// still to be sent. Waits at most the lease's length for a busy interaction (a lease
    /// expires by then); on a Redis error, admits the update without a lease.
    pub async fn admit(&self, interaction: &str, last_sequence: i64) -> Admission {
        let (sent, lease) = self.keys(interaction);
        let token = format!("{}-{}", self.token_base, self.next.fetch_add(1, Relaxed));
        let lease_ms = self.lease.as_millis().max(1) as u64;
        let keep_ms = self.keep.as_millis().max(1) as u64;
        let deadline = tokio::time::Instant::now() + self.lease + POLL;
        // The wait between asks doubles up to a second: a holder that finishes soon is seen
        // soon, and many lanes waiting on long leases (a replica killed mid-delivery leaves
        // its leases until they expire) do not flood Redis with asks.
        let mut backoff = POLL;
        loop {
            let mut conn = self.conn.clone();
            let answer: Result<Vec<i64>, _> = self
                .admit
                .key(&sent)
                .key(&lease)
                .arg(last_sequence)
                .arg(&token)
                .arg(lease_ms)
                .arg(keep_ms)
                .invoke_async(&mut conn)
                .await;
            match answer.as_deref() {
                Ok([0, ..]) => return Admission::Superseded,
                Ok([1, ..]) => return Admission::Send(Some(Lease { key: lease, token })),
                Ok([2, pttl, ..]) if tokio::time::Instant::now() < deadline => {
                    let wait = Duration::from_millis((*pttl).max(1) as u64).min(backoff);
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(MAX_POLL);
                }
                Ok(_) => {
                    // Still busy after a whole lease: the holder is stuck; send unguarded.
                    tracing::warn!(interaction_id = %interaction, "order guard: interaction still leased after the lease's length; sending");
                    return Admission::Send(None);
                }
                Err(e) => {
                    self.errors.fetch_add(1, Relaxed);
                    tracing::warn!(interaction_id = %interaction, error = %e, "order guard: redis failed; sending on this replica's order alone");
                    return Admission::Send(None);
                }
            }
        }
    }

    /// Gives the interaction's turn back (if it is still this replica's).
    pub async fn release(&self, lease: Lease) {
        let mut conn = self.conn.clone();
        let done: Result<i64, _> = self
            .release
            .key(&lease.key)
            .arg(&lease.token)
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = done {
            self.errors.fetch_add(1, Relaxed);
            tracing::warn!(error = %e, "order guard: releasing a lease failed; it expires on its own");
        }
    }
}

/// A real `redis-server` for the tests: the engine's harness (the store's tests include it too).
#[cfg(test)]
#[allow(clippy::duplicate_mod)]
#[path = "../../engine/tests/support/redis.rs"]
mod redis_server;

#[cfg(test)]
mod tests {
    use super::redis_server::RedisServer;
    use super::*;

    async fn guard(redis: &RedisServer, lease: Duration) -> SequenceGuard {
        let conn = cxrules_engine::dedup::redis::connect(&redis.url(), Duration::from_secs(2))
            .expect("connect");
        SequenceGuard::new(conn, "cxrules:guard", lease, Duration::from_secs(60))
    }

    #[tokio::test]
    async fn a_lower_sequence_than_one_sent_is_superseded() {
        let Some(redis) = RedisServer::start().await else {
            return;
        };
        let (a, b) = (
            guard(&redis, Duration::from_secs(5)).await,
            guard(&redis, Duration::from_secs(5)).await,
        );
        let Admission::Send(Some(lease)) = a.admit("int-1", 4).await else {
            panic!("the first update is sent");
        };
        a.release(lease).await;
        assert_eq!(b.admit("int-1", 3).await, Admission::Superseded);
        let Admission::Send(Some(lease)) = b.admit("int-1", 4).await else {
            panic!("an equal sequence (another status of the same message) is sent");
        };
        b.release(lease).await;
        assert!(matches!(
            a.admit("int-1", 5).await,
            Admission::Send(Some(_))
        ));
        assert!(
            matches!(b.admit("int-2", 1).await, Admission::Send(Some(_))),
            "other interactions are independent"
        );
    }

    #[tokio::test]
    async fn a_second_replica_waits_for_the_lease_and_then_sees_what_was_sent() {
        let Some(redis) = RedisServer::start().await else {
            return;
        };
        let a = guard(&redis, Duration::from_secs(5)).await;
        let b = std::sync::Arc::new(guard(&redis, Duration::from_secs(5)).await);
        let Admission::Send(Some(lease)) = a.admit("int-1", 7).await else {
            panic!("sent");
        };
        // b asks for a lower sequence while a holds the lease: it is superseded at once
        // (a higher one is already being sent), not queued behind it.
        assert_eq!(b.admit("int-1", 6).await, Admission::Superseded);
        // b asks for a higher one: it waits until a releases.
        let waiting = tokio::spawn({
            let b = b.clone();
            async move { b.admit("int-1", 8).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !waiting.is_finished(),
            "b waits while a's delivery is in flight"
        );
        a.release(lease).await;
        assert!(matches!(waiting.await.unwrap(), Admission::Send(Some(_))));
    }

    #[tokio::test]
    async fn a_lease_left_by_a_dead_replica_expires() {
        let Some(redis) = RedisServer::start().await else {
            return;
        };
        let a = guard(&redis, Duration::from_millis(200)).await;
        let b = guard(&redis, Duration::from_millis(200)).await;
        let Admission::Send(Some(_abandoned)) = a.admit("int-1", 1).await else {
            panic!("sent");
        };
        assert!(matches!(
            b.admit("int-1", 2).await,
            Admission::Send(Some(_))
        ));
    }

    #[tokio::test]
    async fn redis_down_lets_the_update_through_and_counts_it() {
        let Some(mut redis) = RedisServer::start().await else {
            return;
        };
        let a = guard(&redis, Duration::from_secs(1)).await;
        redis.kill();
        assert_eq!(a.admit("int-1", 1).await, Admission::Send(None));
        assert!(a.errors() >= 1);
    }
}
