//! cargo-fuzz target `push_body`; the body and its properties are
//! `sentra_fuzz_targets::push_body` (crates/fuzz-targets).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentra_fuzz_targets::push_body(data));
