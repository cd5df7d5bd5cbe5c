//! The load run's outbound half alone: the host's CXone client sends metadata updates to a mock
//! CXone as fast as it can, with no inbound traffic, and prints calls per second. Together with
//! the bare handler's requests per second it bounds what one core can do when every event
//! costs an inbound request and an outbound call (BENCHMARKS.md).
//!
//! `taskset -c 0 cargo run --release -p cxrules-server --example outbound_only -- http://127.0.0.1:9100 10 64 h2`
//!
//! Arguments: mock base URL, seconds, concurrent senders, and `h2` for HTTP/2 prior knowledge or
//! `raw-h2` for the same calls on one HTTP/2 connection of hyper's alone (no reqwest, no retry,
//! token or path checks): the cost of the protocol itself; `pooled-h2` for them through
//! hyper-util's pooled client (the one reqwest wraps).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cxrules_server::cxone::{
    CxoneClient, CxoneSettings, DedupStatus, MetadataUpdate, OutboundHealth, PacingConfig, Profile,
    ProfileName, RetryPolicy, Update,
};
use cxrules_server::metrics::Metrics;
use cxrules_server::Secret;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:9100".into());
    let secs: u64 = args.next().map_or(10, |s| s.parse().expect("seconds"));
    let senders: usize = args.next().map_or(64, |s| s.parse().expect("senders"));
    let mode = args.next().unwrap_or_default();
    if mode == "raw-h2" || mode == "pooled-h2" {
        return raw_h2(&base, secs, senders, mode == "pooled-h2").await;
    }
    let h2 = mode == "h2";
    let settings = CxoneSettings {
        base_url: base.clone(),
        issuer: base,
        api_url: None,
        tenant_id: None,
        client_id: "load".into(),
        client_secret: Secret::new("load"),
        access_key_id: None,
        access_key_secret: None,
        timeout: Duration::from_secs(10),
        http2_prior_knowledge: h2,
    };
    let profile = Profile::builtin(ProfileName::Seed);
    let client = CxoneClient::new(
        settings,
        profile.auth.clone(),
        RetryPolicy::default(),
        // No limits: the example measures the client itself.
        &PacingConfig {
            rate_max: None,
            contact_burst: 0,
            ..PacingConfig::default()
        },
        Metrics::new(),
        Arc::new(OutboundHealth::default()),
    )
    .expect("a client");
    let client = Arc::new(client);
    let profile = Arc::new(profile);
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..senders)
        .map(|sender| {
            let (client, profile) = (client.clone(), profile.clone());
            let (sent, failed) = (sent.clone(), failed.clone());
            tokio::spawn(async move {
                let mut n = 0i64;
                while Instant::now() < end {
                    n += 1;
                    let update = Update::Metadata(MetadataUpdate {
                        status: DedupStatus::Processed,
                        last_sequence: Some(n),
                        fingerprint: format!("{:064x}", n),
                        channel: "default".into(),
                        event_type: Some("message_created".into()),
                    });
                    let id = format!("int-{sender}-{}", n % 50_000);
                    let call = profile.prepare(&id, &update).expect("a call");
                    match client.send(&call).await {
                        Ok(_) => sent.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    let start = Instant::now();
    for task in tasks {
        task.await.expect("a sender");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let sent = sent.load(Ordering::Relaxed);
    println!(
        "outbound only ({}): {sent} calls in {elapsed:.1}s = {:.0} calls/s, {} failed",
        if h2 { "HTTP/2" } else { "HTTP/1.1" },
        sent as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
}

/// The same metadata calls straight over one hyper HTTP/2 connection.
async fn raw_h2(base: &str, secs: u64, senders: usize, pooled: bool) {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;

    let addr: Arc<str> = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .into();
    let tcp = tokio::net::TcpStream::connect(&*addr)
        .await
        .expect("the mock");
    tcp.set_nodelay(true).expect("nodelay");
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("an HTTP/2 connection");
    tokio::spawn(conn);
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    let pool = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build::<_, Full<Bytes>>(connector);
    let profile = Profile::builtin(ProfileName::Seed);
    let sent = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|sender| {
            let (mut send, sent, profile) = (send.clone(), sent.clone(), profile.clone());
            let (addr, pool) = (addr.clone(), pool.clone());
            tokio::spawn(async move {
                let mut n = 0i64;
                while Instant::now() < end {
                    n += 1;
                    let update = Update::Metadata(MetadataUpdate {
                        status: DedupStatus::Processed,
                        last_sequence: Some(n),
                        fingerprint: format!("{:064x}", n),
                        channel: "default".into(),
                        event_type: Some("message_created".into()),
                    });
                    let id = format!("int-{sender}-{}", n % 50_000);
                    let call = profile.prepare(&id, &update).expect("a call");
                    let request = hyper::Request::builder()
                        .method(call.method.as_str())
                        .uri(format!("http://{addr}{}", call.path))
                        .header("authorization", "Bearer load")
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(call.body)))
                        .expect("a request");
                    let response = if pooled {
                        pool.request(request).await.expect("an answer")
                    } else {
                        send.ready().await.expect("the connection");
                        send.send_request(request).await.expect("an answer")
                    };
                    let ok = response.status().is_success();
                    response.into_body().collect().await.expect("the body");
                    if ok {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a sender");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let sent = sent.load(Ordering::Relaxed);
    println!(
        "{} HTTP/2: {sent} calls in {elapsed:.1}s = {:.0} calls/s",
        if pooled { "pooled hyper" } else { "raw hyper" },
        sent as f64 / elapsed
    );
}
