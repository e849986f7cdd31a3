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
    step!("0012_cash_count.sql"),
    step!("0013_returns_from_any_till.sql"),
    step!("0014_stock_on_hand.sql"),
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

/// The schema version this build writes: one per step.
pub const SCHEMA_VERSION: usize = STEPS.len();

/// The schema version of a database (`user_version`, which the migrations
/// set; 0 for a new, empty one).
pub fn schema_version(conn: &Connection) -> Result<usize> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(usize::try_from(v).unwrap_or(0))
}

/// [`prepare`] for an existing database at `path`, keeping it safe across
/// versions. One written by a newer version is refused before anything is
/// written (an older app must not write a schema it does not know). One
/// of an older schema is first copied, the copy read back and compared
/// ([`verified_copy`]), and only then migrated — in one transaction, so a
/// failed step leaves it as it was. Returns the copy, if one was made.
pub fn prepare_existing(
    conn: &mut Connection,
    path: &Path,
    key: &DbKey,
) -> Result<Option<std::path::PathBuf>> {
    let data = schema_version(conn)?;
    if data > SCHEMA_VERSION {
        return Err(StoreError::NewerData {
            path: path.to_owned(),
            data,
            app: SCHEMA_VERSION,
        });
    }
    let copy = if data > 0 && data < SCHEMA_VERSION {
        Some(verified_copy(conn, path, key, data)?)
    } else {
        None
    };
    prepare(conn)?;
    Ok(copy)
}

/// Per device: its id, how many entries, the last sequence and hash.
type JournalTip = (String, i64, i64, Vec<u8>);

