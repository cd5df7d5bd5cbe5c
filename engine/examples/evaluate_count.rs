//! N evaluations of the `evaluate` benchmark's messages, for counting instructions: run it under
//! `valgrind --tool=callgrind` for two values of N and divide the difference of the totals by
//! the difference of the Ns (start-up, which runs the rules' own test cases, drops out).
//!
//! `cargo build --profile production -p cxrules-engine --example evaluate_count`, then
//! `valgrind --tool=callgrind target/production/examples/evaluate_count 8192` and `… 16384`.

use cxrules_engine::Engine;
use serde_json::{json, Value};

fn message(interaction: u64, seq: u64) -> Value {
    let content = format!(
        "Hello  there, I ordered item #{seq} last week and it still has not ARRIVED.  Could you please check the \
         status of order {interaction} for me? Thanks a lot, have a nice day!"
    );
    json!({"type": "conversations.messages.messageCreated",
           "data": {"message": {"interactionId": format!("int-{interaction:08}"), "senderId": "customer-42",
                                "content": content, "sequenceNumber": seq}}})
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8192);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let engine = Engine::from_dir(&rules).unwrap();
    let events: Vec<Value> = (0..4096u64).map(|i| message(i % 1024, i)).collect();
    for i in 0..n {
        let eval = rt
            .block_on(engine.evaluate(std::hint::black_box(&events[i % events.len()])))
            .unwrap();
        std::hint::black_box(eval.commit());
    }
}
