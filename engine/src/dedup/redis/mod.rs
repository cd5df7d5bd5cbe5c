//! The Redis `DedupStore` (feature `redis`): one channel's windows in Redis ≥ 7.0 or Valkey,
//! shared by every replica, one script run per decision at most (the checks, and the commits, made
//! at one moment share one: `batch.rs`).
//!
//! # Data model
//!
//! One hash per interaction, `{prefix}:{<interaction>}`: the interaction is the hash tag, so
//! everything one decision touches is in one Redis Cluster slot. Its fields are the first 16
//! bytes of each fingerprint of the window and a 16-byte hash of each event id (see the memory
//! store's `Slot` for why 16 bytes suffice), valued with their expiry, plus one field `m` with
//! the highest order key and the latest check's token while that check may still be rolled
//! back. The scripts sweep fields that ran out and `PEXPIRE` the hash to its last field's end,
//! so an idle interaction costs nothing. Small hashes stay listpack-encoded, a few tens of bytes
//! per fingerprint (the ignored test `bytes_per_fingerprint` measures it). The scripts are in
//! `lua/`, each starting with `common.lua`, which describes the fields' encoding.
//!
//! # Two phases
//!
//! A new message is *claimed* (its fields hold the check's random 64-bit token, also its
//! `check_stamp`, and a lease, 30 s by default), and [`DedupStore::commit`] turns the claim into
//! a record for the window once the host has queued the side effects. [`DedupStore::rollback`]
//! removes only fields that still hold its own token, never another replica's claim (nor a
//! committed record). A claim whose lease ran out counts as gone; its commit, if it still comes,
//! records the message anew for a window where the interaction has room. A check whose answer
//! is lost to a timeout or a dropped connection may still have claimed: the store then sends a
//! release (a rollback that leaves the highest order key) right after it, best effort. Another delivery that finds a live claim is answered [`Verdict::Duplicate`] (or
//! `Redelivery` by event id), never processed a second time while the first is in flight; if
//! the first is then rolled back, the sender must deliver once more to be processed (counted as
//! `in_flight_duplicates`). Answering 503 instead would make every re-delivery during the
//! first's few milliseconds of flight a 5xx, which CXone's retry policy does not document.
//!
//! # Time
//!
//! Every script takes the time from the server (`TIME`), never from the process, so replicas
//! never disagree about a window; [`CheckRequest::now`] is ignored. Tests may pin the time
//! (`RedisStore::pin_clock_for_tests`, hidden from the docs).
//!
//! # Bounds
//!
//! `max_fingerprints` is enforced per interaction as in memory (the key whose window ends first
//! is evicted and counted). `max_interactions` is not: Redis bounds memory (`maxmemory`, with
//! a `volatile-*` policy if it must evict: every hash has a TTL).

mod append;
mod batch;
mod connect;
mod counters;
mod scripts;
#[cfg(test)]
mod tests;

pub use self::append::{add_entries, CommitPart, StreamAppend};
pub(crate) use self::append::{commit_appending, Appended};
pub use self::connect::connect;
pub use self::counters::RedisCounters;

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{FromRedisValue, ScriptInvocation};
use sha2::{Digest, Sha256};

use self::batch::{Batcher, Check, Commit};
use self::connect::error;
use self::counters::Counters;
use self::scripts::{verdict, ROLLBACK};
use super::config::Channel;
use super::store::{
    BoxFuture, CheckOutcome, CheckRequest, DedupStore, RollbackToken, StoreError, StoreErrorKind,
    StoreStats, Verdict, WindowPolicy,
};

/// How the Redis store talks to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// How long a claim holds before its check is committed; past it the claim counts as gone.
    /// Longer than a commit can take (the side effects are queued in memory), short enough that
    /// a replica that died between check and commit does not suppress the retry for long.
    pub lease: Duration,
    /// The most any one call may take, reconnecting included; past it the call is a
    /// [`StoreErrorKind::Timeout`].
    pub timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            timeout: Duration::from_millis(500),
        }
    }
}

/// A pinned clock value meaning "use the server's time".
const SERVER_TIME: u64 = u64::MAX;

