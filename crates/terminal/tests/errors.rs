//! Each failure gives one clear line on stderr and a non-zero exit, never a
//! panic, and leaves the journal unchanged (and, for a database that will not
//! open, every byte of the data dir).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use common::{Till, snapshot};

/// Fails with exactly one `error: …` line on stderr; returns it.
fn one_line_error(till: &Till, args: &[&str]) -> String {
    let err = till.fails(args);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{err}");
    lines[0].to_owned()
}

fn has_all(err: &str, words: &[&str]) {
    let lower = err.to_lowercase();
    for w in words {
        assert!(
            lower.contains(&w.to_lowercase()),
            "expected {w:?} in: {err}"
        );
    }
}

/// A till with a few entries of each common kind.
fn busy_till() -> (Till, String) {
    let till = Till::ready();
    let sale = till.json(&[
        "sell",
        "--item",
        "IND-GRGx3",
        "--item",
        "AQUA600",
        "--pay",
        "cash:20000",
    ]);
    till.ok(&["sell", "--item", "TEH-BTL", "--pay", "qris:6000:QR-1"]);
    till.ok(&["cash", "in", "10000"]);
    (till, sale["receipt_no"].as_str().unwrap().to_owned())
}

fn products(till: &Till) -> serde_json::Value {
    let mut all = Vec::new();
    for sku in [
        "IND-GRG",
        "AQUA600",
        "BERAS-KG",
        "TEH-BTL",
        "GULA-1KG",
        "KOPI-KPL",
        "SABUN-LFB",
        "MINYAK-2L",
    ] {
        all.push(till.json(&["catalog", "show", sku]));
    }
    serde_json::Value::Array(all)
}

// ------------------------------------------------------------------ keys

#[test]
fn wrong_key_is_named_and_nothing_changes() {
    let (till, _) = busy_till();
    let journal = till.export();
    let right_key = std::fs::read(&till.key_file).unwrap();
    let before = snapshot(&till.data_dir);

    let mut other = [0u8; 32];
    getrandom::fill(&mut other).unwrap();
    std::fs::write(&till.key_file, format!("{}\n", hex::encode(other))).unwrap();

    for args in [
        &["journal", "export"][..],
        &["sell", "--item", "IND-GRG", "--pay", "cash:5000"],
        &["journal", "verify"],
    ] {
        let err = one_line_error(&till, args);
        has_all(&err, &["wrong database key", "not modified"]);
    }
    assert_eq!(snapshot(&till.data_dir), before);

    std::fs::write(&till.key_file, right_key).unwrap();
    assert_eq!(till.export(), journal);
    till.ok(&["journal", "verify"]);
}

#[test]
fn missing_key_says_so_and_database_untouched() {
    let (till, _) = busy_till();
    let journal = till.export();
    let right_key = std::fs::read(&till.key_file).unwrap();
    let before = snapshot(&till.data_dir);
    std::fs::remove_file(&till.key_file).unwrap();

    for args in [
        &["journal", "export"][..],
        &["sell", "--item", "IND-GRG", "--pay", "cash:5000"],
    ] {
        let err = one_line_error(&till, args);
        has_all(&err, &["no database key found", "left untouched"]);
        assert!(
            err.contains(till.key_file.to_str().unwrap()) || err.contains("key file"),
            "should say where it looked: {err}"
        );
    }
    assert_eq!(snapshot(&till.data_dir), before);
    assert!(!till.key_file.exists(), "nothing re-created the key");

    std::fs::write(&till.key_file, right_key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&till.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert_eq!(till.export(), journal);
}

#[test]
fn malformed_key_file_is_an_error_not_a_new_key() {
    let (till, _) = busy_till();
    let before = snapshot(&till.data_dir);
    std::fs::write(&till.key_file, "not hex at all\n").unwrap();
    let err = one_line_error(&till, &["journal", "export"]);
    has_all(&err, &["key"]);
    assert_eq!(snapshot(&till.data_dir), before);
}

// -------------------------------------------------------- damaged files

/// Make sure the sale data is in journal.db proper (no WAL left behind):
/// every command has exited; a fresh open and close checkpoints.
fn checkpointed(till: &Till) {
    till.ok(&["journal", "verify"]);
    let conn = till.raw();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    drop(conn);
    assert!(
        !till.data_dir.join("journal.db-wal").exists()
            || std::fs::metadata(till.data_dir.join("journal.db-wal"))
                .unwrap()
                .len()
                == 0,
        "WAL not checkpointed"
    );
}

fn overwrite(path: &Path, offset: u64, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

/// Run commands against a damaged database: each fails with a "damaged"
/// error and the data dir's bytes stay exactly as they were.
fn damaged_and_untouched(till: &Till, extra: &[&str]) -> String {
    let before = snapshot(&till.data_dir);
    let mut last = String::new();
    for args in [
        &["journal", "export"][..],
        &["sell", "--item", "IND-GRG", "--pay", "cash:5000"],
        &["journal", "verify"],
        &["shift", "close", "--counted", "0"],
    ] {
        let err = one_line_error(till, args);
        has_all(&err, &["damaged", "untouched"]);
        for w in extra {
            has_all(&err, &[w]);
        }
        assert_eq!(
            snapshot(&till.data_dir),
            before,
            "{args:?} changed the data dir"
        );
        last = err;
    }
    last
}

#[test]
fn truncated_database_is_named_and_left_alone() {
    let (till, _) = busy_till();
    checkpointed(&till);
    let db = till.db_path();
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len > 8192, "database only {len} bytes");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(5000)
        .unwrap();
    damaged_and_untouched(&till, &["truncated"]);
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 5000);
}

