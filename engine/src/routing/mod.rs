//! Inventory routing: SKU from the event, inventory lookup, status → skills/queues.
//!
//! The pieces here are small and independent; the engine composes them:
//! [`sku`] builds the SKU and its URL segment, [`source`] is the lookup contract and
//! `http` its HTTP implementation, [`breaker`] and [`cache`] guard and spare the
//! inventory, [`target`] and [`spec`] hold the rule-file types, `lookup` compiles a route's
//! `inventory:` settings and [`route`] the whole rule.

pub mod breaker;
pub mod cache;
#[cfg(feature = "http-inventory")]
pub mod http;
mod lookup;
pub mod route;
pub mod sku;
pub mod source;
pub mod spec;
pub mod target;
