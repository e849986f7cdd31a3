//! The terminal core's errors. Each job has its own type, next to the code
//! that does the job:
//!
//! * [`StorageError`] (`store`): the data dir, its manifest and the
//!   encrypted database — opening, reading, upgrading;
//! * [`SessionError`] (`pos::session`): what the cashier session refuses
//!   before an action — PINs, sign-in, the lock, approval, confirmation;
//! * [`SaleError`] (`terminal`): selling, shifts, voids and refunds;
//! * [`CatalogError`] (`catalog`): a catalog file that cannot be imported;
//! * [`ForeignSaleError`] (`sync::receipt`): another till's sale fetched
//!   for a return.
//!
//! [`TerminalError`] wraps them all, with the input checks every job makes
//! and the errors of the crates below. Each variant's message is written for
//! the person at the terminal or the support engineer: what is wrong and
//! what to do. Nothing here is ever resolved by deleting or re-creating
//! data.
//!
//! Every error has a stable snake_case `code()`: the app words it in the
//! cashier's language (`ui/src/i18n.ts`, `err_<code>`, whose test reads the
//! `code()` of each of these types), the CLI adds its own advice by code.
//! The codes are a contract with the UI: never change one.

use std::collections::BTreeMap;

use sentra_domain::DomainError;
use sentra_journal_store::StoreError;
use sentra_keystore::KeyError;
use sentra_protocol::{ChainError, ProtocolError};

pub use crate::catalog::CatalogError;
pub use crate::pos::session::SessionError;
pub use crate::store::StorageError;
pub use crate::sync::ForeignSaleError;
pub use crate::terminal::SaleError;

/// The values a worded message needs, by name, as text.
pub type Params = BTreeMap<String, String>;

