//! cargo-fuzz target `catalog_csv`; the body and its properties are
//! `sentra_fuzz_targets::catalog_csv` (crates/fuzz-targets).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentra_fuzz_targets::catalog_csv(data));
