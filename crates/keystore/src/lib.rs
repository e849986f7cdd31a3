//! Custody of the 256-bit SQLCipher database key.
//!
//! The key is random per install ([`DbKey::generate`]) and kept in one of three
//! stores ([`KeyStoreKind`]): the OS keyring (preferred), the Linux kernel
//! session keyring (volatile; tests and short sessions), or an explicit key file
//! (headless fallback, reported loudly by `init`). Where it went is a
//! [`KeyLocation`] — not secret — that the terminal records in its manifest.
//!
//! A key is never overwritten ([`KeyError::AlreadyExists`]), and a missing key
//! is a [`KeyError::Missing`] that tells the operator where it was looked up;
//! nothing here ever touches the database. See `docs/key-custody.md`.

mod error;
mod file_store;
mod key;
mod location;
mod os_store;

pub use error::KeyError;
pub use key::DbKey;
pub use location::{
    KeyLocation, KeyStoreKind, SERVICE, StoreChoice, choose, default_key_file, is_within,
};
pub use os_store::PROBE_TIMEOUT;

/// Stores `key` at `loc`. Refuses with [`KeyError::AlreadyExists`] if a key is
/// already there: overwriting could orphan a database.
pub fn store_key(loc: &KeyLocation, key: &DbKey) -> Result<(), KeyError> {
    match loc.kind {
        KeyStoreKind::File => file_store::store(file_of(loc)?, key),
        KeyStoreKind::Os | KeyStoreKind::Keyutils => os_store::store(loc, key),
    }
}

/// Fetches the key at `loc`; [`KeyError::Missing`] if there is none.
pub fn load_key(loc: &KeyLocation) -> Result<DbKey, KeyError> {
    match loc.kind {
        KeyStoreKind::File => file_store::load(loc, file_of(loc)?),
        KeyStoreKind::Os | KeyStoreKind::Keyutils => os_store::load(loc),
    }
}

/// Removes the key at `loc` ([`KeyError::Missing`] if there is none). Only for
/// tests, failed `init`s and deliberate decommissioning: without the key the
/// database cannot be opened.
pub fn delete_key(loc: &KeyLocation) -> Result<(), KeyError> {
    match loc.kind {
        KeyStoreKind::File => file_store::delete(loc, file_of(loc)?),
        KeyStoreKind::Os | KeyStoreKind::Keyutils => os_store::delete(loc),
    }
}

fn file_of(loc: &KeyLocation) -> Result<&std::path::Path, KeyError> {
    loc.file.as_deref().ok_or_else(|| {
        KeyError::Unavailable(
            "the key location says `file` but records no path; the manifest is damaged".to_owned(),
        )
    })
}
