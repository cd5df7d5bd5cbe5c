//! The axum host and the `cxrules` CLI.

pub mod tools;
