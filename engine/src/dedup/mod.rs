//! Dedup: the per-channel window configuration, fingerprinting and the stores that remember.

pub mod memory;
pub mod store;
