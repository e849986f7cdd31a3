//! One error type for the terminal core. Each variant's message is written for
//! the person at the terminal or the support engineer: what is wrong and what
//! to do. Nothing here is ever resolved by deleting or re-creating data.

use std::path::PathBuf;

use sentra_domain::DomainError;
use sentra_journal_store::StoreError;
use sentra_keystore::KeyError;
use sentra_protocol::{ChainError, ProtocolError};

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
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

    #[error("the database key could not be loaded: {0}")]
    Key(#[from] KeyError),

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

    #[error("invalid {what}: {detail}")]
    InvalidInput { what: &'static str, detail: String },

    /// The entry breaks a rule the cloud enforces (size, text, lines,
    /// figures): nothing was written, so the till never holds an entry its
    /// cloud would quarantine.
    #[error("{kind} not recorded: {detail}")]
    EntryRefused { kind: String, detail: String },

    #[error("wrong PIN")]
    PinRejected,

    /// Too many wrong PINs: no PIN is checked for this long.
    #[error("too many wrong PINs: try again in {seconds} s")]
    PinLocked { seconds: u64 },

    #[error("that is not a supervisor's PIN")]
    SupervisorRejected,

    #[error("a supervisor must approve this: {0}")]
    SupervisorRequired(String),

    #[error("no one is signed in at this till")]
    NotSignedIn,

    #[error("the till is locked: sign in again with your PIN")]
    Locked,

    #[error(
        "{0} entries have not reached the cloud yet; they stay on this till and keep syncing (confirm to go on)"
    )]
    Undelivered(u64),

    #[error("this till is not set up yet")]
    NotSetUp,

    #[error("unknown item {0:?}: no product has that SKU or barcode")]
    UnknownItem(String),

    #[error("item {0} is no longer sold: the cloud withdrew it from the catalog")]
    NotSold(String),

    /// No upstream could produce the sale of another till.
    #[error("receipt {receipt} could not be looked up: {detail}")]
    ReceiptLookup { receipt: String, detail: String },

    /// An upstream served an entry that does not verify: never used.
    #[error(
        "the sale served for this return was refused: entry {seq} of device {device} is not usable because {why}; report it to head office"
    )]
    ForeignEntryRefused {
        device: String,
        seq: u64,
        why: String,
    },

    /// An in-store scale label (prefix 20–29) that cannot be rung.
    #[error("{0}")]
    BadLabel(String),

    #[error(transparent)]
    Sync(#[from] crate::sync::SyncError),

    #[error("no shift is open")]
    NoOpenShift,

    #[error("shift {0} is already open; close it before opening another")]
    ShiftAlreadyOpen(String),

    #[error("receipt {0} not found on this terminal")]
    UnknownReceipt(String),

    #[error("receipt {receipt} cannot be voided: {reason}")]
    CannotVoid { receipt: String, reason: String },

    #[error("receipt {receipt} cannot be refunded: {reason}")]
    CannotRefund { receipt: String, reason: String },

    #[error("catalog file {file}, line {line}: {detail}")]
    BadCatalog {
        file: String,
        line: u64,
        detail: String,
    },

    #[error(transparent)]
    Domain(#[from] DomainError),

    #[error("journal entry could not be built: {0}")]
    Protocol(#[from] ProtocolError),

    #[error("journal verification failed at {0}")]
    Chain(#[from] ChainError),

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

impl TerminalError {
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        TerminalError::InvalidInput {
            what,
            detail: detail.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        TerminalError::Io {
            context: context.into(),
            source,
        }
    }
}

impl TerminalError {
    /// A stable snake_case code per failure, as the server's `ApiError`
    /// has: the app words it in the cashier's language from this code and
    /// [`TerminalError::params`] (`ui/src/i18n.ts`, `err_<code>`), the CLI
    /// adds its own advice by code; the English message is for logs and
    /// support.
    pub fn code(&self) -> &'static str {
        match self {
            TerminalError::NotSetUp | TerminalError::NotInitialised(_) => "not_set_up",
            TerminalError::AlreadyInitialised(_) => "already_set_up",
            TerminalError::DatabaseMissing(_) => "database_missing",
            TerminalError::Key(_) => "key_unavailable",
            TerminalError::WrongKey { .. } => "wrong_key",
            TerminalError::Corrupted { .. } => "database_damaged",
            TerminalError::BadManifest { .. } => "bad_manifest",
            TerminalError::NewerData { .. } => "newer_data",
            TerminalError::UpgradeCopy { .. } => "upgrade_copy_failed",
            TerminalError::InvalidInput { .. } | TerminalError::Domain(_) => "invalid",
            TerminalError::EntryRefused { .. } => "entry_refused",
            TerminalError::PinRejected => "pin_rejected",
            TerminalError::PinLocked { .. } => "pin_locked",
            TerminalError::SupervisorRejected => "supervisor_rejected",
            TerminalError::SupervisorRequired(_) => "supervisor_required",
            TerminalError::NotSignedIn => "not_signed_in",
            TerminalError::Locked => "locked",
            TerminalError::Undelivered(_) => "undelivered",
            TerminalError::UnknownItem(_) => "unknown_item",
            TerminalError::NotSold(_) => "not_sold",
            TerminalError::ReceiptLookup { .. } => "receipt_lookup",
            TerminalError::ForeignEntryRefused { .. } => "foreign_entry_refused",
            TerminalError::BadLabel(_) => "bad_label",
            TerminalError::Sync(_) => "sync",
            TerminalError::NoOpenShift => "no_open_shift",
            TerminalError::ShiftAlreadyOpen(_) => "shift_already_open",
            TerminalError::UnknownReceipt(_) => "unknown_receipt",
            TerminalError::CannotVoid { .. } => "cannot_void",
            TerminalError::CannotRefund { .. } => "cannot_refund",
            TerminalError::BadCatalog { .. } => "bad_catalog",
            TerminalError::Protocol(_)
            | TerminalError::Chain(_)
            | TerminalError::BadJournalRow { .. } => "journal_damaged",
            TerminalError::Sqlite(_) | TerminalError::Migration(_) => "database_error",
            TerminalError::Io { .. } => "io_error",
        }
    }

    /// The values a worded message needs (`receipt`, `item`, `seconds`,
    /// `count`, `what`), as text. Free-text detail is not among them: it
    /// is English, and stays in the message.
    pub fn params(&self) -> std::collections::BTreeMap<String, String> {
        let mut p = std::collections::BTreeMap::new();
        let mut put = |k: &str, v: String| {
            p.insert(k.to_owned(), v);
        };
        match self {
            TerminalError::PinLocked { seconds } => put("seconds", seconds.to_string()),
            TerminalError::Undelivered(n) => put("count", n.to_string()),
            TerminalError::UnknownItem(code) => put("item", code.clone()),
            TerminalError::NotSold(sku) => put("item", sku.clone()),
            TerminalError::UnknownReceipt(no) => put("receipt", no.clone()),
            TerminalError::ShiftAlreadyOpen(id) => put("shift", id.clone()),
            TerminalError::ReceiptLookup { receipt, .. } => put("receipt", receipt.clone()),
            TerminalError::CannotVoid { receipt, .. }
            | TerminalError::CannotRefund { receipt, .. } => put("receipt", receipt.clone()),
            TerminalError::InvalidInput { what, .. } => put("what", (*what).to_owned()),
            TerminalError::EntryRefused { kind, .. } => put("what", kind.clone()),
            _ => {}
        }
        p
    }

    /// A read that failed with a corruption code, anywhere after open, is a
    /// damaged database file: say so, with its path, instead of a raw
    /// SQLite error.
    pub fn naming_damage(self, database: &std::path::Path) -> Self {
        match self {
            TerminalError::Sqlite(e) if crate::store::is_corruption(&e) => {
                TerminalError::Corrupted {
                    path: database.to_owned(),
                    detail: e.to_string(),
                }
            }
            other => other,
        }
    }
}

/// The data dir's failures in the terminal's words: each lands on the
/// variant (and so the message and app error code) it had before the data
/// dir became a crate of its own.
impl From<StoreError> for TerminalError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotSetUp(dir) => TerminalError::NotInitialised(dir),
            StoreError::AlreadySetUp(path) => TerminalError::AlreadyInitialised(path),
            StoreError::DatabaseMissing(path) => TerminalError::DatabaseMissing(path),
            StoreError::Key(e) => TerminalError::Key(e),
            StoreError::KeyFileInDataDir { file, data_dir } => TerminalError::invalid(
                "key file",
                format!(
                    "{} is inside the data dir {}: the key would sit next to the database it protects; put it elsewhere (e.g. a systemd credential or a protected directory)",
                    file.display(),
                    data_dir.display()
                ),
            ),
            StoreError::WrongKey {
                path,
                store,
                found,
                expected,
            } => TerminalError::WrongKey {
                path,
                store: store.to_string(),
                found,
                expected,
            },
            StoreError::Corrupted { path, detail } => TerminalError::Corrupted { path, detail },
            StoreError::BadManifest { path, detail } => TerminalError::BadManifest { path, detail },
            StoreError::BadJournalRow { seq, detail } => {
                TerminalError::BadJournalRow { seq, detail }
            }
            StoreError::Payload(e) => TerminalError::invalid("journal payload", e.to_string()),
            StoreError::Sqlite(e) => TerminalError::Sqlite(e),
            StoreError::Migration(e) => TerminalError::Migration(e),
            StoreError::NewerData { path, data, app } => {
                TerminalError::NewerData { path, data, app }
            }
            StoreError::UpgradeCopy { path, detail } => TerminalError::UpgradeCopy { path, detail },
            StoreError::Io { context, source } => TerminalError::Io { context, source },
        }
    }
}

pub type Result<T, E = TerminalError> = std::result::Result<T, E>;
