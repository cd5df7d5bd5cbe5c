//! Measures hot reload: file written → new rules in force, over real files and the real watcher.
//!
//! `cargo run --release -p cxrules-engine --example reload_latency [-- ROUNDS]`

use std::time::{Duration, Instant};

use cxrules_engine::reload::WatchOptions;
use cxrules_engine::Engine;

fn rules(n: usize) -> String {
    format!(
        "version: 1\nevents:\n  message:\n    type: round.{n}\n    dedup: true\ndedup:\n  default: {{ window: 45s }}\n"
    )
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    std::fs::write(&file, rules(0)).unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    let options = WatchOptions::default();
    let _watch = engine.watch(options).unwrap();
    let mut samples = Vec::with_capacity(rounds);
    for n in 1..=rounds {
        let old = engine.rules().version().to_string();
        let started = Instant::now();
        std::fs::write(&file, rules(n)).unwrap();
        while engine.rules().version() == old {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "reload {n} never happened"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "reload latency over {rounds} edits (debounce {} ms): min {:.1} ms, median {:.1} ms, max {:.1} ms",
        options.debounce.as_millis(),
        ms(samples[0]),
        ms(samples[rounds / 2]),
        ms(samples[rounds - 1])
    );
}
