//! Dedup benchmarks.

fn main() {}
