//! Shared harness of the terminal's end-to-end tests: a real `sentra-term`
//! process, a real SQLCipher database in a temp dir, and a raw connection for
//! tests that tamper with it the way an attacker or a disk would.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const CATALOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/catalog.csv");

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sentra-term")
}

/// A terminal initialised in a temp dir, with its key in a key file outside
/// the data dir (the explicit fallback store).
pub struct Till {
    pub root: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub key_file: PathBuf,
}

impl Till {
    pub fn new() -> Till {
        Till::named("T02")
    }

    /// A till of branch JKT01 named `device`.
    pub fn named(device: &str) -> Till {
        let root = tempfile::tempdir().unwrap();
        let data_dir = root.path().join("data");
        let key_file = root.path().join("keys").join("db.key");
        let till = Till {
            root,
            data_dir,
            key_file,
        };
        let out = till.run(&[
            "init",
            "--branch",
            "JKT01",
            "--device",
            device,
            "--key-store",
            "file",
            "--key-file",
            till.key_file.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "init failed: {}", stderr(&out));
        till
    }

    /// Initialised, catalog imported, shift open with a Rp 500.000 float.
    pub fn ready() -> Till {
        let till = Till::new();
        till.ok(&["catalog", "import", CATALOG]);
        till.ok(&["shift", "open", "--float", "500000"]);
        till
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.env("SENTRA_DATA_DIR", &self.data_dir)
            .env_remove("SENTRA_KEY_STORE")
            .env_remove("SENTRA_KEY_FILE");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sentra-term {args:?} failed: {}",
            stderr(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run with --json and require success.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Run and require failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "sentra-term {args:?} should have failed; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = stderr(&out);
        assert!(
            !err.contains("panicked"),
            "panic instead of an error: {err}"
        );
        err
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("journal.db")
    }

    /// The raw 32-byte key as 64 hex chars, from the key file.
    pub fn key_hex(&self) -> String {
        std::fs::read_to_string(&self.key_file)
            .unwrap()
            .trim()
            .to_owned()
    }

    /// A raw SQLCipher connection with the terminal's key, bypassing all of
    /// the terminal's rules.
    pub fn raw(&self) -> rusqlite::Connection {
        raw_connection(&self.db_path(), &self.key_hex())
    }

    pub fn export(&self) -> Vec<serde_json::Value> {
        self.json(&["journal", "export"])
            .as_array()
            .unwrap()
            .clone()
    }
}

pub fn raw_connection(path: &Path, key_hex: &str) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{key_hex}'\"; {}",
        sentra_terminal::store::CIPHER_SETTINGS
    ))
    .unwrap();
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap();
    conn
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// SHA-256 of every file in the data dir, to prove a failed command changed
/// nothing.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    use sha2::Digest;
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                sha2::Sha256::digest(&bytes).to_vec(),
            )
        })
        .collect();
    files.sort();
    files
}
