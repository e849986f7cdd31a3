//! Opening the encrypted SQLite (SQLCipher) database: the terminal's names
//! for [`sentra_journal_store::db`], which the relay shares. The key is
//! proven right before anything is written; see that module.

use std::path::Path;

use rusqlite::Connection;
use sentra_journal_store::db;
use sentra_keystore::DbKey;

use crate::error::Result;

pub use sentra_journal_store::db::{
    CIPHER_SETTINGS, OpenFailure, apply_key, configure, is_corruption, open_existing,
};

/// Create a new, empty encrypted database. Fails if the file exists.
pub fn create_new(path: &Path, key: &DbKey) -> Result<Connection> {
    Ok(db::create_new(path, key)?)
}

/// Session settings, then the schema. Runs only after the key has been
/// proven right, so a failed open never writes.
pub fn prepare(conn: &mut Connection) -> Result<()> {
    Ok(db::prepare(conn)?)
}

/// Apply the schema to a plain in-memory database (used to rebuild the
/// projections from the journal for comparison).
pub fn scratch_database() -> Result<Connection> {
    Ok(db::scratch_database()?)
}
