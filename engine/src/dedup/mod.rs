//! Dedup: the per-channel window configuration, fingerprinting and the stores that remember.

mod compile;
pub mod config;
pub mod memory;
pub mod store;
