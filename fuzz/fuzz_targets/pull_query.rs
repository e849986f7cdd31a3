//! cargo-fuzz target `pull_query`; the body and its properties are
//! `sentra_fuzz_targets::pull_query` (crates/fuzz-targets).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentra_fuzz_targets::pull_query(data));
