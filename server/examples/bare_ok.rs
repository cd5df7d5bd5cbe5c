//! The load-run baseline: a bare axum handler that reads the body and answers "OK".
//!
//! `cargo run --release -p cxrules-server --example bare_ok -- 127.0.0.1:9200`

use axum::routing::post;
use axum::Router;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9200".into());
    let app = Router::new().fallback(post(|_body: axum::body::Bytes| async { "OK" }));
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
