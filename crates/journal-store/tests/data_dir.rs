//! The data dir lifecycle as the terminal and the relay use it: set up, then
//! open again; a wrong key, a damaged file and a set-up that stopped before
//! its manifest are typed errors that leave every byte as it was.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use sentra_journal_store::{
    DataDirManifest, ExistingKeyFile, KeyChoice, StoreError, data_dir, journal,
};
use sentra_keystore::{DbKey, KeyError, KeyLocation, KeyStoreKind};
use sentra_protocol::{Entry, EntryKind, Hash, Hlc, UnsignedEntry};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A manifest with only the shared fields, as the relay's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct TestManifest {
    format: u32,
    device_id: Uuid,
    database: String,
    key: KeyLocation,
    key_fingerprint: String,
}

impl DataDirManifest for TestManifest {
    const FILE: &'static str = "sentra-test.json";
    const DATABASE: &'static str = "test.db";
    const KEY_ACCOUNT: &'static str = "test-db-key";
    const FORMAT: u32 = 1;

    fn format(&self) -> u32 {
        self.format
    }
    fn device_id(&self) -> Uuid {
        self.device_id
    }
    fn database(&self) -> &str {
        &self.database
    }
    fn key(&self) -> &KeyLocation {
        &self.key
    }
    fn key_fingerprint(&self) -> &str {
        &self.key_fingerprint
    }
}

/// A data dir and, elsewhere, the directory of its key file.
struct Dirs {
    data: tempfile::TempDir,
    keys: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        Dirs {
            data: tempfile::tempdir().unwrap(),
            keys: tempfile::tempdir().unwrap(),
        }
    }
    fn dir(&self) -> &Path {
        self.data.path()
    }
    fn key_file(&self) -> PathBuf {
        self.keys.path().join("test.key")
    }
    fn choice(&self) -> KeyChoice {
        KeyChoice {
            store: Some(KeyStoreKind::File),
            file: Some(self.key_file()),
        }
    }
}

fn manifest_of(b: sentra_journal_store::ManifestBasics) -> TestManifest {
    TestManifest {
        format: TestManifest::FORMAT,
        device_id: b.device_id,
        database: b.database,
        key: b.key,
        key_fingerprint: b.key_fingerprint,
    }
}

fn entry(device_id: Uuid, seq: u64, prev_hash: Hash) -> Entry {
    UnsignedEntry {
        id: Uuid::now_v7(),
        branch: "JKT01".into(),
        device_id,
        seq,
        hlc: Hlc {
            wall_ms: 1_700_000_000_000 + seq,
            counter: 0,
        },
        kind: EntryKind::CashMoved,
        payload: serde_json::json!({ "amount": 1000 * seq }),
        prev_hash,
    }
    .sign(&SigningKey::from_bytes(&[7; 32]))
    .unwrap()
}

/// Every file of the data dir and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A set-up data dir holding two journal entries; returns its manifest.
fn set_up(dirs: &Dirs) -> (TestManifest, Vec<Entry>) {
    let mut new =
        data_dir::create::<TestManifest>(dirs.dir(), &dirs.choice(), ExistingKeyFile::Refuse)
            .unwrap();
    let device = new.device_id();
    assert!(
        new.warning().is_none(),
        "an explicit key file is no surprise"
    );
    let first = entry(device, 1, Hash::ZERO);
    let second = entry(device, 2, first.hash);
    {
        let tx = new.connection().transaction().unwrap();
        journal::insert(&tx, &first).unwrap();
        journal::insert(&tx, &second).unwrap();
        tx.commit().unwrap();
    }
    let (conn, manifest) = new.finish(manifest_of).unwrap();
    drop(conn);
    (manifest, vec![first, second])
}

#[test]
fn create_then_open_round_trips() {
    let dirs = Dirs::new();
    let (manifest, entries) = set_up(&dirs);
    assert_eq!(manifest.database, "test.db");
    assert_eq!(manifest.key.kind, KeyStoreKind::File);
    assert_eq!(
        manifest.key.file.as_deref(),
        Some(dirs.key_file().as_path())
    );
    assert_eq!(
        manifest.key.account,
        format!("test-db-key:{}", manifest.device_id)
    );

    let (conn, opened) = data_dir::open::<TestManifest>(dirs.dir()).unwrap();
    assert_eq!(opened, manifest);
    let device = manifest.device_id;
    assert_eq!(journal::read_all(&conn, device).unwrap(), entries);
    assert_eq!(
        journal::read_after(&conn, device, 1, 10).unwrap(),
        entries[1..]
    );
    assert_eq!(
        journal::read_after(&conn, device, 0, 1).unwrap(),
        entries[..1]
    );
    let tip = journal::tip(&conn, device).unwrap();
    assert_eq!(
        (tip.seq, tip.hash, tip.hlc),
        (2, entries[1].hash, entries[1].hlc)
    );
    assert_eq!(
        journal::tip(&conn, Uuid::now_v7()).unwrap(),
        journal::Tip::GENESIS
    );
    drop(conn);

    // With the key in hand, too; and the manifest on disk is plain JSON.
    let key = sentra_keystore::load_key(&manifest.key).unwrap();
    assert_eq!(key.fingerprint(), manifest.key_fingerprint);
    let (_conn, again) = data_dir::open_with_key::<TestManifest>(dirs.dir(), &key).unwrap();
    assert_eq!(again, manifest);
    let text = std::fs::read_to_string(dirs.dir().join("sentra-test.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["key_fingerprint"], manifest.key_fingerprint.as_str());
}

#[test]
fn wrong_key_is_a_typed_error_and_nothing_changes() {
    let dirs = Dirs::new();
    let (manifest, _) = set_up(&dirs);
    let before = snapshot(dirs.dir());

    // The key store now holds another key.
    let other = DbKey::generate().unwrap();
    std::fs::write(dirs.key_file(), format!("{}\n", other.to_hex().as_str())).unwrap();
    let err = data_dir::open::<TestManifest>(dirs.dir())
        .map(|_| ())
        .unwrap_err();
    match &err {
        StoreError::WrongKey {
            path,
            store,
            found,
            expected,
        } => {
            assert_eq!(path, &dirs.dir().join("test.db"));
            assert_eq!(*store, KeyStoreKind::File);
            assert_eq!(found, &other.fingerprint());
            assert_eq!(expected, &manifest.key_fingerprint);
        }
        other => panic!("expected WrongKey, got {other:?}"),
    }
    assert_eq!(err.code(), "wrong_key");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("not modified"), "{err}");

    // A wrong key in hand, likewise.
    let err = data_dir::open_with_key::<TestManifest>(dirs.dir(), &other)
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
    assert_eq!(snapshot(dirs.dir()), before);
}

#[test]
fn right_key_on_a_damaged_file_is_corrupted_not_wrong_key() {
    let dirs = Dirs::new();
    set_up(&dirs);
    let db = dirs.dir().join("test.db");
    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(&db, &bytes[..bytes.len() - 100]).unwrap();
    let before = snapshot(dirs.dir());
    let err = data_dir::open::<TestManifest>(dirs.dir())
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupted { path, detail } if path == &db && detail.contains("truncated")),
        "{err:?}"
    );
    assert_eq!(snapshot(dirs.dir()), before);
}

