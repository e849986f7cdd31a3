//! The fuzz targets of Sentra POS, as plain functions.
//!
//! Each `pub fn <target>(data: &[u8])` is the whole body of one fuzz target:
//! it feeds the bytes to the code under test and asserts what must hold for
//! *any* input — no panic, and where there is one, a consistency or
//! round-trip property. A broken property panics, which is what a fuzzer
//! reports.
//!
//! They run two ways (see `docs/fuzzing.md`):
//!
//! * `fuzz/` — the cargo-fuzz (libFuzzer, nightly) crate: one thin
//!   `fuzz_targets/<target>.rs` per function here, seed corpora in
//!   `fuzz/corpus/<target>/`;
//! * `tests/smoke.rs` — on the stable toolchain, in the test command: each
//!   target gets its seed corpus and a few thousand seeded mutations of it
//!   ([`mutate`]).
//!
//! | target | what it reads |
//! |---|---|
//! | [`push_body`] | the `POST /v1/push` body, and the per-entry checks the cloud and the relay run before any lock |
//! | [`pull_query`] | pull cursors, `limit`, and the `GET /v1/pull` query string as axum reads it |
//! | [`canonical_entry`] | an entry, a payload or a master-data change, and their canonical encodings |
//! | [`catalog_csv`] | the catalog CSV file |
//! | [`escpos_decode`] | ESC/POS bytes, as the test printer reads them |

mod canonical;
mod catalog;
mod escpos;
pub mod mutate;
mod pull;
mod push;

pub use canonical::canonical_entry;
pub use catalog::catalog_csv;
pub use escpos::escpos_decode;
pub use pull::pull_query;
pub use push::push_body;

/// A target: bytes in, a panic when a property breaks.
pub type Target = fn(&[u8]);

/// Every target by name (the names of `fuzz/fuzz_targets/*.rs` and of the
/// seed directories `fuzz/corpus/<name>/`).
pub const TARGETS: [(&str, Target); 5] = [
    ("push_body", push_body),
    ("pull_query", pull_query),
    ("canonical_entry", canonical_entry),
    ("catalog_csv", catalog_csv),
    ("escpos_decode", escpos_decode),
];

/// The key the targets sign with when they need a genuine entry (never a
/// real device's).
pub(crate) fn fuzz_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x5e; 32])
}
