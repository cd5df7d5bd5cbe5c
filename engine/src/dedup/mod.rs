//! Dedup: the per-channel window configuration, fingerprinting and the stores that remember.
//!
//! [`config`] holds the `dedup:` types and the compiled `Channel`; `compile` checks one window;
//! merging the section over several files is the crate's `compile` step.

pub(crate) mod compile;
pub mod config;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
pub mod store;