#[test]
fn a_set_up_without_its_manifest_is_not_set_up() {
    // A crash after the database was made, before the manifest (written
    // last) was in place.
    let dirs = Dirs::new();
    let mut new =
        data_dir::create::<TestManifest>(dirs.dir(), &dirs.choice(), ExistingKeyFile::Refuse)
            .unwrap();
    let device = new.device_id();
    journal::insert(new.connection(), &entry(device, 1, Hash::ZERO)).unwrap();
    drop(new);
    assert!(dirs.dir().join("test.db").exists());
    assert!(!dirs.dir().join("sentra-test.json").exists());
    let before = snapshot(dirs.dir());

    let err = data_dir::open::<TestManifest>(dirs.dir())
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotSetUp(d) if d == dirs.dir()),
        "{err:?}"
    );
    assert_eq!(err.code(), "not_set_up");

    // Setting up again does not overwrite the database it left.
    let again = KeyChoice {
        store: Some(KeyStoreKind::File),
        file: Some(dirs.keys.path().join("second.key")),
    };
    let err = data_dir::create::<TestManifest>(dirs.dir(), &again, ExistingKeyFile::Refuse)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadySetUp(p) if p == &dirs.dir().join("test.db")),
        "{err:?}"
    );
    assert_eq!(snapshot(dirs.dir()), before);
    assert!(!dirs.keys.path().join("second.key").exists());
}

#[test]
fn a_set_up_data_dir_is_never_set_up_again() {
    let dirs = Dirs::new();
    set_up(&dirs);
    let before = snapshot(dirs.dir());
    let err = data_dir::create::<TestManifest>(dirs.dir(), &dirs.choice(), ExistingKeyFile::Adopt)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadySetUp(p) if p == dirs.dir()),
        "{err:?}"
    );
    assert_eq!(snapshot(dirs.dir()), before);
}

#[test]
fn an_existing_key_file_is_refused_or_adopted_as_asked() {
    let dirs = Dirs::new();
    let given = DbKey::generate().unwrap();
    std::fs::write(dirs.key_file(), format!("{}\n", given.to_hex().as_str())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dirs.key_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    let err = data_dir::create::<TestManifest>(dirs.dir(), &dirs.choice(), ExistingKeyFile::Refuse)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Key(KeyError::AlreadyExists(_))),
        "{err:?}"
    );
    assert!(!dirs.dir().join("test.db").exists(), "nothing was created");

    let new = data_dir::create::<TestManifest>(dirs.dir(), &dirs.choice(), ExistingKeyFile::Adopt)
        .unwrap();
    let (_, manifest) = new.finish(manifest_of).unwrap();
    assert_eq!(manifest.key_fingerprint, given.fingerprint());
    data_dir::open::<TestManifest>(dirs.dir()).unwrap();
}

#[test]
fn a_key_file_inside_the_data_dir_is_refused() {
    let dirs = Dirs::new();
    let keys = KeyChoice {
        store: Some(KeyStoreKind::File),
        file: Some(dirs.dir().join("keys/db.key")),
    };
    let err = data_dir::create::<TestManifest>(dirs.dir(), &keys, ExistingKeyFile::Refuse)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, StoreError::KeyFileInDataDir { .. }),
        "{err:?}"
    );
    assert!(!dirs.dir().join("keys").exists());
}

#[test]
fn a_manifest_that_misstates_the_set_up_is_not_written() {
    let dirs = Dirs::new();
    let new = data_dir::create::<TestManifest>(dirs.dir(), &dirs.choice(), ExistingKeyFile::Refuse)
        .unwrap();
    let err = new
        .finish(|b| TestManifest {
            key_fingerprint: "0".repeat(32),
            ..manifest_of(b)
        })
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, StoreError::BadManifest { .. }), "{err:?}");
    assert!(!dirs.dir().join("sentra-test.json").exists());
}
