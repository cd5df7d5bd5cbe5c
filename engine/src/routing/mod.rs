//! Inventory routing: SKU from the event, inventory lookup, status → skills/queues.

pub mod source;
