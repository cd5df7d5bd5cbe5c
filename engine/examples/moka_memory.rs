//! The comparison behind the hand-written store: resident bytes per entry of the `moka` cache
//! holding the same information (a 64-bit interaction key → a 16-byte fingerprint and a
//! 32-bit time), bounded at the same size, with its time-to-live set to the window.
//!
//! `cargo run --release -p cxrules-engine --example moka_memory -- [entries]`

use std::time::{Duration, Instant};

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix("RssAnon:")
                .or_else(|| l.strip_prefix("VmRSS:"))
        })
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let count: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let cache: moka::sync::Cache<u64, ([u8; 16], u32)> = moka::sync::Cache::builder()
        .max_capacity(count)
        .time_to_live(Duration::from_secs(45))
        .build();
    let before = resident_bytes();
    let started = Instant::now();
    for i in 0..count {
        let key = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        cache.insert(key, ([i as u8; 16], i as u32));
    }
    cache.run_pending_tasks();
    let insert_ns = started.elapsed().as_nanos() as f64 / count as f64;
    let started = Instant::now();
    let mut hits = 0u64;
    for i in 0..count {
        hits += u64::from(cache.get(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).is_some());
    }
    let get_ns = started.elapsed().as_nanos() as f64 / count as f64;
    let grown = resident_bytes().saturating_sub(before);
    println!(
        "moka: {} entries ({hits} found), resident growth {:.1} MiB = {:.1} bytes per entry; insert {:.0} ns, get {:.0} ns",
        cache.entry_count(),
        grown as f64 / (1024.0 * 1024.0),
        grown as f64 / count as f64,
        insert_ns,
        get_ns
    );
}