/// Redis store for one channel's windows. Clones of one [`ConnectionManager`] can serve every
/// channel's store: calls made at once share its connection (implicitly pipelined).
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    policy: WindowPolicy,
    options: RedisOptions,
    window_ms: u64,
    /// Keys the random tokens: each check's token is a keyed hash of a counter.
    token_key: RandomState,
    next_token: AtomicU64,
    pinned_ms: AtomicU64,
    counters: Counters,
    /// Sends checks in batches; started by the first check (inside a runtime).
    checks: OnceLock<Batcher<Check>>,
    /// Sends commits in batches; started by the first commit (inside a runtime).
    commits: OnceLock<Batcher<Commit>>,
    /// Set once the server refused a commit with stream entries in one script (a cluster).
    split: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("policy", &self.policy)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The key prefix for `channel`'s windows under `base`: the channel's name and a hash of its
/// definition, so a channel whose window, limits, fingerprint or normalizer changed starts with
/// empty windows, as the memory store does across a reload.
pub fn channel_prefix(base: &str, channel: &Channel) -> String {
    let digest = channel.identity().digest();
    let name: String = channel
        .name()
        .chars()
        .map(|c| if matches!(c, '{' | '}') { '_' } else { c })
        .collect();
    format!("{base}:{name}:{}", &hex::encode(digest)[..12])
}

