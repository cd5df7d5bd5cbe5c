//! Dedup: the per-channel window configuration, fingerprinting and the stores that remember.

pub mod config;
pub mod memory;
pub mod store;
