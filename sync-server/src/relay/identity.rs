//! The relay's data dir: a plaintext manifest (where the database key is
//! kept, and its fingerprint), the SQLCipher database with the terminal's
//! schema, and the relay's identity inside it (device id, Ed25519 key,
//! upstream, and after enrollment its branch and bearer credential).
//!
//! The data dir is the terminal's kind (`sentra-journal-store`: manifest
//! written last, key fingerprint checked before the database is opened),
//! and so is key custody (`sentra-keystore`): the OS keyring, or a
//! key file — on a mini-PC without a keyring service, a systemd credential
//! (`LoadCredentialEncrypted=`), which must already hold the key: a key
//! file that exists when the relay is first set up is used, not replaced.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, params};
use sentra_journal_store::{DataDirManifest, ExistingKeyFile, StoreError, data_dir};
use sentra_keystore::KeyLocation;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where to keep the database key of a new relay.
pub use sentra_journal_store::KeyChoice;

pub const MANIFEST_FILE: &str = "sentra-relay.json";
pub const DATABASE_FILE: &str = "relay.db";
const MANIFEST_FORMAT: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RelayManifest {
    pub format: u32,
    pub device_id: Uuid,
    pub database: String,
    pub key: KeyLocation,
    pub key_fingerprint: String,
}

