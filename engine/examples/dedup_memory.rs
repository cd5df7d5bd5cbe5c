//! Measures the memory store's resident bytes per remembered fingerprint.
//!
//! Fills a store with one-message interactions (the worst case: every key pays a whole
//! interaction) and reads the process's anonymous resident memory before and after.
//!
//! ```text
//! cargo run --release -p cxrules-engine --example dedup_memory -- [interactions] [--event-ids]
//! ```
//!
//! `--event-ids` gives every message an event id too, so each interaction holds two keys.

use std::fmt::Write as _;
use std::time::Duration;

use cxrules_engine::dedup::memory::MemoryStore;
use cxrules_engine::dedup::store::{CheckRequest, DedupStore, WindowPolicy};
use tokio::time::Instant;

/// Anonymous resident memory in bytes (`RssAnon`, else `VmRSS`) from `/proc/self/status`.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.trim().strip_suffix("kB")?;
            rest.trim().parse::<u64>().ok().map(|kb| kb * 1024)
        })
    };
    field("RssAnon:").or_else(|| field("VmRSS:"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let with_events = args.iter().any(|a| a == "--event-ids");
    let count: u64 = match args.iter().find(|a| !a.starts_with("--")) {
        Some(n) => n.parse().unwrap_or_else(|_| {
            eprintln!("error: `{n}` is not a count\nhint: pass a number, e.g. 1000000");
            std::process::exit(2);
        }),
        None => 1_000_000,
    };
    let Some(before) = resident_bytes() else {
        eprintln!("error: cannot read /proc/self/status\nhint: run this on Linux");
        std::process::exit(1);
    };
    let store = MemoryStore::new(WindowPolicy {
        window: Duration::from_secs(45),
        sliding: true,
        // Room to spare, so no shard evicts and every interaction stays tracked.
        max_interactions: count as usize * 2,
        max_fingerprints: 64,
    });
    let now = Instant::now();
    let (mut id, mut event) = (String::new(), String::new());
    for n in 0..count {
        id.clear();
        write!(id, "contact-{n:010}").expect("writing to a string");
        event.clear();
        write!(event, "evt-{n:010}").expect("writing to a string");
        let mut fingerprint = [0x5a; 32];
        fingerprint[..8].copy_from_slice(&n.to_le_bytes());
        let event_id = with_events.then_some(event.as_str());
        let req = CheckRequest {
            interaction: &id,
            fingerprint,
            event_id,
            order: None,
            now,
        };
        store.check_sync(&req);
    }
    let after = resident_bytes().expect("read before, so readable now");
    let stats = store.stats();
    let grown = after.saturating_sub(before);
    println!("interactions tracked: {}", stats.interactions);
    println!("keys remembered:      {}", stats.fingerprints);
    println!(
        "resident growth:      {:.1} MiB",
        grown as f64 / (1024.0 * 1024.0)
    );
    println!(
        "bytes per interaction: {:.1}",
        grown as f64 / stats.interactions as f64
    );
    println!(
        "bytes per key:         {:.1}",
        grown as f64 / stats.fingerprints as f64
    );
}
