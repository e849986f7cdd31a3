//! The relay's data dir: a plaintext manifest (where the database key is
//! kept, and its fingerprint), the SQLCipher database with the terminal's
//! schema, and the relay's identity inside it (device id, Ed25519 key,
//! upstream, and after enrollment its branch and bearer credential).
//!
//! Key custody is the terminal's (`sentra-keystore`): the OS keyring, or a
//! key file — on a mini-PC without a keyring service, a systemd credential
//! (`LoadCredentialEncrypted=`), which must already hold the key: a key
//! file that exists when the relay is first set up is used, not replaced.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, params};
use sentra_keystore::{DbKey, KeyLocation, KeyStoreKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

/// Where to keep the database key of a new relay.
#[derive(Clone, Debug, Default)]
pub struct KeyChoice {
    pub store: Option<KeyStoreKind>,
    pub file: Option<PathBuf>,
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
/// first use. Returns the migrated connection.
pub fn open_or_create(
    data_dir: &Path,
    keys: &KeyChoice,
    name: &str,
    upstream: &str,
) -> Result<Connection> {
    let manifest_path = data_dir.join(MANIFEST_FILE);
    if manifest_path.exists() {
        let text = std::fs::read_to_string(&manifest_path)
            .with_context(|| format!("reading {}", manifest_path.display()))?;
        let manifest: RelayManifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a relay manifest", manifest_path.display()))?;
        let key = sentra_keystore::load_key(&manifest.key).with_context(|| {
            format!(
                "loading the relay's database key ({:?} store)",
                manifest.key.kind
            )
        })?;
        if key.fingerprint() != manifest.key_fingerprint {
            bail!(
                "the database key found has fingerprint {} but this relay's database needs {}: \
                 the wrong key file or credential is configured",
                key.fingerprint(),
                manifest.key_fingerprint
            );
        }
        let path = data_dir.join(&manifest.database);
        let mut conn = sentra_terminal::store::open_existing(&path, &key).map_err(|e| {
            anyhow!(
                "cannot open the relay database {}: {e:?} (wrong key or damaged file; \
                 the file was not changed)",
                path.display()
            )
        })?;
        sentra_terminal::store::prepare(&mut conn)?;
        if identity(&conn)?.is_none() {
            bail!("{} holds no relay identity", path.display());
        }
        return Ok(conn);
    }

    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let device_id = Uuid::now_v7();
    let account = format!("relay-db-key:{device_id}");
    if let Some(file) = &keys.file
        && sentra_keystore::is_within(file, data_dir)
    {
        bail!(
            "the key file {} is inside the data dir {}: the key would sit next to the database it protects",
            file.display(),
            data_dir.display()
        );
    }
    // A key file that already exists (a systemd credential) is used as is.
    let (location, key) = match &keys.file {
        Some(file) if file.exists() => {
            let location = KeyLocation {
                kind: KeyStoreKind::File,
                service: "sentra-pos".into(),
                account: account.clone(),
                file: Some(file.clone()),
            };
            let key = sentra_keystore::load_key(&location)
                .with_context(|| format!("reading the key file {}", file.display()))?;
            (location, key)
        }
        _ => {
            let choice = sentra_keystore::choose(keys.store, keys.file.clone(), &account)?;
            if let Some(w) = &choice.warning {
                eprintln!("warning: {w}");
            }
            let key = DbKey::generate()?;
            sentra_keystore::store_key(&choice.location, &key)?;
            (choice.location, key)
        }
    };
    let db_path = data_dir.join(DATABASE_FILE);
    let mut conn = sentra_terminal::store::create_new(&db_path, &key)?;
    sentra_terminal::store::prepare(&mut conn)?;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness: {e}"))?;
    conn.execute(
        "INSERT INTO relay_identity (singleton, device_id, name, signing_key, upstream, created_at_ms)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
        params![device_id.to_string(), name, seed.as_slice(), upstream, now_ms()],
    )?;
    seed.fill(0);
    let manifest = RelayManifest {
        format: MANIFEST_FORMAT,
        device_id,
        database: DATABASE_FILE.into(),
        key: location,
        key_fingerprint: key.fingerprint(),
    };
    // Written last: until it exists the data dir is not a relay.
    let tmp = data_dir.join(format!("{MANIFEST_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_string_pretty(&manifest)?)?;
    std::fs::rename(&tmp, &manifest_path)?;
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
