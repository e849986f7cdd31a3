//! Opening the encrypted SQLite (SQLCipher) database, and its schema.
//!
//! The key is a random 256-bit raw key handed to SQLCipher as `x'…'`, so no
//! passphrase KDF runs on open. The database is opened without the CREATE
//! flag except by [`create_new`], and nothing is written to it until it has
//! been proven readable with the key: a wrong key or a damaged file is
//! reported and the file is left exactly as it was.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};
use sentra_keystore::DbKey;

use crate::error::{Result, StoreError};

/// One schema step: its file name in `migrations/terminal` and its SQL.
macro_rules! step {
    ($file:literal) => {
        (
            $file,
            include_str!(concat!("../../../migrations/terminal/", $file)),
        )
    };
}

/// The schema of terminal and relay databases, in order. Forward-only; a
/// new file in `migrations/terminal` is added here (a test checks that none
/// is left out).
const STEPS: &[(&str, &str)] = &[
    step!("0001_journal.sql"),
    step!("0002_relay.sql"),
    step!("0003_sync.sql"),
    step!("0004_pos.sql"),
    step!("0005_relay_parking.sql"),
    step!("0006_relay_bypass.sql"),
    step!("0007_pin_attempts.sql"),
    step!("0008_signed_master_data.sql"),
    step!("0009_pin_lockout_journal.sql"),
    step!("0010_clock_watch.sql"),
    step!("0011_branch_settings.sql"),
];

fn migrations() -> Migrations<'static> {
    Migrations::new(STEPS.iter().map(|(_, sql)| M::up(sql)).collect())
}

/// SQLCipher page size (the default of SQLCipher 4, stated so a change of
/// library default cannot make existing files unreadable).
const PAGE_SIZE: u64 = 4096;

/// How an open failed before any write happened.
#[derive(Debug)]
pub enum OpenFailure {
    /// The first page does not decrypt: wrong key or damaged header.
    NotADatabase(String),
    /// The file is shorter than one page or not a whole number of pages.
    Truncated(u64),
    /// Another read failed (malformed pages, I/O).
    Other(rusqlite::Error),
}

/// Open an existing database read-write. Never creates the file.
pub fn open_existing(path: &Path, key: &DbKey) -> std::result::Result<Connection, OpenFailure> {
    let len = std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| OpenFailure::Other(rusqlite::Error::InvalidPath(path.join(e.to_string()))))?;
    if len < PAGE_SIZE || len % PAGE_SIZE != 0 {
        return Err(OpenFailure::Truncated(len));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(OpenFailure::Other)?;
    apply_key(&conn, key).map_err(OpenFailure::Other)?;
    // The first read decrypts page 1: this is where a wrong key shows.
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => {}
        Err(e) if is_not_a_database(&e) => return Err(OpenFailure::NotADatabase(e.to_string())),
        Err(e) => return Err(OpenFailure::Other(e)),
    }
    Ok(conn)
}

/// Open an existing database and prove the key right, naming a failure as a
/// damaged file: the caller has already matched the key's fingerprint, so a
/// page that does not decrypt is damage, not a wrong key.
pub fn open_checked(path: &Path, key: &DbKey) -> Result<Connection> {
    match open_existing(path, key) {
        Ok(conn) => Ok(conn),
        Err(OpenFailure::Truncated(len)) => Err(StoreError::Corrupted {
            path: path.to_owned(),
            detail: format!(
                "the file is truncated: {len} bytes is not a whole number of {PAGE_SIZE}-byte pages"
            ),
        }),
        Err(OpenFailure::NotADatabase(detail)) => Err(StoreError::Corrupted {
            path: path.to_owned(),
            detail: format!("the first page does not decrypt: {detail}"),
        }),
        Err(OpenFailure::Other(e)) => Err(corrupted_or(path, e)),
    }
}

/// Create a new, empty encrypted database. Fails if the file exists.
pub fn create_new(path: &Path, key: &DbKey) -> Result<Connection> {
    if path.exists() {
        return Err(StoreError::AlreadySetUp(path.to_owned()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    apply_key(&conn, key)?;
    Ok(conn)
}

/// SQLCipher settings, given on every open (a file can only be read with the
/// settings it was written with). HMAC-SHA256 authenticates every page: it is
/// hardware-accelerated (SHA-NI) where SHA-512 is not, and a sale's commit
/// spends most of its CPU on per-page crypto (docs/benchmarks.md).
pub const CIPHER_SETTINGS: &str = "PRAGMA cipher_page_size = 4096;
     PRAGMA cipher_hmac_algorithm = HMAC_SHA256;
     PRAGMA cipher_log_level = NONE;";

/// Give SQLCipher the raw key and the cipher settings. SQLCipher's own log
/// of failed page checks goes to stderr; we report damage ourselves, in one
/// line, so it is switched off.
pub fn apply_key(conn: &Connection, key: &DbKey) -> rusqlite::Result<()> {
    let value = key.sqlcipher_pragma_value();
    conn.execute_batch(&format!(
        "PRAGMA key = {}; {CIPHER_SETTINGS}",
        value.as_str()
    ))
}

/// Session settings of every connection to a terminal or relay database.
///
/// WAL for concurrent readers; synchronous=FULL so a commit is durable on
/// disk (power loss included) when the call returns; temp data in memory so
/// no plaintext spills to temporary files; a 32 MiB page cache so hot catalog
/// and journal pages are not decrypted again on every look-up. The automatic
/// checkpoint runs inside a commit; at ~8 WAL pages a sale SQLite's default
/// (every 1,000 pages) would land in about 1 % of sales, so it runs every
/// 4,000 pages (16 MiB of WAL) instead, and long-running hosts call
/// `Terminal::checkpoint` when idle. Closing the last connection
/// checkpoints too.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA busy_timeout = 5000;
         PRAGMA cache_size = -32768;
         PRAGMA wal_autocheckpoint = 4000;",
    )?;
    // A sale uses ~16 distinct statements: keep them all prepared.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Session settings, then the schema. Runs only after the key has been
/// proven right, so a failed open never writes.
pub fn prepare(conn: &mut Connection) -> Result<()> {
    configure(conn)?;
    migrations().to_latest(conn)?;
    Ok(())
}

/// Apply the schema to a plain in-memory database (used to rebuild the
/// projections from the journal for comparison).
pub fn scratch_database() -> Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    migrations().to_latest(&mut conn)?;
    Ok(conn)
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase)
    )
}

/// A read failed with a code that means the file is damaged.
pub fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// A read that failed with a corruption code means a damaged file: say so,
/// with its path; any other failure stays a database error.
pub fn corrupted_or(path: &Path, e: rusqlite::Error) -> StoreError {
    if is_corruption(&e) {
        StoreError::Corrupted {
            path: path.to_owned(),
            detail: e.to_string(),
        }
    } else {
        StoreError::Sqlite(e)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn every_migration_file_is_a_step_in_order() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/terminal");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let steps: Vec<&str> = STEPS.iter().map(|(file, _)| *file).collect();
        assert_eq!(steps, files);
    }
}