impl RedisStore {
    /// A store keeping windows under `prefix` (no `{` or `}`: the interaction is the hash tag).
    pub fn new(
        conn: ConnectionManager,
        prefix: impl Into<String>,
        policy: WindowPolicy,
        options: RedisOptions,
    ) -> Result<Self, StoreError> {
        let prefix = prefix.into();
        if prefix.is_empty() || prefix.contains(['{', '}']) {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!("redis key prefix `{prefix}` must be non-empty and without `{{` or `}}`"),
            ));
        }
        let window_ms = policy.window.as_nanos().div_ceil(1_000_000).max(1) as u64;
        Ok(Self {
            conn,
            prefix,
            policy,
            options,
            window_ms,
            token_key: RandomState::new(),
            next_token: AtomicU64::new(0),
            pinned_ms: AtomicU64::new(SERVER_TIME),
            counters: Counters::default(),
            checks: OnceLock::new(),
            commits: OnceLock::new(),
            split: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A store for `channel`, under [`channel_prefix`]`(base, channel)`.
    pub fn for_channel(
        conn: ConnectionManager,
        base: &str,
        channel: &Channel,
        options: RedisOptions,
    ) -> Result<Self, StoreError> {
        let prefix = channel_prefix(base, channel);
        Self::new(conn, prefix, channel.policy().clone(), options)
    }

    /// The policy this store was made with.
    pub fn policy(&self) -> &WindowPolicy {
        &self.policy
    }

    /// The Redis key holding `interaction`'s windows.
    pub fn key(&self, interaction: &str) -> String {
        format!("{}:{{{interaction}}}", self.prefix)
    }

    /// This instance's counters.
    pub fn counters(&self) -> RedisCounters {
        self.counters.snapshot()
    }

    /// For tests only: every later call of this instance takes `now_ms` as the server's time
    /// (`None`: the server's `TIME` again), so windows can be tested without sleeping. Two
    /// instances pinned differently disagree about windows: never use it in a service.
    #[doc(hidden)]
    pub fn pin_clock_for_tests(&self, now_ms: Option<u64>) {
        let value = now_ms.map_or(SERVER_TIME, |ms| ms.min(SERVER_TIME - 1));
        self.pinned_ms.store(value, Relaxed);
    }

    fn pinned(&self) -> String {
        match self.pinned_ms.load(Relaxed) {
            SERVER_TIME => String::new(),
            ms => ms.to_string(),
        }
    }

    /// A fresh 64-bit token: unique to this check with overwhelming odds, across replicas too.
    fn token(&self) -> u64 {
        let n = self.next_token.fetch_add(1, Relaxed);
        self.token_key.hash_one(n)
    }

    async fn check_remote(&self, req: CheckRequest<'_>) -> Result<CheckOutcome, StoreError> {
        let token = self.token();
        let check = Check {
            key: self.key(req.interaction),
            fingerprint: req.fingerprint[..16].to_vec(),
            event: event_field(req.event_id),
            order: order_arg(req.order),
            token: token.to_be_bytes(),
            window_ms: self.window_ms,
            sliding: self.policy.sliding,
            cap: self.policy.max_fingerprints.max(1),
            lease_ms: self.options.lease.as_millis().max(1) as u64,
            pinned: self.pinned(),
        };
        let checks = self
            .checks
            .get_or_init(|| Batcher::start(self.conn.clone(), self.options.timeout));
        // Bounded as a whole, the wait for a batch in flight included: a check that gives up
        // before it is sent is not sent at all.
        let answer = match tokio::time::timeout(self.options.timeout, checks.send(check)).await {
            Ok(answer) => answer,
            Err(_) => Err(self.timed_out("check")),
        };
        let (code, highest, previous, evicted, in_flight) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                self.counters.errors.fetch_add(1, Relaxed);
                self.release(&req, token, &e);
                return Err(e);
            }
        };
        let c = &self.counters;
        c.checks.fetch_add(1, Relaxed);
        c.evicted_fingerprints.fetch_add(evicted, Relaxed);
        let verdict = match code {
            verdict::UNIQUE => Verdict::Unique,
            verdict::OUT_OF_ORDER => Verdict::OutOfOrder,
            verdict::DUPLICATE => Verdict::Duplicate,
            verdict::REDELIVERY => Verdict::Redelivery,
            other => return Err(self.bad_answer(format!("unknown verdict code {other}"))),
        };
        if in_flight != 0 {
            c.in_flight_duplicates.fetch_add(1, Relaxed);
        }
        let highest = self.order_answer(&highest)?;
        let rollback = (!verdict.is_suppressed())
            .then(|| -> Result<RollbackToken, StoreError> {
                Ok(RollbackToken {
                    interaction: req.interaction.to_owned(),
                    fingerprint: req.fingerprint,
                    event_id: req.event_id.map(str::to_owned),
                    previous_highest: self.order_answer(&previous)?,
                    set_highest: highest,
                    check_stamp: token,
                })
            })
            .transpose()?;
        Ok(CheckOutcome {
            verdict,
            highest,
            rollback,
        })
    }

    /// Commits a check's claim and waits for the answer (what [`DedupStore::commit`] does on
    /// an `Arc` of the store, for callers that hold the store itself).
    pub async fn commit(&self, token: RollbackToken) -> Result<(), StoreError> {
        self.commit_remote(token).await
    }

    /// The commit script's arguments for `token`.
    fn commit_job(&self, token: &RollbackToken) -> Commit {
        Commit {
            key: self.key(&token.interaction),
            fingerprint: token.fingerprint[..16].to_vec(),
            event: event_field(token.event_id.as_deref()),
            token: token.check_stamp.to_be_bytes(),
            window_ms: self.window_ms,
            cap: self.policy.max_fingerprints.max(1),
            pinned: self.pinned(),
        }
    }

    /// What committing `token` takes, for a commit that adds stream entries in the same run.
    fn part(&self, token: &RollbackToken) -> CommitPart<'_> {
        CommitPart {
            commit: self.commit_job(token),
            conn: &self.conn,
            timeout: self.options.timeout,
            counters: &self.counters,
            split: &self.split,
        }
    }

    async fn commit_remote(&self, token: RollbackToken) -> Result<(), StoreError> {
        let commit = self.commit_job(&token);
        let commits = self
            .commits
            .get_or_init(|| Batcher::start(self.conn.clone(), self.options.timeout));
        let answer = commits.send(commit).await;
        if answer.is_err() {
            self.counters.errors.fetch_add(1, Relaxed);
        }
        let (_committed, renewed) = answer?;
        let c = &self.counters;
        c.commits.fetch_add(1, Relaxed);
        c.lapsed_commits.fetch_add(u64::from(renewed > 0), Relaxed);
        Ok(())
    }

    async fn rollback_remote(&self, token: RollbackToken) -> Result<(), StoreError> {
        let mut call = ROLLBACK.prepare_invoke();
        call.key(self.key(&token.interaction))
            .arg(&token.fingerprint[..16])
            .arg(event_field(token.event_id.as_deref()))
            .arg(&token.check_stamp.to_be_bytes()[..])
            .arg(order_arg(token.previous_highest))
            .arg(self.pinned())
            .arg("0");
        let _removed: u64 = self.run("rollback", &call).await?;
        self.counters.rollbacks.fetch_add(1, Relaxed);
        Ok(())
    }

    /// After a check whose answer was lost (it timed out, or the connection dropped), removes
    /// its claim in case the script ran after all: else every delivery until the lease ends
    /// would be answered duplicate of a message nobody processes. Best effort, in the
    /// background, sent after the check on the same connection; the highest order key stays.
    fn release(&self, req: &CheckRequest<'_>, token: u64, failure: &StoreError) {
        if !matches!(
            failure.kind(),
            StoreErrorKind::Timeout | StoreErrorKind::Unavailable
        ) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut call = ROLLBACK.prepare_invoke();
        call.key(self.key(req.interaction))
            .arg(&req.fingerprint[..16])
            .arg(event_field(req.event_id))
            .arg(&token.to_be_bytes()[..])
            .arg("")
            .arg(self.pinned())
            .arg("1");
        // Worth waiting for as long as the claim would hold (a server that was slow may still
        // answer, and its script cache may need the script loaded first).
        let (mut conn, timeout) = (self.conn.clone(), self.options.lease);
        runtime.spawn(async move {
            let release = call.invoke_async::<u64>(&mut conn);
            if let Ok(Err(e)) = tokio::time::timeout(timeout, release).await {
                tracing::debug!(error = %e, "dedup claim release failed");
            }
        });
    }

    /// Runs one script call under the store's timeout, counting failures.
    async fn run<T: FromRedisValue>(
        &self,
        what: &str,
        call: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        let result =
            match tokio::time::timeout(self.options.timeout, call.invoke_async(&mut conn)).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(error(what, &e)),
                Err(_) => Err(self.timed_out(what)),
            };
        if result.is_err() {
            self.counters.errors.fetch_add(1, Relaxed);
        }
        result
    }

    fn timed_out(&self, what: &str) -> StoreError {
        StoreError::new(
            StoreErrorKind::Timeout,
            format!(
                "redis {what} took longer than {:?}; hint: is the server up and reachable?",
                self.options.timeout
            ),
        )
    }

    fn order_answer(&self, text: &str) -> Result<Option<i64>, StoreError> {
        if text.is_empty() {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|_| self.bad_answer(format!("order key `{text}` is not an integer")))
    }

    fn bad_answer(&self, what: String) -> StoreError {
        self.counters.errors.fetch_add(1, Relaxed);
        StoreError::new(
            StoreErrorKind::Script,
            format!("redis answered the check oddly: {what}"),
        )
    }
}