#[test]
fn database_truncated_to_whole_pages_is_damaged() {
    // A cut on a page boundary passes the length check; the read must still
    // report damage, not hand back a shorter journal.
    let (till, _) = busy_till();
    checkpointed(&till);
    let db = till.db_path();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(2 * 4096)
        .unwrap();
    damaged_and_untouched(&till, &[]);
}

#[test]
fn empty_database_file_is_damaged() {
    let (till, _) = busy_till();
    checkpointed(&till);
    std::fs::write(till.db_path(), b"").unwrap();
    damaged_and_untouched(&till, &["truncated"]);
    assert_eq!(std::fs::metadata(till.db_path()).unwrap().len(), 0);
}

#[test]
fn corrupted_first_page_is_named_and_left_alone() {
    let (till, _) = busy_till();
    checkpointed(&till);
    overwrite(&till.db_path(), 2048, &[0xA5; 64]);
    damaged_and_untouched(&till, &[]);
}

/// Root page of a table, found with the key before the damage.
fn root_page(till: &Till, table: &str) -> u64 {
    till.raw()
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as u64
}

#[test]
fn corrupted_device_page_is_named_and_left_alone() {
    // The device row is read on every open.
    let (till, _) = busy_till();
    checkpointed(&till);
    let page = root_page(&till, "device");
    assert!(page >= 2, "device table on page {page}");
    overwrite(&till.db_path(), (page - 1) * 4096 + 2000, &[0x5A; 64]);
    damaged_and_untouched(&till, &[]);
}

#[test]
fn corrupted_journal_page_is_named_and_left_alone() {
    let (till, _) = busy_till();
    checkpointed(&till);
    let page = root_page(&till, "journal");
    assert!(page >= 2, "journal table on page {page}");
    overwrite(&till.db_path(), (page - 1) * 4096 + 2000, &[0x5A; 64]);
    damaged_and_untouched(&till, &[]);
}

#[test]
fn corrupted_page_two_is_named_and_left_alone() {
    let (till, _) = busy_till();
    checkpointed(&till);
    overwrite(&till.db_path(), 4096 + 2000, &[0x00; 64]);
    damaged_and_untouched(&till, &[]);
}

#[test]
fn deleted_database_is_not_recreated() {
    let (till, _) = busy_till();
    checkpointed(&till);
    std::fs::remove_file(till.db_path()).unwrap();
    let before = snapshot(&till.data_dir);
    let err = one_line_error(&till, &["sell", "--item", "IND-GRG", "--pay", "cash:5000"]);
    has_all(&err, &["missing", "nothing was created"]);
    assert!(!till.db_path().exists());
    assert_eq!(snapshot(&till.data_dir), before);
}

// ------------------------------------------------------------- catalog

