//! Inventory routing: SKU from the event, inventory lookup, status → skills/queues.

pub mod source;
pub mod route;
pub mod target;
