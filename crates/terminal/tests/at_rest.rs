//! No plaintext at rest: a product with a unique name is sold, and no file in
//! the data dir (database, WAL, shm, manifest) contains that name or the
//! plain SQLite header — neither while the sale is still in the WAL nor after
//! it has been checkpointed into the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::Till;

const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

fn unique_name() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    format!("Kerupuk-Uji-{}", hex::encode(bytes))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file of the data dir: none holds `name`; none but the manifest
/// starts with the SQLite header (the manifest is JSON and is checked for the
/// name only). Returns the file names seen.
fn assert_no_plaintext(dir: &Path, name: &str, sku: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !contains(&bytes, name.as_bytes()),
            "{file} contains the product name {name} in plain text"
        );
        assert!(
            !contains(&bytes, sku.as_bytes()),
            "{file} contains the SKU {sku} in plain text"
        );
        assert!(
            !contains(&bytes, b"sale_completed"),
            "{file} contains a journal kind in plain text"
        );
        if file.ends_with(".json") {
            // The manifest: identity and key location only.
            let text = String::from_utf8(bytes).unwrap();
            serde_json::from_str::<serde_json::Value>(&text).unwrap();
        } else {
            assert!(
                !bytes.starts_with(b"SQLite format 3"),
                "{file} starts with the plain SQLite header"
            );
            assert!(
                !contains(&bytes, SQLITE_HEADER),
                "{file} contains a plain SQLite header"
            );
        }
        seen.push(file);
    }
    seen.sort();
    seen
}

fn write_catalog(till: &Till, sku: &str, name: &str) -> std::path::PathBuf {
    let path = till.root.path().join("unique.csv");
    std::fs::write(
        &path,
        format!(
            "sku,barcode,name,price,tax_category,stock\n{sku},8990000{},{name},12500,standard,50\n",
            &sku[sku.len() - 6..]
        ),
    )
    .unwrap();
    path
}

fn numeric_suffix() -> String {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    format!("{:06}", u32::from_le_bytes(b) % 1_000_000)
}

#[test]
fn sold_product_name_never_sits_in_plain_text() {
    let till = Till::ready();
    let name = unique_name();
    let sku = format!("UJI{}", numeric_suffix());
    let csv = write_catalog(&till, &sku, &name);
    till.ok(&["catalog", "import", csv.to_str().unwrap()]);

    // Keep a second connection open so the sale stays in the WAL: the last
    // connection to close is the one that checkpoints and removes it.
    let holder = till.raw();
    holder
        .query_row("SELECT count(*) FROM journal", [], |r| r.get::<_, i64>(0))
        .unwrap();

    let sale = till.json(&[
        "sell",
        "--item",
        &format!("{sku}x2"),
        "--item",
        "IND-GRG",
        "--pay",
        "cash:30000",
    ]);
    assert_eq!(sale["lines"][0]["name"], name.as_str());

    // The sale is in the WAL right now.
    let wal = till.data_dir.join("journal.db-wal");
    assert!(wal.exists(), "expected a WAL while a reader is open");
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "the sale should still be in the WAL"
    );
    let files = assert_no_plaintext(&till.data_dir, &name, &sku);
    assert!(files.contains(&"journal.db-wal".to_owned()), "{files:?}");
    assert!(files.contains(&"journal.db-shm".to_owned()), "{files:?}");

    // A later command (search by that very name) with the WAL still there.
    let found = till.json(&["catalog", "search", "Kerupuk"]);
    assert_eq!(found[0]["sku"], sku.as_str(), "{found}");
    till.ok(&["report", "x"]);
    assert_no_plaintext(&till.data_dir, &name, &sku);

    // Checkpointed into the database proper.
    holder
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    drop(holder);
    till.ok(&["journal", "verify"]);
    let files = assert_no_plaintext(&till.data_dir, &name, &sku);
    assert!(files.contains(&"journal.db".to_owned()), "{files:?}");

    // The name is really in there: the raw connection with the key sees it.
    let stored: String = till
        .raw()
        .query_row("SELECT name FROM products WHERE sku = ?1", [&sku], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, name);
}

#[test]
fn database_is_unreadable_without_the_key() {
    let till = Till::ready();
    till.ok(&["sell", "--item", "IND-GRG", "--pay", "cash:5000"]);
    let conn = rusqlite::Connection::open(till.db_path()).unwrap();
    let err = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap_err();
    assert!(err.to_string().contains("not a database"), "{err}");
}

#[test]
fn key_file_is_outside_the_data_dir_and_private() {
    let till = Till::ready();
    let key_file = till.key_file.canonicalize().unwrap();
    let data_dir = till.data_dir.canonicalize().unwrap();
    assert!(
        !key_file.starts_with(&data_dir),
        "key file {} is inside the data dir {}",
        key_file.display(),
        data_dir.display()
    );
    // The key is nowhere in the data dir either.
    let key_hex = till.key_hex();
    assert_eq!(key_hex.len(), 64);
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!contains(&bytes, key_hex.as_bytes()), "{}", path.display());
            assert!(
                !contains(&bytes, &hex::decode(&key_hex).unwrap()),
                "{}",
                path.display()
            );
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key file mode is {mode:o}");
    }
}