/// Copies the database at `path` (open on `conn`) to
/// `<file>.schema-<version>.bak` beside it, durably, and proves the copy:
/// it opens with the key, passes SQLite's integrity check, and holds the
/// same journal (count, last sequence and last hash per device). The WAL is
/// checkpointed into the file first, so the file alone is the database.
pub fn verified_copy(
    conn: &Connection,
    path: &Path,
    key: &DbKey,
    version: usize,
) -> Result<std::path::PathBuf> {
    let bad = |detail: String| StoreError::UpgradeCopy {
        path: path.to_owned(),
        detail,
    };
    let (busy, _, _): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    if busy != 0 {
        return Err(bad("another process has the database open".into()));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "database".into());
    let copy = path.with_file_name(format!("{name}.schema-{version}.bak"));
    let tmp = path.with_file_name(format!("{name}.schema-{version}.bak.tmp"));
    let write = || -> std::io::Result<()> {
        std::fs::copy(path, &tmp)?;
        // Opened for writing: Windows refuses to flush a read-only handle
        // (FlushFileBuffers needs write access), where Linux allows it.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&tmp)?
            .sync_all()?;
        std::fs::rename(&tmp, &copy)?;
        if let Some(dir) = copy.parent() {
            // The rename is durable once the directory is (not on Windows,
            // where a directory cannot be opened this way).
            #[cfg(unix)]
            std::fs::File::open(dir)?.sync_all()?;
            #[cfg(not(unix))]
            let _ = dir;
        }
        Ok(())
    };
    write().map_err(|e| bad(format!("writing {}: {e}", copy.display())))?;

    let back = open_existing(&copy, key).map_err(|e| bad(format!("{e:?}")))?;
    let check: String = back.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(bad(format!("integrity check: {check}")));
    }
    let journal = |c: &Connection| -> rusqlite::Result<Vec<JournalTip>> {
        let mut st = c.prepare(
            "SELECT j.device_id, count(*), max(j.seq),
                    (SELECT hash FROM journal k WHERE k.device_id = j.device_id
                     ORDER BY seq DESC LIMIT 1)
             FROM journal j GROUP BY j.device_id ORDER BY j.device_id",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect()
    };
    if journal(conn)? != journal(&back)? || schema_version(&back)? != version {
        return Err(bad("it does not hold the same journal".into()));
    }
    Ok(copy)
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

    /// A database as the previous release left it: encrypted with its key,
    /// at its schema (every step but the newest), with a journal of three
    /// entries from two devices.
    fn previous_release_database(dir: &Path) -> (std::path::PathBuf, DbKey) {
        let key = DbKey::generate().unwrap();
        let path = dir.join("till.db");
        let mut conn = create_new(&path, &key).unwrap();
        configure(&conn).unwrap();
        let previous = &STEPS[..STEPS.len() - 1];
        Migrations::new(previous.iter().map(|(_, sql)| M::up(sql)).collect())
            .to_latest(&mut conn)
            .unwrap();
        for (device, seq) in [("a", 1), ("a", 2), ("b", 1)] {
            conn.execute(
                "INSERT INTO journal (device_id, seq, id, format, branch, hlc_wall_ms, hlc_counter,
                                      kind, payload, prev_hash, hash, signature)
                 VALUES (?1, ?2, ?1 || ?2, 1, 'JKT01', 1, 0, 'sale_completed', '{}', x'00',
                         randomblob(32), randomblob(64))",
                rusqlite::params![device, seq],
            )
            .unwrap();
        }
        (path, key)
    }

    fn journal_of(conn: &Connection) -> Vec<(String, i64, Vec<u8>)> {
        let mut st = conn
            .prepare("SELECT device_id, seq, hash FROM journal ORDER BY device_id, seq")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// Every byte of the database and its WAL, to show nothing was written.
    fn bytes_of(path: &Path) -> Vec<Vec<u8>> {
        ["", "-wal"]
            .iter()
            .map(|ext| {
                let p = std::path::PathBuf::from(format!("{}{ext}", path.display()));
                std::fs::read(p).unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn an_older_schema_is_copied_verified_and_then_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = previous_release_database(dir.path());
        let mut conn = open_existing(&path, &key).unwrap();
        let before = journal_of(&conn);
        assert_eq!(schema_version(&conn).unwrap(), SCHEMA_VERSION - 1);

        let copy = prepare_existing(&mut conn, &path, &key)
            .unwrap()
            .expect("a copy before the upgrade");
        assert_eq!(schema_version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(journal_of(&conn), before, "the journal is as it was");

        // The copy is the database as it was: the old schema, same journal,
        // readable with the same key.
        assert_eq!(
            copy.file_name().unwrap().to_string_lossy(),
            format!("till.db.schema-{}.bak", SCHEMA_VERSION - 1)
        );
        let old = open_existing(&copy, &key).unwrap();
        assert_eq!(schema_version(&old).unwrap(), SCHEMA_VERSION - 1);
        assert_eq!(journal_of(&old), before);

        // Opened again, an up-to-date database makes no copy.
        drop((conn, old));
        let mut again = open_existing(&path, &key).unwrap();
        assert_eq!(prepare_existing(&mut again, &path, &key).unwrap(), None);
    }

    #[test]
    fn a_newer_schema_is_refused_and_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = previous_release_database(dir.path());
        {
            let conn = open_existing(&path, &key).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let untouched = bytes_of(&path);
        let mut conn = open_existing(&path, &key).unwrap();
        match prepare_existing(&mut conn, &path, &key) {
            Err(StoreError::NewerData { data, app, .. }) => {
                assert_eq!((data, app), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected NewerData, got {other:?}"),
        }
        drop(conn);
        assert_eq!(bytes_of(&path), untouched, "not a byte written");
        let copies = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".bak")
            })
            .count();
        assert_eq!(copies, 0, "no copy either");
    }

    #[test]
    fn a_copy_that_does_not_read_back_stops_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = previous_release_database(dir.path());
        let mut conn = open_existing(&path, &key).unwrap();
        // Where the copy goes is taken by a directory: it cannot be written.
        std::fs::create_dir(
            dir.path()
                .join(format!("till.db.schema-{}.bak", SCHEMA_VERSION - 1)),
        )
        .unwrap();
        match prepare_existing(&mut conn, &path, &key) {
            Err(StoreError::UpgradeCopy { .. }) => {}
            other => panic!("expected UpgradeCopy, got {other:?}"),
        }
        assert_eq!(
            schema_version(&conn).unwrap(),
            SCHEMA_VERSION - 1,
            "not upgraded without its copy"
        );
    }

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
