//! End-to-end harness for cxrules: starts the real server on `127.0.0.1:0` with rule files in a
//! temporary directory, a mock CXone and a mock inventory; the tests live in `tests/tests/`.

mod fixtures;
mod harness;

pub use fixtures::*;
pub use harness::*;
