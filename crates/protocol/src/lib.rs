//! The journal entry shared by terminal, relay and cloud.
//!
//! This crate is pure: no I/O, no clock, no randomness. Ids, times and keys
//! are passed in, so every rule here can be property-tested.
//!
//! * [`UnsignedEntry`] → [`UnsignedEntry::sign`] → [`Entry`]: build, hash and sign.
//! * [`Entry::verify`] checks one entry; [`verify_chain`] checks a device's
//!   chain and names the first bad `seq` precisely ([`EntryProblem`]).
//! * [`HlcClock`] is the hybrid logical clock that stamps entries.
//! * [`payload`] holds the typed payload of each [`EntryKind`], tied to it by
//!   [`EntryPayload`].
//!
//! The byte-level format is specified in `docs/sync-protocol.md`, section
//! "Journal entry format", and frozen by the golden tests in `tests/golden.rs`.

mod canonical;
mod chain;
pub mod enroll_code;
mod entry;
mod error;
mod hash;
mod hlc;
mod kind;
pub mod master;
pub mod payload;
pub mod wire;

pub use canonical::{ENTRY_DOMAIN_TAG, MAX_SAFE_INTEGER, canonical_json};
pub use chain::{ChainError, ChainPoint, EntryProblem, verify_chain};
pub use entry::{Canonical, ENTRY_FORMAT_VERSION, Entry, UnsignedEntry, encode_payload};
pub use error::ProtocolError;
pub use hash::{Hash, Signature};
pub use hlc::{Hlc, HlcClock};
pub use kind::{EntryKind, EntryPayload};
