//! The seeds' optional JSON metric push to `METRICS_ENDPOINT`: batched, bounded, and never on
//! an event's path (a full buffer drops the record and counts it).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// The shortest interval between pushes.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Where and how often to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushConfig {
    /// The ingest URL.
    pub endpoint: String,
    /// Records per POST at most.
    pub batch_size: usize,
    /// Longest a record waits before its batch is sent.
    pub interval: Duration,
    /// Records buffered at most; beyond it new ones are dropped.
    pub buffer: usize,
    /// The `environment` tag.
    pub environment: String,
}

/// Handle for recording dedup outcomes; cheap to clone. A disabled pusher records nothing.
#[derive(Debug, Clone)]
pub struct Pusher {
    tx: Option<mpsc::Sender<Value>>,
    metrics: Metrics,
    environment: String,
}

impl Pusher {
    /// A pusher that records nothing.
    pub fn disabled(metrics: Metrics) -> Self {
        Self {
            tx: None,
            metrics,
            environment: String::new(),
        }
    }

    /// Starts the background sender on the current runtime.
    pub fn start(config: PushConfig, metrics: Metrics) -> Self {
        let (tx, rx) = mpsc::channel(config.buffer.max(1));
        let environment = config.environment.clone();
        tokio::spawn(run(config, rx, metrics.clone()));
        Self {
            tx: Some(tx),
            metrics,
            environment,
        }
    }

    /// Records one message's dedup outcome (`processed` or `dropped`, as the seed named them).
    pub fn record(&self, interaction_id: &str, status: &str) {
        let Some(tx) = &self.tx else { return };
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let record = json!({
            "metric": "cxone.conversational.deduplication",
            "tags": {"interactionId": interaction_id, "status": status, "environment": self.environment},
            "value": 1,
            "timestamp": timestamp as u64,
        });
        if tx.try_send(record).is_err() {
            self.metrics.push("dropped");
        }
    }
}

async fn run(config: PushConfig, mut rx: mpsc::Receiver<Value>, metrics: Metrics) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            tracing::error!(error = %e, "metrics push disabled: cannot build an http client");
            return;
        }
    };
    // `serve` checks both flags; a config built in code gets the least usable values
    // instead of a task that panics (a zero interval cannot tick).
    let batch_size = config.batch_size.max(1);
    let mut batch = Vec::with_capacity(batch_size);
    let mut tick = tokio::time::interval(config.interval.max(MIN_INTERVAL));
    loop {
        tokio::select! {
            item = rx.recv() => match item {
                Some(record) => {
                    batch.push(record);
                    if batch.len() >= batch_size {
                        flush(&http, &config.endpoint, &mut batch, &metrics).await;
                    }
                }
                None => {
                    flush(&http, &config.endpoint, &mut batch, &metrics).await;
                    return;
                }
            },
            _ = tick.tick() => flush(&http, &config.endpoint, &mut batch, &metrics).await,
        }
    }
}

async fn flush(http: &reqwest::Client, endpoint: &str, batch: &mut Vec<Value>, metrics: &Metrics) {
    if batch.is_empty() {
        return;
    }
    let body = Value::Array(std::mem::take(batch));
    let result = http.post(endpoint).json(&body).send().await;
    match result {
        Ok(r) if r.status().is_success() => metrics.push("ok"),
        Ok(r) => {
            metrics.push("error");
            tracing::warn!(status = r.status().as_u16(), "metrics push rejected");
        }
        Err(e) => {
            metrics.push("error");
            tracing::warn!(error = %e.without_url(), "metrics push failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// A push endpoint at `/ingest` that accepts every batch.
    async fn ingest() -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/ingest"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&server)
            .await;
        server
    }

    #[tokio::test]
    async fn records_are_batched_into_one_post() {
        let server = ingest().await;
        let config = PushConfig {
            endpoint: format!("{}/ingest", server.uri()),
            batch_size: 3,
            interval: Duration::from_secs(3600),
            buffer: 10,
            environment: "test".into(),
        };
        let metrics = Metrics::new();
        let pusher = Pusher::start(config, metrics.clone());
        pusher.record("i-1", "processed");
        pusher.record("i-1", "dropped");
        pusher.record("i-2", "processed");
        for _ in 0..100 {
            if !server
                .received_requests()
                .await
                .unwrap_or_default()
                .is_empty()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 1);
        let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
        assert_eq!(body.as_array().unwrap().len(), 3);
        assert_eq!(body[1]["tags"]["status"], "dropped");
        assert_eq!(body[0]["metric"], "cxone.conversational.deduplication");
    }

    #[tokio::test]
    async fn a_zero_interval_or_batch_size_still_pushes() {
        let server = ingest().await;
        let config = PushConfig {
            endpoint: format!("{}/ingest", server.uri()),
            batch_size: 0,
            interval: Duration::ZERO,
            buffer: 10,
            environment: "test".into(),
        };
        let pusher = Pusher::start(config, Metrics::new());
        pusher.record("i-1", "processed");
        let mut pushed = Vec::new();
        for _ in 0..500 {
            pushed = server.received_requests().await.unwrap_or_default();
            if !pushed.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(pushed.len(), 1, "the push task stopped");
    }

    #[test]
    fn a_disabled_pusher_does_nothing() {
        let m = Metrics::new();
        Pusher::disabled(m.clone()).record("i", "processed");
        assert!(!m.encode().contains("metrics_push_batches_total{"));
    }
}
