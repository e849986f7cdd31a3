//! The data dir's plaintext manifest: which branch and device this is, where
//! the database key is kept and a fingerprint to recognise it. It holds no
//! secret and no business data; everything else is inside the encrypted
//! database.

use std::path::{Path, PathBuf};

use sentra_keystore::KeyLocation;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Result, TerminalError};

pub const MANIFEST_FILE: &str = "sentra-terminal.json";
pub const DATABASE_FILE: &str = "journal.db";
const MANIFEST_FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub branch: String,
    pub device_name: String,
    pub device_id: Uuid,
    pub database: String,
    pub key: KeyLocation,
    /// `DbKey::fingerprint()`: tells a wrong key from a damaged file.
    pub key_fingerprint: String,
}

impl Manifest {
    pub fn new(
        branch: &str,
        device_name: &str,
        device_id: Uuid,
        key: KeyLocation,
        key_fingerprint: String,
    ) -> Self {
        Manifest {
            format: MANIFEST_FORMAT,
            branch: branch.to_owned(),
            device_name: device_name.to_owned(),
            device_id,
            database: DATABASE_FILE.to_owned(),
            key,
            key_fingerprint,
        }
    }

    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(MANIFEST_FILE)
    }

    pub fn database_path(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.database)
    }

    pub fn load(data_dir: &Path) -> Result<Manifest> {
        let path = Self::path(data_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TerminalError::NotInitialised(data_dir.to_owned()));
            }
            Err(e) => return Err(TerminalError::io(format!("reading {}", path.display()), e)),
        };
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| TerminalError::BadManifest {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(TerminalError::BadManifest {
                path,
                detail: format!(
                    "format {} is not supported by this version (expects {MANIFEST_FORMAT})",
                    manifest.format
                ),
            });
        }
        if manifest.database.contains(['/', '\\']) || manifest.database.is_empty() {
            return Err(TerminalError::BadManifest {
                path,
                detail: "database must be a plain file name inside the data dir".into(),
            });
        }
        Ok(manifest)
    }

    /// Written with a temporary file and a rename, so a crash leaves either
    /// the old manifest or the new one, never half of one.
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        let path = Self::path(data_dir);
        let tmp = data_dir.join(format!("{MANIFEST_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self).map_err(|e| TerminalError::BadManifest {
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
        write().map_err(|e| TerminalError::io(format!("writing {}", path.display()), e))
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
