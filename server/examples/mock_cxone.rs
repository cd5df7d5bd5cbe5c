//! A fast local stand-in for CXone (token + interaction updates) and for the inventory
//! (`GET /products/{sku}`: always in stock) for load runs; counts what it gets.
//!
//! `cargo run --release -p cxrules-server --example mock_cxone -- 127.0.0.1:9100`
//!
//! With `MOCK_RECORD=1` it also keeps the path of every update, and `GET /seen` lists the
//! distinct ones (what `bench/outbox_kill.sh` compares the acknowledged events with).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Default)]
struct Counts {
    tokens: AtomicU64,
    updates: AtomicU64,
    processed: AtomicU64,
    /// Paths of the updates received, with `MOCK_RECORD=1`.
    seen: Option<Mutex<HashSet<String>>>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".into());
    let record = std::env::var("MOCK_RECORD").is_ok_and(|v| v == "1");
    let counts = Arc::new(Counts {
        seen: record.then(Mutex::default),
        ..Counts::default()
    });
    let app = Router::new()
        .route("/oauth2/token", post(token))
        .route("/oauth/token", post(token))
        .route("/counts", get(report))
        .route("/products/{sku}", get(product))
        .route("/seen", get(seen))
        .fallback(any(update))
        .with_state(counts);
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    eprintln!("mock cxone on http://{addr}");
    axum::serve(listener, app).await.unwrap();
}

async fn token(State(c): State<Arc<Counts>>) -> Json<Value> {
    c.tokens.fetch_add(1, Ordering::Relaxed);
    Json(json!({"access_token": "mock-token", "token_type": "Bearer", "expires_in": 3600}))
}

async fn update(
    State(c): State<Arc<Counts>>,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Json<Value> {
    c.updates.fetch_add(1, Ordering::Relaxed);
    if let Some(seen) = &c.seen {
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.insert(uri.path().to_owned());
    }
    if body.windows(9).any(|w| w == b"processed") {
        c.processed.fetch_add(1, Ordering::Relaxed);
    }
    Json(json!({"ok": true}))
}

async fn report(State(c): State<Arc<Counts>>) -> Json<Value> {
    Json(json!({
        "tokens": c.tokens.load(Ordering::Relaxed),
        "updates": c.updates.load(Ordering::Relaxed),
        "processed_updates": c.processed.load(Ordering::Relaxed),
    }))
}

/// An inventory answer for any SKU, for load runs that route (`/products/{sku}`).
async fn product() -> Json<Value> {
    Json(json!({"status": "in_stock"}))
}

async fn seen(State(c): State<Arc<Counts>>) -> String {
    let Some(seen) = &c.seen else {
        return String::new();
    };
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::with_capacity(seen.len() * 48);
    for path in seen.iter() {
        out.push_str(path);
        out.push('\n');
    }
    out
}