/// One value of a worded message.
pub(crate) fn param(name: &str, value: impl ToString) -> Params {
    Params::from([(name.to_owned(), value.to_string())])
}

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error(transparent)]
    Storage(#[from] StorageError),

    #[error(transparent)]
    Session(#[from] SessionError),

    #[error(transparent)]
    Sale(#[from] SaleError),

    #[error(transparent)]
    Catalog(#[from] CatalogError),

    #[error(transparent)]
    ForeignSale(#[from] ForeignSaleError),

    /// Input that breaks a rule, from any job (a quantity, a PIN's format,
    /// a setting, a stored value that does not parse).
    #[error("invalid {what}: {detail}")]
    InvalidInput { what: &'static str, detail: String },

    /// The entry breaks a rule the cloud enforces (size, text, lines,
    /// figures): nothing was written, so the till never holds an entry its
    /// cloud would quarantine.
    #[error("{kind} not recorded: {detail}")]
    EntryRefused { kind: String, detail: String },

    #[error("the database key could not be loaded: {0}")]
    Key(#[from] KeyError),

    #[error(transparent)]
    Sync(#[from] crate::sync::SyncError),

    #[error(transparent)]
    Domain(#[from] DomainError),

    #[error("journal entry could not be built: {0}")]
    Protocol(#[from] ProtocolError),

    #[error("journal verification failed at {0}")]
    Chain(#[from] ChainError),
}

impl TerminalError {
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        TerminalError::InvalidInput {
            what,
            detail: detail.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StorageError::Io {
            context: context.into(),
            source,
        }
        .into()
    }

    /// A stable snake_case code per failure, as the server's `ApiError`
    /// has: the app words it in the cashier's language from this code and
    /// [`TerminalError::params`] (`ui/src/i18n.ts`, `err_<code>`), the CLI
    /// adds its own advice by code; the English message is for logs and
    /// support.
    pub fn code(&self) -> &'static str {
        match self {
            TerminalError::Storage(e) => e.code(),
            TerminalError::Session(e) => e.code(),
            TerminalError::Sale(e) => e.code(),
            TerminalError::Catalog(e) => e.code(),
            TerminalError::ForeignSale(e) => e.code(),
            TerminalError::InvalidInput { .. } | TerminalError::Domain(_) => "invalid",
            TerminalError::EntryRefused { .. } => "entry_refused",
            TerminalError::Key(_) => "key_unavailable",
            TerminalError::Sync(_) => "sync",
            TerminalError::Protocol(_) | TerminalError::Chain(_) => "journal_damaged",
        }
    }

    /// The values a worded message needs (`receipt`, `item`, `seconds`,
    /// `count`, `what`), as text. Free-text detail is not among them: it
    /// is English, and stays in the message.
    pub fn params(&self) -> Params {
        match self {
            TerminalError::Session(e) => e.params(),
            TerminalError::Sale(e) => e.params(),
            TerminalError::ForeignSale(e) => e.params(),
            TerminalError::InvalidInput { what, .. } => param("what", what),
            TerminalError::EntryRefused { kind, .. } => param("what", kind),
            TerminalError::Storage(_)
            | TerminalError::Catalog(_)
            | TerminalError::Key(_)
            | TerminalError::Sync(_)
            | TerminalError::Domain(_)
            | TerminalError::Protocol(_)
            | TerminalError::Chain(_) => Params::new(),
        }
    }

    /// A read that failed with a corruption code, anywhere after open, is a
    /// damaged database file: say so, with its path, instead of a raw
    /// SQLite error.
    pub fn naming_damage(self, database: &std::path::Path) -> Self {
        match self {
            TerminalError::Storage(e) => e.naming_damage(database).into(),
            other => other,
        }
    }
}

// SQLite and the schema migrations are reached with `?` from every job;
// their failures are the storage's.
impl From<rusqlite::Error> for TerminalError {
    fn from(e: rusqlite::Error) -> Self {
        StorageError::Sqlite(e).into()
    }
}

impl From<rusqlite_migration::Error> for TerminalError {
    fn from(e: rusqlite_migration::Error) -> Self {
        StorageError::Migration(e).into()
    }
}

/// The data dir's failures in the terminal's words: each lands on the
/// variant (and so the message and app error code) it had before the data
/// dir became a crate of its own.
impl From<StoreError> for TerminalError {
    fn from(e: StoreError) -> Self {
        let storage = match e {
            StoreError::NotSetUp(dir) => StorageError::NotInitialised(dir),
            StoreError::AlreadySetUp(path) => StorageError::AlreadyInitialised(path),
            StoreError::DatabaseMissing(path) => StorageError::DatabaseMissing(path),
            StoreError::Key(e) => return TerminalError::Key(e),
            StoreError::KeyFileInDataDir { file, data_dir } => {
                return TerminalError::invalid(
                    "key file",
                    format!(
                        "{} is inside the data dir {}: the key would sit next to the database it protects; put it elsewhere (e.g. a systemd credential or a protected directory)",
                        file.display(),
                        data_dir.display()
                    ),
                );
            }
            StoreError::WrongKey {
                path,
                store,
                found,
                expected,
            } => StorageError::WrongKey {
                path,
                store: store.to_string(),
                found,
                expected,
            },
            StoreError::Corrupted { path, detail } => StorageError::Corrupted { path, detail },
            StoreError::BadManifest { path, detail } => StorageError::BadManifest { path, detail },
            StoreError::BadJournalRow { seq, detail } => {
                StorageError::BadJournalRow { seq, detail }
            }
            StoreError::Payload(e) => {
                return TerminalError::invalid("journal payload", e.to_string());
            }
            StoreError::Sqlite(e) => StorageError::Sqlite(e),
            StoreError::Migration(e) => StorageError::Migration(e),
            StoreError::NewerData { path, data, app } => {
                StorageError::NewerData { path, data, app }
            }
            StoreError::UpgradeCopy { path, detail } => StorageError::UpgradeCopy { path, detail },
            StoreError::Io { context, source } => StorageError::Io { context, source },
        };
        storage.into()
    }
}

pub type Result<T, E = TerminalError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The params an error is expected to carry.
    type WantedParams = &'static [(&'static str, &'static str)];

    /// The codes and params are a contract with the UI (`ui/src/i18n.ts`):
    /// they stayed as they were when the one error type was split by job.
    #[test]
    fn every_job_keeps_its_codes_and_params() {
        let dir = || PathBuf::from("/data");
        let text = || "x".to_owned();
        let cases: Vec<(TerminalError, &str, WantedParams)> = vec![
            (
                StorageError::NotInitialised(dir()).into(),
                "not_set_up",
                &[],
            ),
            (
                StorageError::AlreadyInitialised(dir()).into(),
                "already_set_up",
                &[],
            ),
            (
                StorageError::DatabaseMissing(dir()).into(),
                "database_missing",
                &[],
            ),
            (
                StorageError::WrongKey {
                    path: dir(),
                    store: text(),
                    found: text(),
                    expected: text(),
                }
                .into(),
                "wrong_key",
                &[],
            ),
            (
                StorageError::Corrupted {
                    path: dir(),
                    detail: text(),
                }
                .into(),
                "database_damaged",
                &[],
            ),
            (
                StorageError::BadManifest {
                    path: dir(),
                    detail: text(),
                }
                .into(),
                "bad_manifest",
                &[],
            ),
            (
                StorageError::NewerData {
                    path: dir(),
                    data: 2,
                    app: 1,
                }
                .into(),
                "newer_data",
                &[],
            ),
            (
                StorageError::UpgradeCopy {
                    path: dir(),
                    detail: text(),
                }
                .into(),
                "upgrade_copy_failed",
                &[],
            ),
            (
                StorageError::BadJournalRow {
                    seq: 1,
                    detail: text(),
                }
                .into(),
                "journal_damaged",
                &[],
            ),
            (
                rusqlite::Error::QueryReturnedNoRows.into(),
                "database_error",
                &[],
            ),
            (
                TerminalError::io("reading", std::io::Error::other("gone")),
                "io_error",
                &[],
            ),
            (SessionError::NotSetUp.into(), "not_set_up", &[]),
            (SessionError::NotSignedIn.into(), "not_signed_in", &[]),
            (SessionError::Locked.into(), "locked", &[]),
            (SessionError::PinRejected.into(), "pin_rejected", &[]),
            (
                SessionError::PinLocked { seconds: 30 }.into(),
                "pin_locked",
                &[("seconds", "30")],
            ),
            (
                SessionError::SupervisorRejected.into(),
                "supervisor_rejected",
                &[],
            ),
            (
                SessionError::SupervisorRequired(text()).into(),
                "supervisor_required",
                &[],
            ),
            (
                SessionError::Undelivered(3).into(),
                "undelivered",
                &[("count", "3")],
            ),
            (
                SaleError::UnknownItem("A1".into()).into(),
                "unknown_item",
                &[("item", "A1")],
            ),
            (
                SaleError::NotSold("A1".into()).into(),
                "not_sold",
                &[("item", "A1")],
            ),
            (SaleError::BadLabel(text()).into(), "bad_label", &[]),
            (SaleError::NoOpenShift.into(), "no_open_shift", &[]),
            (
                SaleError::ShiftAlreadyOpen("S1".into()).into(),
                "shift_already_open",
                &[("shift", "S1")],
            ),
            (
                SaleError::UnknownReceipt("R1".into()).into(),
                "unknown_receipt",
                &[("receipt", "R1")],
            ),
            (
                SaleError::CannotVoid {
                    receipt: "R1".into(),
                    reason: text(),
                }
                .into(),
                "cannot_void",
                &[("receipt", "R1")],
            ),
            (
                SaleError::CannotRefund {
                    receipt: "R1".into(),
                    reason: text(),
                }
                .into(),
                "cannot_refund",
                &[("receipt", "R1")],
            ),
            (
                CatalogError::BadLine {
                    file: text(),
                    line: 2,
                    detail: text(),
                }
                .into(),
                "bad_catalog",
                &[],
            ),
            (
                ForeignSaleError::LookupFailed {
                    receipt: "R1".into(),
                    detail: text(),
                }
                .into(),
                "receipt_lookup",
                &[("receipt", "R1")],
            ),
            (
                ForeignSaleError::EntryRefused {
                    device: text(),
                    seq: 1,
                    why: text(),
                }
                .into(),
                "foreign_entry_refused",
                &[],
            ),
            (
                TerminalError::invalid("quantity", text()),
                "invalid",
                &[("what", "quantity")],
            ),
            (
                TerminalError::EntryRefused {
                    kind: "sale_completed".into(),
                    detail: text(),
                },
                "entry_refused",
                &[("what", "sale_completed")],
            ),
        ];
        for (e, code, params) in cases {
            assert_eq!(e.code(), code, "{e}");
            let want: Params = params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(e.params(), want, "{e}");
        }
    }

    /// A corruption code met after open names the damaged file.
    #[test]
    fn a_corrupt_read_names_the_damaged_file() {
        let corrupt = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            None,
        );
        let e =
            TerminalError::from(corrupt).naming_damage(std::path::Path::new("/data/journal.db"));
        assert_eq!(e.code(), "database_damaged");
        assert!(e.to_string().contains("/data/journal.db"), "{e}");
    }
}
