//! cargo-fuzz target `canonical_entry`; the body and its properties are
//! `sentra_fuzz_targets::canonical_entry` (crates/fuzz-targets).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentra_fuzz_targets::canonical_entry(data));
