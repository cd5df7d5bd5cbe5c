//! The Redis dedup store against a real `redis-server` (started per test on a unix socket): the
//! table and the model every store is held to, replicas sharing one server, claims and their
//! leases, expiry by the server's clock, and the server going away and coming back.

#[path = "../support/dedup_cases.rs"]
mod cases;
#[path = "../support/dedup_model.rs"]
mod model;
#[path = "../support/redis.rs"]
mod server;

mod batch;
mod engine;
mod outage;
mod replicas;
mod table;

use std::time::Duration;

use cxrules_engine::dedup::redis::{connect, RedisOptions, RedisStore};
pub use cxrules_engine::dedup::store::{
    CheckOutcome, CheckRequest, DedupStore, RollbackToken, Verdict, WindowPolicy,
};

use self::server::RedisServer;

/// A time far from zero, like the server's: where pinned clocks start.
const BASE_MS: u64 = 1_700_000_000_000;

/// A server for one test, or `None` when the test is to be skipped.
async fn server() -> Option<RedisServer> {
    RedisServer::start().await
}

/// A store of its own connection (a replica) on `server`, windows under `prefix`.
fn replica(
    server: &RedisServer,
    prefix: &str,
    policy: WindowPolicy,
    options: RedisOptions,
) -> RedisStore {
    let conn = connect(&server.url(), Duration::from_secs(2)).expect("a connection manager");
    RedisStore::new(conn, prefix, policy, options).expect("a store")
}

/// A plain connection, to look at what the store wrote.
async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(server.url()).expect("a client");
    client
        .get_multiplexed_async_connection()
        .await
        .expect("a connection")
}

/// `name` calls the server has run so far (`INFO commandstats`).
async fn calls(server: &RedisServer, name: &str) -> u64 {
    let mut conn = raw(server).await;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .expect("INFO");
    let prefix = format!("cmdstat_{name}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A request for `content` in `interaction`.
fn req<'a>(interaction: &'a str, content: &str, event_id: Option<&'a str>) -> CheckRequest<'a> {
    CheckRequest {
        interaction,
        fingerprint: cases::fp(content),
        event_id,
        order: None,
        now: tokio::time::Instant::now(),
    }
}
