//! Opening the encrypted SQLite (SQLCipher) database: the terminal's names
//! for [`sentra_journal_store::db`], which the relay shares. The key is
//! proven right before anything is written; see that module.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sentra_journal_store::db;
use sentra_keystore::DbKey;

use crate::error::Result;

pub use sentra_journal_store::db::{
    CIPHER_SETTINGS, OpenFailure, apply_key, configure, corrupted_or, is_corruption, open_existing,
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

/// Where the till keeps its data going wrong: the data dir and its
/// manifest, the encrypted database (opening it, reading it, upgrading its
/// schema) and the journal rows in it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} is not initialised")]
    NotInitialised(PathBuf),

    #[error(
        "{0} is already initialised; refusing to overwrite an existing terminal (move the data dir away first if you really mean to start again)"
    )]
    AlreadyInitialised(PathBuf),

    #[error(
        "the database file {0} is missing although the manifest says this terminal was initialised; restore it from backup (nothing was created in its place)"
    )]
    DatabaseMissing(PathBuf),

    #[error(
        "wrong database key for {path}: the key found in the {store} key store does not belong to this database (fingerprint {found}, expected {expected}); the file was not modified — restore the right key from backup"
    )]
    WrongKey {
        path: PathBuf,
        store: String,
        found: String,
        expected: String,
    },

    #[error(
        "the database {path} is damaged ({detail}); the key is right but the file cannot be read. It was left untouched for recovery: restore it from backup or have the relay/cloud resend this device's journal"
    )]
    Corrupted { path: PathBuf, detail: String },

    #[error("the manifest {path} cannot be read: {detail}")]
    BadManifest { path: PathBuf, detail: String },

    /// The till's database was written by a newer version of the app; this
    /// (older) one does not write to it.
    #[error(
        "the database {path} was written by a newer version of Sentra POS (schema {data}; this version knows schema {app} at most). Install that version or a newer one; nothing was written"
    )]
    NewerData {
        path: PathBuf,
        data: usize,
        app: usize,
    },

    /// The copy made before a schema upgrade is not right: the database was
    /// left at its old schema.
    #[error(
        "the copy of {path} made before upgrading its schema is not right ({detail}); the database was not upgraded. Free disk space or fix the folder's permissions, then start again"
    )]
    UpgradeCopy { path: PathBuf, detail: String },

    #[error("journal row seq {seq} is unreadable: {detail}")]
    BadJournalRow { seq: u64, detail: String },

    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),

    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl StorageError {
    /// The stable code (see [`crate::error`]).
    pub fn code(&self) -> &'static str {
        match self {
            StorageError::NotInitialised(_) => "not_set_up",
            StorageError::AlreadyInitialised(_) => "already_set_up",
            StorageError::DatabaseMissing(_) => "database_missing",
            StorageError::WrongKey { .. } => "wrong_key",
            StorageError::Corrupted { .. } => "database_damaged",
            StorageError::BadManifest { .. } => "bad_manifest",
            StorageError::NewerData { .. } => "newer_data",
            StorageError::UpgradeCopy { .. } => "upgrade_copy_failed",
            StorageError::BadJournalRow { .. } => "journal_damaged",
            StorageError::Sqlite(_) | StorageError::Migration(_) => "database_error",
            StorageError::Io { .. } => "io_error",
        }
    }

    /// A read that failed with a corruption code is a damaged file at
    /// `database`: named so, instead of a raw SQLite error.
    pub fn naming_damage(self, database: &Path) -> Self {
        match self {
            StorageError::Sqlite(e) if is_corruption(&e) => StorageError::Corrupted {
                path: database.to_owned(),
                detail: e.to_string(),
            },
            other => other,
        }
    }
}
