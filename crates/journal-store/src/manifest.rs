//! The data dir's plaintext manifest: which device this is, which file is
//! its database, where the database key is kept and a fingerprint to
//! recognise that key. It holds no secret and no business data.
//!
//! Each owner keeps its own manifest type (its file name and any fields of
//! its own, e.g. the terminal's branch and device name) and says through
//! [`DataDirManifest`] where the shared fields are; reading, checking and
//! writing the file is done here, once.

use std::path::{Path, PathBuf};

use sentra_keystore::KeyLocation;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{Result, StoreError};

/// A manifest type: its file, its format, and the fields every data dir
/// needs.
pub trait DataDirManifest: Serialize + DeserializeOwned {
    /// The manifest's file name in the data dir (`sentra-terminal.json`).
    const FILE: &'static str;
    /// The database file name a new data dir gets (`journal.db`).
    const DATABASE: &'static str;
    /// The key store account of a new data dir is `<KEY_ACCOUNT>:<device id>`.
    const KEY_ACCOUNT: &'static str;
    /// The only `format` this version reads and writes.
    const FORMAT: u32;

    fn format(&self) -> u32;
    fn device_id(&self) -> Uuid;
    /// The database's file name inside the data dir.
    fn database(&self) -> &str;
    fn key(&self) -> &KeyLocation;
    /// `DbKey::fingerprint()`: tells a wrong key from a damaged file.
    fn key_fingerprint(&self) -> &str;
}

/// Where `M`'s manifest is in `data_dir`.
pub fn path<M: DataDirManifest>(data_dir: &Path) -> PathBuf {
    data_dir.join(M::FILE)
}

/// The database file the manifest names.
pub fn database_path<M: DataDirManifest>(manifest: &M, data_dir: &Path) -> PathBuf {
    data_dir.join(manifest.database())
}

/// Read and check the manifest. No manifest is [`StoreError::NotSetUp`]
/// (the manifest is written last, so this also covers a set-up that never
/// finished); an unreadable one, one of another format or one whose
/// database is not a plain file name in the data dir is
/// [`StoreError::BadManifest`].
pub fn load<M: DataDirManifest>(data_dir: &Path) -> Result<M> {
    let path = path::<M>(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::NotSetUp(data_dir.to_owned()));
        }
        Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e)),
    };
    let manifest: M = serde_json::from_str(&text).map_err(|e| StoreError::BadManifest {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    if manifest.format() != M::FORMAT {
        return Err(StoreError::BadManifest {
            path,
            detail: format!(
                "format {} is not supported by this version (expects {})",
                manifest.format(),
                M::FORMAT
            ),
        });
    }
    let database = manifest.database();
    if database.contains(['/', '\\']) || database.is_empty() {
        return Err(StoreError::BadManifest {
            path,
            detail: "database must be a plain file name inside the data dir".into(),
        });
    }
    Ok(manifest)
}

/// Written with a temporary file, an fsync and a rename, so a crash leaves
/// either the old manifest or the new one, never half of one.
pub fn save<M: DataDirManifest>(manifest: &M, data_dir: &Path) -> Result<()> {
    let path = path::<M>(data_dir);
    let tmp = data_dir.join(format!("{}.tmp", M::FILE));
    let text = serde_json::to_string_pretty(manifest).map_err(|e| StoreError::BadManifest {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        sync_dir(data_dir)
    };
    write().map_err(|e| StoreError::io(format!("writing {}", path.display()), e))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
