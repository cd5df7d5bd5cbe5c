//! End-to-end decision cost: `Engine::evaluate` on ~200-byte chat messages with the default rules,
//! from a parsed value and from the JSON text (parsed into a `serde_json::Value` or a
//! `ParsedEvent`, then decided).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cxrules_engine::{Engine, ParsedEvent};
use serde_json::{json, Value};

fn message(interaction: u64, seq: u64) -> Value {
    // ~200 bytes of content, mixed case and spacing so the normalizer has work to do.
    let content = format!(
        "Hello  there, I ordered item #{seq} last week and it still has not ARRIVED.  Could you please check the \
         status of order {interaction} for me? Thanks a lot, have a nice day!"
    );
    json!({"type": "conversations.messages.messageCreated",
           "data": {"message": {"interactionId": format!("int-{interaction:08}"), "senderId": "customer-42",
                                "content": content, "sequenceNumber": seq}}})
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let engine = Engine::from_dir(&rules).unwrap();
    let events: Vec<Value> = (0..4096u64).map(|i| message(i % 1024, i)).collect();
    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(4));
    let mut i = 0usize;
    group.bench_function("dedup_200_byte_message", |b| {
        b.iter(|| {
            i = (i + 1) % events.len();
            let eval = rt.block_on(engine.evaluate(black_box(&events[i]))).unwrap();
            black_box(eval.commit());
        })
    });
    let texts: Vec<Vec<u8>> = events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap())
        .collect();
    group.bench_function("from_text_serde_json_value", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            let event: Value = serde_json::from_slice(black_box(&texts[i])).unwrap();
            black_box(rt.block_on(engine.evaluate(&event)).unwrap().commit());
        })
    });
    group.bench_function("from_text_parsed_event", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            let event = ParsedEvent::parse(black_box(&texts[i])).unwrap();
            black_box(rt.block_on(engine.evaluate(&event)).unwrap().commit());
        })
    });
    group.finish();

    // The same decision with 1,000 vs 1,000,000 interactions tracked: each event is new content
    // on an already-tracked interaction, so every decision looks up and inserts.
    let mut group = c.benchmark_group("evaluate_by_tracked_interactions");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(4));
    group.sample_size(30);
    for tracked in [1_000u64, 1_000_000] {
        let engine = Engine::from_dir(&rules).unwrap();
        for i in 0..tracked {
            rt.block_on(engine.evaluate(&message(i, 0)))
                .unwrap()
                .commit();
        }
        let mut seq = 1u64;
        let mut k = 0u64;
        group.bench_function(format!("{tracked}"), |b| {
            b.iter_batched(
                || {
                    seq += 1;
                    k = (k + 7919) % tracked;
                    message(k, seq)
                },
                |event| {
                    black_box(rt.block_on(engine.evaluate(&event)).unwrap().commit());
                    // Returned, so that freeing it falls outside the timed part.
                    event
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
