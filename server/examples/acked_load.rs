//! A load generator that remembers what was acknowledged: sends message events, each for an
//! interaction of its own, from N connections, and appends the id of every event answered 2xx
//! to a file (one line each, written as the answer arrives). Refused or failed requests (the
//! host being killed and restarted) are not written. Runs until killed or for the given time.
//!
//! `cargo run --release -p cxrules-server --example acked_load -- URL FILE [CONNECTIONS] [SECONDS] [PREFIX]`

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:9300/webhook/cxone/events".into());
    let file = args.next().unwrap_or_else(|| "acked.txt".into());
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let seconds: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(u64::MAX / 4);
    let prefix = args
        .next()
        .unwrap_or_else(|| format!("int-{}", std::process::id()));
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .expect("the acknowledgement file opens");
    let out = Arc::new(Mutex::new(std::io::LineWriter::new(out)));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..connections {
        let (client, url, out, prefix) = (client.clone(), url.clone(), out.clone(), prefix.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                let id = format!("{prefix}-{worker}-{n}");
                let body = format!(
                    r#"{{"type":"conversations.messages.messageCreated","eventId":"ev-{id}","data":{{"message":{{"interactionId":"{id}","senderId":"c","content":"hello {n}","sequenceNumber":1}}}}}}"#
                );
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                        let _ = writeln!(out, "{id}");
                    }
                    Ok(_) => {}
                    // The host is down: wait a little instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
}
