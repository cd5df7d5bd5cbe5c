//! A rough per-message cost check, ignored by default because timings need a release build:
//! `cargo test --release -p cxrules-engine --lib normalize::timing -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::*;

const BATCHES: u32 = 10;
const ROUNDS: u32 = 50_000;

/// Average time of one call in the fastest of several batches, so that other work on the
/// machine disturbs the figure less.
fn per_call(mut call: impl FnMut()) -> Duration {
    let batch = |call: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..ROUNDS {
            call();
        }
        start.elapsed() / ROUNDS
    };
    (0..BATCHES)
        .map(|_| batch(&mut call))
        .min()
        .unwrap_or_default()
}

fn compile(yaml: &str) -> Normalizer {
    Normalizer::compile(&crate::yaml::from_str::<Vec<StepSpec>>(yaml).unwrap()).unwrap()
}

/// Two chat lines with a double space, a capital, a line break and a trailing newline.
fn chat_message() -> String {
    let line = "Hi team,  my ORDER #4417 still hasn't arrived. Can you check?\n";
    line.repeat(4)[..200].to_owned()
}

#[test]
#[ignore = "timing; run in release with --ignored"]
fn pipelines_cost_well_under_a_microsecond() {
    // The first strip step builds the class tables; later ones reuse them.
    let start = Instant::now();
    compile("[{strip: [punctuation, control, emoji, symbols, digits, whitespace]}]");
    let first_strip = start.elapsed();
    println!("{:>32}: {first_strip:?}", "first strip compile (tables)");
    assert!(first_strip < Duration::from_millis(200), "{first_strip:?}");
    let message = chat_message();
    let seed = compile("[trim, lowercase, collapse_whitespace]");
    let nfkc_seed = compile("[nfkc, trim, lowercase, collapse_whitespace]");
    let strip = compile("[{strip: [punctuation, emoji]}, collapse_whitespace]");
    let clean = seed.apply(&message).into_owned();
    let accented = clean.replace("team", "équipe").replace('\'', "’");
    let emoji = message
        .replace("Hi", "Hi 👋🏽")
        .replace("check?", "check? 🙏");
    let micro = Duration::from_micros(1);
    // Stripping looks at every character against Unicode tables: allowed twice the time.
    let cases = [
        ("seed, text needing every step", &seed, &message, micro),
        ("seed, text already normalized", &seed, &clean, micro),
        ("seed, normalized non-ASCII text", &seed, &accented, micro),
        ("nfkc + seed", &nfkc_seed, &message, micro),
        ("strip + collapse", &strip, &message, 2 * micro),
        ("strip + collapse, emoji text", &strip, &emoji, 2 * micro),
    ];
    for (name, normalizer, text, budget) in cases {
        let cost = per_call(|| drop(black_box(normalizer.apply(black_box(text)))));
        println!("{name:>32}: {cost:?}");
        assert!(cost < budget, "{name}: {cost:?}");
    }
}

#[test]
#[ignore = "timing; run in release with --ignored"]
fn seed_pipeline_with_fingerprint_costs_well_under_a_microsecond() {
    let message = chat_message();
    let seed = compile("[trim, lowercase, collapse_whitespace]");
    let sha_only = per_call(|| {
        black_box(Sha256::digest(black_box(&message)));
    });
    let decision = per_call(|| {
        let normalized = seed.apply(black_box(&message));
        let mut hasher = Sha256::new();
        hasher.update(b"sender-42|");
        hasher.update(normalized.as_bytes());
        black_box(hasher.finalize());
    });
    let one_pass = per_call(|| {
        seed.with_applied(black_box(&message), |normalized| {
            let mut hasher = Sha256::new();
            hasher.update(b"sender-42|");
            hasher.update(normalized.as_bytes());
            black_box(hasher.finalize());
        })
    });
    let one_pass_alone = per_call(|| {
        seed.with_applied(black_box(&message), |normalized| {
            black_box(normalized.len());
        })
    });
    println!("{:>32}: {sha_only:?}", "SHA-256 alone");
    println!(
        "{:>32}: {one_pass_alone:?}",
        "seed, one pass (with_applied)"
    );
    println!("{:>32}: {one_pass:?}", "one pass + SHA-256 fingerprint");
    println!("{:>32}: {decision:?}", "seed + SHA-256 fingerprint");
    assert!(decision < Duration::from_micros(1), "{decision:?}");
    assert!(one_pass < Duration::from_micros(1), "{one_pass:?}");
}
