//! cxrules-engine: compiles YAML rules for NICE CXone events and evaluates them.

pub mod dedup;
pub mod normalize;
pub mod routing;
