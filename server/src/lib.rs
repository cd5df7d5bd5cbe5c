//! The axum host and the `cxrules` CLI.
