//! Permits shared by every replica through Redis (or Valkey): the per-contact buckets and the
//! tenant-wide rate as GCRA state in Redis, one script run (one round trip) per call, on the
//! Redis server's clock, so N replicas together stay under CXone's limits.
//!
//! Keys are `<prefix>:{pacing}:tenant` and `<prefix>:{pacing}:c:<contact>`: the hash tag puts
//! them in one slot, so the script may touch both on Redis Cluster. A key expires when its bucket
//! would be full again. A failed or slow call is the caller's to handle (it falls back to its
//! local limiter).

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

use super::gcra::Gcra;

static PACE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("pace.lua")));

/// What the shared limiter said about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// The call may go after this wait (its tenant turn is reserved).
    Go(Duration),
    /// The contact's bucket is empty: nothing was taken; ask again after this wait.
    ContactWait(Duration),
}

/// The shared limiter: a connection and the key prefix.
#[derive(Clone)]
pub struct SharedLimiter {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for SharedLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl SharedLimiter {
    /// A limiter on `conn` under `prefix` (deployments sharing a Redis each need their own); each
    /// call gives up after `timeout`.
    pub fn new(conn: ConnectionManager, prefix: &str, timeout: Duration) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            timeout,
        }
    }

    /// The key of a contact's bucket.
    pub fn contact_key(&self, contact: &str) -> String {
        format!("{}:{{pacing}}:c:{contact}", self.prefix)
    }

    /// The key of the tenant's bucket.
    pub fn tenant_key(&self) -> String {
        format!("{}:{{pacing}}:tenant", self.prefix)
    }

    /// Asks for one call's permits: the contact's (shaped by `contact`) and the tenant's (shaped
    /// by `tenant`, `None`: no tenant limit).
    pub async fn permit(
        &self,
        contact_id: &str,
        contact: Gcra,
        tenant: Option<Gcra>,
    ) -> Result<Permit, String> {
        let (ti, ttol) =
            tenant.map_or((0, 0), |t| (micros(t.interval).max(1), micros(t.tolerance)));
        let mut call = PACE.prepare_invoke();
        call.key(self.contact_key(contact_id))
            .key(self.tenant_key())
            .arg(micros(contact.interval).max(1))
            .arg(micros(contact.tolerance))
            .arg(ti)
            .arg(ttol);
        let mut conn = self.conn.clone();
        let answer = tokio::time::timeout(self.timeout, call.invoke_async(&mut conn)).await;
        let (granted, wait): (i64, i64) = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(format!("redis pacing call failed: {e}")),
            Err(_) => {
                return Err(format!(
                    "redis pacing call took longer than {:?}",
                    self.timeout
                ))
            }
        };
        let wait = Duration::from_micros(wait.max(0) as u64);
        Ok(if granted == 1 {
            Permit::Go(wait)
        } else {
            Permit::ContactWait(wait)
        })
    }
}
