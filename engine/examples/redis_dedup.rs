//! Checks per second of one process against a Redis server: N concurrent tasks, each deciding
//! new messages (check, then commit, as a host does) over many interactions, for a few seconds.
//! Then `INFO commandstats` shows the server's calls per decision: `evalsha` are the script
//! runs (a check, then a commit; the checks, and the commits, waiting at one moment share one),
//! the other commands run inside the scripts.
//!
//! ```sh
//! redis-server --port 6399 --save '' --appendonly no &
//! cargo run --release -p cxrules-engine --features redis --example redis_dedup -- redis://127.0.0.1:6399 64 10
//! ```

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cxrules_engine::dedup::redis::{connect, RedisOptions, RedisStore};
use cxrules_engine::dedup::store::{CheckRequest, DedupStore, WindowPolicy};
use sha2::{Digest, Sha256};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let tasks: u64 = args.next().map_or(64, |a| a.parse().expect("tasks"));
    let seconds: u64 = args.next().map_or(10, |a| a.parse().expect("seconds"));
    let conn = connect(&url, Duration::from_secs(2)).expect("connection");
    let policy = WindowPolicy {
        window: Duration::from_secs(45),
        sliding: true,
        max_interactions: 1_000_000,
        max_fingerprints: 256,
    };
    let prefix = format!("bench:{}", std::process::id());
    let store = Arc::new(RedisStore::new(conn, prefix, policy, RedisOptions::default()).unwrap());
    let mut probe = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut probe)
        .await
        .unwrap();
    let decided = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let (store, decided, latencies) = (store.clone(), decided.clone(), latencies.clone());
        set.spawn(async move {
            let mut mine = Vec::new();
            let mut n = 0u64;
            while Instant::now() < end {
                let interaction = format!(
                    "{:08x}-e5f6-7890-abcd-ef1234567890",
                    (t << 20) | (n % 10_000)
                );
                let fingerprint: [u8; 32] = Sha256::digest(format!("{t}/{n}")).into();
                let started = Instant::now();
                let out = store
                    .check(CheckRequest {
                        interaction: &interaction,
                        fingerprint,
                        event_id: None,
                        order: Some(n as i64),
                        now: tokio::time::Instant::now(),
                    })
                    .await
                    .expect("check");
                if let Some(token) = out.rollback {
                    store.clone().commit(token).await.expect("commit");
                }
                mine.push(started.elapsed());
                decided.fetch_add(1, Relaxed);
                n += 1;
            }
            latencies.lock().unwrap().extend(mine);
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
    let decided = decided.load(Relaxed);
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{tasks} tasks, {seconds} s: {decided} decisions, {:.0}/s; check+commit p50 {:?}, p99 {:?}",
        decided as f64 / seconds as f64,
        pct(0.5),
        pct(0.99)
    );
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut probe)
        .await
        .unwrap();
    for line in stats.lines().filter(|l| l.starts_with("cmdstat_")) {
        let calls: u64 = line
            .split("calls=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        println!(
            "{line}\n    {:.3} calls per decision",
            calls as f64 / decided as f64
        );
    }
}