/// The field of an event id: 16 bytes of SHA-256 under a domain prefix, the same on every
/// replica (the memory store's keyed hash is per process). Empty when there is no id.
fn event_field(id: Option<&str>) -> Vec<u8> {
    id.map_or_else(Vec::new, |id| {
        let mut h = Sha256::new();
        h.update(b"cxrules dedup event id\0");
        h.update(id.as_bytes());
        h.finalize()[..16].to_vec()
    })
}

fn order_arg(order: Option<i64>) -> String {
    order.map_or_else(String::new, |o| o.to_string())
}

impl DedupStore for RedisStore {
    fn check<'a>(
        &'a self,
        req: CheckRequest<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        Box::pin(self.check_remote(req))
    }

    fn commits(&self) -> bool {
        true
    }

    fn commit(self: Arc<Self>, token: RollbackToken) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move { self.commit_remote(token).await })
    }

    fn rollback(&self, token: RollbackToken) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.rollback_remote(token))
    }

    fn commit_part(&self, token: &RollbackToken) -> Option<CommitPart<'_>> {
        Some(self.part(token))
    }

    /// Only `evicted_fingerprints` is filled in (those this process's calls evicted): how many
    /// interactions and fingerprints a shared store holds is Redis's to say (`INFO keyspace`),
    /// and Redis expires hashes on its own. [`RedisStore::counters`] has the rest.
    fn stats(&self) -> StoreStats {
        StoreStats {
            evicted_fingerprints: self.counters.evicted_fingerprints.load(Relaxed),
            ..StoreStats::default()
        }
    }
}
