//! End-to-end suite for cxrules; the tests live in `tests/tests/`.
