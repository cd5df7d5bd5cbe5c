//! Any request body, parsed as the host parses it and decided on the shipped rules.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cxrules_fuzz::evaluate_body(data));
