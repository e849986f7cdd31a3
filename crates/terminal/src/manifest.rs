//! The data dir's plaintext manifest: which branch and device this is, where
//! the database key is kept and a fingerprint to recognise it. It holds no
//! secret and no business data; everything else is inside the encrypted
//! database. Reading, checking and writing the file is
//! [`sentra_journal_store::manifest`]'s.

use std::path::{Path, PathBuf};

use sentra_journal_store::manifest::{self, DataDirManifest};
use sentra_keystore::KeyLocation;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Result;

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

    /// Read and check the manifest; none is [`crate::StorageError::NotInitialised`].
    pub fn load(data_dir: &Path) -> Result<Manifest> {
        Ok(manifest::load(data_dir)?)
    }

    /// Written with a temporary file and a rename, so a crash leaves either
    /// the old manifest or the new one, never half of one.
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        Ok(manifest::save(self, data_dir)?)
    }
}

/// Reading, checking and writing are shared with the relay.
impl DataDirManifest for Manifest {
    const FILE: &'static str = MANIFEST_FILE;
    const DATABASE: &'static str = DATABASE_FILE;
    const KEY_ACCOUNT: &'static str = "db-key";
    const FORMAT: u32 = MANIFEST_FORMAT;

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
