//! The conformance suite: a client written from `docs/sync-protocol.md`
//! alone (this package's encoder; no crate of the workspace's protocol)
//! drives the real `sentra-sync serve`, and the real `relay` where the
//! document says the relay behaves the same, over HTTP. One module per
//! section of the document; each checks its vectors of `docs/vectors/`
//! against the real server.
//!
//! Needs the workspace's binaries: `cargo build --workspace --bins` first.
//! `SENTRA_BLESS=1 cargo test -p sentra-conformance` writes the vectors
//! from the server's answers instead of checking them (review the diff).

mod conflicts;
mod doc;
mod doc_tables;
mod enrollment;
mod entry_format;
mod operations;
mod pull;
mod push;
mod receipt;
mod relay;
mod stock;
mod transport;
mod vectors;
