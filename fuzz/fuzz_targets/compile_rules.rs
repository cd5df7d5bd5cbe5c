//! Any rule file, compiled alone and beside the shipped rules; its own test cases run when it
//! compiles.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cxrules_fuzz::compile_rules(data));
