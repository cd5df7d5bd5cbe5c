//! End-to-end: the real server on a local port, real rule files, a mock CXone and inventory.

mod dedup;
mod hostile;
mod ordering;
mod outbound;
mod overload;
mod pacing;
mod reload;
mod routing;
mod shared_store;
mod signatures;
