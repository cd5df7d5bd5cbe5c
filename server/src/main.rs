//! The `cxrules` command.

fn main() {}
