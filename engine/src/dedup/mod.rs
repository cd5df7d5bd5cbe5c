//! Dedup: the per-channel window configuration, fingerprinting and the stores that remember.

pub(crate) mod compile;
pub mod config;
pub mod memory;
pub mod store;
