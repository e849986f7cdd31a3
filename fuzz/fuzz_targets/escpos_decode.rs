//! cargo-fuzz target `escpos_decode`; the body and its properties are
//! `sentra_fuzz_targets::escpos_decode` (crates/fuzz-targets).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentra_fuzz_targets::escpos_decode(data));
