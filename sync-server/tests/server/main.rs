//! The sync server's integration tests, built as one binary: one link of
//! the server instead of one per file (each was ~300 MB and a few seconds of
//! linking). Each module is what was its own test file; they share
//! `common` (a throwaway PostgreSQL, the real server on a free port, real
//! HTTP, devices that sign real entries).
//!
//! Run one module: `cargo test -p sentra-sync --test server -- push::`.

mod common;

mod bad_input;
mod chaos;
mod clock_jump;
mod concurrency;
mod conflicts;
mod fuzz_http;
mod installer;
mod never_wedge;
mod office;
mod office_reports;
mod ops;
mod ownership;
mod parked_race;
mod partitions;
mod protocol_errors;
mod pull;
mod push;
mod receive_store;
mod relay;
mod report_rollups;
