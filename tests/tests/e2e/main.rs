//! End-to-end: the real server on a local port, real rule files, a mock CXone and inventory.

mod dedup;
mod dfo;
mod hostile;
mod ordering;
mod outbound;
mod overload;
mod pacing;
mod page;
mod pinned;
mod reload;
mod routing;
mod shadow;
mod shared_store;
mod signatures;
