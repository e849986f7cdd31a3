//! Setting up and opening a data dir.
//!
//! Setting up ([`create`]) chooses where the new database key is kept and
//! stores it, creates and migrates the database, and hands back an
//! [`Unfinished`] data dir: the owner writes its identity rows, then
//! [`Unfinished::finish`] writes the manifest — last, so until it exists the
//! data dir is not set up and nothing can be written into it as if it were.
//! A data dir that holds a manifest or a database is never set up again.
//!
//! Opening ([`open`]) reads the manifest, loads the key from the store it
//! names, and compares the key's fingerprint with the manifest's before the
//! database is touched: a wrong key is [`StoreError::WrongKey`], a right key
//! on a file that does not read is [`StoreError::Corrupted`], and either way
//! not a byte of the data dir has changed.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sentra_keystore::{DbKey, KeyLocation, KeyStoreKind};
use uuid::Uuid;

use crate::db;
use crate::error::{Result, StoreError};
use crate::manifest::{self, DataDirManifest};

/// Where to keep the database key of a new data dir: a store (`None`: the
/// OS keyring if one answers, else a key file, see `sentra_keystore::choose`)
/// and a key file path.
#[derive(Clone, Debug, Default)]
pub struct KeyChoice {
    pub store: Option<KeyStoreKind>,
    pub file: Option<PathBuf>,
}

/// What setting up does when the chosen key file already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExistingKeyFile {
    /// Refuse (`KeyError::AlreadyExists`): a key is never overwritten, and
    /// a key found there may belong to another database.
    Refuse,
    /// Use the key it holds. For a key handed in from outside, e.g. a
    /// systemd credential (`LoadCredentialEncrypted=`) on a headless relay.
    Adopt,
}

/// The manifest fields that setting up decided; the owner's manifest type
/// records them as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestBasics {
    pub device_id: Uuid,
    pub database: String,
    pub key: KeyLocation,
    pub key_fingerprint: String,
}

/// A data dir with its key and migrated database but no manifest yet.
/// Dropping it without [`finish`](Unfinished::finish) leaves a data dir that
/// opens as [`StoreError::NotSetUp`] and refuses to be set up again
/// ([`StoreError::AlreadySetUp`] naming the database), as a crash would.
pub struct Unfinished<M> {
    data_dir: PathBuf,
    conn: Connection,
    basics: ManifestBasics,
    warning: Option<String>,
    manifest: PhantomData<fn() -> M>,
}

impl<M: DataDirManifest> Unfinished<M> {
    /// The new device's id (a UUIDv7, also in the key store account).
    pub fn device_id(&self) -> Uuid {
        self.basics.device_id
    }

    /// Where the key was kept.
    pub fn key_location(&self) -> &KeyLocation {
        &self.basics.key
    }

    /// What the operator must be told about the key's custody (a key file, a
    /// volatile store), if anything.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// The new database, migrated: for the owner's identity rows.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Write the manifest `make` builds from the basics, last, and hand back
    /// the open database with it. A manifest that does not record the basics
    /// as given is refused before anything is written.
    pub fn finish(self, make: impl FnOnce(ManifestBasics) -> M) -> Result<(Connection, M)> {
        let manifest = make(self.basics.clone());
        let b = &self.basics;
        if manifest.device_id() != b.device_id
            || manifest.database() != b.database
            || manifest.key() != &b.key
            || manifest.key_fingerprint() != b.key_fingerprint
            || manifest.format() != M::FORMAT
        {
            return Err(StoreError::BadManifest {
                path: manifest::path::<M>(&self.data_dir),
                detail: "the new manifest does not record the device, database and key it was set up with".into(),
            });
        }
        manifest::save(&manifest, &self.data_dir)?;
        Ok((self.conn, manifest))
    }
}

/// Set up a new data dir (created if need be): a new device id, a random
/// database key kept as `keys` says, a new encrypted and migrated database.
/// Refused if the data dir holds a manifest or a database already, or if the
/// key file is inside it.
pub fn create<M: DataDirManifest>(
    data_dir: &Path,
    keys: &KeyChoice,
    existing: ExistingKeyFile,
) -> Result<Unfinished<M>> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| StoreError::io(format!("creating {}", data_dir.display()), e))?;
    if manifest::path::<M>(data_dir).exists() {
        return Err(StoreError::AlreadySetUp(data_dir.to_owned()));
    }
    let db_path = data_dir.join(M::DATABASE);
    if db_path.exists() {
        return Err(StoreError::AlreadySetUp(db_path));
    }
    if let Some(file) = &keys.file
        && sentra_keystore::is_within(file, data_dir)
    {
        return Err(StoreError::KeyFileInDataDir {
            file: file.clone(),
            data_dir: data_dir.to_owned(),
        });
    }
    let device_id = Uuid::now_v7();
    let account = format!("{}:{device_id}", M::KEY_ACCOUNT);
    let (location, key, warning) = match &keys.file {
        Some(file) if existing == ExistingKeyFile::Adopt && file.exists() => {
            let location = KeyLocation {
                kind: KeyStoreKind::File,
                service: sentra_keystore::SERVICE.into(),
                account,
                file: Some(file.clone()),
            };
            let key = sentra_keystore::load_key(&location)?;
            (location, key, None)
        }
        _ => {
            let choice = sentra_keystore::choose(keys.store, keys.file.clone(), &account)?;
            let key = DbKey::generate()?;
            sentra_keystore::store_key(&choice.location, &key)?;
            (choice.location, key, choice.warning)
        }
    };
    let mut conn = db::create_new(&db_path, &key)?;
    db::prepare(&mut conn)?;
    Ok(Unfinished {
        data_dir: data_dir.to_owned(),
        conn,
        basics: ManifestBasics {
            device_id,
            database: M::DATABASE.to_owned(),
            key: location,
            key_fingerprint: key.fingerprint(),
        },
        warning,
        manifest: PhantomData,
    })
}

/// Open a set-up data dir with the key from the store its manifest names.
pub fn open<M: DataDirManifest>(data_dir: &Path) -> Result<(Connection, M)> {
    let manifest: M = manifest::load(data_dir)?;
    let key = sentra_keystore::load_key(manifest.key())?;
    open_as(data_dir, manifest, &key)
}

/// Open with a key already in hand (benchmarks, recovery tools).
pub fn open_with_key<M: DataDirManifest>(data_dir: &Path, key: &DbKey) -> Result<(Connection, M)> {
    let manifest: M = manifest::load(data_dir)?;
    open_as(data_dir, manifest, key)
}

fn open_as<M: DataDirManifest>(
    data_dir: &Path,
    manifest: M,
    key: &DbKey,
) -> Result<(Connection, M)> {
    let path = manifest::database_path(&manifest, data_dir);
    if !path.exists() {
        return Err(StoreError::DatabaseMissing(path));
    }
    if key.fingerprint() != manifest.key_fingerprint() {
        return Err(StoreError::WrongKey {
            path,
            store: manifest.key().kind,
            found: key.fingerprint(),
            expected: manifest.key_fingerprint().to_owned(),
        });
    }
    let mut conn = db::open_checked(&path, key)?;
    db::prepare_existing(&mut conn, &path, key).map_err(|e| match e {
        StoreError::Sqlite(e) => db::corrupted_or(&path, e),
        other => other,
    })?;
    Ok((conn, manifest))
}
