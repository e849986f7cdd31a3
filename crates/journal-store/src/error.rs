//! What can go wrong with a data dir. Each variant carries the facts (paths,
//! fingerprints, the failing seq) and a stable [`code`](StoreError::code);
//! the terminal and the relay word them for their own readers. Nothing here
//! is ever resolved by deleting or re-creating data.

use std::path::PathBuf;

use sentra_keystore::{KeyError, KeyStoreKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data dir has no manifest: never set up, or set up by a run that
    /// stopped before the manifest (written last) was in place.
    #[error("{0} is not set up: it holds no manifest")]
    NotSetUp(PathBuf),

    /// Setting up would overwrite a manifest or a database (the path names
    /// which).
    #[error("{0} already exists; refusing to overwrite an existing data dir")]
    AlreadySetUp(PathBuf),

    /// The manifest names a database file that is not there.
    #[error("the database file {0} is missing although the manifest says the data dir was set up")]
    DatabaseMissing(PathBuf),

    #[error("the database key could not be loaded: {0}")]
    Key(#[from] KeyError),

    /// A key file inside the data dir would sit next to the database it
    /// protects.
    #[error(
        "the key file {} is inside the data dir {}: the key would sit next to the database it protects",
        file.display(),
        data_dir.display()
    )]
    KeyFileInDataDir { file: PathBuf, data_dir: PathBuf },

    /// The key found is not the one the manifest records (by fingerprint);
    /// the database was not opened, so not modified.
    #[error(
        "wrong database key for {}: the key in the {store} key store has fingerprint {found}, the database needs {expected}; the file was not modified",
        path.display()
    )]
    WrongKey {
        path: PathBuf,
        store: KeyStoreKind,
        found: String,
        expected: String,
    },

    /// The key is right (by fingerprint) but the file cannot be read. It was
    /// left untouched.
    #[error("the database {} is damaged ({detail}); it was left untouched", path.display())]
    Corrupted { path: PathBuf, detail: String },

    #[error("the manifest {} cannot be read: {detail}", path.display())]
    BadManifest { path: PathBuf, detail: String },

    #[error("journal row seq {seq} is unreadable: {detail}")]
    BadJournalRow { seq: u64, detail: String },

    #[error("the journal payload cannot be stored: {0}")]
    Payload(#[source] serde_json::Error),

    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),

    /// The database was written by a newer version (a higher schema) than
    /// this one: it was not written to.
    #[error(
        "the database {} was written by a newer version of Sentra POS (schema {data}; this version knows schema {app} at most): install that version or a newer one; nothing was written",
        path.display()
    )]
    NewerData {
        path: PathBuf,
        data: usize,
        app: usize,
    },

    /// Before a schema upgrade, the copy of the database could not be made
    /// or did not read back the same; the database was not upgraded.
    #[error(
        "the copy of {} made before upgrading its schema is not right ({detail}); the database was not upgraded",
        path.display()
    )]
    UpgradeCopy { path: PathBuf, detail: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// A stable name for the failure, for logs and for the callers' own
    /// wording.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotSetUp(_) => "not_set_up",
            StoreError::AlreadySetUp(_) => "already_set_up",
            StoreError::DatabaseMissing(_) => "database_missing",
            StoreError::Key(_) => "key",
            StoreError::KeyFileInDataDir { .. } => "key_file_in_data_dir",
            StoreError::WrongKey { .. } => "wrong_key",
            StoreError::Corrupted { .. } => "corrupted",
            StoreError::BadManifest { .. } => "bad_manifest",
            StoreError::BadJournalRow { .. } => "bad_journal_row",
            StoreError::Payload(_) => "payload",
            StoreError::Sqlite(_) => "database",
            StoreError::Migration(_) => "migration",
            StoreError::NewerData { .. } => "newer_data",
            StoreError::UpgradeCopy { .. } => "upgrade_copy",
            StoreError::Io { .. } => "io",
        }
    }

    /// Worth retrying without anyone acting: a busy or locked database, a
    /// key store that may come up. Everything else needs a person (wrong
    /// key, damaged file, bad manifest) or is a bug.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Key(e) => e.is_retryable(),
            StoreError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