impl DataDirManifest for RelayManifest {
    const FILE: &'static str = MANIFEST_FILE;
    const DATABASE: &'static str = DATABASE_FILE;
    const KEY_ACCOUNT: &'static str = "relay-db-key";
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

/// The relay's identity as stored.
#[derive(Clone)]
pub struct Identity {
    pub device_id: Uuid,
    pub name: String,
    pub signing_key: SigningKey,
    pub upstream: String,
    /// Branch code and credential, once enrolled.
    pub enrolled: Option<(String, String)>,
}

fn now_ms() -> i64 {
    crate::ingest::now_ms() as i64
}

/// Opens the relay's database, creating the data dir, key and database on
/// first use (the data dir lifecycle is `sentra_journal_store::data_dir`'s).
/// Returns the migrated connection.
pub fn open_or_create(
    data_dir: &Path,
    keys: &KeyChoice,
    name: &str,
    upstream: &str,
) -> Result<Connection> {
    match data_dir::open::<RelayManifest>(data_dir) {
        Ok((conn, manifest)) => {
            if identity(&conn)?.is_none() {
                bail!(
                    "{} holds no relay identity",
                    data_dir.join(&manifest.database).display()
                );
            }
            return Ok(conn);
        }
        Err(StoreError::NotSetUp(_)) => {}
        Err(e) => return Err(e).context("opening the relay's data dir"),
    }
    // A key file that already exists (a systemd credential) is used as is.
    let mut new = data_dir::create::<RelayManifest>(data_dir, keys, ExistingKeyFile::Adopt)
        .context("setting up the relay's data dir")?;
    if let Some(w) = new.warning() {
        eprintln!("warning: {w}");
    }
    let device_id = new.device_id();
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness: {e}"))?;
    new.connection().execute(
        "INSERT INTO relay_identity (singleton, device_id, name, signing_key, upstream, created_at_ms)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
        params![device_id.to_string(), name, seed.as_slice(), upstream, now_ms()],
    )?;
    seed.fill(0);
    // The manifest is written last: until it exists the data dir is not a
    // relay.
    let (conn, _) = new.finish(|b| RelayManifest {
        format: MANIFEST_FORMAT,
        device_id: b.device_id,
        database: b.database,
        key: b.key,
        key_fingerprint: b.key_fingerprint,
    })?;
    Ok(conn)
}

/// The stored identity, if any.
pub fn identity(conn: &Connection) -> Result<Option<Identity>> {
    type Row = (
        String,
        String,
        Vec<u8>,
        String,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = conn
        .query_row(
            "SELECT device_id, name, signing_key, upstream, branch, credential
             FROM relay_identity WHERE singleton = 1",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()?;
    let Some((id, name, seed, upstream, branch, credential)) = row else {
        return Ok(None);
    };
    let seed: [u8; 32] = seed
        .try_into()
        .map_err(|_| anyhow!("the stored relay key is not 32 bytes"))?;
    Ok(Some(Identity {
        device_id: Uuid::parse_str(&id)?,
        name,
        signing_key: SigningKey::from_bytes(&seed),
        upstream,
        enrolled: branch.zip(credential),
    }))
}

/// Records a new upstream URL (the cloud moved).
pub fn set_upstream(conn: &Connection, upstream: &str) -> Result<()> {
    conn.execute(
        "UPDATE relay_identity SET upstream = ?1 WHERE singleton = 1",
        [upstream],
    )?;
    Ok(())
}

/// Records a successful enrollment.
pub fn set_enrolled(conn: &Connection, branch: &str, credential: &str) -> Result<()> {
    conn.execute(
        "UPDATE relay_identity SET branch = ?1, credential = ?2, enrolled_at_ms = ?3
         WHERE singleton = 1",
        params![branch, credential, now_ms()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sentra_keystore::{DbKey, KeyStoreKind};

    fn keys(dir: &Path) -> KeyChoice {
        KeyChoice {
            store: Some(KeyStoreKind::File),
            file: Some(dir.join("relay.key")),
        }
    }

    #[test]
    fn the_relay_opens_what_it_set_up_in_the_same_files() {
        let data = tempfile::tempdir().unwrap();
        let key_dir = tempfile::tempdir().unwrap();
        let conn = open_or_create(data.path(), &keys(key_dir.path()), "R1", "http://a").unwrap();
        let first = identity(&conn).unwrap().unwrap();
        drop(conn);

        // The manifest byte for byte as it always was.
        let text = std::fs::read_to_string(data.path().join("sentra-relay.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let id = first.device_id;
        let file = serde_json::to_string(&key_dir.path().join("relay.key")).unwrap();
        let fingerprint = json["key_fingerprint"].as_str().unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{
  "format": 1,
  "device_id": "{id}",
  "database": "relay.db",
  "key": {{
    "kind": "file",
    "service": "sentra-pos",
    "account": "relay-db-key:{id}",
    "file": {file}
  }},
  "key_fingerprint": "{fingerprint}"
}}"#
            )
        );

        let conn = open_or_create(data.path(), &keys(key_dir.path()), "R2", "http://b").unwrap();
        let again = identity(&conn).unwrap().unwrap();
        assert_eq!(again.device_id, first.device_id);
        assert_eq!(
            (again.name.as_str(), again.upstream.as_str()),
            ("R1", "http://a")
        );
        assert_eq!(again.signing_key.to_bytes(), first.signing_key.to_bytes());
    }

    #[test]
    fn a_key_file_given_in_advance_is_used_and_a_wrong_one_is_named() {
        let data = tempfile::tempdir().unwrap();
        let key_dir = tempfile::tempdir().unwrap();
        let given = DbKey::generate().unwrap();
        let file = key_dir.path().join("relay.key");
        std::fs::write(&file, format!("{}\n", given.to_hex().as_str())).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        drop(open_or_create(data.path(), &keys(key_dir.path()), "R1", "http://a").unwrap());
        let manifest: RelayManifest = serde_json::from_str(
            &std::fs::read_to_string(data.path().join(MANIFEST_FILE)).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest.key_fingerprint, given.fingerprint());

        let other = DbKey::generate().unwrap();
        std::fs::write(&file, format!("{}\n", other.to_hex().as_str())).unwrap();
        let err = open_or_create(data.path(), &keys(key_dir.path()), "R1", "http://a")
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(
                err.downcast_ref::<StoreError>(),
                Some(StoreError::WrongKey { .. })
            ),
            "{err:?}"
        );
        assert!(format!("{err:#}").contains("wrong database key"), "{err:#}");
    }
}