fn bad_csv(till: &Till, name: &str, text: &str) -> String {
    let path = till.root.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn malformed_csv_names_the_line_and_changes_nothing() {
    let (till, _) = busy_till();
    let journal = till.export();
    let catalog = products(&till);
    let header = "sku,barcode,name,price,tax_category,stock\n";
    // Each file's first data row is valid and would change IND-GRG: the
    // import must be all or nothing.
    let good = "IND-GRG,8998866200301,Indomie Goreng Baru,9999,standard,1\n";
    let cases: Vec<(&str, String, &str, &[&str])> = vec![
        (
            "missing-column.csv",
            "sku,barcode,name,price,stock\nX1,123,Thing,1000,5\n".to_owned(),
            "line 1",
            &["missing column", "tax_category"],
        ),
        (
            "short-row.csv",
            format!("{header}{good}NEW1,1234567,Short Row,1000,standard\n"),
            "line 3",
            &[],
        ),
        (
            "bad-price.csv",
            format!("{header}{good}NEW1,1234567,Bad Price,12.500,standard,5\n"),
            "line 3",
            &["price"],
        ),
        (
            "negative-price.csv",
            format!("{header}{good}NEW1,1234567,Negative,-5,standard,5\n"),
            "line 3",
            &["price"],
        ),
        (
            "unknown-tax.csv",
            format!("{header}{good}NEW1,1234567,Bad Tax,1000,luxury,5\n"),
            "line 3",
            &["tax category", "luxury"],
        ),
        (
            "dup-barcode-in-file.csv",
            format!(
                "{header}{good}NEW1,5550001,One,1000,standard,5\nNEW2,5550001,Two,1000,standard,5\n"
            ),
            "line 4",
            &["barcode 5550001", "line 3"],
        ),
        (
            "dup-barcode-existing.csv",
            format!("{header}{good}NEW1,8886008101053,Steals Aqua Barcode,1000,standard,5\n"),
            "line 3",
            &["8886008101053", "AQUA600"],
        ),
        (
            "dup-sku.csv",
            format!("{header}{good}IND-GRG,777,Again,1000,standard,5\n"),
            "line 3",
            &["IND-GRG", "line 2"],
        ),
        (
            "empty-name.csv",
            format!("{header}{good}NEW1,1234567,,1000,standard,5\n"),
            "line 3",
            &["name"],
        ),
    ];
    for (file, text, line, words) in cases {
        let path = bad_csv(&till, file, &text);
        let err = one_line_error(&till, &["catalog", "import", &path]);
        has_all(&err, &[file, line]);
        has_all(&err, words);
        assert_eq!(products(&till), catalog, "{file} changed the catalog");
        let found = till.json(&["catalog", "search", "Baru"]);
        assert_eq!(found, serde_json::json!([]), "{file}: {found}");
        till.fails(&["catalog", "show", "NEW1"]);
    }
    assert_eq!(till.export(), journal);
}

// --------------------------------------------------------------- sales

#[test]
fn unknown_sku_in_sell() {
    let (till, _) = busy_till();
    let journal = till.export();
    let x = till.json(&["report", "x"]);
    let err = one_line_error(
        &till,
        &[
            "sell",
            "--item",
            "IND-GRG",
            "--item",
            "NO-SUCH-SKU",
            "--pay",
            "cash:50000",
        ],
    );
    has_all(&err, &["unknown item", "NO-SUCH-SKU"]);
    assert_eq!(till.export(), journal);
    assert_eq!(till.json(&["report", "x"]), x);
}

#[test]
fn tender_short_of_total() {
    let (till, _) = busy_till();
    let journal = till.export();
    for pay in [
        &["--pay", "cash:7000"][..],
        &["--pay", "cash:3000", "--pay", "qris:4000:QR-9"],
    ] {
        let mut args = vec!["sell", "--item", "IND-GRGx2", "--item", "AQUA600"];
        args.extend_from_slice(pay);
        let err = one_line_error(&till, &args);
        has_all(&err, &["short", "11.000"]);
    }
    assert_eq!(till.export(), journal);
}

#[test]
fn qris_without_reference() {
    let (till, _) = busy_till();
    let journal = till.export();
    for pay in ["qris:6000", "qris:6000:"] {
        let err = one_line_error(&till, &["sell", "--item", "TEH-BTL", "--pay", pay]);
        has_all(&err, &["qris", "reference"]);
    }
    assert_eq!(till.export(), journal);
}

#[test]
fn sale_with_no_open_shift() {
    let till = Till::new();
    till.ok(&["catalog", "import", common::CATALOG]);
    let journal = till.export();
    let err = one_line_error(&till, &["sell", "--item", "IND-GRG", "--pay", "cash:5000"]);
    has_all(&err, &["no shift is open", "shift open"]);
    assert_eq!(till.export(), journal);

    // Also after a shift was closed.
    till.ok(&["shift", "open", "--float", "100000"]);
    till.ok(&["shift", "close", "--counted", "100000"]);
    let journal = till.export();
    let err = one_line_error(&till, &["sell", "--item", "IND-GRG", "--pay", "cash:5000"]);
    has_all(&err, &["no shift is open"]);
    assert_eq!(till.export(), journal);
}

#[test]
fn over_refund_is_refused() {
    let (till, receipt) = busy_till(); // receipt: IND-GRG x3, AQUA600 x1
    let journal = till.export();
    let err = one_line_error(&till, &["refund", &receipt, "--item", "IND-GRGx4"]);
    has_all(&err, &["cannot refund 4 of IND-GRG", "only 3 left"]);
    let err = one_line_error(&till, &["refund", &receipt, "--item", "AQUA600x2"]);
    has_all(&err, &["AQUA600", "only 1 left"]);
    // An item the sale never had.
    one_line_error(&till, &["refund", &receipt, "--item", "TEH-BTL"]);
    assert_eq!(till.export(), journal);

    // Refund 2 of 3; then 2 more would exceed the remaining 1.
    till.ok(&["refund", &receipt, "--item", "IND-GRGx2"]);
    let journal = till.export();
    let err = one_line_error(&till, &["refund", &receipt, "--item", "IND-GRGx2"]);
    has_all(&err, &["only 1 left"]);
    // Split across two lines of one request also counts.
    let err = one_line_error(
        &till,
        &["refund", &receipt, "--item", "IND-GRG", "--item", "IND-GRG"],
    );
    has_all(&err, &["IND-GRG", "left"]);
    assert_eq!(till.export(), journal);
    // The remaining unit can still go back.
    till.ok(&["refund", &receipt, "--item", "IND-GRG"]);
    let journal = till.export();
    let err = one_line_error(&till, &["refund", &receipt, "--item", "IND-GRG"]);
    has_all(&err, &["IND-GRG", "left"]);
    assert_eq!(till.export(), journal);
}

#[test]
fn unknown_receipt_void_and_refund() {
    let (till, _) = busy_till();
    let journal = till.export();
    let err = one_line_error(&till, &["void", "JKT01-T02-999999"]);
    has_all(&err, &["JKT01-T02-999999", "not found"]);
    let err = one_line_error(&till, &["refund", "JKT01-T02-999999", "--item", "IND-GRG"]);
    has_all(&err, &["JKT01-T02-999999"]);
    assert_eq!(till.export(), journal);
}

#[test]
fn double_void_is_refused() {
    let (till, receipt) = busy_till();
    till.ok(&["void", &receipt]);
    let journal = till.export();
    let err = one_line_error(&till, &["void", &receipt]);
    has_all(&err, &["cannot be voided", &receipt]);
    assert_eq!(till.export(), journal);
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let (till, _) = busy_till();
    let journal = till.export();
    for args in [
        &["sell", "--item", "IND-GRG", "--pay", "cash:5.000"][..],
        &["sell", "--item", "IND-GRG", "--pay", "bitcoin:5000"],
        &["sell", "--item", "IND-GRGx1.2345", "--pay", "cash:5000"],
        &["cash", "out", "100000000"],
        &["shift", "open", "--float", "1000"],
    ] {
        one_line_error(&till, args);
    }
    assert_eq!(till.export(), journal);
}

// ---------------------------------------------------------------- init

#[test]
fn init_twice_refuses_and_keeps_everything() {
    let (till, _) = busy_till();
    checkpointed(&till);
    let journal = till.export();
    let before = snapshot(&till.data_dir);
    let key = std::fs::read(&till.key_file).unwrap();
    let other_key = till.root.path().join("keys").join("other.key");
    for key_file in [&till.key_file, &other_key] {
        let err = one_line_error(
            &till,
            &[
                "init",
                "--branch",
                "JKT01",
                "--device",
                "T02",
                "--key-store",
                "file",
                "--key-file",
                key_file.to_str().unwrap(),
            ],
        );
        has_all(&err, &["already initialised", "refusing"]);
        assert_eq!(snapshot(&till.data_dir), before);
        assert_eq!(std::fs::read(&till.key_file).unwrap(), key);
    }
    assert!(!other_key.exists(), "a second key was stored");
    assert_eq!(till.export(), journal);
    till.ok(&["journal", "verify"]);
}

#[test]
fn no_data_dir_is_a_clear_error() {
    let out = std::process::Command::new(common::bin())
        .args(["journal", "export"])
        .env_remove("SENTRA_DATA_DIR")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("data dir"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["journal", "export"])
        .env("SENTRA_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("not initialised"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
