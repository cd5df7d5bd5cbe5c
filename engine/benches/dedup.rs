//! Dedup benchmarks: the memory store's decision cost by store size, and the full decision path.
//!
//! `cargo bench -p cxrules-engine --bench dedup`

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use cxrules_engine::dedup::config::Channel;
use cxrules_engine::dedup::memory::MemoryStore;
use cxrules_engine::dedup::store::{CheckRequest, Fingerprint, WindowPolicy};
use tokio::time::Instant;

fn policy(max_interactions: usize) -> WindowPolicy {
    WindowPolicy {
        window: Duration::from_secs(45),
        sliding: true,
        max_interactions,
        max_fingerprints: 64,
    }
}

/// A cheap distinct fingerprint per number, so the store benchmark measures the store alone.
fn numbered(n: u64) -> Fingerprint {
    let mut fp = [0x5a; 32];
    fp[..8].copy_from_slice(&n.to_le_bytes());
    fp[8..16].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    fp
}

/// xorshift64: a fixed, cheap sequence of picks.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Requests against a store at capacity: a quarter repeat a recent interaction's first message
/// (duplicate), a quarter add a new message to a recent interaction, half open a new interaction
/// (which evicts the oldest, the store being full).
struct Traffic {
    /// The ids of the last `len` interactions created, as a ring.
    recent: Vec<String>,
    created: u64,
    fresh: u64,
    rng: u64,
}

impl Traffic {
    fn fill(store: &MemoryStore, size: usize, now: Instant) -> Self {
        let mut traffic = Self {
            recent: vec![String::new(); size],
            created: 0,
            fresh: 0,
            rng: 7,
        };
        for _ in 0..size {
            let (id, fp) = traffic.create();
            check(store, &id, fp, now);
        }
        traffic
    }

    fn create(&mut self) -> (String, Fingerprint) {
        let n = self.created;
        self.created += 1;
        let slot = (n % self.recent.len() as u64) as usize;
        let id = &mut self.recent[slot];
        id.clear();
        write!(id, "contact-{n:08}").expect("writing to a string");
        (id.clone(), numbered(n))
    }

    /// The next request: an interaction id and a fingerprint.
    fn next(&mut self) -> (String, Fingerprint) {
        let pick = next_random(&mut self.rng);
        if pick % 2 == 0 {
            return self.create();
        }
        // Among the newest half, which eviction has certainly not reached.
        let back = 1 + (pick >> 8) % (self.recent.len() as u64 / 2).max(1);
        let n = self.created - back.min(self.created);
        let id = self.recent[(n % self.recent.len() as u64) as usize].clone();
        if pick % 4 == 1 {
            return (id, numbered(n));
        }
        self.fresh += 1;
        (id, numbered(u64::MAX - self.fresh))
    }
}

fn check(store: &MemoryStore, interaction: &str, fingerprint: Fingerprint, now: Instant) {
    let req = CheckRequest {
        interaction,
        fingerprint,
        event_id: None,
        order: None,
        now,
    };
    black_box(store.check_sync(&req));
}

fn store_by_size(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory_store_check_by_tracked_interactions");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    for size in [1_000, 100_000, 1_000_000] {
        if size >= 1_000_000 {
            group.sample_size(10);
        }
        let now = Instant::now();
        let store = MemoryStore::new(policy(size));
        let mut traffic = Traffic::fill(&store, size, now);
        group.bench_function(BenchmarkId::new("mixed_new_and_existing", size), |b| {
            b.iter_batched(
                || traffic.next(),
                |(id, fp)| {
                    check(&store, &id, fp, now);
                    id
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// One raw event as the webhook would see it.
struct Event {
    interaction: String,
    sender: String,
    text: String,
    order: i64,
    now: Instant,
}

/// Each message twice in a row (the second a duplicate) over 10,000 interactions, the clock
/// moving 1 ms per message so windows run out and are reclaimed as they would in service.
fn event(k: u64, t0: Instant) -> Event {
    let n = k / 2;
    let who = n % 10_000;
    Event {
        interaction: format!("contact-{who:06}"),
        sender: format!("customer-{who:06}"),
        text: format!(
            "  Hi there!   I would like to CHECK the status of my Order #{n}. It was placed last \
             Tuesday and the tracking page still says   'processing'.\n Could you please look \
             into it?  Thanks a lot.  "
        ),
        order: k as i64,
        now: t0 + Duration::from_millis(k),
    }
}

/// The default rules' dedup channel (`rules/dedup.yaml`: sender and content, trim, lowercase,
/// collapse white space, 45 s sliding).
fn default_channel() -> Channel {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let rules = cxrules_engine::compile::load_dir(&dir).expect("the default rules compile");
    let dedup = rules.dedup().expect("the default rules dedup");
    let channel = dedup.all().next().expect("a default channel").clone();
    channel
}

/// The engine's fingerprint of the message (the same function `evaluate` calls once it has read
/// the fields), then the store's check.
fn decide(store: &MemoryStore, channel: &Channel, ev: &Event) {
    let fingerprint = channel.fingerprint_with(|field| {
        Ok::<_, Infallible>(match field {
            "sender" => Some(Cow::Borrowed(ev.sender.as_str())),
            "content" => Some(Cow::Borrowed(ev.text.as_str())),
            _ => None,
        })
    });
    let req = CheckRequest {
        interaction: &ev.interaction,
        fingerprint: fingerprint.unwrap_or_else(|never| match never {}),
        event_id: None,
        order: Some(ev.order),
        now: ev.now,
    };
    black_box(store.check_sync(&req));
}

fn decision_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("decision_path_normalize_sha256_check");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    let t0 = Instant::now();
    let store = MemoryStore::new(policy(100_000));
    let channel = default_channel();
    let mut k = 0;
    group.bench_function("message_200_bytes", |b| {
        b.iter_batched(
            || {
                k += 1;
                event(k, t0)
            },
            |ev| {
                decide(&store, &channel, &ev);
                ev
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, store_by_size, decision_path);
criterion_main!(benches);
