//! Puts an interaction id into a CXone path as exactly one segment, or refuses to: the engine's
//! [`cxrules_engine::segment`] checks and encoder, the same ones it applies to event ids and
//! SKUs.

pub use cxrules_engine::segment::{check_id, encode_segment, IdError, MAX_ID_LEN};
