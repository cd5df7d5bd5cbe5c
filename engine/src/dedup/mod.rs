//! Dedup: the per-channel window configuration, fingerprinting and the stores that remember.

mod compile;
pub mod config;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
pub mod store;
