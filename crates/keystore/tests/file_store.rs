//! The key-file fallback, on a real filesystem.

use std::path::{Path, PathBuf};

use sentra_keystore::{
    DbKey, KeyError, KeyLocation, KeyStoreKind, SERVICE, choose, delete_key, load_key, store_key,
};

fn file_location(path: &Path) -> KeyLocation {
    KeyLocation {
        kind: KeyStoreKind::File,
        service: SERVICE.to_owned(),
        account: "db-key:test".to_owned(),
        file: Some(path.to_path_buf()),
    }
}

fn key_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("keys").join("nested").join("db.key")
}

#[test]
fn store_then_load_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let loc = file_location(&key_path(&dir));
    let key = DbKey::generate().expect("random key");
    store_key(&loc, &key).expect("store");
    let loaded = load_key(&loc).expect("load");
    assert_eq!(loaded.as_bytes(), key.as_bytes());
    assert_eq!(loaded.fingerprint(), key.fingerprint());
    let text = std::fs::read_to_string(key_path(&dir)).expect("read");
    assert_eq!(text, format!("{}\n", key.to_hex().as_str()));
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(key_path(&dir).parent().expect("parent"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("db.key")]);
}

#[test]
fn refuses_to_overwrite_an_existing_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let loc = file_location(&key_path(&dir));
    let first = DbKey::generate().expect("random key");
    store_key(&loc, &first).expect("store");
    let second = DbKey::generate().expect("random key");
    let err = store_key(&loc, &second).expect_err("second store must fail");
    assert!(matches!(err, KeyError::AlreadyExists(_)), "{err:?}");
    assert!(err.to_string().contains("refusing to overwrite"), "{err}");
    assert_eq!(load_key(&loc).expect("load").as_bytes(), first.as_bytes());
}

#[test]
fn missing_file_names_the_path_and_leaves_everything_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = key_path(&dir);
    let loc = file_location(&path);
    let err = load_key(&loc).expect_err("nothing stored");
    assert!(matches!(err, KeyError::Missing { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("database was left untouched"), "{msg}");
    assert!(msg.contains("backup"), "{msg}");
    assert!(!err.is_retryable());
    assert!(!path.exists(), "load must not create anything");
    assert!(matches!(delete_key(&loc), Err(KeyError::Missing { .. })));
}

#[test]
fn malformed_files_are_rejected_not_repaired() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &[u8]); 5] = [
        ("empty", b""),
        ("short", b"abcdef\n"),
        ("non-hex", &[b'z'; 64]),
        ("too long", &[b'a'; 66]),
        ("binary", &[0xff; 32]),
    ];
    for (name, content) in cases {
        let path = dir.path().join(format!("{}.key", name.replace(' ', "-")));
        std::fs::write(&path, content).expect("write");
        let err = load_key(&file_location(&path)).expect_err(name);
        assert!(matches!(err, KeyError::Malformed(_)), "{name}: {err:?}");
        assert!(
            err.to_string().contains("64 hex characters"),
            "{name}: {err}"
        );
        assert_eq!(
            std::fs::read(&path).expect("read"),
            content,
            "{name}: file changed"
        );
    }
    // Surrounding whitespace (e.g. from `echo` or systemd credentials) is fine.
    let path = dir.path().join("spaced.key");
    std::fs::write(&path, format!("  {}\r\n", "0f".repeat(32))).expect("write");
    assert_eq!(
        load_key(&file_location(&path)).expect("load").as_bytes(),
        &[0x0f; 32]
    );
}

#[cfg(unix)]
#[test]
fn key_file_is_0600_and_new_directories_0700() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = key_path(&dir);
    store_key(&file_location(&path), &DbKey::generate().expect("key")).expect("store");
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().expect("parent")), 0o700);
    assert_eq!(mode(&dir.path().join("keys")), 0o700);
}

#[test]
fn delete_removes_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let loc = file_location(&key_path(&dir));
    store_key(&loc, &DbKey::generate().expect("key")).expect("store");
    delete_key(&loc).expect("delete");
    assert!(matches!(load_key(&loc), Err(KeyError::Missing { .. })));
}

#[test]
fn explicit_file_choice_has_no_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = key_path(&dir);
    let choice = choose(Some(KeyStoreKind::File), Some(path.clone()), "db-key:x").expect("choose");
    assert_eq!(choice.location.kind, KeyStoreKind::File);
    assert_eq!(choice.location.file, Some(path));
    assert_eq!(choice.location.service, SERVICE);
    assert_eq!(choice.location.account, "db-key:x");
    assert!(choice.warning.is_none());
}

#[test]
fn location_serializes_for_the_manifest() {
    let loc = file_location(Path::new("/etc/sentra/db.key"));
    let json = serde_json::to_string(&loc).expect("json");
    assert_eq!(
        json,
        r#"{"kind":"file","service":"sentra-pos","account":"db-key:test","file":"/etc/sentra/db.key"}"#
    );
    let back: KeyLocation = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, loc);
}

#[test]
fn a_file_location_without_a_path_is_an_error() {
    let loc = KeyLocation {
        kind: KeyStoreKind::File,
        service: SERVICE.to_owned(),
        account: "a".to_owned(),
        file: None,
    };
    assert!(matches!(load_key(&loc), Err(KeyError::Unavailable(_))));
}
